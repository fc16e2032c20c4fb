//! `teamdeck keys …`: list, create (with an expiry, a monthly spend cap and an address
//! allowlist), rotate and delete the team's API keys, through the server's API.

use super::client::{ServerArg, call, credential, current_team, json_of, load, server_of};
use serde_json::{Value, json};

/// The team's URL for keys, and how to call it.
fn keys_url(arg: &ServerArg) -> anyhow::Result<(String, super::client::Credential, String)> {
    let saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    let team = current_team(&server, &cred, &saved)?;
    Ok((format!("{server}/api/v1/teams/{team}/keys"), cred, team))
}

pub fn list(arg: &ServerArg) -> anyhow::Result<()> {
    let (url, cred, team) = keys_url(arg)?;
    let body = json_of(call("GET", &url, &cred, Some(&team)).call())?;
    for key in body["keys"].as_array().cloned().unwrap_or_default() {
        println!(
            "{:<20} {:<24} {:<6} {}  expires {}  last used {}",
            key["id"].as_str().unwrap_or_default(),
            key["name"].as_str().unwrap_or_default(),
            key["scope"].as_str().unwrap_or_default(),
            key["masked"].as_str().unwrap_or_default(),
            key["expires_at"].as_str().unwrap_or("never"),
            key["last_used_at"].as_str().unwrap_or("never")
        );
    }
    Ok(())
}

/// What `keys create` sends besides the name.
pub struct NewKey<'a> {
    pub scope: &'a str,
    pub expires: Option<&'a str>,
    /// Dollars a month.
    pub cap: Option<f64>,
    pub allow: &'a [String],
}

pub fn create(arg: &ServerArg, name: &str, new: &NewKey<'_>) -> anyhow::Result<()> {
    let (url, cred, team) = keys_url(arg)?;
    let cap = new.cap.map(|dollars| (dollars * 1_000_000.0).round() as i64);
    let body = json_of(call("POST", &url, &cred, Some(&team)).send_json(json!({
        "name": name,
        "scope": new.scope,
        "expires": new.expires,
        "spend_cap": cap,
        "allowed_ips": new.allow,
    })))?;
    println!(
        "Created key {} (id {}, scope {}, expires {}).",
        body["key"]["name"].as_str().unwrap_or_default(),
        body["key"]["id"].as_str().unwrap_or_default(),
        body["key"]["scope"].as_str().unwrap_or_default(),
        body["key"]["expires_at"].as_str().unwrap_or("never")
    );
    println!("{}", body["secret"].as_str().unwrap_or_default());
    println!("You won't see this key again: store it now.");
    Ok(())
}

/// Rotates the key named `name` (or with that id): prints the new secret once.
pub fn rotate(arg: &ServerArg, name: &str, grace: &str) -> anyhow::Result<()> {
    let (url, cred, team) = keys_url(arg)?;
    let body = json_of(call("GET", &url, &cred, Some(&team)).call())?;
    let keys = body["keys"].as_array().cloned().unwrap_or_default();
    let matches = |k: &&Value| k["name"].as_str() == Some(name) || k["id"].as_str() == Some(name);
    let Some(key) = keys.iter().find(matches) else {
        anyhow::bail!("no key {name} in {team}");
    };
    let id = key["id"].as_str().unwrap_or_default();
    let body =
        json_of(call("POST", &format!("{url}/{id}/rotate"), &cred, Some(&team)).send_json(json!({ "grace": grace })))?;
    println!(
        "Rotated key {}: the old secret works until {}.",
        body["key"]["name"].as_str().unwrap_or_default(),
        body["key"]["old_secret_until"].as_str().unwrap_or("now")
    );
    println!("{}", body["secret"].as_str().unwrap_or_default());
    println!("You won't see this secret again: store it now.");
    Ok(())
}

pub fn delete(arg: &ServerArg, id: &str) -> anyhow::Result<()> {
    let (url, cred, team) = keys_url(arg)?;
    json_of(call("DELETE", &format!("{url}/{id}"), &cred, Some(&team)).call())?;
    println!("Key {id} deleted: programs using it are refused from now on.");
    Ok(())
}
