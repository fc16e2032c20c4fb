//! The database schema, one definition for both backends (the migrations under
//! `migrations/sqlite` and `migrations/postgres` create the same tables).

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        email_normalized -> Text,
        name -> Text,
        password_hash -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    accounts (id) {
        id -> BigInt,
        kind -> Text,
        slug -> Text,
        name -> Text,
        personal_owner_id -> Nullable<BigInt>,
        created_at -> BigInt,
        archived_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    memberships (account_id, user_id) {
        account_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(memberships -> accounts (account_id));
diesel::joinable!(memberships -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, accounts, memberships);
