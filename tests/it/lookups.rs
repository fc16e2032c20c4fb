//! The per-request lookups are answered in batches (`identity`): requests that arrive
//! together share one trip to the database, and each must still get its own answer.

use crate::helpers::spawn_app;
use crate::keys::create_key;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

/// `key`'s public id with a secret of the right length that is not its own, and the check
/// digits recomputed (the first 6 hex digits of SHA-256 over the rest, see `domain::secret`).
fn forged(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let (prefix_and_id, _) = key.split_at("tdk_".len() + 10);
    let body = format!("{prefix_and_id}_{}", "F".repeat(32));
    let check = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{body}{}", &check[..6])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_calls_made_at_once_with_different_keys_are_each_answered_for_their_own_key() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let mut keys = Vec::new();
    for team in ["Acme", "Globex", "Initech"] {
        let slug = ada.create_team(team).await;
        let secret = create_key(&ada, &slug, "ci", "API").await;
        keys.push((format!("Key {secret}"), Some(slug)));
    }
    // A key deleted on the keys page, a well-formed one that was never issued, one whose check
    // digits fail, and a forged one.
    let deleted = create_key(&ada, &keys[0].1.clone().unwrap(), "gone", "API").await;
    let id = app.key_id(keys[0].1.as_ref().unwrap(), "gone").await;
    let slug = keys[0].1.clone().unwrap();
    let response = ada.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys/{id}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    keys.push((format!("Key {deleted}"), None));
    keys.push((format!("Key {}", teamdeck::domain::secret::mint(teamdeck::domain::secret::KEY_PREFIX).full), None));
    let mut tampered = keys[1].0.clone();
    tampered.replace_range(20..21, if &tampered[20..21] == "a" { "b" } else { "a" });
    keys.push((tampered, None));
    // Globex's public id with another secret and check digits that match: refused only by
    // the comparison with the stored hash, while Globex's real key may share its batch.
    keys.push((format!("Key {}", forged(&keys[1].0["Key ".len()..])), None));

    let client = reqwest::Client::new();
    let calls = (0..120).map(|i| {
        let (auth, team) = keys[i % keys.len()].clone();
        let request = client.get(format!("{}/api/v1/whoami", app.address)).header("Authorization", auth);
        async move {
            let response = request.send().await.unwrap();
            (team, response.status(), response.json::<Value>().await.unwrap())
        }
    });
    for (team, status, body) in join_all(calls).await {
        match team {
            Some(slug) => {
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["team"]["slug"], slug.as_str(), "{body}");
            }
            None => assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated"))),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_loaded_at_once_by_different_people_each_show_their_own_teams_and_role() {
    let app = spawn_app().await;
    let mut people = Vec::new();
    for (name, team) in [("Ada", "Acme"), ("Bob", "Globex"), ("Cy", "Initech")] {
        let browser = app.signed_up(name, &format!("{}@example.com", name.to_lowercase())).await;
        let slug = browser.create_team(team).await;
        people.push((browser, slug, team));
    }
    // Bob is also a billing member of Acme: his switcher lists both, and Acme's members page
    // has no controls for him.
    app.add_member(&people[0].1, "bob@example.com", teamdeck::domain::Role::Billing).await;

    let loads = (0..60).map(|i| {
        let (browser, slug, _) = &people[i % 3];
        let path = if i % 2 == 0 { format!("/a/{slug}") } else { format!("/a/{}/members", people[0].1) };
        async move { (i % 3, i % 2 == 0, browser.get(&path).await) }
    });
    for (who, own, response) in join_all(loads).await {
        let team = people[who].2;
        let status = response.status();
        let page = response.text().await.unwrap();
        let others: Vec<&str> =
            people.iter().map(|p| p.2).filter(|t| *t != team && !(who == 1 && *t == "Acme")).collect();
        if own || who == 0 {
            assert_eq!(status, StatusCode::OK);
            assert!(page.contains(team), "{team} in its member's page");
            for other in others {
                assert!(!page.contains(other), "{other} is not in the page of {team}'s member");
            }
            if !own {
                assert!(page.contains("Remove"), "Ada administers Acme's members");
            }
        } else if who == 1 {
            assert_eq!(status, StatusCode::OK, "Bob may view Acme's members");
            assert!(page.contains("Globex") && !page.contains("Initech"));
            assert!(!page.contains("Remove"), "a billing member has no controls");
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "Acme does not exist for Cy");
        }
    }
}

/// PostgreSQL only (runs when `TEST_DATABASE_URL` is set, as in CI): the lookup threads keep
/// their connections without pinging them, so one the server closed must be replaced by the
/// batch that finds it broken, not reported to the requests in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_connections_the_database_closed_are_replaced_without_failing_a_request() {
    let app = spawn_app().await;
    if app.sqlite_file.is_some() {
        return;
    }
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let key = format!("Key {}", create_key(&ada, &slug, "ci", "API").await);
    // Used only after the connections are closed, so it is not answered from memory.
    let unused = format!("Key {}", create_key(&ada, &slug, "unused", "API").await);
    let client = reqwest::Client::new();
    let whoami = |key: &str| client.get(format!("{}/api/v1/whoami", app.address)).header("Authorization", key).send();
    assert_eq!(whoami(&key).await.unwrap().status(), StatusCode::OK);

    let lookups = format!(
        "FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{}'",
        teamdeck::identity::LOOKUP_APPLICATION
    );
    // OFFSET 0 keeps the subquery apart, so only these connections are touched.
    let closed = app
        .count(format!(
            "SELECT COUNT(*) AS n FROM (SELECT pid {lookups} OFFSET 0) AS l WHERE pg_terminate_backend(pid)"
        ))
        .await;
    assert_eq!(closed, 2, "one connection for each lookup (the user, the key) was open and closed");
    let mut gone = false;
    for _ in 0..100 {
        gone = app.count(format!("SELECT COUNT(*) AS n {lookups}")).await == 0;
        if gone {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the closed connections have ended");

    let response = whoami(&unused).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    let page = ada.get(&format!("/a/{slug}")).await;
    assert_eq!(page.status(), StatusCode::OK, "a signed-in page after its lookup connection was closed");
}
