use clap::Parser;

fn main() -> anyhow::Result<()> {
    teamdeck::cli::run(teamdeck::cli::Cli::parse())
}
