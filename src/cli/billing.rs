//! `teamdeck billing …`: operator commands run against the database directly (no server
//! needed): record a bank transfer, close a month by hand.

use crate::config::IssuerSettings;
use crate::db::Db;
use crate::domain::money::{self, Month};
use crate::service::billing::{self, BillingError};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct DatabaseArgs {
    /// Database URL (postgres://… or sqlite://PATH) [default: DATA_DIR/teamdeck.db].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The server's data directory (where the default SQLite file lives).
    #[arg(long, env = "TEAMDECK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

impl DatabaseArgs {
    pub fn connect(&self) -> anyhow::Result<Db> {
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("teamdeck.db").display()));
        Db::connect(&url, 2)
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum BillingCommand {
    /// Record that an invoice was paid by bank transfer; a credit invoice adds its credits.
    MarkPaid {
        /// The invoice number, e.g. TD-2026-000123.
        invoice: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Issue the usage invoices of a closed month now (the server does it by itself hourly).
    CloseMonth {
        /// YYYY-MM [default: last month].
        #[arg(long)]
        month: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        issuer: IssuerSettings,
    },
}

pub fn run(command: BillingCommand) -> anyhow::Result<()> {
    match command {
        BillingCommand::MarkPaid { invoice, db } => {
            let db = db.connect()?;
            match billing::mark_paid(&mut *db.get()?, &invoice) {
                Ok(paid) if paid.credited > 0 => {
                    println!("{} is paid: {} of credits added.", paid.number, money::usd(paid.credited));
                    Ok(())
                }
                Ok(paid) => {
                    println!("{} is paid.", paid.number);
                    Ok(())
                }
                Err(e @ (BillingError::NotFound | BillingError::AlreadyPaid(_) | BillingError::Void(_))) => {
                    anyhow::bail!("{invoice}: {e}")
                }
                Err(e) => Err(e.into()),
            }
        }
        BillingCommand::CloseMonth { month, db, issuer } => {
            let month: Month = match month {
                Some(m) => m.parse().map_err(anyhow::Error::msg)?,
                None => Month::of_ms(crate::domain::now_ms()).previous(),
            };
            anyhow::ensure!(
                month < Month::of_ms(crate::domain::now_ms()),
                "{month} is not over yet: only a past month can be closed"
            );
            let db = db.connect()?;
            let issued = billing::close_month(&mut *db.get()?, month, &issuer.issuer())?;
            if issued.is_empty() {
                println!("{}: nothing to invoice (already closed, or no usage).", month.label());
            } else {
                println!("{}: issued {}", month.label(), issued.join(", "));
            }
            Ok(())
        }
    }
}
