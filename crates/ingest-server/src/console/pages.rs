//! The console's pages (GET): each reads what it shows on a read
//! transaction and renders it through `html` (every value escaped).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use store::SyncRun;

use super::auth::Signed;
use super::html::{esc, minutes_chart, page, runs_chart, table, took, when};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

type Page = Result<Response, ApiError>;

pub(super) fn ok(signed: &Signed, title: &str, body: &str) -> Page {
    Ok(super::html(
        StatusCode::OK,
        page(title, Some((&signed.username, &signed.csrf)), body),
    ))
}

fn run_summary(r: &SyncRun) -> String {
    let c = &r.counts;
    format!(
        "{} created, {} updated, {} archived, {} reactivated, {} unchanged, {} rejected, {} pages",
        c.created, c.updated, c.archived, c.reactivated, c.unchanged, c.rejected, c.pages
    )
}

fn run_row(r: &SyncRun) -> (String, Vec<String>) {
    let failed = r.outcome == "failed";
    (
        if failed { "bad".into() } else { String::new() },
        vec![
            format!("<a href=\"/console/runs/{}\">#{}</a>", r.id, r.id),
            esc(&r.integration_id),
            format!(
                "<span class=\"{}\">{}</span>{}",
                if failed { "bad" } else { "ok" },
                esc(&r.outcome),
                if r.dry_run { " (dry run)" } else { "" }
            ),
            when(r.started_ms),
            r.finished_ms
                .map(|f| took(f - r.started_ms))
                .unwrap_or_else(|| "running".into()),
            esc(&run_summary(r)),
            esc(r.error.as_deref().unwrap_or("")),
        ],
    )
}

const RUN_HEAD: [&str; 7] = [
    "run",
    "integration",
    "outcome",
    "started",
    "took",
    "counts",
    "error",
];

/// Every integration's newest runs (at most `per` each), newest first.
async fn latest_runs(
    app: &AppState,
    per: i64,
) -> Result<(Vec<store::Integration>, Vec<SyncRun>), ApiError> {
    let mut tx = app.store.read().await?;
    let integrations = tx.integrations(false).await?;
    let mut runs = Vec::new();
    for i in &integrations {
        runs.extend(tx.runs(&i.id, per).await?);
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.started_ms));
    Ok((integrations, runs))
}

fn integrations_table(integrations: &[store::Integration], runs: &[SyncRun]) -> String {
    let rows: Vec<(String, Vec<String>)> = integrations
        .iter()
        .map(|i| {
            let last = runs.iter().find(|r| r.integration_id == i.id);
            let failed = last.is_some_and(|r| r.outcome == "failed");
            (
                if failed { "bad".into() } else { String::new() },
                vec![
                    format!("<a href=\"/console/integrations/{0}\">{0}</a>", esc(&i.id)),
                    esc(&i.provider),
                    if i.active {
                        "<span class=\"ok\">active</span>".into()
                    } else {
                        "<span class=\"muted\">deactivated</span>".into()
                    },
                    last.map(|r| {
                        format!(
                            "<a href=\"/console/runs/{}\">{}</a> {}",
                            r.id,
                            esc(&r.outcome),
                            when(r.started_ms)
                        )
                    })
                    .unwrap_or_else(|| "<span class=\"muted\">never</span>".into()),
                    last.map(|r| esc(&run_summary(r))).unwrap_or_default(),
                    last.and_then(|r| r.error.as_deref())
                        .map(esc)
                        .unwrap_or_default(),
                    // The sync runs daily (docs/sync.md): the next one is
                    // expected a day after the last.
                    last.filter(|_| i.active)
                        .map(|r| format!("≈ {}", when(r.started_ms + 86_400_000)))
                        .unwrap_or_default(),
                ],
            )
        })
        .collect();
    table(
        &[
            "integration",
            "provider",
            "status",
            "last run",
            "counts",
            "error",
            "next run (daily)",
        ],
        &rows,
    )
}

/// `GET /console`: the last 24 hours at a glance.
pub async fn overview(State(app): State<AppState>, signed: Signed) -> Response {
    let r = async {
        let now = now_ms();
        let (integrations, runs) = latest_runs(&app, 30).await?;
        let mut tx = app.store.read().await?;
        let accepted = tx.statements_per_minute(now - 86_400_000).await?;
        let pending = tx.pending(None, None, 10_000).await?;
        let webhooks = tx.webhooks().await?;
        drop(tx);
        let refused: Vec<(i64, i64)> = app
            .console
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        let (acc_total, ref_total): (i64, i64) = (
            accepted.iter().map(|(_, n)| n).sum(),
            refused.iter().map(|(_, n)| n).sum(),
        );
        let mut last30: Vec<(String, i64, bool)> = runs
            .iter()
            .filter_map(|r| {
                Some((
                    format!("#{} {}", r.id, r.integration_id),
                    r.finished_ms? - r.started_ms,
                    r.outcome == "failed",
                ))
            })
            .take(30)
            .collect();
        last30.reverse();
        let failing = webhooks
            .iter()
            .filter(|w| w.failures > 0 || !w.enabled)
            .count();
        let body = format!(
            "<h2>Statements, last 24 hours</h2><p>{acc_total} accepted; <span class=\"{}\">{ref_total} refused</span> (refused: counted by this instance since it started).</p>{}\
             <h2>Integrations</h2>{}\
             <h2>Sync runs, last {}</h2>{}\
             <h2>Needs attention</h2><ul><li><a href=\"/console/pending\">{} parked statements</a></li>\
             <li><a href=\"/console/webhooks\">{failing} webhook subscriptions failing or disabled</a></li>\
             <li><a href=\"/console/scorm\">SCORM registrations</a></li></ul>",
            if ref_total > 0 { "bad" } else { "muted" },
            minutes_chart(&accepted, &refused, now),
            integrations_table(&integrations, &runs),
            last30.len(),
            runs_chart(&last30),
            pending.len(),
        );
        ok(&signed, "What happened", &body)
    };
    r.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/integrations`.
pub async fn integrations(State(app): State<AppState>, signed: Signed) -> Response {
    async {
        let (integrations, runs) = latest_runs(&app, 1).await?;
        ok(
            &signed,
            "Integrations",
            &integrations_table(&integrations, &runs),
        )
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/integrations/{id}`: its last 30 runs.
pub async fn integration(
    State(app): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    async {
        let mut tx = app.store.read().await?;
        let Some(i) = tx.integration(&id).await? else {
            return Err(ApiError::not_found("no such integration"));
        };
        let runs = tx.runs(&i.id, 30).await?;
        let mut chart: Vec<(String, i64, bool)> = runs
            .iter()
            .filter_map(|r| {
                Some((
                    format!("#{}", r.id),
                    r.finished_ms? - r.started_ms,
                    r.outcome == "failed",
                ))
            })
            .collect();
        chart.reverse();
        let rows: Vec<_> = runs.iter().map(run_row).collect();
        let body = format!(
            "<p>{} · {} · LMS group {}</p><h2>Run durations</h2>{}<h2>Runs</h2>{}",
            esc(&i.provider),
            if i.active { "active" } else { "deactivated" },
            esc(&i.lms_group),
            runs_chart(&chart),
            table(&RUN_HEAD, &rows)
        );
        ok(&signed, &format!("Integration {}", i.id), &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/runs/{id}`: what a run changed and what it refused.
pub async fn run(State(app): State<AppState>, signed: Signed, Path(id): Path<i64>) -> Response {
    async {
        let mut tx = app.store.read().await?;
        let Some(r) = tx.sync_run(id).await? else {
            return Err(ApiError::not_found("no such run"));
        };
        let rejected = tx.run_rejections(id).await?;
        let changed = tx
            .course_events_between(&r.integration_id, r.started_ms, r.finished_ms.unwrap_or(i64::MAX), 1000)
            .await?;
        let body = format!(
            "{}<h2>Changed courses ({})</h2><p class=\"muted\">From the change feed (kept for its retention period).</p>{}<h2>Rejected ({})</h2>{}",
            table(&RUN_HEAD, &[run_row(&r)]),
            changed.len(),
            table(
                &["change", "course", "name", "at"],
                &changed
                    .iter()
                    .map(|c| (String::new(), vec![esc(&c.event_type), esc(&c.external_id), esc(&c.name), when(c.at_ms)]))
                    .collect::<Vec<_>>()
            ),
            rejected.len(),
            table(
                &["course", "reason"],
                &rejected
                    .iter()
                    .map(|x| ("bad".into(), vec![esc(x.external_id.as_deref().unwrap_or("(no id)")), esc(&x.reason)]))
                    .collect::<Vec<_>>()
            ),
        );
        ok(&signed, &format!("Sync run #{id}"), &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}
