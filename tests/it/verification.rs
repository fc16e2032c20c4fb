//! Email verification through the emailed link, what an unverified person may not do, and a
//! sign-up that tells no one whether an address has an account.

use crate::helpers::{Browser, PASSWORD, csrf_token, location, path_of, spawn_app, spawn_app_with_mail};
use crate::smtp::{Mail, MailServer};
use reqwest::StatusCode;
use teamdeck::domain::Role;

/// The verification link of the latest of at least `count` verification emails to `to`.
async fn verification_link(mail: &MailServer, to: &str, count: usize) -> String {
    let messages = mail.wait_for_mail_to(to, count).await;
    let verifications: Vec<&Mail> = messages.iter().filter(|m| m.is_verification()).collect();
    assert!(verifications.len() >= count, "{count} verification emails to {to}: {messages:?}");
    let link = verifications[count - 1].invite_link();
    assert!(link.contains("/verify/"), "{link}");
    path_of(&link)
}

/// What an unverified person is told where they cannot go on.
fn refusal(email: &str) -> String {
    format!("Verify your email address first: we sent a link to {email}.")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emailed_link_verifies_the_address_once_and_signs_no_one_in() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.unverified("Ada", "ada@example.com").await;
    let message = &mail.wait_for_mail_to("ada@example.com", 1).await[0];
    let text = message.decoded();
    assert!(text.contains("Subject: Confirm your email address for Teamdeck"), "{text}");
    assert!(text.contains("The link works once and expires on"), "{text}");
    assert!(text.contains("Content-Type: text/plain") && text.contains("Content-Type: text/html"), "both parts");
    let link = verification_link(&mail, "ada@example.com", 1).await;
    let overview = ada.page("/a/ada", StatusCode::OK).await;
    assert!(overview.contains("Verify your email address: we sent a link to ada@example.com."), "{overview}");
    assert!(overview.contains("action=\"/account/verify/resend\""), "a banner with the button");

    let stranger = app.browser();
    let opened = stranger.get(&link).await;

    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&opened), "/login");
    let login = stranger.page("/login", StatusCode::OK).await;
    assert!(login.contains("Your address is verified. Sign in to continue."), "{login}");
    assert_eq!(location(&stranger.get("/").await), "/login", "verifying signs no one in");
    assert!(opened.cookies().all(|c| c.name() != "teamdeck_session"));
    let overview = ada.page("/a/ada", StatusCode::OK).await;
    assert!(!overview.contains("Verify your email address"), "the banner is gone: {overview}");
    ada.create_team("Acme").await;
    let again = app.browser().get(&link).await;
    assert_eq!(again.status(), StatusCode::GONE, "a link works once");
    assert!(again.text().await.unwrap().contains("This link doesn"));
    let kinds = "SELECT COUNT(*) AS n FROM security_events WHERE kind IN ('signed_up', 'email_verified')";
    assert_eq!(app.count(kinds.into()).await, 2, "both in Ada's security log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opened_by_its_owner_signed_in_the_link_lands_on_their_account() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.unverified("Ada", "ada@example.com").await;
    let link = verification_link(&mail, "ada@example.com", 1).await;

    let opened = ada.get(&link).await;

    assert_eq!(location(&opened), "/account");
    let account = ada.page("/account", StatusCode::OK).await;
    assert!(account.contains("Your address ada@example.com is verified."), "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_link_voids_the_one_before_and_new_links_are_limited_per_address() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.unverified("Ada", "ada@example.com").await;
    let first = verification_link(&mail, "ada@example.com", 1).await;

    let resent = resend(&ada, "/a/ada").await;

    assert_eq!(resent.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resent), "/a/ada", "back to the page it was asked from");
    let page = ada.page("/a/ada", StatusCode::OK).await;
    assert!(page.contains("We sent a new link to ada@example.com."), "{page}");
    let second = verification_link(&mail, "ada@example.com", 2).await;
    assert_ne!(first, second);
    assert_eq!(app.browser().get(&first).await.status(), StatusCode::GONE, "the older link is void");
    assert_eq!(location(&app.browser().get(&second).await), "/login", "the newer one works");

    // The sign-up's link, the resend, then three more: the sixth in an hour is refused.
    app.outside("UPDATE users SET email_verified_at = NULL".into()).await;
    for _ in 0..3 {
        assert_eq!(resend(&ada, "/a/ada").await.status(), StatusCode::SEE_OTHER);
    }
    let refused = resend(&ada, "/a/ada").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Too many verification emails were sent to this address."), "{html}");
}

/// "Resend the link" pressed on the page at `from` (a browser names it in `Referer`).
async fn resend(browser: &Browser, from: &str) -> reqwest::Response {
    let token = csrf_token(&browser.page(from, StatusCode::OK).await).unwrap();
    browser
        .client
        .post(browser.url("/account/verify/resend"))
        .header("Referer", browser.url(from))
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dead_or_malformed_link_gets_a_page_that_says_how_to_get_a_new_one() {
    let app = spawn_app().await;
    let ada = app.unverified("Ada", "ada@example.com").await;
    let unknown = "A".repeat(43);
    let long = "x".repeat(2000);
    for token in ["abc", unknown.as_str(), "%00%ff", "..%2F..%2Fetc", "a%20b", long.as_str()] {
        for browser in [&app.browser(), &ada] {
            let response = browser.get(&format!("/verify/{token}")).await;
            let status = response.status();
            assert!([StatusCode::GONE, StatusCode::NOT_FOUND].contains(&status), "{token}: {status}");
            let html = response.text().await.unwrap();
            assert!(html.contains("This link doesn"), "{token}: {html}");
        }
    }
    let signed_out = app.browser().get(&format!("/verify/{unknown}")).await.text().await.unwrap();
    assert!(signed_out.contains("href=\"/login\""), "signed out: sign in to get one: {signed_out}");
    let signed_in = ada.get(&format!("/verify/{unknown}")).await.text().await.unwrap();
    assert!(signed_in.contains("Send a new link"), "signed in: one click: {signed_in}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_answers_the_same_for_a_known_address_and_only_its_owner_learns_of_it() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let sign_up = |browser: Browser| async move {
        let response = browser.sign_up("Ada", "ada@example.com", PASSWORD).await;
        let status = response.status();
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        let body = response.text().await.unwrap();
        let body = match csrf_token(&body) {
            Some(token) => body.replace(&token, "CSRF"),
            None => body,
        };
        (status, headers, body)
    };

    let new = sign_up(app.browser()).await;
    let known = sign_up(app.browser()).await;

    assert_eq!(new.0, StatusCode::OK);
    assert!(new.2.contains("Check your email"), "{}", new.2);
    assert_eq!(new, known, "status, headers and body alike");
    assert!(new.1.iter().all(|(name, _)| name != "set-cookie"), "no cookie, so no session: {:?}", new.1);
    assert_eq!(app.count_rows("users").await, 1);
    let to_ada = mail.wait_for_mail_to("ada@example.com", 2).await;
    assert!(to_ada[0].is_verification() || to_ada[1].is_verification(), "the new address: a link");
    let notice = to_ada.iter().find(|m| !m.is_verification()).unwrap().decoded();
    assert!(notice.contains("Subject: Someone tried to sign up for Teamdeck with your address"), "{notice}");
    assert!(notice.contains(&format!("{}/login", app.address)), "{notice}");
    assert!(notice.contains(&format!("{}/forgot", app.address)), "{notice}");
    assert!(notice.contains("If not, you can ignore this email"), "{notice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_verification_email_limit_a_sign_up_answers_alike_and_sends_nothing() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let first = app.browser().sign_up("Ada", "ada@example.com", PASSWORD).await.text().await.unwrap();
    for _ in 0..5 {
        let again = app.browser().sign_up("Ada", "ada@example.com", PASSWORD).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.text().await.unwrap(), first);
    }

    app.outbox_settled("ada@example.com").await;
    assert_eq!(mail.wait_for_mail_to("ada@example.com", 5).await.len(), 5, "five an hour, then none");
    assert_eq!(app.count_rows("outbox_emails").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_proves_the_address_it_was_sent_to() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let carol = app.unverified("Carol", "carol@example.com").await;
    app.unverified("Dan", "dan@example.com").await;
    for email in ["Bob@Example.com", "carol@example.com", "dan@example.com"] {
        ada.submit(
            &format!("/a/{slug}/members"),
            &format!("/a/{slug}/invites"),
            &[("email", email), ("role", "admin")],
        )
        .await;
    }
    let invites = mail.wait_for(3).await;
    let link_to = |to: &str| path_of(&invites.iter().find(|m| m.to == to).unwrap().invite_link());

    // Signed up from it: verified, signed in and in the team.
    let bob = app.browser();
    let signed_up = sign_up_from(&bob, &link_to("Bob@Example.com"), "bob@example.com").await;
    assert_eq!(location(&signed_up), format!("/a/{slug}"));
    assert!(!bob.page(&format!("/a/{slug}"), StatusCode::OK).await.contains("Verify your email address"));
    assert_eq!(bob.get("/teams/new").await.status(), StatusCode::OK);
    let links = "SELECT COUNT(*) AS n FROM email_links WHERE email = 'bob@example.com'";
    assert_eq!(app.count(links.into()).await, 0, "no link needed");

    // Accepted while signed in: verified too.
    assert_eq!(carol.get("/teams/new").await.status(), StatusCode::FORBIDDEN);
    let accepted =
        carol.submit(&link_to("carol@example.com"), &format!("{}/accept", link_to("carol@example.com")), &[]).await;
    assert_eq!(location(&accepted), format!("/a/{slug}"));
    assert_eq!(carol.get("/teams/new").await.status(), StatusCode::OK);

    // An invited address with an account: the holder of the invitation owns it, and is told.
    let someone = app.browser();
    let taken = sign_up_from(&someone, &link_to("dan@example.com"), "dan@example.com").await;
    assert_eq!(taken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = taken.text().await.unwrap();
    assert!(html.contains("An account with this email already exists. Sign in to accept the invitation."), "{html}");
    assert_eq!(location(&someone.get("/").await), "/login", "nobody is signed in");
}

/// Signs up as `email` from the invitation at `link` (the `next` its page's sign-up link carries).
async fn sign_up_from(browser: &Browser, link: &str, email: &str) -> reqwest::Response {
    let page = browser.page(&format!("/signup?next={link}"), StatusCode::OK).await;
    let token = csrf_token(&page).unwrap();
    let form =
        [("csrf_token", token.as_str()), ("name", "Someone"), ("email", email), ("password", PASSWORD), ("next", link)];
    browser.client.post(browser.url("/signup")).form(&form).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_person_is_refused_team_creation_and_invitations_with_the_reason_and_a_new_link() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "pending@example.com"), ("role", "developer")],
    )
    .await;
    let invitation = app.pending_invitation_id(&slug, "pending@example.com").await;
    let eve = app.unverified("Eve", "eve@example.com").await;
    app.add_member(&slug, "eve@example.com", Role::Admin).await;
    let members = format!("/a/{slug}/members");
    let page = eve.page(&members, StatusCode::OK).await;
    assert!(page.contains("disabled aria-describedby=\"invite-needs-verified\">Invite members"), "{page}");
    assert!(page.contains("Verify your email address to invite people"), "{page}");
    assert!(!page.contains("Send invite"), "no form to fill in for nothing: {page}");
    let token = csrf_token(&page).unwrap();

    let create_page = eve.get("/teams/new").await;
    assert_eq!(create_page.status(), StatusCode::FORBIDDEN);
    let html = create_page.text().await.unwrap();
    assert!(html.contains(&refusal("eve@example.com")), "{html}");
    assert!(html.contains("Resend the link") && html.contains("action=\"/account/verify/resend\""), "{html}");

    let bulk_csv = reqwest::multipart::Form::new().text("csrf_token", token.clone()).part(
        "file",
        reqwest::multipart::Part::bytes(b"email,role\nx@example.com,admin\n".to_vec()).file_name("x.csv"),
    );
    let attempts = [
        eve.client.post(eve.url("/teams/new")).form(&[("csrf_token", token.as_str()), ("name", "Spam")]),
        eve.client.post(eve.url(&format!("/a/{slug}/invites"))).form(&[
            ("csrf_token", token.as_str()),
            ("email", "victim@example.com"),
            ("role", "admin"),
        ]),
        eve.client.get(eve.url(&format!("/a/{slug}/members/bulk"))),
        eve.client.post(eve.url(&format!("/a/{slug}/members/bulk"))).multipart(bulk_csv),
        eve.client
            .post(eve.url(&format!("/a/{slug}/members/bulk/confirm")))
            .form(&[("csrf_token", token.as_str()), ("row", "admin victim@example.com")]),
        eve.client.post(eve.url(&format!("/a/{slug}/invites/{invitation}/resend"))).form(&[("csrf_token", &token)]),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        let what = format!("{} {}", response.url().path(), response.status());
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        let html = response.text().await.unwrap();
        assert!(html.contains(&refusal("eve@example.com")) && html.contains("Resend the link"), "{what}: {html}");
    }
    let with_htmx = eve
        .client
        .post(eve.url(&format!("/a/{slug}/invites")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[("email", "victim@example.com"), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(with_htmx.status(), StatusCode::FORBIDDEN);
    assert_eq!(with_htmx.headers()["hx-retarget"], "#toasts");
    assert!(with_htmx.text().await.unwrap().contains(&refusal("eve@example.com")), "a toast that says why");

    assert_eq!(app.count_rows("accounts WHERE kind = 'team'").await, 1, "no team made");
    assert_eq!(app.count_rows("invitations").await, 1, "no invitation sent or resent");
    let sent = "SELECT COUNT(*) AS n FROM outbox_emails WHERE to_address = 'victim@example.com'";
    assert_eq!(app.count(sent.into()).await, 0);
    let outbox = "SELECT COUNT(*) AS n FROM outbox_emails WHERE to_address = 'pending@example.com'";
    assert_eq!(app.count(outbox.into()).await, 1, "not resent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_services_are_no_way_around_verification() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let eve = app.unverified("Eve", "eve@example.com").await;
    app.add_member(&slug, "eve@example.com", Role::Admin).await;

    // The API creates no teams and sends no invitations, whoever calls it.
    let token = crate::platform::login_token(&app, &eve).await;
    let client = reqwest::Client::new();
    for (path, body) in [
        ("/api/v1/teams".to_owned(), serde_json::json!({ "name": "Spam" })),
        (
            format!("/api/v1/teams/{slug}/invites"),
            serde_json::json!({ "email": "victim@example.com", "role": "admin" }),
        ),
        (
            format!("/api/v1/teams/{slug}/members"),
            serde_json::json!({ "email": "victim@example.com", "role": "admin" }),
        ),
    ] {
        let response = client
            .post(format!("{}{path}", app.address))
            .bearer_auth(&token)
            .header("X-Teamdeck-Team", &slug)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "POST {path}: {}", response.status());
    }
    let api_routes = teamdeck::startup::routes().specs();
    assert!(
        !api_routes.iter().any(|r| r.path.starts_with("/api/")
            && (r.path.contains("invit") || r.path == "/api/v1/teams")
            && r.method != actix_web::http::Method::GET),
        "an API route that invites or makes teams must refuse unverified callers: add it to this test"
    );

    // Whatever way in is added later, the services refuse.
    let eve_id = app.user_id("eve@example.com").await;
    let db = app.db.clone();
    let (created, invited) = tokio::task::spawn_blocking(move || {
        use teamdeck::service::{accounts, audit::Actor, invitations, teams};
        let conn = &mut db.get().unwrap();
        let name = teamdeck::domain::TeamName::parse("Spam").unwrap();
        let created = teams::create(conn, eve_id, "Eve", &name).map(|_| ());
        let team =
            accounts::accounts_of(conn, eve_id).unwrap().into_iter().find(|m| m.account.slug == slug).unwrap().account;
        let eve = Actor { id: eve_id, name: "Eve".into() };
        let site = teamdeck::http::Site::new("http://localhost");
        let request = [(teamdeck::domain::EmailAddress::parse("victim@example.com").unwrap(), Role::Admin)];
        let invited = invitations::invite_all(conn, &site.inviting(&team, &eve), &request).map(|_| ());
        (created, invited)
    })
    .await
    .unwrap();
    assert!(matches!(created, Err(teamdeck::service::teams::TeamError::Unverified)), "{created:?}");
    assert!(matches!(invited, Err(teamdeck::service::invitations::InviteError::Unverified)), "{invited:?}");
}
