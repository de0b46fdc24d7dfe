//! `jackal`: serve the API, or manage API keys from the terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use jackal::auth;
use jackal::config::Settings;
use jackal::domain::time;
use jackal::startup::Application;
use jackal::store::Store;

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
    let cli = Cli::parse();
    let result = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::ApiKey(command) => api_key(settings, command).await,
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

async fn serve(settings: Settings) -> anyhow::Result<()> {
    jackal::telemetry::init(&settings.log.level);
    let supplied = auth::credentials_from_env(|name| std::env::var(name).ok())?;
    let app = Application::build(&settings, supplied.as_ref()).await?;
    if let Some(key) = app.created_key() {
        println!(
            "\nJackal created its first API key. The secret is shown only now; keep it:\n\n  \
             export JACKDB_API_KEY_ID={}\n  export JACKDB_API_KEY_SECRET={}\n",
            key.id, key.secret
        );
    }
    let listen = std::net::SocketAddr::new(settings.server.listen.ip(), app.port());
    tracing::info!(
        %listen,
        store = %settings.store.path.display(),
        "serving the JackDB v2 API at http://{listen}/api/v2"
    );
    app.run_until_stopped().await?;
    Ok(())
}

async fn api_key(settings: Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let store = Store::open(&settings.store.path).await?;
    match command {
        ApiKeyCommand::Create { name } => {
            let name = jackal::domain::text::parse_label("name", &name)?;
            let key = auth::create(&store, &name).await?;
            println!("id:     {}\nsecret: {}", key.id, key.secret);
            println!(
                "The secret is shown only now. Use it as: curl -u \"{}@api:<secret>\"",
                key.id
            );
        }
        ApiKeyCommand::List => {
            println!("{:<36}  {:<24}  {:<24}  name", "id", "created", "revoked");
            for key in store.list_api_keys().await? {
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
            if !store.revoke_api_key(&id, time::now_millis()).await? {
                anyhow::bail!(
                    "no active API key has the id {id}: `jackal api-key list` shows them"
                );
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
