//! The command line: `teamdeck serve` (also the default with no subcommand) runs the server;
//! the other commands are the client of a running server (`auth`, `whoami`, `teams`, `keys`,
//! `secrets`, `apps`); `runtime --exec` is a reference runtime for local development.

mod apps;
mod billing;
mod client;
mod demo;
mod keys;
mod runtime;
mod seed;

use crate::config::Settings;
use crate::startup::Application;
use clap::{Parser, Subcommand};

/// The credential order, shown under `--help` of the commands that call the server.
const CREDENTIALS: &str = "\
Credentials, in this order:
  1. TEAMDECK_KEY            a team API key; commands act on that key's team
  2. the saved login token   from `teamdeck auth login`; commands act on the team chosen
                             with `teamdeck teams set`
Set TEAMDECK_FORCE_AUTH_BY_USER=1 (or true, yes) to use the login token while TEAMDECK_KEY is set.
The server is --server, else TEAMDECK_SERVER, else the one you signed in to.";

#[derive(Parser)]
#[command(name = "teamdeck", version, about = "Teamdeck: teams, members, API keys and billing of an API platform")]
#[command(after_help = CREDENTIALS)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, Teamdeck serves with these settings.
    #[command(flatten)]
    serve: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server, the JSON API and the background workers.
    Serve(Box<Settings>),
    /// Sign the CLI in or out (a login token, saved in your config directory).
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Show which credential is in use, where it came from, which team and which server.
    #[command(after_help = CREDENTIALS)]
    Whoami(client::ServerArg),
    /// List your teams, or choose the one commands act on.
    #[command(subcommand)]
    Teams(TeamsCommand),
    /// List, create or delete the team's API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List, set or delete the team's secrets (values its apps receive as environment variables).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Deploy the team's apps, list them and their revisions, roll back, delete.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// A reference runtime for local development: runs each deployed revision's command as a
    /// local process (`--exec`), following the runtime contract with the service token.
    Runtime(runtime::RuntimeArgs),
    /// Fill a database with a large generated dataset (for the load benchmark), or with
    /// `--demo` one lived-in team to look around.
    Seed(seed::SeedArgs),
    /// Operator tasks on billing, run against the database directly.
    #[command(subcommand)]
    Billing(billing::BillingCommand),
}

#[derive(Subcommand)]
enum AuthCommand {
    /// Sign in through the browser (device code) and save a login token.
    #[command(after_help = CREDENTIALS)]
    Login {
        #[command(flatten)]
        server: client::ServerArg,
        /// How this device is named on your "Sessions & tokens" page.
        #[arg(long)]
        device_name: Option<String>,
    },
    /// Revoke the saved login token and delete it.
    Logout(client::ServerArg),
}

#[derive(Subcommand)]
enum TeamsCommand {
    /// Your personal account and teams, with your role.
    List(client::ServerArg),
    /// Act on this team from now on (saved beside the token).
    Set {
        slug: String,
        #[command(flatten)]
        server: client::ServerArg,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// The team's keys (their prefix and last four characters).
    List(client::ServerArg),
    /// Create a key; its secret is printed once.
    Create {
        name: String,
        /// API (call models, run workloads) or ADMIN (also deploy and manage).
        #[arg(long, default_value = "API")]
        scope: String,
        /// When the key stops working: 30d, 90d, 365d, a date (2027-01-31) or never.
        #[arg(long)]
        expires: Option<String>,
        /// Monthly spend cap in dollars (e.g. 50).
        #[arg(long)]
        cap: Option<f64>,
        /// An address range the key may be used from (CIDR, IPv4 or IPv6); repeat for more.
        #[arg(long = "allow")]
        allow: Vec<String>,
        #[command(flatten)]
        server: client::ServerArg,
    },
    /// Rotate a key (by name or id): a new secret is printed once; the old one keeps working
    /// for the grace period.
    Rotate {
        name: String,
        /// How long the old secret keeps working: 1h to 7d.
        #[arg(long, default_value = "24h")]
        grace: String,
        #[command(flatten)]
        server: client::ServerArg,
    },
    /// Delete (revoke) a key by its id.
    Delete {
        id: String,
        #[command(flatten)]
        server: client::ServerArg,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// The team's secrets by name (values are never shown).
    List(client::ServerArg),
    /// Set secrets: `NAME=VALUE …`, or one `NAME` alone to read its value from standard input
    /// (kept out of your shell's history). A name the team has gets the new value.
    Set {
        #[arg(required = true)]
        assignments: Vec<String>,
        #[command(flatten)]
        server: client::ServerArg,
    },
    /// Delete secrets by name.
    #[command(visible_alias = "unset")]
    Delete {
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        server: client::ServerArg,
    },
}

#[derive(Subcommand)]
enum AppsCommand {
    /// Deploy a new revision (reads teamdeck.toml in this directory if there is one).
    Deploy(apps::DeployArgs),
    /// The team's apps with their status.
    List(client::ServerArg),
    /// An app's revisions, newest first.
    Revisions {
        name: String,
        #[command(flatten)]
        server: client::ServerArg,
    },
    /// Deploy the configuration of an earlier revision again.
    Rollback {
        name: String,
        revision: i32,
        #[command(flatten)]
        server: client::ServerArg,
    },
    /// Delete an app (the runtime stops it).
    Delete {
        name: String,
        #[command(flatten)]
        server: client::ServerArg,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or_else(|| Command::Serve(Box::new(cli.serve))) {
        Command::Serve(settings) => serve(*settings),
        Command::Auth(AuthCommand::Login { server, device_name }) => client::login(&server, device_name),
        Command::Auth(AuthCommand::Logout(server)) => client::logout(&server),
        Command::Whoami(server) => client::whoami(&server),
        Command::Teams(TeamsCommand::List(server)) => client::teams_list(&server),
        Command::Teams(TeamsCommand::Set { slug, server }) => client::teams_set(&server, &slug),
        Command::Keys(KeysCommand::List(server)) => keys::list(&server),
        Command::Keys(KeysCommand::Create { name, scope, expires, cap, allow, server }) => keys::create(
            &server,
            &name,
            &keys::NewKey { scope: &scope, expires: expires.as_deref(), cap, allow: &allow },
        ),
        Command::Keys(KeysCommand::Rotate { name, grace, server }) => keys::rotate(&server, &name, &grace),
        Command::Keys(KeysCommand::Delete { id, server }) => keys::delete(&server, &id),
        Command::Secrets(SecretsCommand::List(server)) => client::secrets_list(&server),
        Command::Secrets(SecretsCommand::Set { assignments, server }) => client::secrets_set(&server, &assignments),
        Command::Secrets(SecretsCommand::Delete { names, server }) => client::secrets_delete(&server, &names),
        Command::Apps(AppsCommand::Deploy(args)) => apps::deploy(&args),
        Command::Apps(AppsCommand::List(server)) => apps::list(&server),
        Command::Apps(AppsCommand::Revisions { name, server }) => apps::revisions(&server, &name),
        Command::Apps(AppsCommand::Rollback { name, revision, server }) => apps::rollback(&server, &name, revision),
        Command::Apps(AppsCommand::Delete { name, server }) => apps::delete(&server, &name),
        Command::Runtime(args) => runtime::run(&args),
        Command::Seed(args) => seed::run(args),
        Command::Billing(command) => billing::run(command),
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    crate::telemetry::init();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        tracing::info!(url = %app.base_url(), backend = ?app.backend(), "Teamdeck is listening");
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}
