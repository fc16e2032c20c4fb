//! Stored normalised addresses brought up to date with the rule of `domain::email` (NFKC,
//! then lowercase, the domain as its IDNA A-label), run as the server starts.
//!
//! The earlier rule only trimmed and lowercased, so the two agree on every ASCII address and
//! only rows whose typed address is not ASCII are read (a scan of the table by a condition
//! on its text, at each start: cheap next to the migrations, and it finds nothing once done).
//! Each row is updated on its own, only if its normalised value is still the one read, so
//! instances starting together do the work once between them. A row whose new value another
//! row already holds (two accounts that the new rule says are one address, such as a
//! full-width `ａ` and an `a`) keeps its old value and is logged, by id, for an operator to
//! settle: until then what its owner types finds the other account.

use crate::db::schema::{invitations, users};
use crate::db::{DbConnection, is_unique_violation};
use crate::domain::{InvitationState, email};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

/// What a pass changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Renormalized {
    pub users: usize,
    pub invitations: usize,
    /// Rows left as they were: their new value is another row's.
    pub collisions: usize,
}

/// Updates the normalised address of every user and pending invitation whose typed
/// address is not ASCII and whose stored value differs from today's rule.
pub fn renormalize(conn: &mut DbConnection) -> QueryResult<Renormalized> {
    let not_ascii = match conn {
        DbConnection::Postgres(_) => "octet_length(email) <> char_length(email)",
        DbConnection::Sqlite(_) => "length(CAST(email AS BLOB)) <> length(email)",
    };
    let mut done = Renormalized::default();

    let people: Vec<(i64, String, String)> = users::table
        .filter(users::deleted_at.is_null())
        .filter(sql::<Bool>(not_ascii))
        .select((users::id, users::email, users::email_normalized))
        .load(conn)?;
    for (id, typed, stored) in people {
        let wanted = email::normalize(&typed);
        if wanted == stored {
            continue;
        }
        let updated = diesel::update(users::table.find(id).filter(users::email_normalized.eq(&stored)))
            .set(users::email_normalized.eq(&wanted))
            .execute(conn);
        match updated {
            Ok(n) => done.users += n,
            Err(e) if is_unique_violation(&e) => {
                tracing::warn!(
                    user_id = id,
                    "an account's address is, by today's rule, another account's: left as it was"
                );
                done.collisions += 1;
            }
            Err(e) => return Err(e),
        }
    }

    let pending: Vec<(i64, String, String)> = invitations::table
        .filter(invitations::state.eq(InvitationState::Pending))
        .filter(sql::<Bool>(not_ascii))
        .select((invitations::id, invitations::email, invitations::email_normalized))
        .load(conn)?;
    for (id, typed, stored) in pending {
        let wanted = email::normalize(&typed);
        if wanted == stored {
            continue;
        }
        let updated = diesel::update(invitations::table.find(id).filter(invitations::email_normalized.eq(&stored)))
            .set(invitations::email_normalized.eq(&wanted))
            .execute(conn);
        match updated {
            Ok(n) => done.invitations += n,
            Err(e) if is_unique_violation(&e) => {
                tracing::warn!(
                    invitation_id = id,
                    "a pending invitation's address is, by today's rule, another pending one's: left as it was"
                );
                done.collisions += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
