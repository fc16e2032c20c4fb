//! `teamdeck seed`: fills a database with a large, realistic dataset for the load benchmark
//! (bench/run.sh): many teams, users, memberships (one very large team and one of 50),
//! API keys and request records. Rows go in with multi-row INSERT statements, thousands per
//! transaction, so tens of millions of rows take minutes, not hours.
//!
//! Every seeded user `bench-N@bench.test` signs in with the password `bench-password`. The
//! bench user `bench-0@bench.test` is an admin of the big team `big` and of `fifty`; one
//! working API key of `fifty` is written to `DATA_DIR/bench-key.txt`. Users `bench-0` up to
//! the size of the big team are its members, so the benchmark can sign hundreds of them in.
//! Beside the `--teams` teams there are [`EIGHT_TEAMS`] teams `eight-00`, `eight-01`… of
//! [`EIGHT_MEMBERS`] members each (the users after the big team's: `bench-5000` to
//! `bench-5399` at the default sizes), for a benchmark of many small teams viewed at once;
//! `DATA_DIR/bench-eight.txt` lists them, one line "SLUG EMAIL" per membership.

use crate::db::{Db, DbConnection};
use crate::domain::now_ms;
use crate::domain::secret::{self, KEY_PREFIX};
use diesel::connection::SimpleConnection;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// Database URL (postgres://… or sqlite://PATH) [default: DATA_DIR/teamdeck.db].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Where the bench key file is written (and the default SQLite file lives).
    #[arg(long, env = "TEAMDECK_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    #[arg(long, default_value_t = 10_000)]
    teams: i64,
    #[arg(long, default_value_t = 200_000)]
    users: i64,
    /// Team memberships in all (besides each user's personal account).
    #[arg(long, default_value_t = 500_000)]
    memberships: i64,
    /// Members of the one large team.
    #[arg(long, default_value_t = 5_000)]
    big_team: i64,
    #[arg(long, default_value_t = 1_000_000)]
    keys: i64,
    #[arg(long, default_value_t = 10_000_000)]
    requests: i64,
    /// Instead of the benchmark dataset: one lived-in demo team (members, keys, 60 days of
    /// usage, credits and invoices) to look around in.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    issuer: crate::config::IssuerSettings,
}

/// The small teams `eight-00`… and their members each, on top of `--teams`.
const EIGHT_TEAMS: i64 = 50;
const EIGHT_MEMBERS: i64 = 8;

const ROWS_PER_STATEMENT: usize = 500;
const STATEMENTS_PER_TRANSACTION: usize = 40;

/// Writes rows as multi-row INSERTs, committing every few thousand rows.
struct Inserter<'a> {
    conn: &'a mut DbConnection,
    head: String,
    rows: Vec<String>,
    statements: String,
    pending_statements: usize,
    written: u64,
}

impl<'a> Inserter<'a> {
    fn new(conn: &'a mut DbConnection, table: &str, columns: &str) -> Self {
        Self {
            conn,
            head: format!("INSERT INTO {table} ({columns}) VALUES "),
            rows: Vec::new(),
            statements: String::new(),
            pending_statements: 0,
            written: 0,
        }
    }

    fn row(&mut self, values: String) -> anyhow::Result<()> {
        self.rows.push(values);
        if self.rows.len() == ROWS_PER_STATEMENT {
            self.statement()?;
        }
        Ok(())
    }

    fn statement(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        self.statements.push_str(&self.head);
        self.statements.push_str(&self.rows.join(","));
        self.statements.push_str(";\n");
        self.written += self.rows.len() as u64;
        self.rows.clear();
        self.pending_statements += 1;
        if self.pending_statements == STATEMENTS_PER_TRANSACTION {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        if !self.statements.is_empty() {
            let sql = format!("BEGIN;\n{}COMMIT;", self.statements);
            self.conn.batch_execute(&sql)?;
            self.statements.clear();
            self.pending_statements = 0;
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<u64> {
        self.statement()?;
        self.commit()?;
        Ok(self.written)
    }
}

/// A small deterministic generator, so two seeds of the same size are the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below.max(1) as u64) as i64
    }
}

pub fn run(args: SeedArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("teamdeck.db").display()));
    let db = Db::connect(&url, 2)?;
    let mut conn = db.get()?;
    if args.demo {
        let hash = actix_web::rt::System::new()
            .block_on(crate::auth::PasswordHasher::start(1, 1).hash(super::demo::PASSWORD.into()))?;
        println!("{}", super::demo::run(&mut conn, &hash, &args.issuer.issuer())?);
        return Ok(());
    }
    anyhow::ensure!(
        args.users > args.big_team && args.users >= EIGHT_MEMBERS && args.teams >= 2,
        "need more users than the big team, at least {EIGHT_MEMBERS} users and at least 2 teams"
    );
    if matches!(&*conn, DbConnection::Sqlite(_)) {
        // A seed is rebuilt, not recovered: skip the fsync of every commit.
        conn.batch_execute("PRAGMA synchronous = OFF;")?;
    }
    let started = Instant::now();
    let now = now_ms();
    let day = 24 * 3600 * 1000;
    // One real argon2id hash, shared by every seeded user.
    let hash = actix_web::rt::System::new()
        .block_on(crate::auth::PasswordHasher::start(1, 1).hash("bench-password".into()))?;
    // Ids: users 1..=U; personal accounts U+1..=2U; teams 2U+1.. (the `--teams` teams, then
    // the small ones); keys and requests from 1.
    let (users, teams) = (args.users, args.teams);
    let team_id = |t: i64| 2 * users + 1 + t;

    let mut ins = Inserter::new(
        &mut conn,
        "users",
        "id, email, email_normalized, name, password_hash, created_at, email_verified_at",
    );
    for u in 0..users {
        ins.row(format!(
            "({}, 'bench-{u}@bench.test', 'bench-{u}@bench.test', 'Bench User {u:06}', '{hash}', {now}, {now})",
            u + 1
        ))?;
    }
    report("users", ins.finish()?, started);

    let mut ins = Inserter::new(&mut conn, "accounts", "id, kind, slug, name, personal_owner_id, created_at");
    for u in 0..users {
        ins.row(format!("({}, 'personal', 'bench-user-{u}', 'Bench User {u:06}', {}, {now})", users + 1 + u, u + 1))?;
    }
    for t in 0..teams {
        let (slug, name) = match t {
            0 => ("big".to_owned(), "Big Team".to_owned()),
            1 => ("fifty".to_owned(), "Fifty".to_owned()),
            _ => (format!("team-{t}"), format!("Team {t}")),
        };
        ins.row(format!("({}, 'team', '{slug}', '{name}', NULL, {now})", team_id(t)))?;
    }
    for e in 0..EIGHT_TEAMS {
        ins.row(format!("({}, 'team', 'eight-{e:02}', 'Eight {e:02}', NULL, {now})", team_id(teams + e)))?;
    }
    report("accounts", ins.finish()?, started);

    let mut ins = Inserter::new(&mut conn, "memberships", "account_id, user_id, role, sort_name, created_at");
    for u in 0..users {
        ins.row(format!("({}, {}, 'admin', 'bench user {u:06}', {now})", users + 1 + u, u + 1))?;
    }
    // The big team: users 0..big; fifty: users 0..50; the rest spread over the other teams.
    let role = |u: i64| match u % 10 {
        0 => "admin",
        1 => "billing",
        _ => "developer",
    };
    for u in 0..args.big_team {
        ins.row(format!(
            "({}, {}, '{}', 'bench user {u:06}', {now})",
            team_id(0),
            u + 1,
            if u == 0 { "admin" } else { role(u) }
        ))?;
    }
    for u in 0..50 {
        ins.row(format!(
            "({}, {}, '{}', 'bench user {u:06}', {now})",
            team_id(1),
            u + 1,
            if u == 0 { "admin" } else { role(u) }
        ))?;
    }
    let rest = (args.memberships - args.big_team - 50).max(0);
    let per_team = rest / (teams - 2).max(1);
    let mut rng = Lcg(42);
    for t in 2..teams {
        // Consecutive users from a random start: distinct within the team.
        let start = rng.next(users - per_team);
        for i in 0..per_team {
            let u = start + i;
            ins.row(format!(
                "({}, {}, '{}', 'bench user {u:06}', {now})",
                team_id(t),
                u + 1,
                if i == 0 { "admin" } else { role(u) }
            ))?;
        }
    }
    // The small teams: consecutive users after the big team's (distinct from its members
    // while there are enough users), the first of each an admin. No random numbers drawn, so
    // the rest of the dataset is the same as without them.
    let mut eight = String::new();
    for e in 0..EIGHT_TEAMS {
        for i in 0..EIGHT_MEMBERS {
            let u = (args.big_team + e * EIGHT_MEMBERS + i) % users;
            let _ = writeln!(eight, "eight-{e:02} bench-{u}@bench.test");
            ins.row(format!(
                "({}, {}, '{}', 'bench user {u:06}', {now})",
                team_id(teams + e),
                u + 1,
                if i == 0 { "admin" } else { role(u) }
            ))?;
        }
    }
    report("memberships", ins.finish()?, started);
    std::fs::write(args.data_dir.join("bench-eight.txt"), eight)?;

    let mut ins = Inserter::new(
        &mut conn,
        "api_keys",
        "id, account_id, name, scope, public_id, secret_hash, last4, created_by, created_at",
    );
    let bench_key = secret::mint(KEY_PREFIX);
    ins.row(format!(
        "(1, {}, 'bench', 'ADMIN', '{}', '{}', '{}', 1, {now})",
        team_id(1),
        bench_key.public_id,
        bench_key.secret_hash,
        bench_key.last4
    ))?;
    for k in 1..args.keys {
        let t = k % teams;
        ins.row(format!(
            "({}, {}, 'key {k}', '{}', 'seed{k:06}', '{:064x}', 'abcd', NULL, {now})",
            k + 1,
            team_id(t),
            if k % 3 == 0 { "ADMIN" } else { "API" },
            k
        ))?;
    }
    report("api_keys", ins.finish()?, started);
    std::fs::write(args.data_dir.join("bench-key.txt"), &bench_key.full)?;

    let mut ins = Inserter::new(
        &mut conn,
        "api_requests",
        "account_id, user_id, key_id, method, path, status, duration_ms, created_at",
    );
    let mut line = String::new();
    for r in 0..args.requests {
        let t = rng.next(teams);
        let at = now - rng.next(30 * day);
        line.clear();
        if r % 2 == 0 {
            // by a team key of that team
            let key = (t + teams * rng.next(args.keys / teams.max(1)).max(0)).min(args.keys - 1) + 1;
            let _ = write!(line, "({}, NULL, {key}, 'POST', '/v1/run', 200, {}, {at})", team_id(t), 5 + rng.next(200));
        } else {
            let u = if t == 0 { rng.next(args.big_team) } else { rng.next(users) };
            let _ = write!(
                line,
                "({}, {}, NULL, 'GET', '/api/v1/whoami', 200, {}, {at})",
                team_id(t),
                u + 1,
                1 + rng.next(20)
            );
        }
        ins.row(line.clone())?;
    }
    report("api_requests", ins.finish()?, started);
    // Fresh statistics, so the planners pick the indexes a real database would. On
    // PostgreSQL also a vacuum, as autovacuum would do after a bulk load (and this machine's
    // server runs without it): the members_version trigger updated each team's account row
    // once per member inserted, and the dead row versions made every account lookup read
    // some twenty pages instead of three.
    let tidy = match &*conn {
        DbConnection::Postgres(_) => "VACUUM ANALYZE;",
        DbConnection::Sqlite(_) => "ANALYZE;",
    };
    conn.batch_execute(tidy)?;
    println!(
        "seeded in {:.1} s; bench user bench-0@bench.test / bench-password; key in {}",
        started.elapsed().as_secs_f64(),
        args.data_dir.join("bench-key.txt").display()
    );
    Ok(())
}

fn report(what: &str, rows: u64, started: Instant) {
    println!("{what:>13}: {rows:>10} rows  ({:.1} s)", started.elapsed().as_secs_f64());
}
