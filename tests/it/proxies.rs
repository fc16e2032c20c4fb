//! The client's address and host: taken from forwarding headers only when a trusted proxy
//! sent them (`--trusted-proxies`), and the peer's address whenever they do not parse.

use crate::helpers::{Browser, PASSWORD, behind_a_proxy, csrf_token, spawn_app, spawn_app_with};
use reqwest::StatusCode;

/// The addresses the sessions page lists for the signed-in person.
async fn listed_addresses(browser: &Browser) -> Vec<String> {
    let page = browser.page("/account/sessions", StatusCode::OK).await;
    page.split("<td class=\"mono\">").skip(1).map(|cell| cell.split('<').next().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_anyone_else_is_ignored() {
    for trusted in [true, false] {
        let app = if trusted { spawn_app_with(behind_a_proxy).await } else { spawn_app().await };
        app.signed_up("Ada", "ada@example.com").await;
        let ada = app.browser_from("203.0.113.77");
        assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);

        let addresses = listed_addresses(&ada).await;

        assert_eq!(addresses.contains(&"203.0.113.77".to_owned()), trusted, "trusted: {trusted}: {addresses:?}");
        assert!(addresses.iter().all(|a| a == "127.0.0.1" || (trusted && a == "203.0.113.77")), "{addresses:?}");
    }
}

#[tokio::test]
async fn a_forged_forwarded_host_does_not_make_a_cross_origin_post_pass() {
    for trusted in [false, true] {
        let app = if trusted { spawn_app_with(behind_a_proxy).await } else { spawn_app().await };
        let ada = app.signed_up("Ada", "ada@example.com").await;
        let token = csrf_token(&ada.page("/teams/new", StatusCode::OK).await).unwrap();
        let post = |origin: &'static str, forwarded: (&'static str, &'static str)| {
            let request =
                ada.client.post(ada.url("/teams/new")).header("Origin", origin).header(forwarded.0, forwarded.1);
            request.form(&[("csrf_token", token.as_str()), ("name", "Acme")]).send()
        };

        if !trusted {
            for forged in [("X-Forwarded-Host", "evil.example"), ("Forwarded", "host=evil.example;proto=http")] {
                let refused = post("http://evil.example", forged).await.unwrap();
                assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{forged:?} from an untrusted peer");
            }
        }
        let proxied = post("https://teams.example.com", ("X-Forwarded-Host", "teams.example.com")).await.unwrap();
        if trusted {
            assert_eq!(proxied.status(), StatusCode::SEE_OTHER, "the proxy says the browser asked for that host");
            let other = post("http://evil.example", ("X-Forwarded-Host", "teams.example.com")).await.unwrap();
            assert_eq!(other.status(), StatusCode::FORBIDDEN, "another origin is still refused");
        } else {
            assert_eq!(proxied.status(), StatusCode::FORBIDDEN, "only a trusted proxy names the host");
        }
    }
}

#[tokio::test]
async fn malformed_forwarding_headers_fall_back_to_the_peer_without_an_error() {
    let app = spawn_app_with(behind_a_proxy).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let malformed = [
        ("X-Forwarded-For", "not an address"),
        ("X-Forwarded-For", "203.0.113.5, , 10.0.0.1"),
        ("X-Forwarded-For", "999.1.1.1"),
        ("Forwarded", "for=unknown"),
        ("Forwarded", "for=\"[2001:db8::1"),
        ("Forwarded", ";;==,,"),
    ];
    for (name, value) in malformed {
        let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        let browser = Browser { base: app.address.clone(), client: client.default_headers(headers).build().unwrap() };
        let response = browser.sign_in("ada@example.com", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name}: {value}");
        let device = reqwest::Client::new()
            .post(format!("{}/api/v1/device/code", app.address))
            .header(name, value)
            .json(&serde_json::json!({ "device_name": "laptop" }))
            .send()
            .await
            .unwrap();
        assert_eq!(device.status(), StatusCode::OK, "{name}: {value}");
        let code: serde_json::Value = device.json().await.unwrap();
        let page = ada.page(&format!("/device?code={}", code["user_code"].as_str().unwrap()), StatusCode::OK).await;
        assert!(page.contains("<span class=\"mono\">127.0.0.1</span>"), "{name}: {value}");
    }
    let addresses = listed_addresses(&ada).await;
    assert_eq!(addresses.len(), malformed.len() + 1);
    assert!(addresses.iter().all(|a| a == "127.0.0.1"), "{addresses:?}");
}
