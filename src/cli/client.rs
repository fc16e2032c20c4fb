//! The CLI as a client of a Teamdeck server.
//!
//! Credential order, as the platform's SDKs do it: the `TEAMDECK_KEY` environment variable
//! (sent as `Authorization: Key …`) beats the login token saved by `auth login` (sent as
//! `Authorization: Bearer …`, with the chosen team in `X-Teamdeck-Team`);
//! `TEAMDECK_FORCE_AUTH_BY_USER=1` forces the login token. The token is saved in
//! `$TEAMDECK_CONFIG_DIR`, `$XDG_CONFIG_HOME/teamdeck` or `~/.config/teamdeck`, readable by
//! the owner only.

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

#[derive(clap::Args, Clone)]
pub struct ServerArg {
    /// The Teamdeck server [default: the one you logged in to, else http://127.0.0.1:8080].
    #[arg(long, env = "TEAMDECK_SERVER")]
    pub(super) server: Option<String>,
}

/// What `auth login` and `teams set` save.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct Saved {
    server: Option<String>,
    token: Option<String>,
    team: Option<String>,
}

fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TEAMDECK_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("teamdeck"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set: set TEAMDECK_CONFIG_DIR"))?;
    Ok(PathBuf::from(home).join(".config").join("teamdeck"))
}

fn credentials_path() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("credentials.json"))
}

pub(super) fn load() -> anyhow::Result<Saved> {
    let path = credentials_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn save(saved: &Saved) -> anyhow::Result<()> {
    use std::io::Write;
    let path = credentials_path()?;
    let dir = path.parent().expect("a config directory");
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let mut file = options.open(&path).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(serde_json::to_string_pretty(saved)?.as_bytes())?;
    Ok(())
}

pub(super) fn server_of(arg: &ServerArg, saved: &Saved) -> String {
    arg.server
        .clone()
        .or_else(|| saved.server.clone())
        .unwrap_or_else(|| DEFAULT_SERVER.into())
        .trim_end_matches('/')
        .to_owned()
}

/// The credential to send and, in words, where it came from.
pub(super) struct Credential {
    header: String,
    source: String,
    is_key: bool,
}

pub(super) fn credential(saved: &Saved, asked_server: Option<&str>) -> anyhow::Result<Credential> {
    let forced = std::env::var("TEAMDECK_FORCE_AUTH_BY_USER").is_ok_and(|v| is_yes(&v));
    if !forced
        && let Ok(key) = std::env::var("TEAMDECK_KEY").map(|k| k.trim().to_owned())
        && !key.is_empty()
    {
        return Ok(Credential {
            header: format!("Key {key}"),
            source: "the TEAMDECK_KEY environment variable".into(),
            is_key: true,
        });
    }
    let token =
        saved.token.as_ref().ok_or_else(|| anyhow!("Not signed in: run `teamdeck auth login` or set TEAMDECK_KEY."))?;
    if let (Some(issuer), Some(asked)) = (&saved.server, asked_server) {
        anyhow::ensure!(
            issuer.trim_end_matches('/') == asked.trim_end_matches('/'),
            "The saved login token is for {issuer}; it is never sent to {asked}. Run `teamdeck auth login --server {asked}`."
        );
    }
    Ok(Credential {
        header: format!("Bearer {token}"),
        source: format!("the login token saved in {}", credentials_path()?.display()),
        is_key: false,
    })
}

/// `TEAMDECK_FORCE_AUTH_BY_USER` is on when it says 1, true or yes (any case).
fn is_yes(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
}

/// A request with the credential, and the chosen team for a login token.
pub(super) fn call(method: &str, url: &str, cred: &Credential, team: Option<&str>) -> ureq::Request {
    let mut request = ureq::request(method, url).set("Authorization", &cred.header).timeout(Duration::from_secs(30));
    if let (false, Some(team)) = (cred.is_key, team) {
        request = request.set("X-Teamdeck-Team", team);
    }
    request
}

/// The JSON body of a response, or the server's `{code, message}` as an error.
pub(super) fn json_of(result: Result<ureq::Response, ureq::Error>) -> anyhow::Result<Value> {
    match result {
        Ok(response) if response.status() == 204 => Ok(Value::Null),
        Ok(response) => Ok(response.into_json()?),
        Err(ureq::Error::Status(status, response)) => {
            // The API's own words ("no secret FOO in acme-research"); the status only when
            // the answer was not the API's JSON (a proxy's page, say).
            let body: Value = response.into_json().unwrap_or(Value::Null);
            match body["message"].as_str() {
                Some(message) => bail!("{message}"),
                None => bail!("the server answered {status} without details"),
            }
        }
        Err(e) => Err(anyhow!("could not reach the server: {e}")),
    }
}

pub fn login(arg: &ServerArg, device_name: Option<String>) -> anyhow::Result<()> {
    let mut saved = load()?;
    let server = server_of(arg, &saved);
    if std::env::var("TEAMDECK_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        eprintln!(
            "Warning: TEAMDECK_KEY is set, so commands and SDKs will keep using that team key instead of this login.\n         Unset it, or set TEAMDECK_FORCE_AUTH_BY_USER=1 to use the login token."
        );
    }
    let device_name = device_name.unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "teamdeck CLI".into())
    });
    let start =
        json_of(ureq::post(&format!("{server}/api/v1/device/code")).send_json(json!({ "device_name": device_name })))?;
    let device_code = start["device_code"].as_str().ok_or_else(|| anyhow!("the server sent no device code"))?;
    println!(
        "To sign in, open {} and confirm the code {}",
        start["verification_uri"].as_str().unwrap_or_default(),
        start["user_code"].as_str().unwrap_or_default()
    );
    println!("(or open {})", start["verification_uri_complete"].as_str().unwrap_or_default());
    let interval = Duration::from_secs(start["interval"].as_u64().unwrap_or(2).max(1));
    let deadline = Instant::now() + Duration::from_secs(start["expires_in"].as_u64().unwrap_or(600));
    while Instant::now() < deadline {
        std::thread::sleep(interval);
        match ureq::post(&format!("{server}/api/v1/device/token")).send_json(json!({ "device_code": device_code })) {
            Ok(response) => {
                let body: Value = response.into_json()?;
                let token = body["access_token"].as_str().ok_or_else(|| anyhow!("the server sent no token"))?;
                saved.server = Some(server.clone());
                saved.token = Some(token.to_owned());
                save(&saved)?;
                println!("Signed in to {server}. Token saved in {}.", credentials_path()?.display());
                if saved.team.is_none() {
                    println!("Choose the team to work in: `teamdeck teams list`, then `teamdeck teams set SLUG`.");
                }
                return Ok(());
            }
            Err(ureq::Error::Status(400, response)) => {
                let body: Value = response.into_json().unwrap_or(Value::Null);
                match body["code"].as_str() {
                    Some("authorization_pending") => continue,
                    _ => bail!("{}", body["message"].as_str().unwrap_or("The login ended.")),
                }
            }
            Err(e) => return Err(anyhow!("could not reach the server: {e}")),
        }
    }
    bail!("The code expired before it was confirmed. Run `teamdeck auth login` again.")
}

pub fn logout(arg: &ServerArg) -> anyhow::Result<()> {
    let mut saved = load()?;
    let Some(token) = saved.token.take() else {
        println!("Not signed in: there is no saved login token.");
        return Ok(());
    };
    let server = server_of(arg, &saved);
    let revoked =
        ureq::post(&format!("{server}/api/v1/auth/logout")).set("Authorization", &format!("Bearer {token}")).call();
    match revoked {
        Ok(_) | Err(ureq::Error::Status(401, _)) => {}
        Err(e) => eprintln!(
            "Warning: the server did not confirm the token was revoked ({e}); revoke it on your Sessions & tokens page."
        ),
    }
    save(&saved)?;
    println!("Signed out: the login token is revoked and deleted.");
    Ok(())
}

pub fn whoami(arg: &ServerArg) -> anyhow::Result<()> {
    let saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    let url = format!("{server}/api/v1/whoami");
    // A saved team the member is no longer in (removed, or the team gone): still say who is
    // signed in, and what to do about the team.
    let (me, lost_team) = match call("GET", &url, &cred, saved.team.as_deref()).call() {
        Err(ureq::Error::Status(404, _)) if !cred.is_key && saved.team.is_some() => {
            (json_of(call("GET", &url, &cred, None).call())?, saved.team.clone())
        }
        answered => (json_of(answered)?, None),
    };
    println!("Server:      {server}");
    println!("Credential:  {} (from {})", if cred.is_key { "team key" } else { "login token" }, cred.source);
    if let Some(user) = me["user"].as_object() {
        println!(
            "Signed in:   {} <{}>",
            user["name"].as_str().unwrap_or_default(),
            user["email"].as_str().unwrap_or_default()
        );
    }
    if let Some(key) = me["key"].as_object() {
        println!(
            "Key:         {} ({}, scope {})",
            key["name"].as_str().unwrap_or_default(),
            key["masked"].as_str().unwrap_or_default(),
            key["scope"].as_str().unwrap_or_default()
        );
    }
    match me["team"].as_object() {
        _ if let Some(slug) = &lost_team => println!(
            "Team:        {slug}: you are not a member of it (any more). `teamdeck teams list` shows your teams; `teamdeck teams set SLUG` picks one"
        ),
        Some(team) => println!(
            "Team:        {} ({}){}",
            team["name"].as_str().unwrap_or_default(),
            team["slug"].as_str().unwrap_or_default(),
            me["role"].as_str().map(|r| format!(", role {r}")).unwrap_or_default()
        ),
        None => println!("Team:        none chosen: `teamdeck teams set SLUG`"),
    }
    println!("Attributed:  {}", if me["attributed_to"] == "team" { "to the team" } else { "to you, within the team" });
    Ok(())
}

fn teams(server: &str, cred: &Credential) -> anyhow::Result<Vec<Value>> {
    let body = json_of(call("GET", &format!("{server}/api/v1/teams"), cred, None).call())?;
    Ok(body["teams"].as_array().cloned().unwrap_or_default())
}

pub fn teams_list(arg: &ServerArg) -> anyhow::Result<()> {
    let saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    for team in teams(&server, &cred)? {
        let slug = team["slug"].as_str().unwrap_or_default();
        let marker = if saved.team.as_deref() == Some(slug) { "*" } else { " " };
        println!(
            "{marker} {slug:<24} {:<28} {}{}",
            team["name"].as_str().unwrap_or_default(),
            team["role"].as_str().unwrap_or_default(),
            if team["archived"] == true { " (archived)" } else { "" }
        );
    }
    Ok(())
}

pub fn teams_set(arg: &ServerArg, slug: &str) -> anyhow::Result<()> {
    let mut saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    let found = teams(&server, &cred)?.into_iter().find(|t| t["slug"] == slug);
    let Some(team) = found else {
        bail!("You are not a member of a team `{slug}`. `teamdeck teams list` shows yours.");
    };
    saved.team = Some(slug.to_owned());
    save(&saved)?;
    println!(
        "Now working in {} ({slug}) as {}.",
        team["name"].as_str().unwrap_or_default(),
        team["role"].as_str().unwrap_or_default()
    );
    if team["archived"] == true {
        println!(
            "Note: this team is archived. Its pages can be read, but nothing in it can change and its keys do not work."
        );
    }
    Ok(())
}

/// The team the keys commands act on: the key's own, or the one chosen with `teams set`.
pub(super) fn current_team(server: &str, cred: &Credential, saved: &Saved) -> anyhow::Result<String> {
    if cred.is_key {
        let me = json_of(call("GET", &format!("{server}/api/v1/whoami"), cred, None).call())?;
        return Ok(me["team"]["slug"].as_str().unwrap_or_default().to_owned());
    }
    saved.team.clone().ok_or_else(|| anyhow!("No team chosen: run `teamdeck teams set SLUG`."))
}

pub fn secrets_list(arg: &ServerArg) -> anyhow::Result<()> {
    let saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    let team = current_team(&server, &cred, &saved)?;
    let body = json_of(call("GET", &format!("{server}/api/v1/teams/{team}/secrets"), &cred, Some(&team)).call())?;
    let secrets = body["secrets"].as_array().cloned().unwrap_or_default();
    if secrets.is_empty() {
        println!("No secrets in {team}.");
    }
    for secret in secrets {
        println!(
            "{:<32} set {} by {}",
            secret["name"].as_str().unwrap_or_default(),
            secret["updated_at"].as_str().unwrap_or_default(),
            secret["updated_by"].as_str().unwrap_or("a former member")
        );
    }
    Ok(())
}

/// `NAME=VALUE` pairs, or one `NAME` whose value is read from standard input (a final line
/// break is dropped, as a terminal or `echo` adds one).
fn assignments(args: &[String], stdin: impl std::io::Read) -> anyhow::Result<Vec<(String, String)>> {
    use std::io::Read as _;
    if let [name] = args
        && !name.contains('=')
    {
        let mut value = String::new();
        std::io::BufReader::new(stdin).read_to_string(&mut value).context("reading the value from standard input")?;
        let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value);
        return Ok(vec![(name.clone(), value.to_owned())]);
    }
    args.iter()
        .map(|arg| {
            arg.split_once('=')
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .ok_or_else(|| anyhow!("`{arg}` is not NAME=VALUE (a NAME alone reads its value from standard input)"))
        })
        .collect()
}

pub fn secrets_set(arg: &ServerArg, args: &[String]) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    if let [name] = args
        && !name.contains('=')
        && std::io::stdin().is_terminal()
    {
        eprintln!("Type the value of {name}, then press Ctrl-D:");
    }
    let pairs = assignments(args, std::io::stdin())?;
    let saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    let team = current_team(&server, &cred, &saved)?;
    for (name, value) in pairs {
        let url = format!("{server}/api/v1/teams/{team}/secrets/{}", urlencoded(&name));
        let body = json_of(call("PUT", &url, &cred, Some(&team)).send_json(json!({ "value": value })))?;
        println!("Secret {} set in {team}.", body["name"].as_str().unwrap_or(&name));
    }
    Ok(())
}

pub fn secrets_delete(arg: &ServerArg, names: &[String]) -> anyhow::Result<()> {
    let saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    let team = current_team(&server, &cred, &saved)?;
    for name in names {
        let url = format!("{server}/api/v1/teams/{team}/secrets/{}", urlencoded(name));
        json_of(call("DELETE", &url, &cred, Some(&team)).call())?;
        println!("Secret {} deleted from {team}.", name.to_ascii_uppercase());
    }
    Ok(())
}

/// A path segment with everything but unreserved characters percent-encoded.
pub(super) fn urlencoded(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod secrets_tests {
    use super::*;

    #[test]
    fn assignments_are_pairs_or_one_name_read_from_stdin() {
        let pairs = assignments(&["A=1".into(), "B=x=y".into(), "C=".into()], &b""[..]).unwrap();
        assert_eq!(pairs, vec![("A".into(), "1".into()), ("B".into(), "x=y".into()), ("C".into(), "".into())]);
        let piped = assignments(&["TOKEN".into()], &b"s3cret\r\n"[..]).unwrap();
        assert_eq!(piped, vec![("TOKEN".into(), "s3cret".into())]);
        let kept = assignments(&["TOKEN".into()], &b"two\nlines\n\n"[..]).unwrap();
        assert_eq!(kept, vec![("TOKEN".into(), "two\nlines\n".into())], "only the final line break goes");
        assert!(assignments(&["A=1".into(), "B".into()], &b""[..]).is_err());
    }

    #[test]
    fn forcing_the_login_token_accepts_the_usual_yes() {
        for yes in ["1", "true", "TRUE", "yes", " Yes "] {
            assert!(is_yes(yes), "{yes}");
        }
        for no in ["", "0", "false", "no", "y"] {
            assert!(!is_yes(no), "{no}");
        }
    }

    #[test]
    fn names_are_sent_as_one_path_segment() {
        assert_eq!(urlencoded("HF_TOKEN"), "HF_TOKEN");
        assert_eq!(urlencoded("a/b c"), "a%2Fb%20c");
    }
}
