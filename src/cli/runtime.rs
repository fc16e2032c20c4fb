//! `teamdeck runtime --exec`: a reference runtime for local development and tests, not for
//! production. It follows the runtime contract with the service token: it waits for app
//! changes, and for each app that should run it reads its revision's environment, runs the
//! revision's command as a local process (`sh -c`, with the secrets and `PORT` in its
//! environment), and reports `building`, `starting`, then `running` with
//! `http://127.0.0.1:PORT` as the endpoint (or `failed` when the process exits at once).
//! A stopped or deleted app's process is killed.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::Duration;

#[derive(clap::Args)]
pub struct RuntimeArgs {
    /// Run each revision's command as a local process (the only mode there is).
    #[arg(long)]
    pub exec: bool,
    /// The Teamdeck server.
    #[arg(long, env = "TEAMDECK_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The server's `TEAMDECK_SERVICE_TOKEN`.
    #[arg(long, env = "TEAMDECK_SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: String,
}

struct Running {
    revision: i64,
    child: Child,
}

pub fn run(args: &RuntimeArgs) -> anyhow::Result<()> {
    if !args.exec {
        bail!("Only `teamdeck runtime --exec` exists: it runs each revision's command as a local process.");
    }
    let server = args.server.trim_end_matches('/').to_owned();
    let auth = format!("Bearer {}", args.service_token.trim());
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(90)).build();
    let mut cursor = 0i64;
    let mut running: HashMap<String, Running> = HashMap::new();
    eprintln!("teamdeck runtime (a development tool) following {server}");
    loop {
        let url = format!("{server}/api/v1/runtime/changes?cursor={cursor}&wait=30");
        let changes: Value = match agent.get(&url).set("Authorization", &auth).call() {
            Ok(response) => response.into_json()?,
            Err(ureq::Error::Status(401 | 404, _)) => bail!("{server} refused the service token"),
            Err(e) => {
                eprintln!("could not reach {server} ({e}); trying again");
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        for app in changes["apps"].as_array().cloned().unwrap_or_default() {
            if let Err(e) = apply(&agent, &server, &auth, &app, &mut running) {
                eprintln!("{}: {e:#}", app["name"].as_str().unwrap_or("an app"));
            }
        }
        cursor = changes["cursor"].as_i64().unwrap_or(cursor);
    }
}

fn apply(
    agent: &ureq::Agent,
    server: &str,
    auth: &str,
    app: &Value,
    running: &mut HashMap<String, Running>,
) -> anyhow::Result<()> {
    let id = app["id"].as_str().context("an app id")?.to_owned();
    let revision = app["revision"]["number"].as_i64().context("a revision")?;
    let report = |status: &str, message: &str, instances: i32, endpoint: Option<&str>| -> anyhow::Result<()> {
        let body = json!({ "id": format!("{id}-{revision}-{status}"), "revision": revision, "status": status,
            "message": message, "instances": instances, "endpoint": endpoint });
        agent.post(&format!("{server}/api/v1/runtime/apps/{id}/reports")).set("Authorization", auth).send_json(body)?;
        Ok(())
    };
    if let Some(mut old) = running.remove(&id) {
        eprintln!("{}: stopping revision {}", app["name"].as_str().unwrap_or_default(), old.revision);
        let _ = old.child.kill();
        let _ = old.child.wait();
    }
    if app["desired"] != "running" {
        eprintln!("{}: {}", app["name"].as_str().unwrap_or_default(), app["desired"].as_str().unwrap_or_default());
        return Ok(());
    }
    report("building", "reading the environment", 0, None)?;
    let env: Value = agent
        .get(&format!("{server}/api/v1/runtime/apps/{id}/revisions/{revision}/environment"))
        .set("Authorization", auth)
        .call()?
        .into_json()?;
    let Some(command) = app["revision"]["command"].as_str() else {
        return report("failed", "the reference runtime runs commands only: deploy with --command", 0, None);
    };
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    report("starting", &format!("sh -c on port {port}"), 0, None)?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).env("PORT", port.to_string());
    for (name, value) in env["env"].as_object().cloned().unwrap_or_default() {
        cmd.env(name, value.as_str().unwrap_or_default());
    }
    let mut child = cmd.spawn().context("starting the command")?;
    std::thread::sleep(Duration::from_millis(500));
    if let Some(status) = child.try_wait()? {
        return report("failed", &format!("the command exited at once ({status})"), 0, None);
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    report("running", "a local process", 1, Some(&endpoint))?;
    eprintln!("{}: revision {revision} running at {endpoint}", app["name"].as_str().unwrap_or_default());
    running.insert(id, Running { revision, child });
    Ok(())
}
