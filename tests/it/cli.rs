//! The CLI's browser login (device flow) and its commands, run as the real binary against
//! the app over HTTP.

use crate::helpers::{TestApp, csrf_token, spawn_app};
use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use teamdeck::domain::Role;

fn teamdeck(config: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_teamdeck"));
    command.env("TEAMDECK_CONFIG_DIR", config).env_remove("TEAMDECK_KEY").env_remove("TEAMDECK_FORCE_AUTH_BY_USER");
    command
}

fn output(mut command: Command) -> (bool, String) {
    let out = command.output().expect("the CLI runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Runs `auth login`, confirms its code in `browser` (approve or deny), and returns whether
/// the CLI succeeded and what it printed.
async fn login(
    app: &TestApp,
    config: &std::path::Path,
    browser: &crate::helpers::Browser,
    approve: bool,
) -> (bool, String) {
    let mut child = teamdeck(config)
        .args(["auth", "login", "--server", &app.address, "--device-name", "test laptop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (first_line, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        (first, lines)
    })
    .await
    .unwrap();
    let code = first_line.rsplit(' ').next().unwrap().to_owned();
    assert!(first_line.contains("/device") && code.len() == 9, "{first_line}");
    let page = browser.page(&format!("/device?code={code}"), StatusCode::OK).await;
    assert!(page.contains("test laptop") && page.contains(&code), "{page}");
    let token = csrf_token(&page).unwrap();
    let decision = if approve { "approve" } else { "deny" };
    let decided = browser
        .client
        .post(browser.url("/device"))
        .form(&[("csrf_token", token.as_str()), ("user_code", code.as_str()), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::OK);
    tokio::task::spawn_blocking(move || {
        let printed: Vec<String> = rest.map_while(Result::ok).collect();
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status.success(), format!("{}\n{err}", printed.join("\n")))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_signs_in_through_the_browser_and_acts_as_the_member_in_the_chosen_team() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let config = tempfile::tempdir().unwrap();

    let (ok, printed) = login(&app, config.path(), &ada, true).await;

    assert!(ok, "{printed}");
    assert!(printed.contains("Signed in to"), "{printed}");
    let file = config.path().join("credentials.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&file).unwrap().contains("\"token\": \"tdt_"));

    let (ok, listed) = output({
        let mut c = teamdeck(config.path());
        c.args(["teams", "list"]);
        c
    });
    assert!(ok && listed.contains("acme") && listed.contains("admin"), "{listed}");
    let old = ada.create_team("Old").await;
    ada.submit(&format!("/a/{old}/settings"), &format!("/a/{old}/settings/archive"), &[("confirm_name", "Old")]).await;
    let (ok, set) = output({
        let mut c = teamdeck(config.path());
        c.args(["teams", "set", &old]);
        c
    });
    assert!(ok && set.contains("Note: this team is archived."), "{set}");
    let (ok, set) = output({
        let mut c = teamdeck(config.path());
        c.args(["teams", "set", &slug]);
        c
    });
    assert!(ok && set.contains("Now working in Acme"), "{set}");
    let (ok, me) = output({
        let mut c = teamdeck(config.path());
        c.arg("whoami");
        c
    });
    assert!(ok, "{me}");
    assert!(
        me.contains("login token (from the login token saved in") && me.contains("Acme (acme), role admin"),
        "{me}"
    );
    assert!(me.contains("to you, within the team"));

    let (ok, created) = output({
        let mut c = teamdeck(config.path());
        c.args(["keys", "create", "from-cli", "--scope", "ADMIN"]);
        c
    });
    assert!(ok && created.contains("tdk_") && created.contains("You won't see this key again"), "{created}");
    let key = created.lines().find(|l| l.starts_with("tdk_")).unwrap().to_owned();
    let (ok, me) = output({
        let mut c = teamdeck(config.path());
        c.arg("whoami").env("TEAMDECK_KEY", &key);
        c
    });
    assert!(
        ok && me.contains("team key (from the TEAMDECK_KEY environment variable)") && me.contains("to the team"),
        "{me}"
    );
    let (ok, me) = output({
        let mut c = teamdeck(config.path());
        c.arg("whoami").env("TEAMDECK_KEY", &key).env("TEAMDECK_FORCE_AUTH_BY_USER", "1");
        c
    });
    assert!(ok && me.contains("login token"), "TEAMDECK_FORCE_AUTH_BY_USER forces the token: {me}");

    let tokens_page = ada.page("/account/tokens", StatusCode::OK).await;
    assert!(tokens_page.contains("<td>test laptop</td>"));
    let (ok, out) = output({
        let mut c = teamdeck(config.path());
        c.args(["auth", "logout"]);
        c
    });
    assert!(ok && out.contains("Signed out"), "{out}");
    assert!(!ada.page("/account/tokens", StatusCode::OK).await.contains("<td>test laptop</td>"), "revoked");
    let (ok, me) = output({
        let mut c = teamdeck(config.path());
        c.arg("whoami");
        c
    });
    assert!(!ok && me.contains("Not signed in"), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_login_ends_the_cli_with_a_clear_message() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let config = tempfile::tempdir().unwrap();

    let (ok, printed) = login(&app, config.path(), &ada, false).await;

    assert!(!ok);
    assert!(printed.contains("The login was denied in the browser."), "{printed}");
    assert!(!config.path().join("credentials.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_token_is_attributed_to_the_member_and_refused_once_they_leave_the_team() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Developer).await;
    let config = tempfile::tempdir().unwrap();
    assert!(login(&app, config.path(), &bob, true).await.0);
    let (ok, set) = output({
        let mut c = teamdeck(config.path());
        c.args(["teams", "set", &slug]);
        c
    });
    assert!(ok, "{set}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(config.path().join("credentials.json")).unwrap()).unwrap();
    let bearer = format!("Bearer {}", saved["token"].as_str().unwrap());
    let client = reqwest::Client::new();
    let members = client
        .get(format!("{}/api/v1/teams/{slug}/members", app.address))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(members.status(), StatusCode::OK);
    let keys = client
        .get(format!("{}/api/v1/teams/{slug}/keys", app.address))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), StatusCode::FORBIDDEN, "a developer cannot manage keys, whatever the credential");

    let page = ada.page_showing(&format!("/a/{slug}/requests"), "<td>Bob</td>").await;
    assert!(page.contains("<td>Bob</td>") && page.contains(&format!("GET /api/v1/teams/{slug}/members")), "{page}");

    let bob_id = app.user_id("bob@example.com").await;
    ada.submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{bob_id}/remove"), &[]).await;
    let after = client
        .get(format!("{}/api/v1/teams/{slug}/members", app.address))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::NOT_FOUND, "removed: the team no longer exists for the token");

    // The CLI still says who is signed in, and what to do about the team it had saved.
    let (ok, me) = output({
        let mut c = teamdeck(config.path());
        c.arg("whoami");
        c
    });
    assert!(ok, "{me}");
    assert!(me.contains("Signed in:   Bob <bob@example.com>"), "{me}");
    assert!(me.contains(&format!("Team:        {slug}: you are not a member of it (any more)")), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_database_or_the_logs() {
    let (app, mail) = crate::helpers::spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    // A team key.
    ada.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &[("name", "prod"), ("scope", "ADMIN")]).await;
    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let key = page[page.find("value=\"tdk_").unwrap() + 7..].split('"').next().unwrap().to_owned();
    // A login token, through the device flow over HTTP.
    let client = reqwest::Client::new();
    let start: serde_json::Value = client
        .post(format!("{}/api/v1/device/code", app.address))
        .json(&serde_json::json!({ "device_name": "laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = start["device_code"].as_str().unwrap().to_owned();
    let user_code = start["user_code"].as_str().unwrap().to_owned();
    let confirm = ada.page(&format!("/device?code={user_code}"), StatusCode::OK).await;
    let csrf = csrf_token(&confirm).unwrap();
    ada.client
        .post(ada.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", user_code.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    let token: serde_json::Value = client
        .post(format!("{}/api/v1/device/token", app.address))
        .json(&serde_json::json!({ "device_code": device_code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    // An invite link.
    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "bob@example.com"), ("role", "developer")],
    )
    .await;
    let invite_token = mail.wait_for(1).await[0].invite_link().rsplit('/').next().unwrap().to_owned();
    // Use the credentials, including with a wrong one, so that errors are logged too.
    for auth in [format!("Key {key}"), format!("Bearer {token}"), format!("Key {key}x")] {
        client
            .get(format!("{}/api/v1/whoami", app.address))
            .header("Authorization", auth)
            .header("X-Teamdeck-Team", &slug)
            .send()
            .await
            .unwrap();
    }
    app.browser().get(&format!("/invites/{invite_token}")).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await; // the request recorder's batch

    let logs = crate::helpers::captured_logs();
    for (what, secret) in [
        ("key", &key[15..47]),
        ("token", &token[15..47]),
        ("device code", &device_code[..]),
        ("invite", &invite_token[..]),
    ] {
        assert!(!app.database_contains(secret).await, "the {what} is stored");
        assert!(!logs.contains(secret), "the {what} is logged");
    }
    assert!(
        app.database_contains(&teamdeck::domain::secret::hash_secret(&key[15..47])).await,
        "its hash is what is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_command_fills_a_database_the_app_then_serves() {
    let url = crate::helpers::test_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let (ok, printed) = output({
        let mut c = teamdeck(data.path());
        c.args(["seed", "--database-url", &url, "--data-dir"]).arg(data.path()).args([
            "--teams",
            "20",
            "--users",
            "300",
            "--memberships",
            "600",
            "--big-team",
            "120",
            "--keys",
            "200",
            "--requests",
            "2000",
        ]);
        c
    });
    assert!(ok, "{printed}");
    assert!(printed.contains("api_requests:       2000 rows"), "{printed}");
    let key = std::fs::read_to_string(data.path().join("bench-key.txt")).unwrap();

    let app = crate::helpers::spawn_app_with(move |s| s.database_url = Some(url)).await;
    assert_eq!(app.count_rows("users").await, 300);
    assert_eq!(app.count_rows("api_keys").await, 200);
    let bench = app.browser();
    bench.sign_in("bench-0@bench.test", "bench-password").await;
    let big = bench.page("/a/big/members", StatusCode::OK).await;
    assert_eq!(big.matches("<tr id=\"member-").count(), 50, "the 120-member team pages by 50");
    assert_eq!(app.count_rows("accounts WHERE slug LIKE 'eight-%'").await, 50);
    // eight-07 holds the users after the big team's 120 and the first seven small teams'.
    let eight = app.browser();
    eight.sign_in("bench-177@bench.test", "bench-password").await;
    let small = eight.page("/a/eight-07/members", StatusCode::OK).await;
    assert_eq!(small.matches("<tr id=\"member-").count(), 8, "a small team has eight members: {small}");
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/whoami", app.address))
        .header("Authorization", format!("Key {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK, "the bench key works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seed_and_the_operator_billing_commands_work_on_the_servers_database() {
    let url = crate::helpers::test_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut c = teamdeck(data.path());
        c.args(args).args(["--database-url", &url]);
        output(c)
    };
    let (ok, printed) = run(&["seed", "--demo"]);
    assert!(ok, "{printed}");
    assert!(printed.contains("demo@teamdeck.test"), "{printed}");
    let (ok, printed) = run(&["seed", "--demo"]);
    assert!(!ok && printed.contains("already there"), "a second demo seed changes nothing: {printed}");

    let app = crate::helpers::spawn_app_with({
        let url = url.clone();
        move |s| s.database_url = Some(url)
    })
    .await;
    assert_eq!(app.count_rows("memberships WHERE role = 'billing'").await, 1);
    assert!(app.count_rows("usage_events").await > 500, "60 days of usage");
    assert_eq!(app.count_rows("invoices WHERE status = 'open'").await, 1, "one credit invoice waits for payment");
    let demo = app.browser();
    demo.sign_in("demo@teamdeck.test", "demo-password").await;
    let billing = demo.page("/a/acme-robotics/billing", StatusCode::OK).await;
    assert!(billing.contains("TD-"), "the invoices are listed");
    demo.page("/a/acme-robotics/usage", StatusCode::OK).await;

    let balance = |db: teamdeck::db::Db| async move {
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            let team: i64 = {
                use diesel::prelude::*;
                use teamdeck::db::schema::accounts;
                accounts::table
                    .filter(accounts::slug.eq("acme-robotics"))
                    .select(accounts::id)
                    .first(&mut *conn)
                    .unwrap()
            };
            teamdeck::service::billing::balance(&mut conn, team).unwrap()
        })
        .await
        .unwrap()
    };
    let before = balance(app.db.clone()).await;
    let open: String = {
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || {
            use diesel::prelude::*;
            use teamdeck::db::schema::invoices;
            invoices::table.filter(invoices::status.eq("open")).select(invoices::number).first(&mut *db.get().unwrap())
        })
        .await
        .unwrap()
        .unwrap()
    };
    let (ok, printed) = run(&["billing", "mark-paid", &open]);
    assert!(ok && printed.contains("$500.00 of credits added"), "{printed}");
    assert_eq!(balance(app.db.clone()).await, before + 500_000_000);
    let (ok, printed) = run(&["billing", "mark-paid", &open]);
    assert!(!ok && printed.contains("already paid"), "{printed}");
    assert_eq!(balance(app.db.clone()).await, before + 500_000_000, "paid once, credited once");
    let (ok, printed) = run(&["billing", "mark-paid", "TD-1999-000001"]);
    assert!(!ok && printed.contains("no such invoice"), "{printed}");
    let (ok, printed) = run(&["billing", "close-month"]);
    assert!(ok && printed.contains("nothing to invoice"), "the demo already closed last month: {printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_help_says_the_credential_order_and_its_variables() {
    let config = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["whoami", "--help"], &["auth", "login", "--help"]] {
        let mut command = teamdeck(config.path());
        command.args(args);
        let (ok, help) = output(command);
        assert!(ok, "{args:?}: {help}");
        for words in ["Credentials, in this order", "TEAMDECK_KEY", "TEAMDECK_FORCE_AUTH_BY_USER=1 (or true, yes)"] {
            assert!(help.contains(words), "{args:?} says {words}: {help}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_set_listed_and_deleted_from_the_cli_and_a_value_can_come_from_stdin() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let admin_key = crate::keys::create_key(&ada, &slug, "deploy", "ADMIN").await;
    let api_key = crate::keys::create_key(&ada, &slug, "runner", "API").await;
    let config = tempfile::tempdir().unwrap();
    let run = |key: &str, args: &[&str], stdin: Option<&str>| {
        let mut c = teamdeck(config.path());
        c.args(["secrets"]).args(args).args(["--server", &app.address]).env("TEAMDECK_KEY", key);
        let Some(input) = stdin else { return output(c) };
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };

    let (ok, set) =
        tokio::task::block_in_place(|| run(&admin_key, &["set", "hf_token=hf_abc", "REGION=eu=west"], None));
    assert!(ok && set.contains("Secret HF_TOKEN set in acme.") && set.contains("Secret REGION set in acme."), "{set}");
    let (ok, set) = tokio::task::block_in_place(|| run(&admin_key, &["set", "DB_PASSWORD"], Some("p@ss word\n")));
    assert!(ok && set.contains("Secret DB_PASSWORD set"), "{set}");
    let (ok, list) = tokio::task::block_in_place(|| run(&admin_key, &["list"], None));
    assert!(ok, "{list}");
    for name in ["DB_PASSWORD", "HF_TOKEN", "REGION"] {
        assert!(list.contains(name), "{name} listed: {list}");
    }
    assert!(list.contains("by team key deploy") && !list.contains("hf_abc") && !list.contains("p@ss"), "{list}");

    let (ok, refused) = tokio::task::block_in_place(|| run(&api_key, &["set", "X=1"], None));
    assert!(!ok && refused.contains("needs an ADMIN-scoped key") && !refused.contains("403"), "{refused}");
    let (ok, bad) = tokio::task::block_in_place(|| run(&admin_key, &["set", "A=1", "B"], None));
    assert!(!ok && bad.contains("`B` is not NAME=VALUE"), "{bad}");

    let (ok, gone) = tokio::task::block_in_place(|| run(&admin_key, &["unset", "region"], None));
    assert!(ok && gone.contains("Secret REGION deleted"), "{gone}");
    let (ok, missing) = tokio::task::block_in_place(|| run(&admin_key, &["delete", "REGION"], None));
    assert!(
        !ok && missing.contains("Error: no secret REGION in acme") && !missing.contains("404"),
        "deleting it again, the API's words: {missing}"
    );

    let values = crate::secrets::stored(&app, &slug).await.1;
    assert_eq!(
        values,
        vec![("DB_PASSWORD".to_owned(), "p@ss word".to_owned()), ("HF_TOKEN".to_owned(), "hf_abc".to_owned())],
        "the value from stdin without its line break; REGION deleted"
    );
}
