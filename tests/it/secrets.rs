//! A team's secrets: admins and developers add, replace and delete them; no page shows a
//! value, the database holds it only sealed, billing members and archived teams are refused.

use crate::helpers::{Browser, TestApp, location, spawn_app};
use diesel::prelude::*;
use reqwest::StatusCode;
use teamdeck::config::Settings;
use teamdeck::domain::Role;
use teamdeck::service::secrets;

const VALUE: &str = "hf_Qm9vbGVhbiBzZWNyZXQgdmFsdWU";

async fn set(browser: &Browser, slug: &str, name: &str, value: &str) -> reqwest::Response {
    let page = format!("/a/{slug}/secrets");
    browser.submit(&page, &page, &[("name", name), ("value", value)]).await
}

/// The sealer of the key the app keeps in its data directory.
fn server_sealer(app: &TestApp) -> secrets::Sealer {
    teamdeck::startup::secrets_sealer(&Settings::defaults_in(app.data_dir.path().to_path_buf())).unwrap()
}

/// What the database holds for the team's secrets: (name, sealed bytes), and the values they
/// open to under the key the server keeps in its data directory.
pub(crate) async fn stored(app: &TestApp, slug: &str) -> (Vec<(String, Vec<u8>)>, Vec<(String, String)>) {
    use teamdeck::db::schema::{accounts, secrets as table};
    let sealer = server_sealer(app);
    let (db, slug) = (app.db.clone(), slug.to_owned());
    tokio::task::spawn_blocking(move || {
        let conn = &mut db.get().unwrap();
        let account_id: i64 =
            accounts::table.filter(accounts::slug.eq(&slug)).select(accounts::id).first(conn).unwrap();
        let sealed = table::table
            .filter(table::account_id.eq(account_id))
            .order(table::name)
            .select((table::name, table::sealed))
            .load(conn)
            .unwrap();
        (sealed, secrets::values(conn, &sealer, account_id).unwrap())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_replaces_and_deletes_a_secret_and_no_page_shows_its_value() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let secrets_page = format!("/a/{slug}/secrets");

    let empty = ada.page(&secrets_page, StatusCode::OK).await;
    assert!(empty.contains("No secrets yet.") && empty.contains("Add a secret"), "{empty}");
    assert!(empty.contains(&format!("href=\"{secrets_page}\" aria-current=\"page\"")), "in the navigation: {empty}");

    let response = set(&ada, &slug, " hf_token ", VALUE).await;
    assert_eq!(location(&response), secrets_page);
    let page = ada.page(&secrets_page, StatusCode::OK).await;
    assert!(page.contains("Secret HF_TOKEN added."), "a flash says what happened: {page}");
    assert!(page.contains("Add a secret"), "{page}");
    assert!(page.contains("<td class=\"mono\">HF_TOKEN</td>"), "listed by its name, uppercased: {page}");
    assert!(!page.contains(VALUE), "the value is never shown again");
    let (sealed, values) = stored(&app, &slug).await;
    assert_eq!(sealed.len(), 1);
    assert!(!sealed[0].1.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()), "the database holds it sealed");
    assert_eq!(values, vec![("HF_TOKEN".to_owned(), VALUE.to_owned())], "and it opens under the server's key");

    // Adding a name the team has is refused (the value cannot be read back to undo it).
    let response = set(&ada, &slug, "HF_TOKEN", "hf_oops").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("HF_TOKEN already exists: use Replace in its row"), "{page}");
    assert_eq!(stored(&app, &slug).await.1, vec![("HF_TOKEN".to_owned(), VALUE.to_owned())], "kept");

    let page = ada.page(&secrets_page, StatusCode::OK).await;
    assert!(page.contains(&format!("href=\"{secrets_page}?replace=HF_TOKEN#secret-form\"")), "{page}");
    let replacing = ada.page(&format!("{secrets_page}?replace=HF_TOKEN"), StatusCode::OK).await;
    assert!(replacing.contains("Replace the value of HF_TOKEN"), "{replacing}");
    assert!(replacing.contains("value=\"HF_TOKEN\" readonly") && replacing.contains("name=\"mode\" value=\"replace\""));
    let form = format!("{secrets_page}?replace=HF_TOKEN");
    let response =
        ada.submit(&form, &secrets_page, &[("name", "HF_TOKEN"), ("value", "hf_new"), ("mode", "replace")]).await;
    assert_eq!(location(&response), secrets_page);
    let page = ada.page(&secrets_page, StatusCode::OK).await;
    assert!(page.contains("The value of HF_TOKEN was replaced."), "{page}");
    assert_eq!(page.matches("<td class=\"mono\">HF_TOKEN</td>").count(), 1, "still one secret");
    assert_eq!(stored(&app, &slug).await.1, vec![("HF_TOKEN".to_owned(), "hf_new".to_owned())]);

    let confirm = ada.page(&format!("{secrets_page}/HF_TOKEN/delete"), StatusCode::OK).await;
    assert!(confirm.contains("<h1>Delete secret HF_TOKEN?</h1>"), "a page to confirm without JavaScript: {confirm}");
    let response = ada.submit(&secrets_page, &format!("{secrets_page}/HF_TOKEN/delete"), &[]).await;
    assert_eq!(location(&response), secrets_page);
    let page = ada.page(&secrets_page, StatusCode::OK).await;
    assert!(page.contains("Secret HF_TOKEN deleted.") && page.contains("No secrets yet."), "{page}");
    assert!(stored(&app, &slug).await.0.is_empty());
    let again = ada.submit(&secrets_page, &format!("{secrets_page}/HF_TOKEN/delete"), &[]).await;
    assert_eq!(location(&again), secrets_page, "deleting it twice (a double click) goes back to the list");
    let page = ada.page(&secrets_page, StatusCode::OK).await;
    assert!(page.contains("That secret does not exist or was already deleted."), "{page}");

    let audit = ada.page(&format!("/a/{slug}/audit"), StatusCode::OK).await;
    for said in ["added the secret", "replaced the value of the secret", "deleted the secret"] {
        assert!(audit.contains(said), "the audit log says who {said}: {audit}");
    }
    assert!(!audit.contains(VALUE) && !audit.contains("hf_new"), "and never the value");
    assert!(!app.database_contains(VALUE).await, "not in any table in the clear");
    assert!(!crate::helpers::captured_logs().contains(VALUE), "nor in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developers_manage_secrets_and_billing_members_are_refused() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let dev = app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;
    let bill = app.signed_up("Bill", "bill@example.com").await;
    app.add_member(&slug, "bill@example.com", Role::Billing).await;
    let secrets_page = format!("/a/{slug}/secrets");

    assert_eq!(location(&set(&dev, &slug, "DATABASE_URL", "postgres://u:p@db/app").await), secrets_page);
    let page = dev.page(&secrets_page, StatusCode::OK).await;
    assert!(page.contains("DATABASE_URL") && page.contains("<td>Dev</td>"), "who last set it: {page}");

    let overview = bill.page(&format!("/a/{slug}"), StatusCode::OK).await;
    assert!(!overview.contains(&format!("href=\"{secrets_page}\"")), "not in a billing member's navigation");
    let refused = bill.page(&secrets_page, StatusCode::FORBIDDEN).await;
    assert!(refused.contains("Billing, which cannot see the team&#39;s secrets"), "{refused}");
    let overview = ada.page(&format!("/a/{slug}"), StatusCode::OK).await;
    let token = crate::helpers::csrf_token(&overview).unwrap();
    for (path, fields) in [
        (secrets_page.clone(), vec![("name", "STOLEN"), ("value", "x")]),
        (format!("{secrets_page}/DATABASE_URL/delete"), vec![]),
    ] {
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend(fields);
        let response = bill.client.post(bill.url(&path)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "billing POST {path}");
    }
    assert_eq!(stored(&app, &slug).await.0.len(), 1, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_name_or_value_shows_the_form_again_as_typed_and_keeps_nothing() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;

    /// The opening tag of the element with `id`.
    fn tag<'a>(page: &'a str, id: &str) -> &'a str {
        let start = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("#{id} in {page}"));
        let open = page[..start].rfind('<').unwrap();
        &page[open..start + page[start..].find('>').unwrap()]
    }

    let response = set(&ada, &slug, "my-token", "abc <b>").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("Use letters, digits and underscores"), "says what is wrong: {page}");
    assert!(page.contains("value=\"my-token\""), "the name as typed: {page}");
    assert!(page.contains(">abc &#60;b&#62;</textarea>"), "the value as typed, escaped: {page}");
    assert!(tag(&page, "secret-name").contains("aria-invalid=\"true\""), "the name is marked");
    assert!(!tag(&page, "secret-value").contains("aria-invalid"), "the value is not");

    for (value, says) in [
        (String::new(), "Enter a value."),
        ("x".repeat(secrets::MAX_VALUE_BYTES + 1), "A value can be at most 32 KiB."),
        ("a\0b".to_owned(), "cannot hold a NUL character"),
    ] {
        let response = set(&ada, &slug, "GOOD_NAME", &value).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.unwrap();
        assert!(page.contains(says), "{says}: {page}");
        assert!(tag(&page, "secret-value").contains("aria-invalid=\"true\""), "the value is marked");
        assert!(!tag(&page, "secret-name").contains("aria-invalid"), "the name is fine: {}", tag(&page, "secret-name"));
        assert!(page.contains("value=\"GOOD_NAME\""), "and kept");
    }
    let response = set(&ada, &slug, "TEAMDECK_REGION", "eu").await;
    assert!(response.text().await.unwrap().contains("kept for the platform"), "a reserved name");
    assert!(stored(&app, &slug).await.0.is_empty(), "nothing kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_teams_secrets_are_listed_read_only_and_cannot_change() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let secrets_page = format!("/a/{slug}/secrets");
    set(&ada, &slug, "HF_TOKEN", VALUE).await;
    let before_archive = ada.page(&secrets_page, StatusCode::OK).await;
    let token = crate::helpers::csrf_token(&before_archive).unwrap();
    let archived = ada
        .submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme")])
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);

    let page = ada.page(&secrets_page, StatusCode::OK).await;
    assert!(page.contains("HF_TOKEN"), "still listed: {page}");
    assert!(!page.contains("<form class=\"form") && !page.contains("Delete secret"), "without forms: {page}");
    assert!(!page.contains("Replace"), "{page}");
    for (path, fields) in [
        (secrets_page.clone(), vec![("name", "HF_TOKEN"), ("value", "changed")]),
        (format!("{secrets_page}/HF_TOKEN/delete"), vec![]),
    ] {
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend(fields);
        let response = ada.client.post(ada.url(&path)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path} on an archived team");
    }
    assert_eq!(stored(&app, &slug).await.1, vec![("HF_TOKEN".to_owned(), VALUE.to_owned())], "unchanged");
}

/// Calls the secrets API with `auth` ("Key …" or "Bearer …"): status and JSON body.
async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    body: Option<&str>,
) -> (StatusCode, String) {
    let mut request =
        reqwest::Client::new().request(method, format!("{}{path}", app.address)).header("Authorization", auth);
    if let Some(value) = body {
        request = request.json(&serde_json::json!({ "value": value }));
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_key_or_a_developers_login_token_sets_secrets_through_the_api_and_nothing_returns_a_value() {
    use reqwest::Method;
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let admin_key = format!("Key {}", crate::keys::create_key(&ada, &slug, "deploy", "ADMIN").await);
    let api_key = format!("Key {}", crate::keys::create_key(&ada, &slug, "runner", "API").await);
    let dev = app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;
    let dev_token = format!("Bearer {}", crate::platform::login_token(&app, &dev).await);
    let bill = app.signed_up("Bill", "bill@example.com").await;
    app.add_member(&slug, "bill@example.com", Role::Billing).await;
    let bill_token = format!("Bearer {}", crate::platform::login_token(&app, &bill).await);
    let one = format!("/api/v1/teams/{slug}/secrets/hf_token");
    let all = format!("/api/v1/teams/{slug}/secrets");

    let (status, body) = api(&app, Method::PUT, &one, &admin_key, Some(VALUE)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("\"name\":\"HF_TOKEN\"") && body.contains("\"updated_by\":\"team key deploy\""), "{body}");
    let (status, body) = api(&app, Method::PUT, &one, &dev_token, Some("hf_dev")).await;
    assert_eq!(status, StatusCode::OK, "replaced: {body}");
    assert!(body.contains("\"updated_by\":\"Dev\""), "{body}");
    let (status, body) = api(&app, Method::GET, &all, &admin_key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("HF_TOKEN") && !body.contains(VALUE) && !body.contains("hf_dev"), "names only: {body}");
    assert_eq!(stored(&app, &slug).await.1, vec![("HF_TOKEN".to_owned(), "hf_dev".to_owned())]);

    // Refused: a key of scope API, a billing member; a bad name or an empty value is a 400.
    for (auth, who) in [(&api_key, "an API-scoped key"), (&bill_token, "a billing member")] {
        for (method, path, body) in
            [(Method::GET, &all, None), (Method::PUT, &one, Some("x")), (Method::DELETE, &one, None)]
        {
            let (status, answer) = api(&app, method.clone(), path, auth, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} by {who}: {answer}");
            assert!(answer.contains("\"code\":\"forbidden\""), "{answer}");
        }
    }
    let (status, answer) = api(&app, Method::PUT, &format!("{all}/not-a-name"), &admin_key, Some("x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = api(&app, Method::PUT, &one, &admin_key, Some("")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(stored(&app, &slug).await.1, vec![("HF_TOKEN".to_owned(), "hf_dev".to_owned())], "unchanged");

    let (status, _) = api(&app, Method::DELETE, &one, &admin_key, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = api(&app, Method::DELETE, &one, &admin_key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(stored(&app, &slug).await.0.is_empty());
    let audit = ada.page(&format!("/a/{slug}/audit"), StatusCode::OK).await;
    assert!(audit.contains("team key deploy") && audit.contains("deleted the secret"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_history_does_not_name_the_secrets_a_call_set() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let key = format!("Key {}", crate::keys::create_key(&ada, &slug, "deploy", "ADMIN").await);
    let bill = app.signed_up("Bill", "bill@example.com").await;
    app.add_member(&slug, "bill@example.com", Role::Billing).await;

    let path = format!("/api/v1/teams/{slug}/secrets/STRIPE_LIVE_KEY");
    let (status, _) = api(&app, reqwest::Method::PUT, &path, &key, Some("v")).await;
    assert_eq!(status, StatusCode::CREATED);
    // Billing members see the team's requests, not its secrets.
    let history = bill.page_showing(&format!("/a/{slug}/requests"), "/secrets/{secret}").await;
    assert!(!history.contains("STRIPE_LIVE_KEY"), "{history}");
    assert!(history.contains(&format!("PUT /api/v1/teams/{slug}/secrets/{{secret}}")), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_another_secrets_key_than_the_stored_secrets_were_sealed_under_does_not_start() {
    let app = spawn_app().await;
    let second = |data_dir: &std::path::Path, key: Option<&str>| {
        let mut settings = Settings::defaults_in(data_dir.to_path_buf());
        settings.database_url = Some(app.database_url.clone());
        settings.secrets_key = key.map(str::to_owned);
        teamdeck::startup::Application::build(settings)
    };

    // Its own generated key (another instance's data directory, or a lost key file).
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = second(elsewhere.path(), None).await.err().expect("refused");
    assert!(refused.to_string().contains("is not the one the stored secrets were sealed under"), "{refused}");
    let refused = second(elsewhere.path(), Some("another key of at least thirty-two bytes")).await.err();
    assert!(refused.is_some(), "a given key that is not it");

    // The same key file: it starts.
    std::fs::copy(app.data_dir.path().join("secrets.key"), elsewhere.path().join("secrets.key")).unwrap();
    let started = second(elsewhere.path(), None).await;
    assert!(started.is_ok(), "{:?}", started.err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_secrets_of_an_archived_team_or_another_team() {
    use reqwest::Method;
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let other = ada.create_team("Other").await;
    let other_key = format!("Key {}", crate::keys::create_key(&ada, &other, "other", "ADMIN").await);
    let token = format!("Bearer {}", crate::platform::login_token(&app, &ada).await);
    let one = format!("/api/v1/teams/{slug}/secrets/HF_TOKEN");

    let (status, _) = api(&app, Method::PUT, &one, &other_key, Some("x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another team's key does not find this team");
    let (status, _) = api(&app, Method::PUT, &one, &token, Some(VALUE)).await;
    assert_eq!(status, StatusCode::CREATED);
    let archived = ada
        .submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme")])
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);
    for (method, body) in [(Method::PUT, Some("changed")), (Method::DELETE, None)] {
        let (status, answer) = api(&app, method.clone(), &one, &token, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} on an archived team: {answer}");
        assert!(answer.contains("archived"), "{answer}");
    }
    let (status, list) = api(&app, Method::GET, &format!("/api/v1/teams/{slug}/secrets"), &token, None).await;
    assert_eq!(status, StatusCode::OK, "still listed: {list}");
    assert_eq!(stored(&app, &slug).await.1, vec![("HF_TOKEN".to_owned(), VALUE.to_owned())], "unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_holds_at_most_200_secrets_and_one_more_is_refused_with_the_form_kept() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (db, team) = (app.db.clone(), slug.clone());
    let user_id = app.user_id("ada@example.com").await;
    let sealer = server_sealer(&app);
    tokio::task::spawn_blocking(move || {
        use teamdeck::db::schema::accounts;
        use teamdeck::service::audit::Actor;
        let conn = &mut db.get().unwrap();
        let id: i64 = accounts::table.filter(accounts::slug.eq(&team)).select(accounts::id).first(conn).unwrap();
        let actor = Actor { id: user_id, name: "Ada".into() };
        for i in 0..secrets::MAX_PER_TEAM {
            let name = secrets::SecretName::parse(&format!("S{i}")).unwrap();
            secrets::set(conn, &sealer, id, &actor, &name, "v", secrets::Mode::Add).unwrap();
        }
    })
    .await
    .unwrap();

    let response = set(&ada, &slug, "ONE_MORE", "v").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("at most 200 secrets") && page.contains("value=\"ONE_MORE\""), "{page}");
    assert_eq!(stored(&app, &slug).await.0.len(), 200);
}
