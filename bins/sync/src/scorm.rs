//! `coursebridge-sync scorm …`: the operator's side of the SCORM Cloud flows
//! (seed 003): import a package, assign, refresh, override, show. Thin over
//! `scorm-flows`; the ingest server has the learner-facing side.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use scorm_flows::import::{self, Observer};
use scorm_flows::registrations::{self, Assignment};
use scorm_flows::results::{self, Applied};
use scorm_flows::{Remote, ScormError, Settings};
use store::{Integration, Store};

use crate::progress::{Progress, Unit};

#[derive(Subcommand)]
pub enum ScormCommand {
    /// Import a package (streamed upload, then polling until finished), or
    /// print a signed browser-upload URL, or follow up a browser upload's job.
    Import {
        /// The package (.zip). Not read into memory: streamed to SCORM Cloud.
        package: Option<PathBuf>,
        /// The scorm-cloud integration.
        #[arg(long)]
        integration: String,
        /// Our id for the course (at most 255 characters).
        #[arg(long)]
        course_id: String,
        /// Print a freshly signed upload URL for a browser form instead (valid ~15 minutes).
        #[arg(long, requires = "redirect_url", conflicts_with_all = ["package", "token"])]
        browser_url: bool,
        /// Where SCORM Cloud sends the browser after a browser upload.
        #[arg(long)]
        redirect_url: Option<String>,
        /// Follow up an import started elsewhere (e.g. by a browser upload).
        #[arg(long, conflicts_with = "package")]
        token: Option<String>,
        /// Have SCORM Cloud fetch the package from this URL (API V2).
        #[arg(long, conflicts_with_all = ["package", "token", "browser_url"])]
        url: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Assign a course to a learner (created in SCORM Cloud now or at first
    /// launch, per the integration's `registrations` setting).
    Assign {
        #[arg(long)]
        course_id: String,
        /// The learner's LMS user id.
        #[arg(long)]
        learner: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
        /// Our registration id (generated when absent).
        #[arg(long)]
        registration_id: Option<String>,
    },
    /// Fetch a registration's result from SCORM Cloud and store it (the same
    /// path as postbacks); or every registration not updated for a while.
    Refresh {
        #[arg(required_unless_present = "all_stale", conflicts_with = "all_stale")]
        registration: Option<String>,
        #[arg(long)]
        all_stale: bool,
        /// With --all-stale: results older than this many minutes (or none).
        #[arg(long, default_value_t = 60)]
        older_than_mins: i64,
        /// With --all-stale: at most this many registrations.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Reset a registration in SCORM Cloud (the learner starts again) and
    /// store SCORM Cloud's state.
    Reset { registration: String },
    /// Delete a registration from SCORM Cloud and here (the learner's
    /// statistics stay).
    Delete { registration: String },
    /// Force a registration's completion, success or score (audited); --clear removes it.
    Override {
        registration: String,
        /// Who overrides (kept for the audit trail).
        #[arg(long)]
        by: String,
        #[arg(long)]
        complete: bool,
        /// passed or failed.
        #[arg(long)]
        success: Option<String>,
        #[arg(long)]
        score: Option<f64>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long, conflicts_with_all = ["complete", "success", "score"])]
        clear: bool,
    },
    /// Show a registration: our record, the latest result, override, statistics.
    Show { registration: String },
}

/// A failure: exit code (2 usage/input, 1 everything else) and message.
pub type Failure = (u8, String);

fn failure(e: ScormError) -> Failure {
    let code = match e {
        ScormError::NotFound(_)
        | ScormError::Id(_)
        | ScormError::Settings { .. }
        | ScormError::NotScorm(_)
        | ScormError::Conflict(_)
        | ScormError::Invalid(_)
        | ScormError::Io { .. } => 2,
        _ => 1,
    };
    (code, e.to_string())
}

async fn integration(store: &Store, id: &str) -> Result<Integration, Failure> {
    let mut tx = store.read().await.map_err(|e| (1, e.to_string()))?;
    tx.integration(id)
        .await
        .map_err(|e| (1, e.to_string()))?
        .ok_or_else(|| (2, format!("integration {id} does not exist")))
}

fn remote(i: &Integration) -> Result<(Settings, Remote), Failure> {
    let settings = Settings::from_integration(i, &env).map_err(failure)?;
    let http = scorm_flows::http_client().map_err(failure)?;
    let remote = Remote::new(&settings, http);
    Ok((settings, remote))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

async fn for_course(store: &Store, course: &str) -> Result<(Settings, Remote), Failure> {
    let http = scorm_flows::http_client().map_err(failure)?;
    let c = scorm_flows::connect_course(store, course, &env, http)
        .await
        .map_err(failure)?;
    Ok((c.settings, c.remote))
}

async fn for_registration(store: &Store, id: &str) -> Result<(Settings, Remote), Failure> {
    let http = scorm_flows::http_client().map_err(failure)?;
    let c = scorm_flows::connect_registration(store, id, &env, http)
        .await
        .map_err(failure)?;
    Ok((c.settings, c.remote))
}

/// An import's progress on stderr: the upload's bytes (a bar on a
/// terminal), then the job's states as SCORM Cloud reports them.
struct Lines(Progress);

impl Observer for Lines {
    fn sending(&self, sent: u64, total: u64) {
        self.0.update("upload", sent, total, Unit::Bytes);
    }
    fn uploaded(&self, token: &str) {
        self.0.finish();
        eprintln!("uploaded; import job {token}");
    }
    fn polled(&self, job: &scorm_cloud_client::ImportJob) {
        eprintln!(
            "import {:?}{}",
            job.status,
            job.progress
                .as_deref()
                .map(|p| format!(" ({p}%)"))
                .unwrap_or_default()
        );
    }
}

fn json_line(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Runs a `scorm` command; returns what to print on stdout.
pub async fn run(store: &Store, cmd: ScormCommand) -> Result<String, Failure> {
    run_with_delays(
        store,
        cmd,
        scorm_cloud_client::import_poll_delays().collect(),
    )
    .await
}

/// As [`run`], with the import polling schedule given (tests poll fast).
pub async fn run_with_delays(
    store: &Store,
    cmd: ScormCommand,
    delays: Vec<Duration>,
) -> Result<String, Failure> {
    match cmd {
        ScormCommand::Import {
            package,
            integration: id,
            course_id,
            browser_url,
            redirect_url,
            token,
            url,
            json,
        } => {
            let i = integration(store, &id).await?;
            if !i.active {
                return Err((2, format!("integration {id} is deactivated")));
            }
            let (_, remote) = remote(&i)?;
            if browser_url {
                let redirect = redirect_url.unwrap_or_default();
                let url =
                    import::browser_upload_url(&remote, &course_id, &redirect).map_err(failure)?;
                return Ok(url);
            }
            let lines = Lines(Progress::stderr(false));
            let imported = match (package, token, url) {
                (Some(p), None, None) => {
                    import::import_package(store, &remote, &i, &course_id, &p, delays, &lines).await
                }
                (None, Some(t), None) => {
                    import::follow(store, &remote, &i, &course_id, &t, delays, &lines).await
                }
                (None, None, Some(u)) => {
                    import::import_from_url(store, &remote, &i, &course_id, &u, delays, &lines)
                        .await
                }
                _ => {
                    return Err((
                        2,
                        "give a PACKAGE, or --url, or --token, or --browser-url".into(),
                    ));
                }
            }
            .map_err(failure)?;
            if json {
                return Ok(json_line(&imported));
            }
            let mut out = format!(
                "imported {} as course {} (LMS course record {})",
                imported.title, imported.course_id, imported.lms_course
            );
            for w in &imported.warnings {
                out.push_str(&format!("\nwarning: {w}"));
            }
            Ok(out)
        }
        ScormCommand::Assign {
            course_id,
            learner,
            email,
            first_name,
            last_name,
            registration_id,
        } => {
            let (settings, remote) = for_course(store, &course_id).await?;
            let a = registrations::assign(
                store,
                &remote,
                &settings,
                &Assignment {
                    course_id,
                    learner,
                    email,
                    first_name,
                    last_name,
                    registration_id,
                },
            )
            .await
            .map_err(failure)?;
            let r = &a.registration;
            Ok(format!(
                "registration {} {} ({})",
                r.registration_id,
                if a.created { "created" } else { "exists" },
                if r.remote_created_ms.is_some() {
                    "in SCORM Cloud"
                } else {
                    "created in SCORM Cloud at the first launch"
                }
            ))
        }
        ScormCommand::Refresh {
            registration,
            all_stale,
            older_than_mins,
            limit,
        } => {
            if all_stale {
                return refresh_all(store, older_than_mins, limit).await;
            }
            let id = registration.ok_or((2, "give a REGISTRATION or --all-stale".into()))?;
            let (_, remote) = for_registration(store, &id).await?;
            let applied = results::refresh(store, &remote, &id)
                .await
                .map_err(failure)?;
            Ok(format!("{id}: {}", describe(&applied)))
        }
        ScormCommand::Reset { registration: id } => {
            let (_, remote) = for_registration(store, &id).await?;
            let applied = registrations::reset(store, &remote, &id)
                .await
                .map_err(failure)?;
            Ok(format!("{id}: reset; {}", describe(&applied)))
        }
        ScormCommand::Delete { registration: id } => {
            let (_, remote) = for_registration(store, &id).await?;
            registrations::delete(store, &remote, &id)
                .await
                .map_err(failure)?;
            Ok(format!("{id}: deleted"))
        }
        ScormCommand::Override {
            registration,
            by,
            complete,
            success,
            score,
            reason,
            clear,
        } => {
            let success = match success.as_deref() {
                None => None,
                Some("passed") => Some(true),
                Some("failed") => Some(false),
                Some(other) => {
                    return Err((2, format!("--success {other:?}: passed or failed")));
                }
            };
            if !clear && !complete && success.is_none() && score.is_none() {
                return Err((
                    2,
                    "give --complete, --success or --score (or --clear)".into(),
                ));
            }
            let value = stats_rules::Override {
                complete,
                success,
                score,
                by,
                reason,
            };
            results::set_override(
                store,
                &registration,
                &value,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .map_err(failure)?;
            let view = results::view(store, &registration).await.map_err(failure)?;
            Ok(json_line(&view))
        }
        ScormCommand::Show { registration } => {
            let view = results::view(store, &registration).await.map_err(failure)?;
            Ok(json_line(&view))
        }
    }
}

fn describe(a: &Applied) -> String {
    match a {
        Applied::Recorded { stats } => format!(
            "recorded (completed={}, score={}, time_spent_ms={})",
            stats.completed,
            stats.score.map_or("-".into(), |s| s.to_string()),
            stats.time_spent_ms.map_or("-".into(), |t| t.to_string())
        ),
        Applied::Unchanged => "unchanged".into(),
        Applied::Stale => "stale (ignored)".into(),
    }
}

/// Refreshes stale registrations of every active scorm-cloud integration.
async fn refresh_all(store: &Store, older_than_mins: i64, limit: i64) -> Result<String, Failure> {
    let integrations = {
        let mut tx = store.read().await.map_err(|e| (1, e.to_string()))?;
        tx.integrations(true)
            .await
            .map_err(|e| (1, e.to_string()))?
    };
    let mut lines = Vec::new();
    let mut failed = 0usize;
    for i in integrations.iter().filter(|i| i.provider == "scorm-cloud") {
        let (settings, remote) = remote(i)?;
        let done =
            results::refresh_stale(store, &remote, &settings, older_than_mins * 60_000, limit)
                .await
                .map_err(failure)?;
        for r in done {
            match &r.result {
                Ok(a) => lines.push(format!("{}: {}", r.registration, describe(a))),
                Err(e) => {
                    failed += 1;
                    lines.push(format!("{}: failed: {e}", r.registration));
                }
            }
        }
    }
    lines.push(format!(
        "{} refreshed, {failed} failed",
        lines.len() - failed
    ));
    if failed > 0 {
        return Err((1, lines.join("\n")));
    }
    Ok(lines.join("\n"))
}
