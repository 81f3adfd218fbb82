//! `coursebridge-sync`: provider catalogs into LMS course records.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use store::Store;
use sync::configure::{self, Configuration};
use sync::lifecycle::{self, Activation};
use sync::retry::RetryPolicy;
use sync::run::{self, Options, Progress, Report};

#[derive(Parser)]
#[command(
    name = "coursebridge-sync",
    version,
    about = "coursebridge: sync provider catalogs into LMS course records"
)]
struct Cli {
    /// The database: a SQLite file path or a postgres:// URL.
    #[arg(
        long,
        global = true,
        env = "COURSEBRIDGE_DATABASE",
        default_value = "data/coursebridge.db"
    )]
    database: String,
    /// Log format: text or json.
    #[arg(
        long,
        global = true,
        env = "COURSEBRIDGE_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply database migrations and exit.
    Migrate,
    /// Activate (or re-activate) an integration.
    Activate {
        #[arg(long)]
        integration: String,
        /// opensesame, udemy-business or scorm-cloud.
        #[arg(long)]
        provider: String,
        /// The LMS group whose catalog receives the courses.
        #[arg(long)]
        group: String,
        /// The connector admin who authors the courses.
        #[arg(long)]
        author: String,
        /// Provider settings, KEY=VALUE (base_url, token_url, customer_integration_id,
        /// org_id, client_id, client_secret_env, catalog_file, page_size, rules.launch_progress …;
        /// scorm-cloud: app_id, secret_env or secret_file, public_url, registrations, postback_auth, return_url).
        #[arg(long = "setting", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Re-activate in another group than the first activation.
        #[arg(long)]
        force: bool,
    },
    /// Stop syncing an integration and archive its courses (statistics are kept).
    Deactivate {
        #[arg(long)]
        integration: String,
    },
    /// Change an integration's settings in place (active or not): nothing is
    /// archived, no course touched; the next run (SCORM Cloud: the next
    /// request) reads them. Who, when and which keys are recorded, never the values.
    Configure {
        #[arg(long)]
        integration: String,
        /// A setting to set, KEY=VALUE (as for activate).
        #[arg(long = "setting", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// A setting to remove (rules.X for one of the rules).
        #[arg(long, value_name = "KEY")]
        unset: Vec<String>,
        /// Who makes the change (default: the integration's connector author).
        #[arg(long)]
        author: Option<String>,
        /// List the recorded changes (when, who, which keys) instead.
        #[arg(long, conflicts_with_all = ["settings", "unset", "author"])]
        history: bool,
        /// With --history: one JSON object per change.
        #[arg(long, requires = "history")]
        json: bool,
    },
    /// List integrations.
    Integrations,
    /// Sync one integration, or every active one.
    Run {
        #[arg(long)]
        integration: Option<String>,
        /// Print what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print a machine-readable report.
        #[arg(long)]
        json: bool,
        /// Archive even above --max-archive-share.
        #[arg(long)]
        allow_mass_archive: bool,
        /// Largest share of the active catalog one run may archive (0–1).
        #[arg(long, default_value_t = 0.2)]
        max_archive_share: f64,
        /// Keep running, and sync every day at this time (HH:MM), in --tz.
        #[arg(long, requires = "tz")]
        daily_at: Option<String>,
        /// The time zone of --daily-at, e.g. Europe/Paris.
        #[arg(long, requires = "daily_at")]
        tz: Option<String>,
    },
    /// SCORM Cloud: import packages, assign, refresh, override (seed 003).
    Scorm {
        #[command(subcommand)]
        command: sync::scorm::ScormCommand,
    },
    /// Sync the sample OpenSesame catalog (fixtures/catalog/opensesame/sample.json) into the database: no credentials needed.
    Demo {
        #[arg(long, default_value = "fixtures/catalog/opensesame/sample.json")]
        catalog: String,
    },
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn page(&self, integration: &str, page: u32, courses: i64) {
        self.0
            .set_message(format!("{integration}: page {page}, {courses} courses"));
        self.0.inc(1);
    }
}

struct Lines;

impl Progress for Lines {
    fn page(&self, integration: &str, page: u32, courses: i64) {
        tracing::info!(integration, page, courses, "page synced");
    }
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("COURSEBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coursebridge-sync: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(run_cli(cli))
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("coursebridge-sync: {message}");
    ExitCode::from(code)
}

async fn run_cli(cli: Cli) -> ExitCode {
    let store = match Store::open(&cli.database).await {
        Ok(s) => s,
        Err(e) => return fail(2, format!("database: {e}")),
    };
    match cli.command {
        Command::Migrate => match store.schema_version().await {
            Ok(v) => {
                println!("schema at version {v}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(1, e),
        },
        Command::Activate {
            integration,
            provider,
            group,
            author,
            settings,
            force,
        } => {
            let settings = match lifecycle::parse_settings(&settings) {
                Ok(s) => s,
                Err(e) => return fail(2, e),
            };
            match lifecycle::activate(
                &store,
                &Activation {
                    id: integration.clone(),
                    provider,
                    group,
                    author,
                    settings,
                    force,
                },
                now_ms(),
            )
            .await
            {
                Ok(lifecycle::Activated::Created) => {
                    println!(
                        "integration {integration} activated; its courses arrive with the next run"
                    );
                    ExitCode::SUCCESS
                }
                Ok(lifecycle::Activated::Reactivated) => {
                    println!(
                        "integration {integration} re-activated; its existing course records return with the next run"
                    );
                    ExitCode::SUCCESS
                }
                Err(e @ lifecycle::LifecycleError::Store(_)) => fail(1, e),
                Err(e) => fail(2, e),
            }
        }
        Command::Deactivate { integration } => {
            match lifecycle::deactivate(&store, &integration, now_ms()).await {
                Ok(n) => {
                    println!(
                        "integration {integration} deactivated; {n} courses archived; statistics kept"
                    );
                    ExitCode::SUCCESS
                }
                Err(lifecycle::LifecycleError::Unknown(id)) => {
                    fail(2, format!("integration {id} does not exist"))
                }
                Err(e) => fail(1, e),
            }
        }
        Command::Configure {
            integration,
            settings,
            unset,
            author,
            history,
            json,
        } => {
            if history {
                return configure_history(&store, &integration, json).await;
            }
            let c = Configuration {
                id: integration.clone(),
                set: settings,
                unset,
                author,
            };
            match configure::configure(&store, &c, now_ms()).await {
                Ok(done) => {
                    for note in &done.notes {
                        eprintln!("coursebridge-sync: note: {note}");
                    }
                    println!(
                        "integration {integration}: {} (by {}); {}",
                        describe_keys(&done.keys_set, &done.keys_unset),
                        done.author,
                        match (done.active, done.provider.as_str()) {
                            (false, _) => "it stays deactivated: only its settings changed",
                            (true, "scorm-cloud") => {
                                "the next SCORM Cloud request uses the new settings; no course was touched"
                            }
                            (true, _) => {
                                "the next run uses the new settings; no course was touched"
                            }
                        }
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e.exit_code(), e),
            }
        }
        Command::Integrations => {
            let list = async {
                let mut tx = store.read().await?;
                tx.integrations(false).await
            }
            .await;
            match list {
                Ok(list) => {
                    for i in list {
                        println!(
                            "{}\t{}\t{}\tgroup={}\tauthor={}",
                            i.id,
                            i.provider,
                            if i.active { "active" } else { "inactive" },
                            i.lms_group,
                            i.connector_author
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, e),
            }
        }
        Command::Run {
            integration,
            dry_run,
            json,
            allow_mass_archive,
            max_archive_share,
            daily_at,
            tz,
        } => {
            if !(0.0..=1.0).contains(&max_archive_share) {
                return fail(2, "--max-archive-share: must be within 0..1");
            }
            let opts = Options {
                dry_run,
                allow_mass_archive,
                max_archive_share,
                ..Options::default()
            };
            let (Some(at), Some(tz)) = (daily_at, tz) else {
                return run_integrations(&store, integration.as_deref(), &opts, json).await;
            };
            let daily = match sync::schedule::Daily::parse(&at, &tz) {
                Ok(d) => d,
                Err(e) => return fail(2, e),
            };
            loop {
                let next = match daily.next_after(jiff::Timestamp::now()) {
                    Ok(n) => n,
                    Err(e) => return fail(1, e),
                };
                tracing::info!(next = %next, "waiting for the next daily run");
                let wait = std::time::Duration::try_from(
                    next.timestamp().duration_since(jiff::Timestamp::now()),
                )
                .unwrap_or_default();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
                }
                // A failed run is reported, and the loop goes on to the next day.
                let code = run_integrations(&store, integration.as_deref(), &opts, json).await;
                tracing::info!(exit = ?code, "daily run finished");
            }
        }
        Command::Scorm { command } => match sync::scorm::run(&store, command).await {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err((code, message)) => fail(code, message),
        },
        Command::Demo { catalog } => {
            if !std::path::Path::new(&catalog).is_file() {
                return fail(
                    2,
                    format!("{catalog}: not found (run from the repository root)"),
                );
            }
            let activation = Activation {
                id: "opensesame-sample".into(),
                provider: "opensesame".into(),
                group: "demo".into(),
                author: "demo-admin@example.com".into(),
                settings: serde_json::json!({ "catalog_file": catalog }),
                force: false,
            };
            match lifecycle::activate(&store, &activation, now_ms()).await {
                Ok(_) | Err(lifecycle::LifecycleError::AlreadyActive(_)) => {}
                Err(e) => return fail(1, e),
            }
            run_integrations(
                &store,
                Some("opensesame-sample"),
                &Options::default(),
                false,
            )
            .await
        }
    }
}

fn describe_keys(set: &[String], unset: &[String]) -> String {
    let mut parts = Vec::new();
    if !set.is_empty() {
        parts.push(format!("set {}", set.join(", ")));
    }
    if !unset.is_empty() {
        parts.push(format!("unset {}", unset.join(", ")));
    }
    parts.join("; ")
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

async fn configure_history(store: &Store, integration: &str, json: bool) -> ExitCode {
    let changes = match configure::history(store, integration).await {
        Ok(c) => c,
        Err(e) => return fail(e.exit_code(), e),
    };
    if changes.is_empty() && !json {
        println!("integration {integration}: no recorded change to its settings");
    }
    for c in changes {
        if json {
            let line = serde_json::json!({
                "integration": c.integration_id,
                "changed_at": rfc3339(c.changed_ms),
                "changed_ms": c.changed_ms,
                "author": c.author,
                "keys_set": c.keys_set,
                "keys_unset": c.keys_unset,
            });
            println!("{line}");
        } else {
            println!(
                "{}\t{}\t{}",
                rfc3339(c.changed_ms),
                c.author,
                describe_keys(&c.keys_set, &c.keys_unset)
            );
        }
    }
    ExitCode::SUCCESS
}

async fn run_integrations(
    store: &Store,
    only: Option<&str>,
    opts: &Options,
    json: bool,
) -> ExitCode {
    let integrations = async {
        let mut tx = store.read().await?;
        tx.integrations(only.is_none()).await
    }
    .await;
    let integrations = match integrations {
        Ok(list) => list
            .into_iter()
            .filter(|i| only.is_none_or(|o| o == i.id))
            // SCORM Cloud integrations have no catalog to sync
            .filter(|i| only.is_some() || i.provider != "scorm-cloud")
            .collect::<Vec<_>>(),
        Err(e) => return fail(1, e),
    };
    if let Some(o) = only {
        match integrations.first() {
            None => return fail(2, format!("integration {o} does not exist")),
            Some(i) if !i.active => return fail(2, format!("integration {o} is deactivated")),
            Some(i) if i.provider == "scorm-cloud" => {
                return fail(
                    2,
                    format!(
                        "integration {o} is a SCORM Cloud integration: it has no catalog to sync (use `coursebridge-sync scorm import`)"
                    ),
                );
            }
            Some(_) => {}
        }
    }
    let mut reports: Vec<Report> = Vec::new();
    for i in &integrations {
        let source = match sync::config::source(i, RetryPolicy::default()) {
            Ok(s) => s,
            Err(e) => return fail(2, e),
        };
        let report = if std::io::stderr().is_terminal() && !json {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            let r = run::run(store, i, source, opts, &Bar(bar.clone())).await;
            bar.finish_and_clear();
            r
        } else {
            run::run(store, i, source, opts, &Lines).await
        };
        reports.push(report);
    }
    for r in &reports {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!(
                "{}{}: {} — {} created, {} updated, {} archived, {} reactivated, {} unchanged, {} rejected, {} pages{}",
                r.integration,
                if r.dry_run { " (dry run)" } else { "" },
                r.outcome,
                r.created,
                r.updated,
                r.archived,
                r.reactivated,
                r.unchanged,
                r.rejected,
                r.pages,
                r.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
            for rej in &r.rejected_courses {
                println!(
                    "  rejected {}: {}",
                    rej.id.as_deref().unwrap_or("(no id)"),
                    rej.reason
                );
            }
        }
    }
    if reports.iter().any(|r| r.outcome != "ok") {
        ExitCode::from(1)
    } else if reports.iter().any(|r| r.rejected > 0) {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}
