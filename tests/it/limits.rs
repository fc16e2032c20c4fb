//! Rate limits counted in the database: one budget for every instance, the owner of an email
//! let in during a flood of wrong passwords from elsewhere, each limit answering 429 with
//! `Retry-After` and words, and the client address taken from forwarding headers only when a
//! trusted proxy sent them.

use crate::helpers::{PASSWORD, TestApp, behind_a_proxy, csrf_token, location, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use teamdeck::auth::Limits;
use teamdeck::auth::limits::{Limit, Rule, Rules};
use teamdeck::config::Settings;
use teamdeck::db::Db;
use teamdeck::domain::Clock;

/// Two instances on one database, with the keys they share in production.
pub async fn two_instances(adjust: impl Fn(&mut Settings) + Clone + Send + 'static) -> (TestApp, TestApp) {
    let shared = move |s: &mut Settings| {
        s.session_key = Some("a session key shared by both instances, 32+ bytes".into());
        s.secrets_key = Some("a secrets key shared by both instances, 32+ bytes".into());
        adjust(s);
    };
    let first = shared.clone();
    let one = spawn_app_with(move |s| first(s)).await;
    let url = one.database_url.clone();
    let two = spawn_app_with(move |s| {
        shared(s);
        s.database_url = Some(url);
    })
    .await;
    (one, two)
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers().get("retry-after").expect("a Retry-After header").to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn sign_in_attempts_on_two_instances_count_against_one_budget() {
    let (one, two) = two_instances(|s| s.login_attempts_per_client = 4).await;
    one.registered("Ada", "ada@example.com").await;

    for (n, app) in [&one, &two, &one, &two].into_iter().enumerate() {
        let response = app.browser().sign_in(&format!("nobody{n}@example.com"), "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n} is within the budget");
    }

    for app in [&one, &two] {
        let refused = app.browser().sign_in("ada@example.com", PASSWORD).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "the budget is spent on both instances");
        assert!((890..=900).contains(&retry_after(&refused)));
        let html = refused.text().await.unwrap();
        assert!(html.contains("Too many sign-in attempts from this network. Try again in 15 minutes."), "{html}");
        assert!(html.contains("value=\"ada@example.com\""), "the typed email is kept");
    }
}

#[tokio::test]
async fn wrong_passwords_from_one_address_lock_it_out_of_that_email_on_every_instance_and_no_one_else() {
    let (one, two) = two_instances(|s| {
        behind_a_proxy(s);
        s.login_failures_per_email = 3;
    })
    .await;
    one.signed_up("Ada", "ada@example.com").await;
    let (on_one, on_two) = (one.browser_from("203.0.113.9"), two.browser_from("203.0.113.9"));

    for attacker in [&on_one, &on_two, &on_one] {
        assert_eq!(attacker.sign_in("ada@example.com", "guess").await.status(), StatusCode::UNAUTHORIZED);
    }

    for attacker in [&on_two, &on_one] {
        let refused = attacker.sign_in("ada@example.com", PASSWORD).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password, from there");
        assert!(retry_after(&refused) > 800);
        let html = refused.text().await.unwrap();
        let words = "Too many wrong passwords for this email from this network. Try again in 15 minutes.";
        assert!(html.contains(words), "{html}");
    }
    let other_email = on_two.sign_in("bob@example.com", "guess").await;
    assert_eq!(other_email.status(), StatusCode::UNAUTHORIZED, "other emails are not locked for that address");
    let owner = two.browser_from("198.51.100.7");
    let response = owner.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the owner, from their own address, gets in");
    assert_eq!(location(&owner.get("/").await), "/a/ada");
}

#[tokio::test]
async fn the_owner_gets_in_during_a_flood_of_wrong_passwords_from_elsewhere_only_slowed_down() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.login_failures_per_email = 3;
        s.login_failures_before_delay = 5;
    })
    .await;
    app.signed_up("Ada", "ada@example.com").await;

    // Six wrong passwords from two addresses: the sixth already waited a second.
    for address in ["203.0.113.1", "203.0.113.2"] {
        let attacker = app.browser_from(address);
        for _ in 0..3 {
            assert_eq!(attacker.sign_in("ada@example.com", "guess").await.status(), StatusCode::UNAUTHORIZED);
        }
        let locked = attacker.sign_in("ada@example.com", "guess").await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "{address} is locked out of the email");
    }

    let owner = app.browser_from("198.51.100.7");
    let started = Instant::now();
    let response = owner.sign_in("ada@example.com", PASSWORD).await;
    let waited = started.elapsed();

    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the right password from the owner's address gets in");
    assert!(waited >= Duration::from_secs(2), "after 6 failures (1 past the threshold) it waits 2 s: {waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

#[tokio::test]
async fn sign_ups_are_limited_per_client_address_keeping_what_was_typed() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.signups_per_client = 2;
    })
    .await;
    for n in 0..2 {
        let response =
            app.browser_from("203.0.113.20").sign_up("Someone", &format!("p{n}@example.com"), PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    let refused = app.browser_from("203.0.113.20").sign_up("Third Person", "third@example.com", PASSWORD).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((3590..=3600).contains(&retry_after(&refused)));
    let html = refused.text().await.unwrap();
    assert!(html.contains("Too many accounts were created from this network. Try again in 60 minutes."), "{html}");
    assert!(html.contains("value=\"Third Person\"") && html.contains("value=\"third@example.com\""));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users".into()).await, 2, "no account was made");
    let elsewhere = app.browser_from("198.51.100.20").sign_up("Third Person", "third@example.com", PASSWORD).await;
    assert_eq!(elsewhere.status(), StatusCode::OK, "another address still signs up");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users".into()).await, 3);
}

async fn start_device(app: &TestApp, client: &str, device_name: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/v1/device/code", app.address))
        .header("X-Forwarded-For", client)
        .json(&serde_json::json!({ "device_name": device_name }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cli_logins_started_per_client_address_are_limited_across_instances() {
    let (one, two) = two_instances(|s| {
        behind_a_proxy(s);
        s.device_codes_per_client = 2;
    })
    .await;
    assert_eq!(start_device(&one, "203.0.113.30", "laptop").await.status(), StatusCode::OK);
    assert_eq!(start_device(&two, "203.0.113.30", "laptop").await.status(), StatusCode::OK);

    let refused = start_device(&one, "203.0.113.30", "laptop").await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((3590..=3600).contains(&retry_after(&refused)));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["message"], "Too many CLI logins were started from this network. Try again in 60 minutes.");
    assert_eq!(start_device(&two, "198.51.100.30", "laptop").await.status(), StatusCode::OK, "another address");
}

#[tokio::test]
async fn wrong_user_codes_are_limited_per_browser_session_and_right_ones_do_not_count() {
    let app = spawn_app_with(|s| s.device_code_guesses_per_session = 2).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let started: serde_json::Value = start_device(&app, "203.0.113.40", "laptop").await.json().await.unwrap();
    let code = started["user_code"].as_str().unwrap().to_owned();

    for _ in 0..3 {
        assert!(ada.page(&format!("/device?code={code}"), StatusCode::OK).await.contains("asks to sign in as"));
    }
    for wrong in ["BBBB-CCCC", "DDDD-FFFF"] {
        let page = ada.page(&format!("/device?code={wrong}"), StatusCode::OK).await;
        assert!(page.contains("That code is unknown"), "{page}");
    }

    let refused = ada.get(&format!("/device?code={code}")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((890..=900).contains(&retry_after(&refused)));
    let html = refused.text().await.unwrap();
    assert!(html.contains("Too many codes that don&#39;t match a login."), "{html}");
    assert!(html.contains("Try again in 15 minutes."));
    assert!(html.contains(&format!("value=\"{code}\"")), "the typed code is kept");
    let token = csrf_token(&ada.page("/teams/new", StatusCode::OK).await).unwrap();
    let decided = ada
        .client
        .post(ada.url("/device"))
        .form(&[("csrf_token", token.as_str()), ("user_code", code.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::TOO_MANY_REQUESTS, "confirming is refused too");
    let other_session = app.browser();
    other_session.sign_in("ada@example.com", PASSWORD).await;
    let page = other_session.page(&format!("/device?code={code}"), StatusCode::OK).await;
    assert!(page.contains("asks to sign in as"), "another browser session has its own budget");
}

#[tokio::test]
async fn the_device_page_shows_where_and_when_the_login_started_and_what_the_device_says_it_is() {
    let app = spawn_app_with(behind_a_proxy).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let started: serde_json::Value = start_device(&app, "203.0.113.50", "<b>laptop</b>").await.json().await.unwrap();
    let code = started["user_code"].as_str().unwrap();

    let page = ada.page(&format!("/device?code={code}"), StatusCode::OK).await;

    assert!(page.contains("says it is “&#60;b&#62;laptop&#60;/b&#62;”"), "the requester's words, escaped: {page}");
    assert!(!page.contains("<b>laptop"));
    assert!(page.contains("<span class=\"mono\">203.0.113.50</span>"), "where it was started");
    assert!(page.contains("just now ("), "when, in words");
    let year = time::OffsetDateTime::now_utc().year();
    assert!(page.contains(&format!("<time class=\"js-localtime\" datetime=\"{year}-")), "and exactly");
    assert!(page.contains(" UTC</time>"));
}

fn email_rules() -> Rules {
    Rules {
        reset_emails_per_address: Rule::new(5, Duration::from_secs(3600)),
        verification_emails_per_address: Rule::new(5, Duration::from_secs(3600)),
        ..Rules::default()
    }
}

#[tokio::test]
async fn reset_and_verification_emails_are_limited_per_address_and_no_address_is_stored() {
    let app = spawn_app().await;
    let clock = Clock::movable();
    let limits = Limits::new(app.db.clone(), clock.clone(), email_rules());

    for _ in 0..5 {
        assert!(limits.reset_email("ada@example.com").await.unwrap().is_ok());
    }
    let refused = limits.reset_email("ada@example.com").await.unwrap().unwrap_err();
    assert_eq!(refused.limit, Limit::ResetEmails);
    assert!(refused.retry_after > Duration::from_secs(3590) && refused.retry_after <= Duration::from_secs(3600));
    assert_eq!(refused.message(), "Too many password reset emails were sent to this address. Try again in 60 minutes.");
    assert!(limits.reset_email("bob@example.com").await.unwrap().is_ok(), "another address");
    for _ in 0..5 {
        assert!(limits.verification_email("ada@example.com").await.unwrap().is_ok(), "a limit of its own");
    }
    assert!(limits.verification_email("ada@example.com").await.unwrap().is_err());

    clock.advance(Duration::from_secs(3600));
    assert!(limits.reset_email("ada@example.com").await.unwrap().is_ok(), "a new window an hour later");
    let plain = "SELECT COUNT(*) AS n FROM rate_limits WHERE key LIKE '%example%' OR LENGTH(key) <> 64";
    assert_eq!(app.count(plain.into()).await, 0, "keys are SHA-256, never the address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_racing_for_the_last_places_never_both_get_one() {
    let app = spawn_app().await;
    let rules = Rules { sign_ups_per_client: Rule::new(5, Duration::from_secs(3600)), ..Rules::default() };
    let mut handles = Vec::new();
    for _ in 0..2 {
        let url = app.database_url.clone();
        let db = tokio::task::spawn_blocking(move || Db::connect(&url, 4)).await.unwrap().unwrap();
        handles.push(Limits::new(db, Clock::default(), rules.clone()));
    }

    let attempts = (0..24).map(|n| {
        let limits = handles[n % 2].clone();
        tokio::spawn(async move { limits.sign_up("203.0.113.60").await.unwrap().is_ok() })
    });
    let results = futures_util::future::join_all(attempts).await;

    let allowed = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(allowed, 5, "exactly the budget, whichever instance counted");
}

#[tokio::test]
async fn ended_windows_are_deleted_when_new_ones_start() {
    let app = spawn_app().await;
    let clock = Clock::movable();
    let limits = Limits::new(app.db.clone(), clock.clone(), email_rules());
    for address in ["a@example.com", "b@example.com", "c@example.com"] {
        limits.reset_email(address).await.unwrap().unwrap();
    }
    assert_eq!(app.count_rows("rate_limits").await, 3);

    clock.advance(Duration::from_secs(3601));
    limits.reset_email("d@example.com").await.unwrap().unwrap();

    assert_eq!(app.count_rows("rate_limits").await, 1, "only the window just started is left");
}
