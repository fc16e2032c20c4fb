//! Where a stored record stands, and what kind of record it is: invitations and their email,
//! device codes, invoices and ledger entries. Each is kept in a TEXT column as the word of its
//! `as_str` (see [`super::stored`]); the migrations' CHECK constraints list the same words.

use super::stored::stored_as_text;

/// Where an invitation stands. Only a pending one can be accepted, declined, cancelled or
/// sent again; the others are kept as a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum InvitationState {
    Pending,
    Accepted,
    Declined,
    /// By an admin, or by archiving the team.
    Cancelled,
}

impl InvitationState {
    pub const ALL: [InvitationState; 4] =
        [InvitationState::Pending, InvitationState::Accepted, InvitationState::Declined, InvitationState::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Declined => "declined",
            InvitationState::Cancelled => "cancelled",
        }
    }
}

stored_as_text!(InvitationState, "invitation state");

/// How the latest email of an invitation fared (the outbox retries before it gives up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum InvitationDelivery {
    Queued,
    Sent,
    /// Every attempt failed: the members page offers to send it again.
    Failed,
}

impl InvitationDelivery {
    pub const ALL: [InvitationDelivery; 3] =
        [InvitationDelivery::Queued, InvitationDelivery::Sent, InvitationDelivery::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationDelivery::Queued => "queued",
            InvitationDelivery::Sent => "sent",
            InvitationDelivery::Failed => "failed",
        }
    }
}

stored_as_text!(InvitationDelivery, "invitation delivery");

/// What an emailed link is for (see `service::email_links`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum EmailLinkPurpose {
    /// Proves the person owns the address they signed up with.
    Verify,
    /// Sets a new password (a forgotten one).
    Reset,
    /// Proves the person owns the new address they asked to change to.
    ChangeEmail,
}

impl EmailLinkPurpose {
    pub const ALL: [EmailLinkPurpose; 3] =
        [EmailLinkPurpose::Verify, EmailLinkPurpose::Reset, EmailLinkPurpose::ChangeEmail];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailLinkPurpose::Verify => "verify",
            EmailLinkPurpose::Reset => "reset",
            EmailLinkPurpose::ChangeEmail => "change_email",
        }
    }
}

stored_as_text!(EmailLinkPurpose, "email link purpose");

/// Where a device code of the CLI's login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum DeviceCodeState {
    /// Waiting for someone signed in to confirm its user code.
    Pending,
    Approved,
    Denied,
    /// Approved, and its login token handed out: it cannot give another.
    Used,
}

impl DeviceCodeState {
    pub const ALL: [DeviceCodeState; 4] =
        [DeviceCodeState::Pending, DeviceCodeState::Approved, DeviceCodeState::Denied, DeviceCodeState::Used];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceCodeState::Pending => "pending",
            DeviceCodeState::Approved => "approved",
            DeviceCodeState::Denied => "denied",
            DeviceCodeState::Used => "used",
        }
    }
}

stored_as_text!(DeviceCodeState, "device code state");

/// What an invoice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum InvoiceKind {
    /// A closed month's usage, paid from the credits.
    Usage,
    /// Prepaid credits, paid by bank transfer.
    Credits,
}

impl InvoiceKind {
    pub const ALL: [InvoiceKind; 2] = [InvoiceKind::Usage, InvoiceKind::Credits];

    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceKind::Usage => "usage",
            InvoiceKind::Credits => "credits",
        }
    }
}

stored_as_text!(InvoiceKind, "invoice kind");

#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum InvoiceStatus {
    /// Waiting for its payment.
    Open,
    Paid,
    /// Cancelled before it was paid: nothing is owed.
    Void,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 3] = [InvoiceStatus::Open, InvoiceStatus::Paid, InvoiceStatus::Void];

    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }
}

stored_as_text!(InvoiceStatus, "invoice status");

/// Why the credit balance moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum LedgerKind {
    /// Credits bought (a paid credit invoice).
    Purchase,
    /// Usage recorded (a debit).
    Usage,
    /// A correction made by an operator.
    Adjustment,
}

impl LedgerKind {
    pub const ALL: [LedgerKind; 3] = [LedgerKind::Purchase, LedgerKind::Usage, LedgerKind::Adjustment];

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Purchase => "purchase",
            LedgerKind::Usage => "usage",
            LedgerKind::Adjustment => "adjustment",
        }
    }
}

stored_as_text!(LedgerKind, "ledger entry kind");
