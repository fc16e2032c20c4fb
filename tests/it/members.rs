//! The members page: roles, removal, leaving, the last-admin rule, paging and search, bulk
//! CSV invites, archiving and the audit log.

use crate::helpers::{TestApp, csrf_token, location, spawn_app, spawn_app_with_mail};
use reqwest::StatusCode;
use teamdeck::domain::Role;

async fn team_with(app: &TestApp, members: &[(&str, Role)]) -> (crate::helpers::Browser, String) {
    let admin = app.signed_up("Ada Admin", "ada@example.com").await;
    let slug = admin.create_team("Acme").await;
    for (email, role) in members {
        app.signed_up(email.split('@').next().unwrap(), email).await;
        app.add_member(&slug, email, *role).await;
    }
    (admin, slug)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_changes_a_role_from_the_dropdown_and_the_row_is_swapped_in_place() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Developer)]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let token = csrf_token(&ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await).unwrap();

    let response = ada
        .client
        .post(ada.url(&format!("/a/{slug}/members/{bob_id}/role")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[("role", "billing")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.starts_with(&format!("<tr id=\"member-{bob_id}\">")), "{html}");
    assert!(html.contains("<option value=\"billing\" selected>Billing</option>"));
    assert!(html.contains("hx-swap-oob=\"beforeend\"") && html.contains("Role of bob changed to Billing."));
    let page = ada.page(&format!("/a/{slug}/audit"), StatusCode::OK).await;
    assert!(page.contains("changed the role of bob") && page.contains("Developer → Billing"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_role_form_posts_and_granting_admin_asks_first() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Developer)]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let (members, role) = (format!("/a/{slug}/members"), format!("/a/{slug}/members/{bob_id}/role"));

    let asked = ada.submit(&members, &role, &[("role", "admin"), ("name", "bob")]).await;
    assert_eq!(asked.status(), StatusCode::OK, "a page that asks, not a change");
    let html = asked.text().await.unwrap();
    assert!(html.contains("Make bob an admin?") && html.contains("Admins can manage keys, members and billing."));
    assert!(html.contains("name=\"confirmed\" value=\"admin\""), "{html}");
    assert_eq!(app.admins_of(&slug).await, 1, "nothing changed yet");

    let response = ada.submit(&members, &role, &[("role", "admin"), ("confirmed", "admin")]).await;
    assert_eq!(location(&response), members);
    assert!(ada.page(&members, StatusCode::OK).await.contains("Role of bob changed to Admin."));
    assert_eq!(app.admins_of(&slug).await, 2);

    let billing = ada.submit(&members, &role, &[("role", "billing")]).await;
    assert_eq!(location(&billing), members, "other roles need no confirmation");
    assert!(ada.page(&members, StatusCode::OK).await.contains("Role of bob changed to Billing."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granting_admin_in_place_without_the_confirmation_changes_nothing() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Developer)]).await;
    let bob_id = app.user_id("bob@example.com").await;
    let token = csrf_token(&ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await).unwrap();
    let post = |fields: &'static [(&'static str, &'static str)]| {
        ada.client
            .post(ada.url(&format!("/a/{slug}/members/{bob_id}/role")))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &token)
            .form(fields)
            .send()
    };

    let html = post(&[("role", "admin")]).await.unwrap().text().await.unwrap();
    assert!(html.contains("<option value=\"developer\" selected>"), "the row as it is: {html}");
    assert!(html.contains("bob was not made an admin: confirm it when asked."), "{html}");
    assert_eq!(app.admins_of(&slug).await, 1);

    let html = post(&[("role", "admin"), ("confirmed", "admin")]).await.unwrap().text().await.unwrap();
    assert!(html.contains("<option value=\"admin\" selected>") && html.contains("Role of bob changed to Admin."));
    assert!(html.contains("data-current=\"admin\""), "the row knows its new role: {html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_role_of_someone_removed_meanwhile_says_so_and_removes_the_row() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("dave@example.com", Role::Developer)]).await;
    let dave_id = app.user_id("dave@example.com").await;
    let members = format!("/a/{slug}/members");
    let token = csrf_token(&ada.page(&members, StatusCode::OK).await).unwrap();
    let removed = ada.submit(&members, &format!("/a/{slug}/members/{dave_id}/remove"), &[]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);

    for fields in [[("role", "billing"), ("name", "dave")], [("role", "admin"), ("name", "dave")]] {
        let response = ada
            .client
            .post(ada.url(&format!("/a/{slug}/members/{dave_id}/role")))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &token)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "a swap, not an error");
        let html = response.text().await.unwrap();
        assert!(!html.contains("<tr"), "the row goes: {html}");
        assert!(html.contains("dave is no longer a member of Acme."), "{html}");
    }
    let plain = ada.submit(&members, &format!("/a/{slug}/members/{dave_id}/role"), &[("role", "billing")]).await;
    assert_eq!(location(&plain), members);
    assert!(ada.page(&members, StatusCode::OK).await.contains("This person is no longer a member of Acme."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_cannot_be_demoted_removed_or_leave() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Developer)]).await;
    let ada_id = app.user_id("ada@example.com").await;
    let members = format!("/a/{slug}/members");

    let demote = ada.submit(&members, &format!("/a/{slug}/members/{ada_id}/role"), &[("role", "developer")]).await;
    assert_eq!(demote.status(), StatusCode::SEE_OTHER);
    assert!(
        ada.page(&members, StatusCode::OK)
            .await
            .contains("Ada Admin is the team&#39;s last admin. Make someone else an admin first.")
    );

    let page = ada.page(&format!("/a/{slug}/leave"), StatusCode::OK).await;
    assert!(page.contains("You are Acme's only admin: a team always keeps an admin."), "said before trying: {page}");
    assert!(page.contains("disabled aria-describedby=\"leave-blocked\">Leave Acme</button>"), "{page}");
    assert!(!page.contains("you are its only member"), "bob is a member too: {page}");
    let leave = ada.submit(&format!("/a/{slug}/leave"), &format!("/a/{slug}/leave"), &[]).await;
    assert_eq!(location(&leave), members, "the server refuses anyway");
    assert!(ada.page(&members, StatusCode::OK).await.contains("You are the team&#39;s last admin."));
    assert_eq!(app.admins_of(&slug).await, 1);
    assert_eq!(ada.get(&format!("/a/{slug}")).await.status(), StatusCode::OK, "still in the team");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_at_the_same_moment_leave_one_admin() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Admin)]).await;
    let bob = app.browser();
    bob.sign_in("bob@example.com", crate::helpers::PASSWORD).await;
    let (ada_id, bob_id) = (app.user_id("ada@example.com").await, app.user_id("bob@example.com").await);
    let members = format!("/a/{slug}/members");
    let ada_token = csrf_token(&ada.page(&members, StatusCode::OK).await).unwrap();
    let bob_token = csrf_token(&bob.page(&members, StatusCode::OK).await).unwrap();
    let (demote_bob, demote_ada) =
        (ada.url(&format!("/a/{slug}/members/{bob_id}/role")), bob.url(&format!("/a/{slug}/members/{ada_id}/role")));
    for round in 0..8 {
        app.set_role(&slug, "ada@example.com", Role::Admin).await;
        app.set_role(&slug, "bob@example.com", Role::Admin).await;
        let (a, b) = tokio::join!(
            ada.client.post(&demote_bob).form(&[("csrf_token", ada_token.as_str()), ("role", "developer")]).send(),
            bob.client.post(&demote_ada).form(&[("csrf_token", bob_token.as_str()), ("role", "developer")]).send(),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(!a.status().is_server_error() && !b.status().is_server_error(), "round {round}");
        assert_eq!(app.admins_of(&slug).await, 1, "round {round}: exactly one admin is left");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_loses_access_on_their_very_next_request() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Developer)]).await;
    let bob = app.browser();
    bob.sign_in("bob@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(bob.get(&format!("/a/{slug}")).await.status(), StatusCode::OK);
    let bob_id = app.user_id("bob@example.com").await;

    let confirm = ada.page(&format!("/a/{slug}/members/{bob_id}/remove"), StatusCode::OK).await;
    assert!(confirm.contains("Remove bob?"));
    let response = ada.submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{bob_id}/remove"), &[]).await;

    assert_eq!(location(&response), format!("/a/{slug}/members"));
    assert!(ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await.contains("bob was removed from Acme."));
    assert_eq!(bob.get(&format!("/a/{slug}")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_can_leave_and_lands_back_in_their_own_account() {
    let app = spawn_app().await;
    let (_ada, slug) = team_with(&app, &[("bob@example.com", Role::Billing)]).await;
    let bob = app.browser();
    bob.sign_in("bob@example.com", crate::helpers::PASSWORD).await;
    let page = bob.page(&format!("/a/{slug}/leave"), StatusCode::OK).await;
    assert!(
        page.contains("Leave Acme?")
            && page.contains("<button class=\"btn btn--danger\" type=\"submit\">Leave Acme</button>")
    );

    let response = bob.submit(&format!("/a/{slug}/leave"), &format!("/a/{slug}/leave"), &[]).await;

    assert_eq!(location(&response), "/");
    assert_eq!(bob.get(&format!("/a/{slug}")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developers_see_the_members_but_no_controls_and_are_refused_changes() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("dev@example.com", Role::Developer)]).await;
    let dev = app.browser();
    dev.sign_in("dev@example.com", crate::helpers::PASSWORD).await;

    let page = dev.page(&format!("/a/{slug}/members"), StatusCode::OK).await;

    assert!(page.contains("<td>ada@example.com</td>"));
    assert!(!page.contains("<select id=\"role-") && !page.contains("Send invite") && !page.contains("/remove"));
    assert!(!page.contains("Archive this team"), "archiving is the admins'");
    let admin_page = ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await;
    assert!(
        admin_page.contains(&format!("href=\"/a/{slug}/settings#archive\">Archive this team…</a>")),
        "{admin_page}"
    );
    let settings = ada.page(&format!("/a/{slug}/settings"), StatusCode::OK).await;
    assert!(settings.contains("<div class=\"card card--danger\" id=\"archive\">"), "the link's target");
    let ada_id = app.user_id("ada@example.com").await;
    let refused = dev
        .submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{ada_id}/role"), &[("role", "developer")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let invite = dev
        .submit(
            &format!("/a/{slug}/members"),
            &format!("/a/{slug}/invites"),
            &[("email", "x@example.com"), ("role", "admin")],
        )
        .await;
    assert_eq!(invite.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_listed_by_name_fifty_a_page_and_searchable() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[]).await;
    app.add_many_members(&slug, 120).await;

    let first = ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await;
    assert_eq!(first.matches("<tr id=\"member-").count(), 50);
    assert!(first.contains("<td>Ada Admin</td>") || first.contains("<td>Ada Admin <span"), "Ada sorts first");
    let next = between(&first, "href=\"", "\" hx-get=", "Next page");
    let second = ada.page(&next.replace("&#38;", "&"), StatusCode::OK).await;
    assert_eq!(second.matches("<tr id=\"member-").count(), 50);
    let next = between(&second, "href=\"", "\" hx-get=", "Next page");
    let third = ada.page(&next.replace("&#38;", "&"), StatusCode::OK).await;
    assert_eq!(third.matches("<tr id=\"member-").count(), 21, "121 members in all");
    assert!(!third.contains("Next page"));
    assert!(third.contains("Member 119"));

    let found = ada.page(&format!("/a/{slug}/members?q=MEMBER%20007"), StatusCode::OK).await;
    assert_eq!(found.matches("<tr id=\"member-").count(), 1, "Member 007 only");
    let by_email = ada.page(&format!("/a/{slug}/members?q=member-11"), StatusCode::OK).await;
    assert_eq!(by_email.matches("<tr id=\"member-").count(), 10, "member-110 … member-119");
    let none = ada.page(&format!("/a/{slug}/members?q=zzz"), StatusCode::OK).await;
    assert!(none.contains("No members match “zzz”."));
}

/// The `href` of the link whose text is `label`.
fn between(html: &str, start: &str, end: &str, label: &str) -> String {
    let at = html.find(label).expect(label);
    let before = &html[..at];
    let link_start = before.rfind(start).unwrap() + start.len();
    before[link_start..].split(end).next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_csv_is_previewed_row_by_row_before_anything_is_sent() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Developer)]).await;
    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "carol@example.com"), ("role", "developer")],
    )
    .await;
    mail.wait_for(1).await;
    let csv = "\u{feff}Role,EMAIL\r\nADMIN, dave@example.com \r\ndeveloper,bob@example.com\r\nbilling,carol@example.com\r\nowner,erin@example.com\r\ndeveloper,not-an-email\r\nbilling,Dave@Example.com\r\n";

    let preview = upload(&ada, &slug, csv).await;

    assert_eq!(preview.status(), StatusCode::OK);
    let html = preview.text().await.unwrap();
    for status in [
        "Will invite",
        "Already a member",
        "Already invited: will resend",
        "Unknown role",
        "Invalid email",
        "Duplicate in file",
    ] {
        assert!(html.contains(status), "{status}: {html}");
    }
    assert!(html.contains("Send 2 invites"));
    let summary = "When you confirm, 2 invitations are sent (1 of them again); 4 rows are skipped: 1 already a \
                   member, 1 duplicate, 2 with errors.";
    assert!(html.contains(summary), "{html}");
    assert_eq!(app.pending_count(&slug).await, 1, "nothing written by the preview");

    let token = csrf_token(&html).unwrap();
    let rows: Vec<(String, String)> = html
        .match_indices("name=\"row\" value=\"")
        .map(|(i, _)| ("row".to_owned(), html[i + 18..].split('"').next().unwrap().replace("&#64;", "@")))
        .collect();
    let mut form = vec![("csrf_token".to_owned(), token)];
    form.extend(rows);
    let done = ada.client.post(ada.url(&format!("/a/{slug}/members/bulk/confirm"))).form(&form).send().await.unwrap();

    // Post, then redirect: reloading the page that follows sends nothing again.
    assert_eq!(location(&done), format!("/a/{slug}/members"));
    let summary = ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await;
    assert!(summary.contains("Bulk invite done: 1 sent, 1 sent again, 0 skipped (already members)."), "{summary}");
    assert_eq!(app.pending_count(&slug).await, 2);
    let messages = mail.wait_for(3).await;
    assert!(messages.iter().any(|m| m.to == "dave@example.com"));
}

async fn upload(browser: &crate::helpers::Browser, slug: &str, csv: &str) -> reqwest::Response {
    let page = browser.page(&format!("/a/{slug}/members/bulk"), StatusCode::OK).await;
    let token = csrf_token(&page).unwrap();
    let form = reqwest::multipart::Form::new().text("csrf_token", token).part(
        "file",
        reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("invites.csv").mime_str("text/csv").unwrap(),
    );
    browser.client.post(browser.url(&format!("/a/{slug}/members/bulk"))).multipart(form).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_that_cannot_be_used_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[]).await;
    let too_many: String = std::iter::once("email,role\n".to_owned())
        .chain((0..51).map(|n| format!("u{n}@example.com,developer\n")))
        .collect();

    for (csv, reason) in [
        ("alice@example.com,admin\n", "The first line must be the header email,role"),
        (too_many.as_str(), "The file has 51 invites; at most 50 can be sent at once."),
        ("", "The file is empty."),
        ("email,role\r\n", "there are no invitations in the file"),
        ("email\trole\nalice@example.com\tadmin\n", "use commas"),
    ] {
        let response = upload(&ada, &slug, csv).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(response.text().await.unwrap().contains(reason), "{reason}");
    }
    let template = ada.get(&format!("/a/{slug}/members/bulk/template.csv")).await;
    assert_eq!(template.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(template.text().await.unwrap().starts_with("email,role\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_confirmation_over_the_daily_cap_sends_nothing() {
    let app = crate::helpers::spawn_app_with(|s| s.invites_per_day = 2).await;
    let (ada, slug) = team_with(&app, &[]).await;
    let html = upload(&ada, &slug, "email,role\na@example.com,admin\nb@example.com,admin\nc@example.com,admin\n")
        .await
        .text()
        .await
        .unwrap();
    let token = csrf_token(&html).unwrap();
    let form = [
        ("csrf_token", token.as_str()),
        ("row", "admin a@example.com"),
        ("row", "admin b@example.com"),
        ("row", "admin c@example.com"),
    ];

    let response =
        ada.client.post(ada.url(&format!("/a/{slug}/members/bulk/confirm"))).form(&form).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = response.text().await.unwrap();
    let words = "Nothing was sent. This team can send at most 2 invitations a day, and this would send 3. Send fewer.";
    assert!(html.contains(words), "{html}");
    assert_eq!(app.pending_count(&slug).await, 0, "all or none");

    let two = [("csrf_token", token.as_str()), ("row", "admin a@example.com"), ("row", "admin b@example.com")];
    ada.client.post(ada.url(&format!("/a/{slug}/members/bulk/confirm"))).form(&two).send().await.unwrap();
    let (members, invites) = (format!("/a/{slug}/members"), format!("/a/{slug}/invites"));
    let refused = ada.submit(&members, &invites, &[("email", "c@example.com"), ("role", "admin")]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("This team has sent 2 invitations today, its most in a day. It can send more in 24 hours."),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_team_is_read_only_cancels_its_invites_and_moves_to_the_archived_group() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let (ada, slug) = team_with(&app, &[]).await;
    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "x@example.com"), ("role", "developer")],
    )
    .await;
    let link = mail.wait_for(1).await[0].invite_link();
    let settings = format!("/a/{slug}/settings");

    let wrong = ada.submit(&settings, &format!("/a/{slug}/settings/archive"), &[("confirm_name", "acme")]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.unwrap().contains("Type the team&#39;s name exactly as shown to confirm."));

    let archived = ada.submit(&settings, &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme")]).await;
    assert_eq!(location(&archived), format!("/a/{slug}"));
    let page = ada.page(&format!("/a/{slug}"), StatusCode::OK).await;
    assert!(page.contains("Acme is archived. Its pages are read-only."));
    assert!(page.contains("✓ You can view API keys.") && page.contains("✓ You can view billing."), "{page}");
    for refused in ["create or delete API keys", "invite members", "change the team&#39;s settings"] {
        assert!(page.contains(&format!("✕ You cannot {refused}.")), "an archived team: {refused}: {page}");
    }
    assert!(page.contains("<div class=\"menu__heading\">Archived</div>"));
    assert_eq!(app.pending_count(&slug).await, 0, "pending invites cancelled");
    let opened = app.browser().get(&crate::helpers::path_of(&link)).await;
    assert_eq!(opened.status(), StatusCode::GONE);
    let opened = opened.text().await.unwrap();
    assert!(opened.contains("Acme is archived"), "not \"ask for a new one\": {opened}");
    assert!(!opened.contains("cancelled"), "{opened}");
    let invite = ada
        .submit(
            &format!("/a/{slug}/members"),
            &format!("/a/{slug}/invites"),
            &[("email", "y@example.com"), ("role", "developer")],
        )
        .await;
    assert_eq!(invite.status(), StatusCode::FORBIDDEN);
    let rename = ada.submit(&format!("/a/{slug}"), &format!("/a/{slug}/settings/name"), &[("name", "New")]).await;
    assert_eq!(rename.status(), StatusCode::FORBIDDEN);
    assert_eq!(location(&ada.get("/").await), "/a/ada-admin", "/ no longer goes to the archived team");
    let settings_page = ada.page(&settings, StatusCode::OK).await;
    assert!(settings_page.contains("Acme is archived: its settings can no longer change."), "{settings_page}");
    assert!(!settings_page.contains("Save name"));
    let audit = ada.page(&format!("/a/{slug}/audit"), StatusCode::OK).await;
    assert!(audit.contains("archived the team"), "who archived it stays visible: {audit}");
}

/// Holds `audit_events` locked against inserts (PostgreSQL) until the returned sender is used:
/// a team change that got as far as its audit line waits there, holding its other locks.
pub(crate) async fn hold_audit_inserts(app: &TestApp) -> std::sync::mpsc::Sender<()> {
    use diesel::connection::SimpleConnection;
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        conn.batch_execute("BEGIN; LOCK TABLE audit_events IN EXCLUSIVE MODE").unwrap();
        locked.send(()).unwrap();
        let _ = released.recv();
        conn.batch_execute("COMMIT").unwrap();
    });
    is_locked.await.unwrap();
    release
}

/// Waits until `n` of the app's database sessions wait for a lock.
pub(crate) async fn until_waiting(app: &TestApp, n: i64) {
    let started = std::time::Instant::now();
    let sql =
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
    while app.count(sql.into()).await < n {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{n} sessions never waited for a lock");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// An invitation and an archive of the same team at the same moment, in both orders, on
/// PostgreSQL (SQLite runs one write transaction at a time): the team ends archived with no
/// pending invitation, whichever took the team's row first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invitation_racing_the_archive_never_stays_pending_in_the_archived_team() {
    let app = spawn_app().await;
    if app.sqlite_file.is_some() {
        return;
    }
    let ada = std::sync::Arc::new(app.signed_up("Ada Admin", "ada@example.com").await);
    for (order, team) in [("archive first", "Acme"), ("invite first", "Beta")] {
        let slug = ada.create_team(team).await;
        let archive = {
            let (ada, slug, team) = (ada.clone(), slug.clone(), team.to_owned());
            move || async move {
                let (settings, action) = (format!("/a/{slug}/settings"), format!("/a/{slug}/settings/archive"));
                ada.submit(&settings, &action, &[("confirm_name", team.as_str())]).await.status()
            }
        };
        let invite = {
            let (ada, slug) = (ada.clone(), slug.clone());
            move || async move {
                let (members, action) = (format!("/a/{slug}/members"), format!("/a/{slug}/invites"));
                ada.submit(&members, &action, &[("email", "x@example.com"), ("role", "developer")]).await.status()
            }
        };
        let release = hold_audit_inserts(&app).await;
        // The first holds the team's row and waits at its audit line; the second waits for
        // the row (or, before the fix, went on past a stale read and waited at its own).
        let (first, second) = if order == "archive first" {
            let first = tokio::spawn(archive());
            until_waiting(&app, 1).await;
            (first, tokio::spawn(invite()))
        } else {
            let first = tokio::spawn(invite());
            until_waiting(&app, 1).await;
            (first, tokio::spawn(archive()))
        };
        until_waiting(&app, 2).await;
        release.send(()).unwrap();
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert_eq!(first, StatusCode::SEE_OTHER, "{order}");
        assert!(second == StatusCode::SEE_OTHER || second.is_client_error(), "{order}: {second}");
        let archived = app
            .count(format!("SELECT COUNT(*) AS n FROM accounts WHERE slug = '{slug}' AND archived_at IS NOT NULL"))
            .await;
        assert_eq!(archived, 1, "{order}: archived");
        assert_eq!(app.pending_count(&slug).await, 0, "{order}: no invitation pending in the archived team");
    }
}

/// A request checked before the archive committed, whose transaction runs after it: the
/// change is refused inside the transaction (the read there is what counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_or_name_change_checked_before_an_archive_is_refused_after_it() {
    use teamdeck::service::{accounts, audit::Actor, members, teams};
    let app = spawn_app().await;
    let (ada, slug) = team_with(&app, &[("bob@example.com", Role::Developer)]).await;
    let (ada_id, bob_id) = (app.user_id("ada@example.com").await, app.user_id("bob@example.com").await);
    let db = app.db.clone();
    let seen_before = tokio::task::spawn_blocking(move || {
        let found = accounts::accounts_of(&mut db.get().unwrap(), ada_id).unwrap();
        found.into_iter().find(|m| m.account.slug == slug).unwrap().account
    })
    .await
    .unwrap();
    let archived = ada
        .submit(
            &format!("/a/{}/settings", seen_before.slug),
            &format!("/a/{}/settings/archive", seen_before.slug),
            &[("confirm_name", "Acme")],
        )
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);

    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let conn = &mut db.get().unwrap();
        let actor = Actor { id: ada_id, name: "Ada".into() };
        let id = seen_before.id;
        let role = members::change_role(conn, id, &actor, bob_id, Role::Admin);
        assert!(matches!(role, Err(members::MemberError::Archived)), "{role:?}");
        let removed = members::remove(conn, id, &actor, bob_id);
        assert!(matches!(removed, Err(members::MemberError::Archived)), "{removed:?}");
        let name = teamdeck::domain::TeamName::parse("Renamed").unwrap();
        let renamed = teams::rename(conn, &seen_before, &actor, &name);
        assert!(matches!(renamed, Err(teams::TeamError::Archived)), "{renamed:?}");
        let bob = members::find(conn, id, bob_id).unwrap().expect("still a member");
        assert_eq!(bob.role, Role::Developer, "unchanged");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_account_cannot_be_archived_or_take_members() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let settings = ada.page("/a/ada/settings", StatusCode::OK).await;
    assert!(!settings.contains("Archive"));
    let archive = ada.submit("/a/ada/settings", "/a/ada/settings/archive", &[("confirm_name", "Ada")]).await;
    assert_eq!(archive.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let invite = ada.submit("/a/ada", "/a/ada/invites", &[("email", "x@example.com"), ("role", "developer")]).await;
    assert_eq!(invite.status(), StatusCode::NOT_FOUND);
}
