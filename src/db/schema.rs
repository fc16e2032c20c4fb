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
        deleted_at -> Nullable<BigInt>,
        email_verified_at -> Nullable<BigInt>,
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
        members_version -> BigInt,
        spend_blocked_until -> Nullable<BigInt>,
        usage_amount -> BigInt,
        usage_quantity -> BigInt,
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
        email_link_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_links (id) {
        id -> BigInt,
        user_id -> BigInt,
        purpose -> Text,
        email -> Text,
        token_hash -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        voided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    security_events (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        detail -> Text,
        client_address -> Text,
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
        expires_at -> Nullable<BigInt>,
        previous_secret_hash -> Nullable<Text>,
        previous_last4 -> Nullable<Text>,
        previous_until -> Nullable<BigInt>,
        rotated_at -> Nullable<BigInt>,
        allowed_ips -> Text,
        spend_cap -> Nullable<BigInt>,
        spend_capped_until -> Nullable<BigInt>,
        last_used_ip -> Nullable<Text>,
        created_by_key -> Nullable<Text>,
        revoked_by -> Nullable<Text>,
        expiry_reminded_at -> Nullable<BigInt>,
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
        old_secret -> Bool,
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
        client_address -> Nullable<Text>,
    }
}

diesel::table! {
    usage_events (account_id, id) {
        id -> Text,
        account_id -> BigInt,
        user_id -> Nullable<BigInt>,
        key_id -> Nullable<BigInt>,
        product -> Text,
        quantity -> BigInt,
        unit -> Text,
        unit_price -> BigInt,
        amount -> BigInt,
        at -> BigInt,
        received_at -> BigInt,
        app -> Nullable<Text>,
    }
}

diesel::table! {
    invoice_numbers (year) {
        year -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    invoices (id) {
        id -> BigInt,
        account_id -> BigInt,
        number -> Text,
        kind -> Text,
        status -> Text,
        period -> Nullable<Text>,
        currency -> Text,
        total -> BigInt,
        issuer -> Text,
        payee -> Text,
        customer_name -> Text,
        customer_email -> Text,
        customer_address -> Text,
        customer_tax_id -> Text,
        issued_at -> BigInt,
        due_at -> Nullable<BigInt>,
        paid_at -> Nullable<BigInt>,
        voided_at -> Nullable<BigInt>,
        paid_by -> Nullable<Text>,
        created_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    invoice_lines (id) {
        id -> BigInt,
        invoice_id -> BigInt,
        position -> Integer,
        description -> Text,
        quantity -> BigInt,
        unit -> Text,
        unit_price -> BigInt,
        amount -> BigInt,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        account_id -> BigInt,
        kind -> Text,
        amount -> BigInt,
        description -> Text,
        invoice_id -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    billing_profiles (account_id) {
        account_id -> BigInt,
        billing_email -> Text,
        legal_name -> Text,
        address -> Text,
        tax_id -> Text,
        monthly_limit -> Nullable<BigInt>,
        updated_at -> BigInt,
        hard_limit -> Bool,
    }
}

diesel::table! {
    key_spend_alerts (key_id, period, threshold) {
        key_id -> BigInt,
        period -> Text,
        threshold -> Integer,
        sent_at -> BigInt,
    }
}

diesel::table! {
    spend_alerts (account_id, period, threshold) {
        account_id -> BigInt,
        period -> Text,
        threshold -> Integer,
        sent_at -> BigInt,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        received_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        client_address -> Text,
        user_agent -> Text,
        second_factor_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    rate_limits (what, key) {
        what -> Text,
        key -> Text,
        window_start -> BigInt,
        expires_at -> BigInt,
        hits -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(email_links -> users (user_id));
diesel::joinable!(security_events -> users (user_id));
diesel::joinable!(memberships -> accounts (account_id));
diesel::table! {
    secrets (id) {
        id -> BigInt,
        account_id -> BigInt,
        name -> Text,
        sealed -> Binary,
        created_by -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_by -> Nullable<BigInt>,
        updated_by_key -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    secrets_key_check (id) {
        id -> BigInt,
        sealed -> Binary,
    }
}

diesel::table! {
    apps (id) {
        id -> BigInt,
        account_id -> BigInt,
        name -> Text,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
        current_revision -> Integer,
        change_seq -> BigInt,
        status -> Text,
        status_message -> Text,
        instances -> Integer,
        endpoint -> Nullable<Text>,
        status_at -> BigInt,
    }
}

diesel::table! {
    app_revisions (id) {
        id -> BigInt,
        app_id -> BigInt,
        number -> Integer,
        deployment_id -> Text,
        image -> Text,
        command -> Nullable<Text>,
        machine_type -> Text,
        min_instances -> Integer,
        max_instances -> Integer,
        env -> Text,
        public -> Bool,
        rollback_of -> Nullable<Integer>,
        deployed_by -> Nullable<BigInt>,
        deployed_by_name -> Text,
        created_at -> BigInt,
        status -> Text,
        status_message -> Text,
        instances -> Integer,
        endpoint -> Nullable<Text>,
        status_at -> BigInt,
    }
}

diesel::table! {
    app_status_reports (id) {
        id -> BigInt,
        app_id -> BigInt,
        revision -> Integer,
        report_id -> Text,
        status -> Text,
        message -> Text,
        instances -> Integer,
        endpoint -> Nullable<Text>,
        received_at -> BigInt,
        applied -> Bool,
    }
}

diesel::table! {
    app_change_counter (id) {
        id -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    totp_factors (user_id) {
        user_id -> BigInt,
        sealed -> Binary,
        confirmed_at -> Nullable<BigInt>,
        last_step -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    sign_in_challenges (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        purpose -> Text,
        next -> Text,
        failures -> Integer,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(apps -> accounts (account_id));
diesel::joinable!(app_revisions -> apps (app_id));
diesel::joinable!(app_status_reports -> apps (app_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(secrets -> accounts (account_id));
diesel::joinable!(login_tokens -> users (user_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(invitations -> accounts (account_id));
diesel::joinable!(audit_events -> accounts (account_id));
diesel::joinable!(usage_events -> accounts (account_id));
diesel::joinable!(invoice_lines -> invoices (invoice_id));
diesel::joinable!(invoices -> accounts (account_id));
diesel::joinable!(ledger_entries -> accounts (account_id));
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
    device_codes,
    usage_events,
    invoice_numbers,
    invoices,
    invoice_lines,
    ledger_entries,
    billing_profiles,
    spend_alerts,
    webhook_events,
    secrets,
    secrets_key_check,
    sessions,
    rate_limits,
    email_links,
    security_events,
    apps,
    app_revisions,
    app_status_reports,
    app_change_counter,
    totp_factors,
    recovery_codes,
    sign_in_challenges
);
