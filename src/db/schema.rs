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
        sort_name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        account_id -> BigInt,
        email -> Text,
        email_normalized -> Text,
        role -> Text,
        invited_by -> Nullable<BigInt>,
        token_hash -> Text,
        state -> Text,
        delivery -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    outbox_emails (id) {
        id -> BigInt,
        to_address -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        invitation_id -> Nullable<BigInt>,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease -> Nullable<BigInt>,
        leased_until -> Nullable<BigInt>,
        sent_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        account_id -> BigInt,
        actor_id -> Nullable<BigInt>,
        actor_name -> Text,
        action -> Text,
        subject -> Text,
        detail -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        account_id -> BigInt,
        name -> Text,
        scope -> Text,
        public_id -> Text,
        secret_hash -> Text,
        last4 -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    login_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        device_name -> Text,
        public_id -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_requests (id) {
        id -> BigInt,
        account_id -> BigInt,
        user_id -> Nullable<BigInt>,
        key_id -> Nullable<BigInt>,
        method -> Text,
        path -> Text,
        status -> Integer,
        duration_ms -> Integer,
        created_at -> BigInt,
    }
}

diesel::table! {
    device_codes (id) {
        id -> BigInt,
        device_code_hash -> Text,
        user_code -> Text,
        device_name -> Text,
        state -> Text,
        user_id -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(memberships -> accounts (account_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(login_tokens -> users (user_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(invitations -> accounts (account_id));
diesel::joinable!(audit_events -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    accounts,
    memberships,
    invitations,
    outbox_emails,
    audit_events,
    api_keys,
    login_tokens,
    api_requests,
    device_codes
);
