//! `teamdeck seed --demo`: one team that looks lived-in, so a first-time user sees every page
//! alive: members in each role, keys, 60 days of model usage by members and keys, credits
//! bought (one paid, one waiting for the transfer), billing details, a spend limit, and the
//! usage invoices of the months already closed. Everything goes through the services, as if
//! people and gateways had done it.

use crate::db::DbConnection;
use crate::db::schema::memberships;
use crate::domain::money::MICROS_PER_DOLLAR;
use crate::domain::{EmailAddress, KeyScope, PersonName, Role, TeamName, now_ms};
use crate::service::accounts::{NewMembership, sort_name};
use crate::service::audit::Actor;
use crate::service::billing::{self, Details, Issuer};
use crate::service::usage::{self, EventIn};
use crate::service::{keys, teams, users};
use diesel::prelude::*;

pub const EMAIL: &str = "demo@teamdeck.test";
pub const PASSWORD: &str = "demo-password";
const DAYS: i64 = 60;

/// (name, email, role) of the demo team's members besides the demo user (its admin).
const PEOPLE: &[(&str, &str, Role)] = &[
    ("Grace Hopper", "grace@teamdeck.test", Role::Developer),
    ("Linus Lovelace", "linus@teamdeck.test", Role::Developer),
    ("Margaret Hamilton", "margaret@teamdeck.test", Role::Admin),
    ("Barbara Liskov", "barbara@teamdeck.test", Role::Billing),
    ("Ken Thompson", "ken@teamdeck.test", Role::Developer),
];

/// (product, unit, micro-dollars per unit, typical quantity of one call)
const PRODUCTS: &[(&str, &str, i64, i64)] = &[
    ("model-large", "tokens", 3, 200_000),
    ("model-small", "tokens", 1, 120_000),
    ("image-gen", "images", 40_000, 12),
    ("embeddings", "tokens", 1, 300_000),
];

/// Fills the database; refuses (without changing anything) when the demo user exists.
pub fn run(conn: &mut DbConnection, password_hash: &str, issuer: &Issuer) -> anyhow::Result<String> {
    let name = PersonName::parse("Ada Admin")?;
    let email = EmailAddress::parse(EMAIL)?;
    let ada = match users::sign_up(conn, &name, &email, password_hash) {
        Ok(signed_up) => signed_up.user,
        Err(users::SignUpError::EmailTaken) => {
            anyhow::bail!("the demo data is already there: sign in as {EMAIL} / {PASSWORD}")
        }
        Err(e) => return Err(e.into()),
    };
    // Demo people own their (made-up) addresses.
    users::prove_address(conn, ada.id, email.normalized())?;
    let actor = Actor { id: ada.id, name: ada.name.clone() };
    let team_name = TeamName::parse("Acme Robotics")?;
    let team = teams::create(conn, ada.id, &ada.name, &team_name)?;
    let now = now_ms();
    let mut members = vec![ada.id];
    for (person, address, role) in PEOPLE {
        let name = PersonName::parse(person)?;
        let email = EmailAddress::parse(address)?;
        let user = users::sign_up(conn, &name, &email, password_hash)?.user;
        users::prove_address(conn, user.id, email.normalized())?;
        diesel::insert_into(memberships::table)
            .values(&NewMembership {
                account_id: team.id,
                user_id: user.id,
                role: *role,
                sort_name: sort_name(&user.name),
                created_at: now,
            })
            .execute(conn)?;
        if *role != Role::Billing {
            members.push(user.id);
        }
    }
    let mut key_ids = Vec::new();
    for (key_name, scope) in [("production", KeyScope::Api), ("ci-deploy", KeyScope::Admin), ("staging", KeyScope::Api)]
    {
        let key_name = TeamName::parse(key_name)?;
        let (key, _secret) = keys::create(conn, &team, &actor, &key_name, scope, &keys::KeyTerms::default())?;
        key_ids.push(key.id);
    }
    billing::save_details(
        conn,
        &team,
        &actor,
        &Details {
            billing_email: "accounts@acme-robotics.test".into(),
            legal_name: "Acme Robotics Ltd".into(),
            address: "1 Foundry Lane\nSheffield S1 2AB\nUnited Kingdom".into(),
            tax_id: "GB123456789".into(),
        },
    )?;
    let (_, first) = billing::buy_credits(conn, &team, &actor, 1_500 * MICROS_PER_DOLLAR, issuer)?;
    billing::mark_paid(conn, &first)?;

    // 60 days of calls: a steady weekday pattern, weekends quieter, production busiest.
    let day_ms = 24 * 3600 * 1000;
    let mut rng = 0x5eed_u64;
    let mut next = |below: i64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((rng >> 33) % below.max(1) as u64) as i64
    };
    let mut events = Vec::new();
    // As far back as gateways may report (60 days, a little less early in March).
    let start_day = (crate::domain::money::day_start(now) - (DAYS - 1) * day_ms).max(usage::oldest_accepted(now));
    let days = (crate::domain::money::day_start(now) - start_day) / day_ms + 1;
    for d in 0..days {
        let day = start_day + d * day_ms;
        let weekend = matches!(((day / day_ms) + 4) % 7, 5 | 6);
        let calls = if weekend { 6 + next(6) } else { 18 + next(14) };
        for c in 0..calls {
            let at = (day + next(day_ms)).min(now - 1000);
            let (product, unit, price, typical) = PRODUCTS[next(PRODUCTS.len() as i64) as usize];
            let quantity = typical / 2 + next(typical);
            let by_key = next(10) < 6;
            let (key, user) = if by_key {
                (Some(key_ids[[0, 0, 0, 1, 2][next(5) as usize]].to_string()), None)
            } else {
                (None, Some(members[next(members.len() as i64) as usize].to_string()))
            };
            events.push(Ok(EventIn {
                id: format!("demo-{d}-{c}"),
                account: team.slug.clone(),
                key,
                user,
                product: product.into(),
                quantity,
                unit: unit.into(),
                unit_price: price,
                at: crate::domain::When::from_ms(at).iso,
                app: None,
            }));
        }
    }
    for batch in events.chunks(usage::MAX_BATCH) {
        let report = usage::ingest(conn, batch, "http://localhost")?;
        anyhow::ensure!(report.rejected.is_empty(), "demo usage rejected: {:?}", report.rejected);
    }
    billing::close_due_months(conn, now, 3, 0, issuer)?;
    billing::set_limit(conn, &team, &actor, Some(800 * MICROS_PER_DOLLAR))?;
    billing::buy_credits(conn, &team, &actor, 500 * MICROS_PER_DOLLAR, issuer)?;
    Ok(format!(
        "demo team “{}” (/a/{}): {} members, 3 keys, {} usage events over {days} days, invoices and credits. \
Sign in as {EMAIL} / {PASSWORD}.",
        team.name,
        team.slug,
        PEOPLE.len() + 1,
        events.len()
    ))
}
