//! The command line: `teamdeck serve` (also the default with no subcommand).

use crate::config::Settings;
use crate::startup::Application;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "teamdeck", version, about = "Teamdeck: teams, members, API keys and billing of an API platform")]
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
    Serve(Settings),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(settings) => serve(settings),
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
