//! `teamdeck apps …`: deploy an app of the current team, list the apps, an app's revisions,
//! roll back, delete. `apps deploy` reads `teamdeck.toml` in the current directory when it
//! is there; flags override it:
//!
//! ```toml
//! [app]
//! name = "web"
//! image = "ghcr.io/acme/web@sha256:…"
//! command = "python -m http.server $PORT"
//! machine_type = "cpu-small"
//! min_instances = 1
//! max_instances = 3
//! env = ["HF_TOKEN"]
//! public = false
//! ```

use super::client::{ServerArg, call, credential, current_team, json_of, load, server_of, urlencoded};
use anyhow::{Context, anyhow};
use serde::Deserialize;
use serde_json::{Value, json};

/// What `apps deploy` was given on the command line.
#[derive(clap::Args)]
pub struct DeployArgs {
    /// The app's name (else `name` in teamdeck.toml).
    pub name: Option<String>,
    /// An image (`registry/name@sha256:…`) or source reference.
    #[arg(long)]
    pub image: Option<String>,
    /// The command to start (the image's own when not given).
    #[arg(long)]
    pub command: Option<String>,
    #[arg(long)]
    pub machine_type: Option<String>,
    #[arg(long)]
    pub min: Option<i32>,
    #[arg(long)]
    pub max: Option<i32>,
    /// A team secret the app receives as an environment variable (repeat for more).
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// Make the endpoint answer anyone (else only the team's keys).
    #[arg(long)]
    pub public: bool,
    /// Sending the same id again makes no second revision (a random one by default).
    #[arg(long)]
    pub deployment_id: Option<String>,
    #[command(flatten)]
    pub server: ServerArg,
}

#[derive(Deserialize, Default)]
struct File {
    #[serde(default)]
    app: FileApp,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileApp {
    name: Option<String>,
    image: Option<String>,
    command: Option<String>,
    machine_type: Option<String>,
    min_instances: Option<i32>,
    max_instances: Option<i32>,
    #[serde(default)]
    env: Vec<String>,
    public: Option<bool>,
}

fn read_file() -> anyhow::Result<FileApp> {
    match std::fs::read_to_string("teamdeck.toml") {
        Ok(text) => Ok(toml::from_str::<File>(&text).context("reading teamdeck.toml")?.app),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileApp::default()),
        Err(e) => Err(e).context("reading teamdeck.toml"),
    }
}

/// The body of the deploy: the flags over the file.
fn deployment(args: &DeployArgs, file: FileApp) -> anyhow::Result<(String, Value)> {
    let name = args
        .name
        .clone()
        .or(file.name)
        .ok_or_else(|| anyhow!("Name the app: `teamdeck apps deploy NAME` or `name` in teamdeck.toml."))?;
    let image = args
        .image
        .clone()
        .or(file.image)
        .ok_or_else(|| anyhow!("Give an image: --image REF or `image` in teamdeck.toml."))?;
    let env = if args.env.is_empty() { file.env } else { args.env.clone() };
    let deployment_id = args.deployment_id.clone().unwrap_or_else(|| format!("cli-{:032x}", rand::random::<u128>()));
    let body = json!({
        "deployment_id": deployment_id,
        "image": image,
        "command": args.command.clone().or(file.command),
        "machine_type": args.machine_type.clone().or(file.machine_type),
        "min_instances": args.min.or(file.min_instances),
        "max_instances": args.max.or(file.max_instances),
        "env": env,
        "public": args.public || file.public.unwrap_or(false),
    });
    Ok((name, body))
}

/// The server, credential and team a command acts with.
fn context(arg: &ServerArg) -> anyhow::Result<(String, super::client::Credential, String)> {
    let saved = load()?;
    let server = server_of(arg, &saved);
    let cred = credential(&saved, arg.server.as_deref())?;
    let team = current_team(&server, &cred, &saved)?;
    Ok((server, cred, team))
}

pub fn deploy(args: &DeployArgs) -> anyhow::Result<()> {
    let (name, body) = deployment(args, read_file()?)?;
    let (server, cred, team) = context(&args.server)?;
    let url = format!("{server}/api/v1/teams/{team}/apps/{}/deployments", urlencoded(&name));
    let app = json_of(call("POST", &url, &cred, Some(&team)).send_json(body))?;
    println!(
        "Deployed {} revision {} in {team}: {}. Follow it on {server}/a/{team}/apps/{}",
        app["name"].as_str().unwrap_or(&name),
        app["revision"]["number"],
        app["status"].as_str().unwrap_or_default(),
        app["name"].as_str().unwrap_or(&name),
    );
    Ok(())
}

pub fn list(arg: &ServerArg) -> anyhow::Result<()> {
    let (server, cred, team) = context(arg)?;
    let body = json_of(call("GET", &format!("{server}/api/v1/teams/{team}/apps"), &cred, Some(&team)).call())?;
    let apps = body["apps"].as_array().cloned().unwrap_or_default();
    if apps.is_empty() {
        println!("No apps in {team}. Deploy one with `teamdeck apps deploy NAME --image REF`.");
    }
    for app in apps {
        println!(
            "{:<24} {:<9} rev {:<4} {}  {}",
            app["name"].as_str().unwrap_or_default(),
            app["status"].as_str().unwrap_or_default(),
            app["revision"]["number"],
            app["revision"]["image"].as_str().unwrap_or_default(),
            app["endpoint"].as_str().unwrap_or("-")
        );
    }
    Ok(())
}

pub fn revisions(arg: &ServerArg, name: &str) -> anyhow::Result<()> {
    let (server, cred, team) = context(arg)?;
    let url = format!("{server}/api/v1/teams/{team}/apps/{}/revisions", urlencoded(name));
    let body = json_of(call("GET", &url, &cred, Some(&team)).call())?;
    for r in body["revisions"].as_array().cloned().unwrap_or_default() {
        println!(
            "{:<4} {:<9} {}  by {} at {}{}",
            r["number"],
            r["status"].as_str().unwrap_or_default(),
            r["image"].as_str().unwrap_or_default(),
            r["deployed_by"].as_str().unwrap_or_default(),
            r["created_at"].as_str().unwrap_or_default(),
            r["rollback_of"].as_i64().map(|n| format!(" (rollback to {n})")).unwrap_or_default()
        );
    }
    Ok(())
}

pub fn rollback(arg: &ServerArg, name: &str, revision: i32) -> anyhow::Result<()> {
    let (server, cred, team) = context(arg)?;
    let url = format!("{server}/api/v1/teams/{team}/apps/{}/revisions/{revision}/rollback", urlencoded(name));
    let app = json_of(call("POST", &url, &cred, Some(&team)).call())?;
    println!(
        "Rolled back {name}: revision {} deploys the configuration of revision {revision}.",
        app["revision"]["number"]
    );
    Ok(())
}

pub fn delete(arg: &ServerArg, name: &str) -> anyhow::Result<()> {
    let (server, cred, team) = context(arg)?;
    let url = format!("{server}/api/v1/teams/{team}/apps/{}", urlencoded(name));
    json_of(call("DELETE", &url, &cred, Some(&team)).call())?;
    println!("App {name} deleted from {team}: the runtime stops it.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: DeployArgs,
    }

    #[test]
    fn flags_override_teamdeck_toml() {
        let file: File =
            toml::from_str("[app]\nname = \"web\"\nimage = \"img:1\"\nmax_instances = 3\nenv = [\"A\"]\n").unwrap();
        let cmd = Cmd::parse_from(["x", "--image", "img:2", "--env", "B"]);
        let (name, body) = deployment(&cmd.args, file.app).unwrap();
        assert_eq!(name, "web");
        assert_eq!(body["image"], "img:2");
        assert_eq!(body["max_instances"], 3);
        assert_eq!(body["env"], json!(["B"]));
        assert!(deployment(&Cmd::parse_from(["x"]).args, FileApp::default()).is_err(), "a name is needed");
    }
}
