//! A team's deployed app: its name, the configuration a deploy asks for, and the statuses the
//! platform's runtime reports.

use super::stored::stored_as_text;

/// An app's name: a DNS label (its endpoint may carry it), lowercase letters, digits and
/// hyphens, starting with a letter, not ending with a hyphen, at most 63 characters.
/// Uppercase letters typed are taken as lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppNameError {
    #[error("Enter a name.")]
    Empty,
    #[error("Use at most {} characters.", AppName::MAX_CHARS)]
    TooLong,
    #[error(
        "Use lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (e.g. my-app)."
    )]
    NotALabel,
}

impl AppName {
    pub const MAX_CHARS: usize = 63;

    pub fn parse(input: &str) -> Result<Self, AppNameError> {
        let name = input.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(AppNameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(AppNameError::TooLong);
        }
        let starts = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let body = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !starts || !body || name.ends_with('-') {
            return Err(AppNameError::NotALabel);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a revision is, as the runtime reports it. A revision starts `queued`; reports move it
/// forward (`queued` → `building` → `starting` → `running`), and `failed` ends any step. A
/// report that would move a revision back is kept and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum AppStatus {
    Queued,
    Building,
    Starting,
    Running,
    Failed,
}

impl AppStatus {
    pub const ALL: [AppStatus; 5] =
        [AppStatus::Queued, AppStatus::Building, AppStatus::Starting, AppStatus::Running, AppStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Queued => "queued",
            AppStatus::Building => "building",
            AppStatus::Starting => "starting",
            AppStatus::Running => "running",
            AppStatus::Failed => "failed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AppStatus::Queued => "Queued",
            AppStatus::Building => "Building",
            AppStatus::Starting => "Starting",
            AppStatus::Running => "Running",
            AppStatus::Failed => "Failed",
        }
    }

    /// Its place in the order of a deploy; `running` and `failed` are both an end (a running
    /// revision may fail later, and a failed one may come back up).
    fn rank(self) -> u8 {
        match self {
            AppStatus::Queued => 0,
            AppStatus::Building => 1,
            AppStatus::Starting => 2,
            AppStatus::Running | AppStatus::Failed => 3,
        }
    }

    /// Whether a report of `next` may follow this status.
    pub fn may_become(self, next: AppStatus) -> bool {
        next.rank() >= self.rank()
    }

    /// Whether the deploy is still under way (the page refreshes itself meanwhile).
    pub fn in_progress(self) -> bool {
        self.rank() < 3
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s.trim())
    }
}

stored_as_text!(AppStatus, "app status");

/// What a deploy asks the runtime to run. Checked by [`AppConfig::check`] before it is kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppConfig {
    /// An image (`registry/name@sha256:…`, `name:tag`) or source reference.
    pub image: String,
    /// The command the runtime starts; the image's own when absent.
    pub command: Option<String>,
    pub machine_type: String,
    pub min_instances: i32,
    pub max_instances: i32,
    /// Names of the team's secrets the app receives as environment variables, sorted.
    pub env: Vec<String>,
    /// Whether the endpoint answers anyone (else only the team's keys).
    pub public: bool,
}

impl AppConfig {
    pub const MAX_INSTANCES: i32 = 100;
    pub const DEFAULT_MACHINE: &'static str = "cpu-small";

    /// Normalises (trims, sorts and dedups the secret names, uppercases them) and checks
    /// the configuration; the error says which field and how.
    pub fn check(mut self) -> Result<Self, String> {
        self.image = self.image.trim().to_owned();
        if self.image.is_empty()
            || self.image.len() > 512
            || self.image.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("image: enter an image or source reference without spaces (at most 512 characters).".into());
        }
        self.command = self.command.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        if self.command.as_ref().is_some_and(|c| c.len() > 4096 || c.contains('\0')) {
            return Err("command: at most 4096 characters, no NUL.".into());
        }
        self.machine_type = self.machine_type.trim().to_owned();
        if self.machine_type.is_empty() {
            self.machine_type = Self::DEFAULT_MACHINE.to_owned();
        }
        let machine_ok = self.machine_type.len() <= 64
            && self.machine_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !machine_ok {
            return Err("machine_type: letters, digits, '-', '_' and '.', at most 64.".into());
        }
        if self.min_instances < 0 || self.max_instances < 1 || self.max_instances > Self::MAX_INSTANCES {
            return Err(format!("min_instances ≥ 0 and 1 ≤ max_instances ≤ {}.", Self::MAX_INSTANCES));
        }
        if self.min_instances > self.max_instances {
            return Err("min_instances cannot be more than max_instances.".into());
        }
        // Whether each names one of the team's secrets is the service's to check.
        let mut env: Vec<String> = self.env.iter().map(|n| n.trim().to_ascii_uppercase()).collect();
        if env.iter().any(|n| n.is_empty() || n.len() > 128) || env.len() > 200 {
            return Err("env: at most 200 names of the team's secrets.".into());
        }
        env.sort();
        env.dedup();
        self.env = env;
        Ok(self)
    }

    /// What changed from `before` to this configuration, one line per field, for the app's
    /// page (`image: a → b`).
    pub fn diff(&self, before: &AppConfig) -> Vec<String> {
        let mut lines = Vec::new();
        let mut field = |name: &str, old: String, new: String| {
            if old != new {
                lines.push(format!("{name}: {old} → {new}"));
            }
        };
        field("image", before.image.clone(), self.image.clone());
        let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "(image default)".into());
        field("command", show(&before.command), show(&self.command));
        field("machine", before.machine_type.clone(), self.machine_type.clone());
        field("instances", before.instances(), self.instances());
        let env = |e: &[String]| if e.is_empty() { "(none)".to_owned() } else { e.join(" ") };
        field("env", env(&before.env), env(&self.env));
        let public = |p: bool| if p { "public" } else { "private" }.to_owned();
        field("endpoint", public(before.public), public(self.public));
        lines
    }

    /// "1–3" instances.
    pub fn instances(&self) -> String {
        format!("{}–{}", self.min_instances, self.max_instances)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AppConfig {
        AppConfig {
            image: " ghcr.io/acme/api@sha256:abc ".into(),
            command: None,
            machine_type: String::new(),
            min_instances: 0,
            max_instances: 2,
            env: vec!["hf_token".into(), "DB_URL".into(), "HF_TOKEN".into()],
            public: false,
        }
    }

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(AppName::parse(" My-App2 ").unwrap().as_str(), "my-app2");
        for bad in ["2app", "-app", "app-", "my_app", "my app", "äpp"] {
            assert_eq!(AppName::parse(bad), Err(AppNameError::NotALabel), "{bad}");
        }
        assert_eq!(AppName::parse(" "), Err(AppNameError::Empty));
        assert_eq!(AppName::parse(&"a".repeat(64)), Err(AppNameError::TooLong));
    }

    #[test]
    fn a_config_is_normalised_and_checked() {
        let c = config().check().unwrap();
        assert_eq!(c.image, "ghcr.io/acme/api@sha256:abc");
        assert_eq!(c.env, vec!["DB_URL", "HF_TOKEN"], "sorted, uppercased, once each");
        assert_eq!(c.machine_type, AppConfig::DEFAULT_MACHINE);
        assert!(AppConfig { min_instances: 3, ..config() }.check().unwrap_err().contains("min_instances"));
        assert!(AppConfig { max_instances: 0, ..config() }.check().is_err());
        assert!(AppConfig { image: "a b".into(), ..config() }.check().unwrap_err().starts_with("image"));
        assert!(AppConfig { env: vec![" ".into()], ..config() }.check().unwrap_err().starts_with("env"));
    }

    #[test]
    fn statuses_only_move_forward_and_a_diff_names_what_changed() {
        use AppStatus::*;
        assert!(Queued.may_become(Building) && Building.may_become(Running) && Running.may_become(Failed));
        assert!(!Running.may_become(Starting) && !Starting.may_become(Queued));
        assert!(Failed.may_become(Running));
        let a = config().check().unwrap();
        let b = AppConfig { image: "x:2".into(), max_instances: 4, ..a.clone() };
        assert_eq!(b.diff(&a), vec!["image: ghcr.io/acme/api@sha256:abc → x:2", "instances: 0–2 → 0–4"]);
        assert!(a.diff(&a).is_empty());
    }
}
