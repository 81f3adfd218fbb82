//! `coursebridge-ingest`: the statement side of coursebridge.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ingest_server::config::Config;
use ingest_server::{auth, server};
use store::{Credential, Store};

mod operators;
mod validate;
mod webhooks;

#[derive(Parser)]
#[command(
    name = "coursebridge-ingest",
    version,
    about = "coursebridge: xAPI statement ingest, launches and learner statistics"
)]
struct Cli {
    /// A TOML configuration file (see docs/operations.md); environment variables override it.
    #[arg(long, global = true, env = "COURSEBRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// The database: a SQLite file path or a postgres:// URL (overrides the config).
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the xAPI endpoint, launches and the statistics API.
    Serve {
        /// Address to listen on (overrides the config), e.g. 0.0.0.0:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Validate xAPI statements (a statement, an array, or JSON lines) as ingest would.
    ///
    /// Prints `ok <id or index>` per valid statement and `error <index> <path>: <rule>`
    /// per broken rule. Exit status: 0 all valid, 1 any invalid, 2 unreadable input.
    Validate {
        /// Files to read; `-` (or none) reads standard input.
        files: Vec<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Create credentials; the secret is shown once and only its hash is stored.
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
    /// Mint a signed launch link (what the LMS does for each learner).
    LaunchLink {
        /// With --course: a catalog course launch.
        #[arg(long, requires = "course")]
        integration: Option<String>,
        #[arg(long, requires = "integration")]
        course: Option<String>,
        /// A SCORM Cloud registration launch (`/scorm/launch/{registration}`).
        #[arg(long, conflicts_with_all = ["integration", "scorm_course"])]
        scorm_registration: Option<String>,
        /// A SCORM course launch: the learner's registration, created if needed.
        #[arg(long, conflicts_with = "integration")]
        scorm_course: Option<String>,
        #[arg(long)]
        learner: String,
        #[arg(long)]
        email: Option<String>,
        /// `catalog` or `path:<path id>`.
        #[arg(long, default_value = "catalog")]
        entry: String,
        /// Validity in seconds.
        #[arg(long, default_value_t = 300)]
        ttl: i64,
    },
    /// Rebuild every statistic from the stored statements and learning events.
    Replay,
    /// Webhook subscriptions: create, list, disable, enable, redeliver, attempts.
    Webhooks {
        #[command(subcommand)]
        action: webhooks::Action,
    },
    /// Operators of the console (`/console`): create, list, disable.
    Operators {
        #[command(subcommand)]
        action: operators::Action,
    },
}

#[derive(Subcommand)]
enum CredentialsAction {
    /// Webhook credentials for a provider (HTTP Basic, or the OAuth2 token endpoint).
    Create {
        /// The integration whose statements these credentials post.
        #[arg(long, conflicts_with = "lms")]
        integration: Option<String>,
        /// Credentials for the LMS (statistics API, overrides, learners, metrics) instead.
        #[arg(long)]
        lms: bool,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Revoke credentials by client id.
    Revoke { client_id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Validate { files } = &cli.command {
        return run_validate(files.clone());
    }
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("coursebridge-ingest: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(db) = cli.database {
        config.database = db;
    }
    init_logging(&config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coursebridge-ingest: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("coursebridge-ingest: {message}");
            ExitCode::from(code)
        }
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COURSEBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub(crate) type Failure = (u8, String);

async fn open(config: &Config) -> Result<Store, Failure> {
    Store::open(&config.database)
        .await
        .map_err(|e| (1, format!("database {}: {e}", redact(&config.database))))
}

/// A database location without its password, for messages.
fn redact(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => location.to_owned(),
    }
}

fn now_ms() -> i64 {
    ingest_server::clock::now_ms()
}

async fn run(command: Command, mut config: Config) -> Result<(), Failure> {
    match command {
        Command::Validate { .. } => Ok(()),
        Command::Serve { listen } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if config.token_secret.is_none() {
                tracing::warn!(
                    "no token_secret configured: OAuth2 tokens are valid for this process only"
                );
            }
            let store = open(&config).await?;
            let running = server::start(store, config)
                .await
                .map_err(|e| (1, format!("cannot listen: {e}")))?;
            tracing::info!(addr = %running.addr, "serving");
            server::shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            running
                .stop()
                .await
                .map_err(|e| (1, format!("server: {e}")))
        }
        Command::Migrate => {
            let store = Store::connect(&config.database)
                .await
                .map_err(|e| (1, format!("database {}: {e}", redact(&config.database))))?;
            let applied = store.migrate().await.map_err(|e| (1, e.to_string()))?;
            println!(
                "schema at version {} (applied: {:?})",
                store
                    .schema_version()
                    .await
                    .map_err(|e| (1, e.to_string()))?,
                applied
            );
            Ok(())
        }
        Command::Credentials {
            action:
                CredentialsAction::Create {
                    integration,
                    lms,
                    json,
                },
        } => {
            let store = open(&config).await?;
            let secret = auth::new_secret();
            let mut tx = store.begin().await.map_err(|e| (1, e.to_string()))?;
            let client_id = match (integration, lms) {
                (Some(i), false) => {
                    let integ = tx.integration(&i).await.map_err(|e| (1, e.to_string()))?.ok_or((2, format!("integration {i} does not exist (create it with coursebridge-sync activate)")))?;
                    let client_id = auth::new_client_id("wh");
                    tx.insert_credential(&Credential {
                        client_id: client_id.clone(),
                        integration_id: integ.id,
                        secret_hash: auth::hash_secret(&secret),
                        created_ms: now_ms(),
                        revoked_ms: None,
                    })
                    .await
                    .map_err(|e| (1, e.to_string()))?;
                    client_id
                }
                (None, true) => {
                    let client_id = auth::new_client_id("lms");
                    tx.insert_api_client(&client_id, &auth::hash_secret(&secret), now_ms())
                        .await
                        .map_err(|e| (1, e.to_string()))?;
                    client_id
                }
                _ => return Err((2, "give --integration ID or --lms".into())),
            };
            tx.commit().await.map_err(|e| (1, e.to_string()))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": client_id, "client_secret": secret})
                );
            } else {
                println!(
                    "client id:     {client_id}\nclient secret: {secret}\n\nThe secret is shown once; only its hash is stored."
                );
            }
            Ok(())
        }
        Command::Credentials {
            action: CredentialsAction::Revoke { client_id },
        } => {
            let store = open(&config).await?;
            let mut tx = store.begin().await.map_err(|e| (1, e.to_string()))?;
            let a = tx
                .revoke_credential(&client_id, now_ms())
                .await
                .map_err(|e| (1, e.to_string()))?;
            let b = tx
                .revoke_api_client(&client_id, now_ms())
                .await
                .map_err(|e| (1, e.to_string()))?;
            tx.commit().await.map_err(|e| (1, e.to_string()))?;
            if a || b {
                Ok(())
            } else {
                Err((
                    1,
                    format!("no active credentials with client id {client_id}"),
                ))
            }
        }
        Command::LaunchLink {
            integration,
            course,
            scorm_registration,
            scorm_course,
            learner,
            email,
            entry,
            ttl,
        } => {
            use ingest_server::launch::{LaunchTarget, mint_link};
            let target = match (&integration, &course, &scorm_registration, &scorm_course) {
                (Some(i), Some(c), None, None) => LaunchTarget::Course {
                    integration: i,
                    course: c,
                },
                (None, None, Some(r), None) => LaunchTarget::ScormRegistration(r),
                (None, None, None, Some(c)) => LaunchTarget::ScormCourse(c),
                _ => {
                    return Err((
                        2,
                        "give --integration and --course, or --scorm-registration, or --scorm-course"
                            .to_owned(),
                    ));
                }
            };
            let link = mint_link(
                &config,
                target,
                &learner,
                email.as_deref(),
                &entry,
                ttl,
                ingest_server::clock::now().unix_timestamp(),
            )
            .map_err(|e| (2, e.to_string()))?
            .url;
            println!("{link}");
            Ok(())
        }
        Command::Webhooks { action } => webhooks::run(action, &config).await,
        Command::Operators { action } => operators::run(action, &config).await,
        Command::Replay => {
            let store = open(&config).await?;
            let integrations = {
                let mut tx = store.read().await.map_err(|e| (1, e.to_string()))?;
                tx.integrations(false)
                    .await
                    .map_err(|e| (1, e.to_string()))?
            };
            let progress = progress::Progress::stderr(false);
            let report = records::replay_with_progress(
                &store,
                |id| match integrations.iter().find(|i| i.id == id) {
                    Some(i) => records::rules_for(i),
                    None => Err(records::RulesError::Settings {
                        id: id.to_owned(),
                        detail: "integration not found".into(),
                    }),
                },
                now_ms(),
                &mut |p| {
                    let (step, done, total) = match p {
                        records::ReplayProgress::Statements { done, total } => {
                            ("replay statements", done, total)
                        }
                        records::ReplayProgress::Statistics { done, total } => {
                            ("replay statistics", done, total)
                        }
                    };
                    progress.update(step, done, total, progress::Unit::Items);
                },
            )
            .await
            .map_err(|e| (1, e.to_string()))?;
            progress.finish();
            println!(
                "replayed {} statements into {} learner statistics ({} statements marked voided by a voiding statement stored before them)",
                report.statements, report.targets, report.voided
            );
            Ok(())
        }
    }
}

fn run_validate(mut files: Vec<String>) -> ExitCode {
    if files.is_empty() {
        files.push("-".into());
    }
    let labelled = files.len() > 1;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut invalid = 0;
    for file in &files {
        let bytes = if file == "-" {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                eprintln!("coursebridge-ingest: cannot read standard input: {e}");
                return ExitCode::from(2);
            }
            buf
        } else {
            match std::fs::read(file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("coursebridge-ingest: cannot read {file}: {e}");
                    return ExitCode::from(2);
                }
            }
        };
        let label = labelled.then_some(file.as_str());
        match validate::validate_input(&bytes, label, &mut out) {
            Ok(o) => invalid += o.invalid,
            Err(e) => {
                eprintln!("coursebridge-ingest: cannot write output: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let _ = out.flush();
    if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
