//! Settings: built-in defaults, then `config.toml` (or `--config FILE`), then the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::host::AllowedHost;
use crate::listen_address::ListenAddress;

/// Everything `jackal serve` needs, after files and environment are merged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub secrets: SecretSettings,
    pub log: LogSettings,
    pub test: TestSettings,
    pub egress: EgressSettings,
    pub drivers: DriverSettings,
    pub limits: LimitSettings,
    pub mode: ModeSettings,
    pub monitor: MonitorSettings,
    pub metrics: MetricsSettings,
    pub alerts: AlertSettings,
}

/// `GET /metrics` (`[metrics]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// `/metrics` needs an API key (`<keyId>@api:<secret>`), as the API does; else it is public.
    pub require_key: bool,
    /// The per-data-source series carry the data source's alias as a label, beside its id.
    pub alias_labels: bool,
}

/// Periodic tests of every data source (`[monitor]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSettings {
    /// Seconds between two tests of each data source; 0 (the default) is off.
    pub interval: f64,
}

/// Alerts (`[alerts]`, docs/alerts.md): when a data source is down or up again, and where
/// that is sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Failed tests in a row that take a data source down.
    pub after_failures: u32,
    /// Successful tests in a row that bring it back up.
    pub after_successes: u32,
    /// The status page's address as the receivers reach it (`https://jackal.example.org`);
    /// events link to `{base_url}/ui/data-source/{id}`, or to the path alone without it.
    pub base_url: Option<String>,
    /// `[[alerts.webhook]]`: signed JSON POSTs.
    pub webhook: Vec<WebhookSettings>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            after_failures: 2,
            after_successes: 1,
            base_url: None,
            webhook: Vec::new(),
        }
    }
}

/// One `[[alerts.webhook]]` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The channel's name, unique among the channels: deliveries are recorded by it.
    pub name: String,
    /// Where events are POSTed (`http://` or `https://`).
    pub url: String,
    /// A file holding the HMAC-SHA256 key that signs each POST.
    pub secret_file: PathBuf,
    /// The body's shape; only `json` for now.
    #[serde(default)]
    pub format: WebhookFormat,
}

/// What a webhook POSTs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The event as docs/alerts.md describes it.
    #[default]
    Json,
}

/// The Mode dialect (`/api/{workspace}/data_sources`, Mode's data-source API).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModeSettings {
    /// The workspace name Mode scripts put in their paths; any other answers 404.
    pub workspace: String,
}

impl Default for ModeSettings {
    fn default() -> Self {
        Self {
            workspace: "jackal".to_owned(),
        }
    }
}

/// Whether `name` can be the Mode workspace: a path segment of letters, digits, `_` and `-`,
/// other than `v2` (the JackDB API's own prefix).
fn valid_workspace(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != "v2"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

const WORKSPACE_RULE: &str =
    "1-64 letters, digits, '_' or '-', and not \"v2\" (the JackDB API's own path)";

/// Abuse limits: failed authentications per client address, connection tests per API key.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Failures from one address, within the window, answered without delay.
    pub auth_failures_before_delay: u32,
    /// Failures from one address, within the window, after which it is refused (429) until the
    /// window has passed, even with a correct key.
    pub auth_failures_before_block: u32,
    /// Seconds over which failures are counted, and for which a blocked address stays blocked.
    pub auth_failure_window: f64,
    /// Connection tests (`/test`, `/connection-test`) one API key may run per minute, sustained.
    pub tests_per_minute: u32,
    /// Connection tests one API key may run at once before the per-minute rate applies.
    pub tests_burst: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            auth_failures_before_delay: 10,
            auth_failures_before_block: 30,
            auth_failure_window: 60.0,
            tests_per_minute: 60,
            tests_burst: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestSettings {
    /// Seconds a connection test may take in all, queueing included; `connectTimeout` overrides.
    pub timeout: f64,
    /// Connection tests running at once; more wait (within their deadline) for a free slot.
    pub max_concurrent: usize,
    /// The share of `max_concurrent` one API key may hold at once (0 < share <= 1); a key
    /// already running that many gets 429.
    pub key_share: f64,
    /// Test results kept per data source (`GET /data-source/:ds/test-history`), newest first.
    pub history: usize,
}

impl Default for TestSettings {
    fn default() -> Self {
        Self {
            timeout: 10.0,
            max_concurrent: 64,
            key_share: 0.5,
            history: 100,
        }
    }
}

impl TestSettings {
    /// Tests one API key may run at once: its share of `max_concurrent`, at least one.
    pub fn max_per_key(&self) -> usize {
        ((self.max_concurrent as f64 * self.key_share).floor() as usize).max(1)
    }
}

/// Where connection tests may connect. Every resolved address is checked; deny wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressSettings {
    /// CIDR blocks tests may reach; empty means everything not denied.
    pub allow: Vec<ipnet::IpNet>,
    /// CIDR blocks tests may never reach.
    pub deny: Vec<ipnet::IpNet>,
    /// Let each SSH hop resolve the names behind it (split-horizon DNS): those names are then
    /// outside `allow` and `deny`. Off: Jackal resolves and checks every host itself.
    pub ssh_resolves_names: bool,
}

impl Default for EgressSettings {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny: jackal_drivers::egress::DEFAULT_DENY
                .iter()
                .map(|net| net.parse().expect("default deny list parses"))
                .collect(),
            ssh_resolves_names: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriverSettings {
    pub sqlite: SqliteSettings,
    pub tls: DriverTlsSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriverTlsSettings {
    /// Directories whose files a configUri's `sslRootCert` may name; empty allows none.
    pub root_cert_dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteSettings {
    /// Directories whose SQLite files may be tested; empty allows none.
    pub allowed_dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to serve HTTP on (an IP address or a name resolved at start, every address it
    /// resolves to); port 0 picks a free port.
    pub listen: ListenAddress,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// PEM certificate chain; with `tls_key`, the server speaks HTTPS on `listen`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Refuse plain HTTP (403 `tls_required`) from any peer that is not loopback.
    pub require_tls: bool,
    /// Seconds a request body may take to arrive, from the end of the request's head; then 408.
    pub body_timeout: f64,
    /// The hosts a request may name (`Host`); any other gets 421. Empty allows every host.
    pub allowed_hosts: Vec<AllowedHost>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// SQLite file holding everything Jackal stores (the default store).
    pub path: PathBuf,
    /// A PostgreSQL store shared by several servers, `postgresql://user:password@host/db` with
    /// the data-source options `ssl`, `validateSsl` and `sslRootCert`. Set, it replaces `path`.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretSettings {
    /// File holding the AES-256 key that encrypts stored passwords.
    /// Unset: `<store path>.key`, created on first start.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `jackal=debug`; `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)).into(),
            workers: 0,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
            body_timeout: 10.0,
            allowed_hosts: Vec::new(),
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("./jackal.db"),
            url: None,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}={value:?} is not valid: {message}")]
    Env {
        name: &'static str,
        value: String,
        message: String,
    },
}

/// The file read when no `--config` is given; absent is fine (defaults apply).
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

impl Settings {
    /// Reads `explicit` (which must exist) or `./config.toml` (if it exists), then applies
    /// `JACKAL_LISTEN`, `JACKAL_STORE`, `JACKAL_SECRET_KEY_FILE`, `JACKAL_SSL_ROOT_CERT_DIRS`,
    /// `JACKAL_MODE_WORKSPACE`, `JACKAL_ALLOWED_HOSTS`, `JACKAL_METRICS_REQUIRE_KEY` and
    /// `JACKAL_METRICS_ALIAS_LABELS`.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let mut settings = match explicit {
            Some(path) => Self::from_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                Self::from_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => Self::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        Ok(settings)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let settings: Settings = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.test.timeout > 0.0 && self.test.timeout <= 300.0) {
            return Err("[test] timeout must be between 0 and 300 seconds".to_owned());
        }
        if self.test.max_concurrent == 0 {
            return Err("[test] max_concurrent must be at least 1".to_owned());
        }
        if self.monitor.interval != 0.0 && !(1.0..=86_400.0).contains(&self.monitor.interval) {
            return Err("[monitor] interval must be 0 (off) or from 1 to 86400 seconds".to_owned());
        }
        if !(1..=100_000).contains(&self.test.history) {
            return Err("[test] history must be from 1 to 100000 results".to_owned());
        }
        if !(self.test.key_share > 0.0 && self.test.key_share <= 1.0) {
            return Err("[test] key_share must be above 0 and at most 1".to_owned());
        }
        if !(self.server.body_timeout > 0.0 && self.server.body_timeout <= 3_600.0) {
            return Err("[server] body_timeout must be between 0 and 3600 seconds".to_owned());
        }
        for (setting, dirs) in [
            (
                "[drivers.sqlite] allowed_dirs",
                &self.drivers.sqlite.allowed_dirs,
            ),
            (
                "[drivers.tls] root_cert_dirs",
                &self.drivers.tls.root_cert_dirs,
            ),
        ] {
            if let Some(dir) = dirs.iter().find(|d| !d.is_absolute()) {
                return Err(format!(
                    "{setting} must hold absolute paths; {} is relative",
                    dir.display()
                ));
            }
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(
                "[server] tls_cert and tls_key go together: set both (PEM files) for HTTPS, or neither"
                    .to_owned(),
            );
        }
        let limits = &self.limits;
        if limits.auth_failures_before_block == 0 {
            return Err("[limits] auth_failures_before_block must be at least 1".to_owned());
        }
        if limits.auth_failures_before_delay > limits.auth_failures_before_block {
            return Err(
                "[limits] auth_failures_before_delay must not exceed auth_failures_before_block"
                    .to_owned(),
            );
        }
        if !(limits.auth_failure_window > 0.0 && limits.auth_failure_window <= 86_400.0) {
            return Err(
                "[limits] auth_failure_window must be between 0 and 86400 seconds".to_owned(),
            );
        }
        if limits.tests_per_minute == 0 || limits.tests_burst == 0 {
            return Err("[limits] tests_per_minute and tests_burst must be at least 1".to_owned());
        }
        if !valid_workspace(&self.mode.workspace) {
            return Err(format!("[mode] workspace must be {WORKSPACE_RULE}"));
        }
        self.validate_alerts()
    }

    fn validate_alerts(&self) -> Result<(), String> {
        let alerts = &self.alerts;
        if !(1..=1000).contains(&alerts.after_failures)
            || !(1..=1000).contains(&alerts.after_successes)
        {
            return Err(
                "[alerts] after_failures and after_successes must be from 1 to 1000".to_owned(),
            );
        }
        if let Some(base) = &alerts.base_url {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err("[alerts] base_url must start with http:// or https://".to_owned());
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for hook in &alerts.webhook {
            if hook.name.is_empty() || !names.insert(hook.name.as_str()) {
                return Err(format!(
                    "[[alerts.webhook]] name must be set and unique; {:?} is empty or repeated",
                    hook.name
                ));
            }
            if reqwest::Url::parse(&hook.url)
                .map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
            {
                return Err(format!(
                    "[[alerts.webhook]] {}: url must be an http:// or https:// URL",
                    hook.name
                ));
            }
        }
        Ok(())
    }

    /// Environment overrides; `lookup` is injectable so tests need not touch the process env.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(value) = lookup("JACKAL_LISTEN").filter(|v| !v.is_empty()) {
            self.server.listen = value.parse().map_err(|_| ConfigError::Env {
                name: "JACKAL_LISTEN",
                value: value.clone(),
                message: crate::listen_address::EXPECTED.to_owned(),
            })?;
        }
        if let Some(value) = lookup("JACKAL_STORE").filter(|v| !v.is_empty()) {
            // One variable for both kinds of store, as `[store] path` and `url` are one choice.
            if is_postgres_url(&value) {
                self.store.url = Some(value);
            } else if value.contains("://") {
                // The scheme only: the rest of a URL may hold a password.
                let scheme = value.split("://").next().unwrap_or_default();
                return Err(ConfigError::Env {
                    name: "JACKAL_STORE",
                    value: format!("{scheme}://…"),
                    message: "expected an SQLite file path or a postgresql:// URL".to_owned(),
                });
            } else {
                self.store.path = PathBuf::from(value);
                self.store.url = None;
            }
        }
        if let Some(value) = lookup("JACKAL_SECRET_KEY_FILE").filter(|v| !v.is_empty()) {
            self.secrets.key_file = Some(PathBuf::from(value));
        }
        if let Some(value) = lookup("JACKAL_SSL_ROOT_CERT_DIRS").filter(|v| !v.is_empty()) {
            let dirs: Vec<PathBuf> = std::env::split_paths(&value).collect();
            if let Some(dir) = dirs.iter().find(|d| !d.is_absolute()) {
                return Err(ConfigError::Env {
                    name: "JACKAL_SSL_ROOT_CERT_DIRS",
                    value: value.clone(),
                    message: format!(
                        "expected absolute directories separated by ':'; {} is relative",
                        dir.display()
                    ),
                });
            }
            self.drivers.tls.root_cert_dirs = dirs;
        }
        if let Some(value) = lookup("JACKAL_MODE_WORKSPACE").filter(|v| !v.is_empty()) {
            if !valid_workspace(&value) {
                return Err(ConfigError::Env {
                    name: "JACKAL_MODE_WORKSPACE",
                    value,
                    message: format!("expected {WORKSPACE_RULE}"),
                });
            }
            self.mode.workspace = value;
        }
        if let Some(value) = lookup("JACKAL_ALLOWED_HOSTS").filter(|v| !v.is_empty()) {
            self.server.allowed_hosts = value
                .split(',')
                .map(str::parse)
                .collect::<Result<_, String>>()
                .map_err(|message| ConfigError::Env {
                    name: "JACKAL_ALLOWED_HOSTS",
                    value: value.clone(),
                    message: format!("expected hosts separated by ','; {message}"),
                })?;
        }
        for (name, setting) in [
            ("JACKAL_METRICS_REQUIRE_KEY", &mut self.metrics.require_key),
            (
                "JACKAL_METRICS_ALIAS_LABELS",
                &mut self.metrics.alias_labels,
            ),
        ] {
            if let Some(value) = lookup(name).filter(|v| !v.is_empty()) {
                *setting = value.parse().map_err(|_| ConfigError::Env {
                    name,
                    value: value.clone(),
                    message: "expected true or false".to_owned(),
                })?;
            }
        }
        Ok(())
    }

    /// The key file actually used: the configured one, else `<store>.key` beside an SQLite
    /// store, else `./jackal.key` for a PostgreSQL store (every server sharing it needs a copy).
    pub fn key_file(&self) -> PathBuf {
        if self.store.url.is_some() && self.secrets.key_file.is_none() {
            return PathBuf::from("./jackal.key");
        }
        self.secrets.key_file.clone().unwrap_or_else(|| {
            let mut name = self.store.path.as_os_str().to_owned();
            name.push(".key");
            PathBuf::from(name)
        })
    }
}

/// Whether `value` names a PostgreSQL store rather than an SQLite file.
pub fn is_postgres_url(value: &str) -> bool {
    value.starts_with("postgresql://") || value.starts_with("postgres://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_toml_parses_to_the_defaults() {
        let shipped = include_str!("../config.toml");
        let parsed = Settings::from_toml(shipped).expect("config.toml parses");
        let defaults = Settings::default();
        assert_eq!(parsed.server.listen, defaults.server.listen);
        assert_eq!(parsed.store.path, defaults.store.path);
        assert_eq!(parsed.key_file(), defaults.key_file());
        assert_eq!(parsed.log.level, defaults.log.level);
        assert_eq!(parsed.test.timeout, defaults.test.timeout);
        assert_eq!(parsed.test.max_concurrent, defaults.test.max_concurrent);
        assert_eq!(parsed.egress.allow, defaults.egress.allow);
        assert_eq!(parsed.egress.deny, defaults.egress.deny);
        assert_eq!(
            parsed.drivers.sqlite.allowed_dirs,
            defaults.drivers.sqlite.allowed_dirs
        );
        assert_eq!(
            parsed.drivers.tls.root_cert_dirs,
            defaults.drivers.tls.root_cert_dirs
        );
        assert_eq!(parsed.test.key_share, defaults.test.key_share);
        assert_eq!(parsed.server.body_timeout, defaults.server.body_timeout);
        assert_eq!(parsed.server.tls_cert, defaults.server.tls_cert);
        assert_eq!(parsed.server.tls_key, defaults.server.tls_key);
        assert_eq!(parsed.server.require_tls, defaults.server.require_tls);
        let (p, d) = (&parsed.limits, &defaults.limits);
        assert_eq!(p.auth_failures_before_delay, d.auth_failures_before_delay);
        assert_eq!(p.auth_failures_before_block, d.auth_failures_before_block);
        assert_eq!(p.auth_failure_window, d.auth_failure_window);
        assert_eq!(p.tests_per_minute, d.tests_per_minute);
        assert_eq!(p.tests_burst, d.tests_burst);
        assert_eq!(parsed.mode.workspace, defaults.mode.workspace);
        assert_eq!(parsed.server.allowed_hosts, defaults.server.allowed_hosts);
        assert_eq!(parsed.metrics.require_key, defaults.metrics.require_key);
        assert_eq!(parsed.metrics.alias_labels, defaults.metrics.alias_labels);
    }

    #[test]
    fn bad_test_and_egress_settings_are_refused() {
        for (text, says) in [
            ("[test]\ntimeout = 0\n", "timeout"),
            ("[test]\nmax_concurrent = 0\n", "max_concurrent"),
            ("[test]\nkey_share = 0\n", "key_share"),
            ("[test]\nhistory = 0\n", "history"),
            ("[test]\nkey_share = 1.5\n", "key_share"),
            ("[server]\nbody_timeout = 0\n", "body_timeout"),
            (
                "[drivers.tls]\nroot_cert_dirs = [\"certs\"]\n",
                "root_cert_dirs",
            ),
            ("[egress]\ndeny = [\"10.0.0.0/33\"]\n", "deny"),
            (
                "[drivers.sqlite]\nallowed_dirs = [\"data\"]\n",
                "allowed_dirs",
            ),
            ("[server]\ntls_cert = \"c.pem\"\n", "tls_key"),
            ("[limits]\nauth_failures_before_block = 0\n", "before_block"),
            (
                "[limits]\nauth_failures_before_delay = 40\n",
                "before_delay",
            ),
            ("[limits]\nauth_failure_window = 0\n", "window"),
            ("[limits]\ntests_per_minute = 0\n", "tests_per_minute"),
            ("[limits]\ntests_burst = 0\n", "tests_burst"),
            ("[mode]\nworkspace = \"v2\"\n", "workspace"),
            ("[mode]\nworkspace = \"a/b\"\n", "workspace"),
            ("[mode]\nworkspace = \"\"\n", "workspace"),
            ("[server]\nallowed_hosts = [\"::1\"]\n", "[::1]"),
            ("[server]\nallowed_hosts = [\"a b\"]\n", "not a host"),
            ("[metrics]\nrequire_key = \"yes\"\n", "invalid"),
        ] {
            let err = Settings::from_toml(text).unwrap_err();
            assert!(
                err.contains(says) || err.contains("invalid"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn a_key_holds_its_share_of_the_test_slots_and_at_least_one() {
        let mut test = TestSettings::default();
        assert_eq!(test.max_per_key(), 32);
        test.key_share = 1.0;
        assert_eq!(test.max_per_key(), 64);
        test.max_concurrent = 1;
        test.key_share = 0.1;
        assert_eq!(test.max_per_key(), 1);
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut settings = Settings::default();
        settings
            .apply_env(|name| match name {
                "JACKAL_LISTEN" => Some("127.0.0.1:0".to_owned()),
                "JACKAL_STORE" => Some("/tmp/x.db".to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(settings.server.listen.port(), 0);
        assert_eq!(settings.key_file(), PathBuf::from("/tmp/x.db.key"));
    }

    #[test]
    fn mode_workspace_comes_from_the_environment_and_is_checked() {
        let mut settings = Settings::default();
        assert_eq!(settings.mode.workspace, "jackal");
        settings
            .apply_env(|name| (name == "JACKAL_MODE_WORKSPACE").then(|| "acme-data".to_owned()))
            .unwrap();
        assert_eq!(settings.mode.workspace, "acme-data");
        let err = settings
            .apply_env(|name| (name == "JACKAL_MODE_WORKSPACE").then(|| "v2".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("JACKAL_MODE_WORKSPACE"), "{err}");
    }

    #[test]
    fn root_cert_dirs_come_from_the_environment_and_must_be_absolute() {
        let mut settings = Settings::default();
        settings
            .apply_env(|name| {
                (name == "JACKAL_SSL_ROOT_CERT_DIRS").then(|| "/certs:/etc/ssl/db".to_owned())
            })
            .unwrap();
        assert_eq!(
            settings.drivers.tls.root_cert_dirs,
            [PathBuf::from("/certs"), PathBuf::from("/etc/ssl/db")]
        );
        let err = settings
            .apply_env(|name| (name == "JACKAL_SSL_ROOT_CERT_DIRS").then(|| "certs".to_owned()))
            .unwrap_err();
        assert!(
            err.to_string().contains("JACKAL_SSL_ROOT_CERT_DIRS"),
            "{err}"
        );
    }

    #[test]
    fn hosts_and_metrics_settings_come_from_the_environment_and_are_checked() {
        let mut settings = Settings::default();
        settings
            .apply_env(|name| match name {
                "JACKAL_ALLOWED_HOSTS" => Some("jackal.example.com,[::1]:8080".to_owned()),
                "JACKAL_METRICS_REQUIRE_KEY" => Some("true".to_owned()),
                "JACKAL_METRICS_ALIAS_LABELS" => Some("true".to_owned()),
                _ => None,
            })
            .unwrap();
        let hosts: Vec<String> = settings
            .server
            .allowed_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(hosts, ["jackal.example.com", "[::1]:8080"]);
        assert!(settings.metrics.require_key && settings.metrics.alias_labels);
        for (name, value) in [
            ("JACKAL_ALLOWED_HOSTS", "jackal.example.com,::1"),
            ("JACKAL_METRICS_REQUIRE_KEY", "yes"),
            ("JACKAL_METRICS_ALIAS_LABELS", "1"),
        ] {
            let err = Settings::default()
                .apply_env(|n| (n == name).then(|| value.to_owned()))
                .unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn bad_listen_address_names_the_variable() {
        let mut settings = Settings::default();
        let err = settings
            .apply_env(|name| (name == "JACKAL_LISTEN").then(|| "localhost".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("JACKAL_LISTEN"), "{err}");
        // A name with its port is an address (resolved when the server starts).
        settings
            .apply_env(|name| (name == "JACKAL_LISTEN").then(|| "localhost:8080".to_owned()))
            .unwrap();
        assert_eq!(settings.server.listen.to_string(), "localhost:8080");
    }

    #[test]
    fn alert_settings_default_and_bad_ones_are_refused() {
        let shipped = Settings::from_toml(include_str!("../config.toml")).unwrap();
        assert_eq!(shipped.alerts.after_failures, 2);
        assert_eq!(shipped.alerts.after_successes, 1);
        assert!(shipped.alerts.webhook.is_empty());
        let hook = |name: &str, url: &str| {
            format!(
                "[[alerts.webhook]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret_file = \"/k\"\n"
            )
        };
        let parsed =
            Settings::from_toml(&hook("ops", "http://127.0.0.1:9/h")).expect("a webhook parses");
        assert_eq!(parsed.alerts.webhook[0].format, WebhookFormat::Json);
        for (text, says) in [
            (
                "[alerts]\nafter_failures = 0\n".to_owned(),
                "after_failures",
            ),
            ("[alerts]\nbase_url = \"jackal\"\n".to_owned(), "base_url"),
            (hook("ops", "ftp://127.0.0.1/"), "url"),
            (hook("", "http://127.0.0.1/"), "name"),
            (
                hook("ops", "http://127.0.0.1/") + &hook("ops", "http://127.0.0.1/"),
                "unique",
            ),
            (
                hook("ops", "http://127.0.0.1/") + "format = \"xml\"\n",
                "xml",
            ),
        ] {
            let err = Settings::from_toml(&text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn unknown_setting_is_rejected_by_name() {
        let err = Settings::from_toml("[server]\nlisten_on = \"x\"\n").unwrap_err();
        assert!(err.contains("listen_on"), "{err}");
    }
}
