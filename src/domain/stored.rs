//! How the enums of stored values (roles, key scopes, account kinds, the states of
//! invitations, device codes and invoices, audit actions) are kept: as the words of their
//! `as_str`, in TEXT columns (where a migration has a CHECK constraint on the column, it lists
//! the same words).
//!
//! Rules: a stored word is read back exactly (no trimming, no case folding: that is for what
//! people type, see the `FromStr` impls). A word the enum does not know is an error that names
//! it, never a default: a role this code has no name for must not quietly become another role,
//! nor an unknown invitation state pass for pending.

/// Implements diesel's `ToSql<Text>` and `FromSql<Text>` for an enum that has `ALL` (every
/// variant) and `as_str`, on every backend that has them for `str` and `String`: PostgreSQL,
/// SQLite and the `MultiBackend` of `db::DbConnection`, whose own impls for `str` and
/// `String` dispatch to the backend in use. The enum derives `diesel::AsExpression` and
/// `diesel::FromSqlRow` with `#[diesel(sql_type = diesel::sql_types::Text)]` itself.
/// `$what` names the value in the error, as in "unknown role “owner” in the database".
macro_rules! stored_as_text {
    ($ty:ident, $what:literal) => {
        impl<DB: diesel::backend::Backend> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $ty
        where
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB: diesel::backend::Backend> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $ty
        where
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(value: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let stored = <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(value)?;
                Ok($crate::domain::stored::read(&$ty::ALL, $ty::as_str, &stored, $what)?)
            }
        }
    };
}

pub(crate) use stored_as_text;

/// A stored word the code does not know (written by a newer version, or by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} “{stored}” in the database (known: {known})")]
pub struct UnknownStoredValue {
    pub what: &'static str,
    pub stored: String,
    pub known: String,
}

/// The variant of `all` stored as `stored`.
pub(crate) fn read<T: Copy>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    stored: &str,
    what: &'static str,
) -> Result<T, UnknownStoredValue> {
    all.iter().copied().find(|v| as_str(*v) == stored).ok_or_else(|| UnknownStoredValue {
        what,
        stored: stored.to_owned(),
        known: all.iter().map(|v| as_str(*v)).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use crate::db::DbConnection;
    use crate::domain::{
        AccountKind, DeviceCodeState, InvitationDelivery, InvitationState, InvoiceKind, InvoiceStatus, KeyScope,
        LedgerKind, Role,
    };
    use crate::service::audit::Action;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    /// Every variant of `$ty` is written as its word and read back as itself, through the
    /// `DbConnection` and through the backend's own connection (`on_backend!`); a word it
    /// does not know, or its word in another case, is an error naming the word.
    macro_rules! words_round_trip {
        ($conn:expr, $ty:ident) => {
            for value in $ty::ALL {
                let written: String = diesel::select(value.into_sql::<Text>()).get_result($conn).unwrap();
                assert_eq!(written, value.as_str());
                let read: $ty = diesel::select(value.as_str().into_sql::<Text>()).get_result($conn).unwrap();
                assert_eq!(read, value);
                let read: $ty = crate::on_backend!($conn, |c| diesel::select(value.as_str().into_sql::<Text>())
                    .get_result(c))
                .unwrap();
                assert_eq!(read, value);
                let shouted = value.as_str().to_uppercase();
                let shouted = if shouted == value.as_str() { value.as_str().to_lowercase() } else { shouted };
                let refused = diesel::select(shouted.clone().into_sql::<Text>()).get_result::<$ty>($conn);
                assert!(with_causes(&refused.unwrap_err()).contains(&format!("“{shouted}”")), "{shouted}");
            }
            let refused =
                crate::on_backend!($conn, |c| diesel::select("owner".into_sql::<Text>()).get_result::<$ty>(c));
            let refused = with_causes(&refused.unwrap_err());
            assert!(refused.contains("“owner” in the database"), "{refused}");
        };
    }

    /// diesel's error names the field; the cause names the value.
    fn with_causes(error: &dyn std::error::Error) -> String {
        std::iter::successors(Some(error), |e| e.source()).map(ToString::to_string).collect::<Vec<_>>().join(": ")
    }

    fn every_word_round_trips(conn: &mut DbConnection) {
        words_round_trip!(conn, Role);
        words_round_trip!(conn, KeyScope);
        words_round_trip!(conn, AccountKind);
        words_round_trip!(conn, InvitationState);
        words_round_trip!(conn, InvitationDelivery);
        words_round_trip!(conn, DeviceCodeState);
        words_round_trip!(conn, InvoiceKind);
        words_round_trip!(conn, InvoiceStatus);
        words_round_trip!(conn, LedgerKind);
        words_round_trip!(conn, Action);
    }

    #[test]
    fn stored_words_round_trip_and_unknown_ones_are_refused_on_sqlite() {
        let mut conn = DbConnection::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        every_word_round_trips(&mut conn);
    }

    /// Runs when `TEST_DATABASE_URL` names a PostgreSQL server (as in CI); no table is needed.
    #[test]
    fn stored_words_round_trip_and_unknown_ones_are_refused_on_postgres() {
        let Ok(server) = std::env::var("TEST_DATABASE_URL") else { return };
        let mut conn = DbConnection::Postgres(diesel::PgConnection::establish(&server).unwrap());
        every_word_round_trips(&mut conn);
    }
}
