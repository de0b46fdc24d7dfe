//! `jackal`: serve the API, or manage API keys from the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jackal::app::api_keys;
use jackal::app::audit;
use jackal::config::Settings;
use jackal::domain::time;
use jackal::secrets::rotation::Outcome;
use jackal::startup::Application;
use jackal::store::{AuditFilter, Store};
use serde_json::json;

/// jemalloc, with its background threads returning freed memory to the system. Under the
/// 10-minute load test (`bench/run-bench load`) glibc's malloc kept what it freed: resident memory
/// crept up for minutes, +6.9% to +12.9% after warm-up in seven runs (with glibc's default
/// arenas or with `MALLOC_ARENA_MAX=2`), while the live heap stayed under 7 MiB (heaptrack).
/// With jemalloc it held flat in two runs, +1.0% and +0.2%, at a higher but steady level (about
/// 28 MiB, against 22 to 27), and the server answered about 28% more requests (docs/testing.md and
/// docs/benchmarks/2026-11-23-load-test.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "jackal",
    version,
    about = "A server for the JackDB v2 REST API"
)]
struct Cli {
    /// Settings file (default: ./config.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create, list or revoke API keys in the store.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check the alert channels of the settings (`[[alerts.webhook]]`).
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Manage the secret key that encrypts the stored database passwords.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Test data sources through a running server, all at once: for cron jobs and pipelines.
    /// The API key comes from JACKDB_API_KEY_ID and JACKDB_API_KEY_SECRET. Exit status 0 when
    /// every test succeeded, 1 when any failed or was skipped, 2 for a usage or connection
    /// error.
    Test {
        /// Data sources by id or alias.
        #[arg(value_name = "ID_OR_ALIAS")]
        data_sources: Vec<String>,
        /// Every data source.
        #[arg(long)]
        all: bool,
        /// The data sources in this role (id or name).
        #[arg(long, value_name = "NAME")]
        role: Option<String>,
        /// The server (http://127.0.0.1:8080) or its API (http://127.0.0.1:8080/api/v2);
        /// default: JACKDB_API_URL, else http:// and `[server] listen` of the settings.
        #[arg(long, env = "JACKAL_URL")]
        url: Option<String>,
        /// `table` (failures first) or `json` (one object: results and summary).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// A PEM CA bundle to trust for an https:// URL, beside the system's roots.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every stored password with a new key, then make it the store's key: the
    /// configured key file gets the new key and the old one is kept as <key file>.old-<time>.
    /// Safe to interrupt: run it again to resume. Until it completes, both keys are accepted,
    /// and a running server keeps working throughout.
    Rotate {
        /// The new key: read from FILE, or created there (mode 0600) with a fresh random key if
        /// FILE does not exist. Keep it until the rotation completes.
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
        /// Re-seal at most N passwords in this run; if any are left, stop without finishing
        /// (the rotation stays pending; run again to continue).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// Send an `alerts.test` event to the channel named CHANNEL now, signed as every event
    /// is; fails unless the receiver answers 2xx.
    Test {
        #[arg(value_name = "CHANNEL")]
        channel: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the newest audit events, one a line, oldest first.
    Tail {
        /// How many of the newest events to print.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Keep printing new events as they are recorded (Ctrl-C to stop).
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print its id and secret (the secret is shown only this once).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List keys (ids, names, dates; never secrets).
    List,
    /// Revoke a key by id; requests with it are refused from then on.
    Revoke { id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    // A usage error exits with 2 (clap's convention, which `jackal test` documents).
    let cli = Cli::parse();
    let command = match cli.command.unwrap_or(Command::Serve) {
        Command::Test {
            data_sources,
            all,
            role,
            url,
            format,
            ca_cert,
        } => {
            // The walk-through's JACKDB_API_URL names the same server curl calls.
            let url = match url.or_else(|| {
                std::env::var("JACKDB_API_URL")
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            }) {
                Some(url) => url,
                None => match Settings::load(cli.config.as_deref()) {
                    Ok(settings) => format!("http://{}", settings.server.listen),
                    Err(e) => {
                        eprintln!("jackal test: {e}");
                        return ExitCode::from(jackal::fleet_cli::USAGE_OR_CONNECTION);
                    }
                },
            };
            let args = jackal::fleet_cli::FleetArgs {
                data_sources,
                all,
                role,
                url,
                json: matches!(format, Format::Json),
                ca_cert,
            };
            let status = jackal::fleet_cli::run(args, |name| std::env::var(name).ok()).await;
            return ExitCode::from(status);
        }
        other => other,
    };
    let result = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => match command {
            Command::Serve => serve(settings).await,
            Command::ApiKey(command) => api_key(settings, command).await,
            Command::Audit(AuditCommand::Tail { lines, follow }) => {
                audit_tail(settings, lines, follow).await
            }
            Command::Secrets(command) => secrets(settings, command).await,
            Command::Alerts(AlertsCommand::Test { channel }) => {
                alerts_test(settings, &channel).await
            }
            Command::Test { .. } => unreachable!("handled above"),
        },
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn alerts_test(settings: Settings, channel: &str) -> anyhow::Result<()> {
    let Some(found) = settings.alerts.webhook.iter().find(|w| w.name == channel) else {
        let names: Vec<&str> = settings
            .alerts
            .webhook
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        anyhow::bail!(
            "no alert channel {channel:?} in the settings; the channels are: {}",
            if names.is_empty() {
                "none ([[alerts.webhook]] in config.toml)".to_owned()
            } else {
                names.join(", ")
            }
        );
    };
    let hook = jackal::app::alert_sender::Webhook::load(found)?;
    match jackal::app::alert_sender::send_test(&hook, time::now_millis()).await {
        Ok(status) => {
            println!("{channel}: delivered (HTTP {status})");
            Ok(())
        }
        Err(e) => anyhow::bail!("{channel}: not delivered: {e}"),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Held until the server has stopped: its last lines are written out when it drops.
    let _log = jackal::telemetry::init(&settings.log.level);
    let supplied = api_keys::credentials_from_env(|name| std::env::var(name).ok())?;
    let app = Application::build(&settings, supplied.as_ref()).await?;
    print!("{}", app.key_notice());
    let scheme = app.scheme();
    for listen in app.addresses() {
        tracing::info!(
            %listen,
            store = %store_location(&settings.store),
            "serving the JackDB v2 API at {scheme}://{listen}/api/v2"
        );
    }
    app.run_until_stopped().await?;
    Ok(())
}

async fn audit_tail(settings: Settings, lines: usize, follow: bool) -> anyhow::Result<()> {
    let store = Store::connect(&settings.store).await?;
    let mut filter = AuditFilter {
        limit: lines.clamp(1, 10_000),
        newest: true,
        ..Default::default()
    };
    loop {
        let rows = audit::list(&store, filter.clone()).await?;
        for row in &rows {
            println!(
                "{}  {:<26} {} {}  key={} from={}  {}",
                time::render_millis(row.at),
                row.action,
                row.object_type,
                row.object_id,
                row.api_key_id.as_deref().unwrap_or("-"),
                row.client_addr.as_deref().unwrap_or("-"),
                row.changes
            );
        }
        if !follow {
            return Ok(());
        }
        if let Some(last) = rows.last() {
            filter.after_id = Some(last.id);
        }
        filter.newest = false;
        filter.limit = 10_000;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn secrets(settings: Settings, command: SecretsCommand) -> anyhow::Result<()> {
    let SecretsCommand::Rotate {
        new_key_file,
        limit,
    } = command;
    let store = Store::connect(&settings.store).await?;
    let options = jackal::secrets::rotation::RotateOptions {
        new_key_file,
        limit,
    };
    let report =
        jackal::secrets::rotation::rotate(&settings.key_file(), &store, &options, |done, of| {
            println!("re-sealed {done} of {of} passwords");
        })
        .await?;
    // A rotation touches every stored password: it belongs in the trail with the API's changes.
    let outcome = match &report.outcome {
        Outcome::NothingToDo => None,
        Outcome::Stopped { remaining } => {
            Some(json!({"outcome": "stopped", "remaining": remaining}))
        }
        Outcome::Finished { .. } => Some(json!({"outcome": "finished"})),
    };
    if let Some(mut changes) = outcome {
        changes["resealed"] = json!(report.resealed);
        changes["legacyUpgraded"] = json!(report.legacy_upgraded);
        changes["resumed"] = json!(report.resumed);
        changes["newKeyFile"] = json!(report.new_key_file.display().to_string());
        let key_file = report.key_file.display().to_string();
        audit::record_rotation(&store, time::now_millis(), &key_file, changes).await?;
    }
    print!("{report}");
    Ok(())
}

async fn api_key(settings: Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let store = Store::connect(&settings.store).await?;
    match command {
        ApiKeyCommand::Create { name } => {
            let name = jackal::domain::text::parse_label("name", &name)?;
            let key = api_keys::create(&store, &name).await?;
            println!("id:     {}\nsecret: {}", key.id, key.secret);
            println!(
                "The secret is shown only now. Use it as: curl -u \"{}@api:<secret>\"",
                key.id
            );
        }
        ApiKeyCommand::List => {
            println!("{:<36}  {:<24}  {:<24}  name", "id", "created", "revoked");
            for key in api_keys::list(&store).await? {
                println!(
                    "{:<36}  {:<24}  {:<24}  {}",
                    key.id,
                    time::render_millis(key.created_at),
                    key.revoked_at
                        .map(time::render_millis)
                        .unwrap_or_else(|| "-".into()),
                    key.name
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            if !api_keys::revoke(&store, &id, time::now_millis()).await? {
                anyhow::bail!(
                    "no active API key has the id {id}: `jackal api-key list` shows them"
                );
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// Where the store is, for the log: the SQLite file, or the PostgreSQL URL without a password.
fn store_location(store: &jackal::config::StoreSettings) -> String {
    match &store.url {
        Some(url) => jackal_drivers::ConnectionSpec::parse(url)
            .map(|spec| spec.to_redacted_uri())
            .unwrap_or_else(|_| "(a PostgreSQL URL that does not parse)".to_owned()),
        None => store.path.display().to_string(),
    }
}
