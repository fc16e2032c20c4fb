//! Creating teams, the switcher, account pages and their permissions.

use crate::helpers::{location, spawn_app};
use reqwest::StatusCode;
use teamdeck::domain::Role;

#[tokio::test]
async fn creating_a_team_makes_the_creator_its_admin_and_switches_to_it() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;

    let response = ada.submit("/teams/new", "/teams/new", &[("name", "  Acme Research ")]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/a/acme-research");
    let page = ada.page("/a/acme-research", StatusCode::OK).await;
    assert!(page.contains("Team Acme Research created. You are its admin"), "{page}");
    assert!(page.contains("<span class=\"switcher__name\">Acme Research</span>"), "the switcher shows the team");
    assert!(page.contains("<dt>Your role</dt><dd><span class=\"badge badge--admin\">Admin</span>"));
    assert_eq!(location(&ada.get("/").await), "/a/acme-research", "/ goes to the team used last");
    // A page of no account (creating another team, tokens) shows that team in the switcher.
    for page in ["/teams/new", "/account/tokens"] {
        let html = ada.page(page, StatusCode::OK).await;
        assert!(html.contains("<span class=\"switcher__name\">Acme Research</span>"), "{page}: {html}");
    }
}

#[tokio::test]
async fn team_names_get_clear_messages_and_the_typed_name_back() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    ada.create_team("Acme").await;
    let long = "x".repeat(65);

    for (typed, message) in [
        ("   ", "Enter a name."),
        (long.as_str(), "Use at most 64 characters."),
        ("ACME", "You already belong to a team named “ACME”. Choose another name."),
    ] {
        let response = ada.submit("/teams/new", "/teams/new", &[("name", typed)]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{typed:?} should say {message:?}: {html}");
        assert!(html.contains(&format!("value=\"{typed}\"")), "the typed name is kept");
        assert!(html.contains("aria-invalid=\"true\""), "the field is marked invalid");
    }
}

#[tokio::test]
async fn teams_of_one_name_get_distinct_addresses() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;

    let first = ada.create_team("Acme").await;
    let second = bob.create_team("Acme").await;

    assert_eq!(first, "acme");
    assert_eq!(second, "acme-2");
}

#[tokio::test]
async fn names_in_other_scripts_get_readable_addresses_and_the_form_previews_them() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;

    assert_eq!(ada.create_team("Ünïcødé Team").await, "unicode-team");
    let preview = ada.page("/teams/new/address?name=%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20Team", StatusCode::OK).await;
    assert!(preview.contains("Address: <code>/a/unicode-team-2</code>"), "the next free one: {preview}");
    assert_eq!(ada.create_team("🚀 Rockets").await, "rocket-rockets", "emoji have names too");
    let marks = ada.create_team("!!! ???").await;
    assert!(marks.starts_with("team-") && marks.len() == 11, "a short random address, never `team`: {marks}");
    let nothing = ada.page("/teams/new/address?name=%21%21%21", StatusCode::OK).await;
    assert!(nothing.contains("a short random address"), "{nothing}");
    let escaped = ada.page("/teams/new/address?name=%3Cscript%3E", StatusCode::OK).await;
    assert!(escaped.contains("/a/script") && !escaped.contains("<script"), "{escaped}");
    let form = ada.page("/teams/new", StatusCode::OK).await;
    assert!(form.contains("hx-get=\"/teams/new/address\""), "{form}");
}

#[tokio::test]
async fn simultaneous_team_creations_never_collide_or_fail() {
    let app = spawn_app().await;
    let mut browsers = Vec::new();
    for n in 0..6 {
        browsers.push(app.signed_up(&format!("User {n}"), &format!("user{n}@example.com")).await);
    }

    let slugs = futures_util::future::join_all(browsers.iter().map(|b| b.create_team("Same Name"))).await;

    let mut unique = slugs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6, "six distinct slugs: {slugs:?}");
}

#[tokio::test]
async fn the_switcher_lists_the_personal_account_and_each_team_with_the_role() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    ada.create_team("Zeta Labs").await;
    let acme = bob.create_team("Acme").await;
    app.add_member(&acme, "ada@example.com", Role::Billing).await;

    let page = ada.page("/a/zeta-labs", StatusCode::OK).await;

    let personal = page.find(">Ada</a>").expect("the personal account");
    let acme_entry = page.find("Acme <span class=\"badge badge--billing\">Billing</span>").expect("Acme with Billing");
    let zeta_entry = page.find("Zeta Labs <span class=\"badge badge--admin\">Admin</span>").expect("Zeta with Admin");
    let create = page.find(">Create team</a>").expect("Create team");
    assert!(personal < acme_entry && acme_entry < zeta_entry && zeta_entry < create, "in that order");
    assert!(page.contains("href=\"/a/zeta-labs\" aria-current=\"true\""), "the current account is marked");
}

#[tokio::test]
async fn switching_keeps_the_section_when_the_role_there_allows_it() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let zeta = ada.create_team("Zeta Labs").await;
    let acme = bob.create_team("Acme").await;
    app.add_member(&acme, "ada@example.com", Role::Developer).await;

    let members = ada.page(&format!("/a/{zeta}/members"), StatusCode::OK).await;
    assert!(members.contains("href=\"/a/acme/members\">Acme <span"), "Members → Members: {members}");
    assert!(members.contains("href=\"/a/ada\">Ada</a>"), "a personal account has no members: its overview");
    let billing = ada.page(&format!("/a/{zeta}/billing"), StatusCode::OK).await;
    assert!(billing.contains("href=\"/a/acme\">Acme <span"), "a developer sees no billing there: the overview");
    assert!(billing.contains("href=\"/a/ada/billing\">Ada</a>"), "the personal account's own billing");
}

#[tokio::test]
async fn an_unverified_person_is_not_offered_create_team() {
    let app = spawn_app().await;
    let eve = app.unverified("Eve", "eve@example.com").await;
    let page = eve.page("/a/eve", StatusCode::OK).await;
    assert!(!page.contains("href=\"/teams/new\""), "{page}");
    assert!(page.contains("Create team <span class=\"muted\">(verify your email first)</span>"), "{page}");
}

#[tokio::test]
async fn a_team_the_user_is_not_in_does_not_exist_for_them() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let mallory = app.signed_up("Mallory", "mallory@example.com").await;
    let slug = ada.create_team("Acme").await;

    for path in [format!("/a/{slug}"), format!("/a/{slug}/settings"), "/a/no-such-team".to_owned(), "/a/ada".to_owned()]
    {
        let response = mallory.get(&path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("Page not found"), "a full error page: {html}");
        assert!(!html.contains("Acme"), "nothing of the team leaks");
    }
    let rename = mallory.submit("/a/mallory", &format!("/a/{slug}/settings/name"), &[("name", "Pwned")]).await;
    assert_eq!(rename.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn navigation_shows_only_what_the_role_may_use_and_the_server_refuses_the_rest() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let dev = app.signed_up("Dev", "dev@example.com").await;
    let slug = ada.create_team("Acme").await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;

    let admin_page = ada.page(&format!("/a/{slug}"), StatusCode::OK).await;
    let dev_page = dev.page(&format!("/a/{slug}"), StatusCode::OK).await;

    assert!(admin_page.contains(&format!("href=\"/a/{slug}/settings\">Settings</a>")));
    assert!(!dev_page.contains(&format!("/a/{slug}/settings")), "no Settings entry for a developer");
    assert!(dev_page.contains("<span class=\"badge badge--developer\">Developer</span>"));
    let refused = dev.get(&format!("/a/{slug}/settings")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("Your role in Acme is Developer, which cannot see the team&#39;s settings and audit log."),
        "{html}"
    );
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_very_next_request() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let slug = ada.create_team("Acme").await;
    app.add_member(&slug, "bob@example.com", Role::Admin).await;
    assert_eq!(bob.get(&format!("/a/{slug}/settings")).await.status(), StatusCode::OK);

    app.set_role(&slug, "bob@example.com", Role::Billing).await;

    assert_eq!(bob.get(&format!("/a/{slug}/settings")).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn renaming_a_team_keeps_its_address() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;

    let response =
        ada.submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/name"), &[("name", "Acme Corp")]).await;

    assert_eq!(location(&response), format!("/a/{slug}/settings"));
    let page = ada.page(&format!("/a/{slug}/settings"), StatusCode::OK).await;
    assert!(page.contains("Renamed to Acme Corp."));
    assert!(page.contains("<span class=\"switcher__name\">Acme Corp</span>"));
    let empty = ada.submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/name"), &[("name", "")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().await.unwrap().contains("Enter a name."));
}
