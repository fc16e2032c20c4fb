//! Facts about this deployment that pages and middleware need.

/// Where the site is served, as the outside world sees it.
#[derive(Debug, Clone)]
pub struct Site {
    /// Without a trailing slash, e.g. `https://teamdeck.example.com`.
    pub base_url: String,
    /// Scheme, host and port of `base_url`, as browsers send it in `Origin`.
    pub origin: String,
    /// Cookies get `Secure` and the `__Host-` prefix when the base URL is https.
    pub https: bool,
    /// How long an invitation link stays valid.
    pub invite_ttl_ms: i64,
    /// Invitations one team, and one person across their teams, may make in 24 hours.
    pub invite_budgets: crate::service::invitation_budgets::Budgets,
    /// Who issues invoices and where transfers go.
    pub issuer: crate::service::billing::Issuer,
    /// Balance (micro-dollars) under which billing pages warn.
    pub low_balance: i64,
    /// The proxies whose forwarding headers name the client and the host.
    pub proxies: super::TrustedProxies,
    /// The token `/metrics` asks for; without one, it does not exist.
    pub metrics_token: Option<String>,
}

impl Site {
    /// What the invitations service needs to send invites from this site.
    pub fn inviting<'a>(
        &'a self,
        account: &'a crate::service::accounts::Account,
        inviter: &'a crate::service::audit::Actor,
    ) -> crate::service::invitations::Inviting<'a> {
        crate::service::invitations::Inviting {
            account,
            inviter,
            base_url: &self.base_url,
            ttl_ms: self.invite_ttl_ms,
            budgets: self.invite_budgets,
        }
    }

    pub fn new(base_url: &str) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let https = base_url.starts_with("https://");
        let after_scheme = base_url.split_once("://").map(|(_, rest)| rest).unwrap_or(&base_url);
        let host = after_scheme.split('/').next().unwrap_or_default();
        let scheme = if https { "https" } else { "http" };
        Self {
            origin: format!("{scheme}://{host}"),
            base_url,
            https,
            invite_ttl_ms: 7 * 24 * 3600 * 1000,
            invite_budgets: crate::service::invitation_budgets::Budgets { per_team: 200, per_person: 200 },
            issuer: crate::service::billing::Issuer::default(),
            low_balance: 10 * crate::domain::money::MICROS_PER_DOLLAR,
            proxies: super::TrustedProxies::default(),
            metrics_token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        let site = Site::new("https://teams.example.com:8443/deck/");
        assert_eq!(site.origin, "https://teams.example.com:8443");
        assert_eq!(site.base_url, "https://teams.example.com:8443/deck");
        assert!(site.https);
        assert!(!Site::new("http://127.0.0.1:8080").https);
    }
}
