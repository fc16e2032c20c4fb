//! Invitation mail is no relay: one person's invitations, across every team they administer,
//! come out of one daily budget on top of each team's, shared by every instance; a CSV takes
//! all its places or none, resends count, and a refusal says how many more and when.

use crate::helpers::{Browser, TestApp, csrf_token, location, spawn_app_with_mail};
use crate::limits::two_instances;
use reqwest::{Response, StatusCode};
use teamdeck::domain::Role;

async fn invite(admin: &Browser, slug: &str, email: &str) -> Response {
    admin
        .submit(
            &format!("/a/{slug}/members"),
            &format!("/a/{slug}/invites"),
            &[("email", email), ("role", "developer")],
        )
        .await
}

/// Uploads a CSV of `emails` and confirms what its preview says it will send.
async fn bulk_invite(admin: &Browser, slug: &str, emails: &[&str]) -> Response {
    let page = admin.page(&format!("/a/{slug}/members/bulk"), StatusCode::OK).await;
    let csv: String =
        std::iter::once("email,role\n".to_owned()).chain(emails.iter().map(|e| format!("{e},developer\n"))).collect();
    let upload = reqwest::multipart::Form::new().text("csrf_token", csrf_token(&page).unwrap()).part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("invites.csv").mime_str("text/csv").unwrap(),
    );
    let preview = admin.client.post(admin.url(&format!("/a/{slug}/members/bulk"))).multipart(upload).send().await;
    let preview = preview.unwrap().text().await.unwrap();
    let mut form = vec![("csrf_token".to_owned(), csrf_token(&preview).unwrap())];
    for hidden in preview.split("name=\"row\" value=\"").skip(1) {
        form.push(("row".to_owned(), hidden.split('"').next().unwrap().to_owned()));
    }
    assert_eq!(form.len(), emails.len() + 1, "every row will be sent: {preview}");
    admin.client.post(admin.url(&format!("/a/{slug}/members/bulk/confirm"))).form(&form).send().await.unwrap()
}

fn retry_after(response: &Response) -> u64 {
    response.headers().get("retry-after").expect("a Retry-After header").to_str().unwrap().parse().unwrap()
}

/// Ada, signed up on `app`, and three teams she administers.
async fn ada_with_three_teams(app: &TestApp) -> (Browser, [String; 3]) {
    let ada = app.signed_up("Ada Admin", "ada@example.com").await;
    let teams = [ada.create_team("Acme").await, ada.create_team("Bolt").await, ada.create_team("Cargo").await];
    (ada, teams)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_persons_invitations_across_three_teams_come_out_of_one_daily_budget() {
    let (app, mail) = spawn_app_with_mail(|s| s.invites_per_person_per_day = 5).await;
    let (ada, [acme, bolt, cargo]) = ada_with_three_teams(&app).await;
    for (slug, email) in
        [(&acme, "a1@example.com"), (&acme, "a2@example.com"), (&bolt, "b1@example.com"), (&bolt, "b2@example.com")]
    {
        assert_eq!(invite(&ada, slug, email).await.status(), StatusCode::SEE_OTHER, "{email} is within the budget");
    }
    assert_eq!(invite(&ada, &cargo, "c1@example.com").await.status(), StatusCode::SEE_OTHER, "the fifth");

    let refused = invite(&ada, &cargo, "c2@example.com").await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((86_000..=86_400).contains(&retry_after(&refused)), "until the first one is a day old");
    let html = refused.text().await.unwrap();
    let words = "You have sent 5 invitations today, the most one person can send in a day across all the teams \
                 they administer. You can send more in 24 hours.";
    assert!(html.contains(words), "{html}");
    assert!(html.contains("value=\"c2@example.com\""), "what was typed is kept");
    assert_eq!(app.pending_count(&cargo).await, 1, "nothing was queued");
    assert_eq!(mail.wait_for(5).await.len(), 5);

    // The budget is Ada's, not the team's: another admin of the same team still invites.
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&cargo, "bob@example.com", Role::Admin).await;
    assert_eq!(invite(&bob, &cargo, "c2@example.com").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(mail.wait_for(6).await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_larger_than_what_is_left_of_the_budget_sends_nothing_and_says_how_many_more() {
    let (app, mail) = spawn_app_with_mail(|s| s.invites_per_person_per_day = 4).await;
    let (ada, [acme, bolt, _]) = ada_with_three_teams(&app).await;
    assert_eq!(invite(&ada, &acme, "a1@example.com").await.status(), StatusCode::SEE_OTHER);

    let four = ["b1@example.com", "b2@example.com", "b3@example.com", "b4@example.com"];
    let refused = bulk_invite(&ada, &bolt, &four).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) > 86_000);
    let html = refused.text().await.unwrap();
    let words = "Nothing was sent. You can send 3 more invitations today (4 a day across all the teams you \
                 administer), and this would send 4. Send fewer, or try again in 24 hours.";
    assert!(html.contains(words), "{html}");
    assert_eq!(app.pending_count(&bolt).await, 0, "all or nothing");

    let three = bulk_invite(&ada, &bolt, &four[..3]).await;
    assert_eq!(location(&three), format!("/a/{bolt}/members"), "what fits is sent");
    assert_eq!(app.pending_count(&bolt).await, 3);
    assert_eq!(mail.wait_for(4).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_takes_a_place_of_the_budget_like_a_send() {
    let (app, mail) = spawn_app_with_mail(|s| s.invites_per_person_per_day = 2).await;
    let (ada, [acme, ..]) = ada_with_three_teams(&app).await;
    assert_eq!(invite(&ada, &acme, "carol@example.com").await.status(), StatusCode::SEE_OTHER);
    let id = app.pending_invitation_id(&acme, "carol@example.com").await;
    let members = format!("/a/{acme}/members");
    let resend = format!("/a/{acme}/invites/{id}/resend");
    assert_eq!(ada.submit(&members, &resend, &[]).await.status(), StatusCode::SEE_OTHER, "the second place");

    // From the list's Resend button, with htmx: the section comes back with the words.
    let token = csrf_token(&ada.page(&members, StatusCode::OK).await).unwrap();
    let refused = ada
        .client
        .post(ada.url(&resend))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .unwrap();

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) > 86_000);
    assert_eq!(refused.headers()["hx-retarget"], "#invites", "htmx swaps it in place");
    let html = refused.text().await.unwrap();
    assert!(html.starts_with("<section") || html.contains("id=\"invites\""), "{html}");
    assert!(html.contains("You have sent 2 invitations today"), "{html}");
    assert_eq!(mail.wait_for(2).await.len(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(mail.messages().await.len(), 2, "the refused resend sent nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_count_one_budget_even_when_invitations_race() {
    let (one, two) = two_instances(|s| s.invites_per_person_per_day = 3).await;
    let (ada_one, [acme, bolt, cargo]) = ada_with_three_teams(&one).await;
    let ada_two = two.browser();
    assert_eq!(ada_two.sign_in("ada@example.com", crate::helpers::PASSWORD).await.status(), StatusCode::SEE_OTHER);

    // Six invitations at once, to three teams, through both instances: three go out.
    let sends = [
        invite(&ada_one, &acme, "a1@example.com"),
        invite(&ada_two, &bolt, "b1@example.com"),
        invite(&ada_one, &cargo, "c1@example.com"),
        invite(&ada_two, &acme, "a2@example.com"),
        invite(&ada_one, &bolt, "b2@example.com"),
        invite(&ada_two, &cargo, "c2@example.com"),
    ];
    let statuses: Vec<StatusCode> = futures_util::future::join_all(sends).await.iter().map(|r| r.status()).collect();

    let sent = statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((sent, refused), (3, 3), "{statuses:?}");
    let pending = one.count_rows("invitations WHERE state = 'pending'").await;
    assert_eq!(pending, 3, "exactly the budget, however the sends interleaved");
    for (app, browser) in [(&one, &ada_one), (&two, &ada_two)] {
        let again = invite(browser, &acme, "a3@example.com").await;
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS, "spent on {}", app.address);
    }
}
