//! Usage event ids are the gateways' and unique within a team: another team's event under
//! the same id is kept, a re-sent event is a duplicate, another event under a recorded id is
//! a conflict; and no event may carry a team's total past what 64 bits count.

use crate::platform::{By, account, create_key, event, platform_app, send_usage, usage_total};
use serde_json::json;
use teamdeck::domain::now_ms;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_is_unique_per_team_and_its_reuse_with_other_content_is_a_conflict() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (acme, beta) = (ada.create_team("Acme").await, ada.create_team("Beta").await);
    let (_, acme_key) = create_key(&app, &ada, &acme, "prod", "API").await;
    let (_, beta_key) = create_key(&app, &ada, &beta, "prod", "API").await;
    let now = now_ms();
    let ours = event("evt-1", &acme, By::Key(acme_key), "chat", 100, 2, now);
    let theirs = event("evt-1", &beta, By::Key(beta_key), "chat", 7, 3, now);

    let first = send_usage(&app, &[ours.clone(), theirs]).await;
    assert_eq!(first, json!({ "accepted": 2, "duplicates": 0, "rejected": [] }), "one id, two teams, two events");

    let mut changed = ours.clone();
    changed["quantity"] = json!(101);
    let mut also_new = event("evt-2", &acme, By::Key(acme_key), "chat", 1, 1, now);
    let mut same_id_in_batch = also_new.clone();
    same_id_in_batch["product"] = json!("images");
    let again = send_usage(&app, &[ours, changed, also_new.clone(), same_id_in_batch]).await;
    assert_eq!(again["accepted"], 1, "{again}");
    assert_eq!(again["duplicates"], 1, "the same event re-sent: {again}");
    let rejected = again["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{again}");
    for (r, index) in rejected.iter().zip([1, 3]) {
        assert_eq!(r["index"], index, "{again}");
        assert!(r["reason"].as_str().unwrap().starts_with("conflict"), "{again}");
    }
    also_new["id"] = json!(" evt-2 ");
    assert_eq!(send_usage(&app, &[also_new]).await["duplicates"], 1, "ids are trimmed");
    let acme_id = account(&app, app.user_id("ada@example.com").await, &acme).await.id;
    assert_eq!(usage_total(&app, acme_id).await, 201, "the conflicting events counted nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_would_carry_a_teams_total_past_64_bits_is_refused_alone() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key) = create_key(&app, &ada, &slug, "prod", "API").await;
    // A team that has used nearly all a 64-bit sum holds (made so directly: billions of events).
    app.outside(format!("UPDATE accounts SET usage_amount = {} WHERE slug = '{slug}'", i64::MAX - 150)).await;
    let now = now_ms();
    let report = send_usage(
        &app,
        &[
            event("big", &slug, By::Key(key), "chat", 100, 2, now),
            event("small", &slug, By::Key(key), "chat", 100, 1, now),
            event("free", &slug, By::Key(key), "chat", 5, 0, now),
        ],
    )
    .await;
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["rejected"][0]["index"], 0, "{report}");
    assert!(report["rejected"][0]["reason"].as_str().unwrap().contains("total usage"), "{report}");
    let left = "SELECT usage_amount AS n FROM accounts WHERE slug = 'acme'";
    assert_eq!(app.count(left.into()).await, i64::MAX - 50);
}
