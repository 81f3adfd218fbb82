//! The console's pages (GET): each reads what it shows on a read
//! transaction and renders it through `html` (every value escaped).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use store::{StatsFilter, SyncRun};

use super::auth::Signed;
use super::html::{esc, minutes_chart, page, runs_chart, table, took, when};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

type Page = Result<Response, ApiError>;

fn ok(signed: &Signed, title: &str, body: &str) -> Page {
    Ok(super::html(
        StatusCode::OK,
        page(title, Some((&signed.username, &signed.csrf)), body),
    ))
}

/// One of a fixed set of notices a form's redirect asks for (`?done=`):
/// never the text of the query itself.
fn notice(q: &HashMap<String, String>) -> String {
    let text = match q.get("done").map(String::as_str) {
        Some("revoked") => "The credential is revoked: its secret no longer works.",
        Some("refreshed") => "The registration was refreshed from SCORM Cloud.",
        Some("refresh-failed") => {
            "SCORM Cloud could not be asked; the registration is unchanged. See the audit log."
        }
        _ => return String::new(),
    };
    format!("<p class=\"flash\">{text}</p>")
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

/// `GET /console/catalog?q=&archived=`: search by name or id.
pub async fn catalog(
    State(app): State<AppState>,
    signed: Signed,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    async {
        let text = q.get("q").map(|s| s.trim().to_owned()).unwrap_or_default();
        let archived = match q.get("archived").map(String::as_str) {
            Some("only") => Some(true),
            Some("all") => None,
            _ => Some(false),
        };
        let found = app
            .store
            .read()
            .await?
            .search_courses(&text, archived, 200)
            .await?;
        let rows: Vec<_> = found
            .iter()
            .map(|c| {
                (
                    if c.archived { "muted".into() } else { String::new() },
                    vec![esc(&c.integration_id), esc(&c.external_id), esc(&c.name), esc(&c.kind), if c.archived { "archived".into() } else { "active".into() }],
                )
            })
            .collect();
        let sel = |v: &str| if q.get("archived").map(String::as_str).unwrap_or("active") == v { " selected" } else { "" };
        let body = format!(
            "<form method=\"get\"><input name=\"q\" value=\"{}\" placeholder=\"name or id\"> \
             <select name=\"archived\"><option value=\"active\"{}>active</option><option value=\"only\"{}>archived</option><option value=\"all\"{}>all</option></select> \
             <button>Search</button></form><p class=\"muted\">{} shown (at most 200).</p>{}",
            esc(&text),
            sel("active"),
            sel("only"),
            sel("all"),
            found.len(),
            table(&["integration", "id", "name", "kind", "status"], &rows)
        );
        ok(&signed, "Catalog", &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/pending`: parked statements grouped by reason.
pub async fn pending(State(app): State<AppState>, signed: Signed) -> Response {
    async {
        let rows = app.store.read().await?.pending(None, None, 5_000).await?;
        let mut by_reason: BTreeMap<&str, Vec<&store::PendingRow>> = BTreeMap::new();
        for r in &rows {
            by_reason.entry(r.reason.as_str()).or_default().push(r);
        }
        let mut body = format!(
            "<p>{} parked statements (at most 5,000 listed).</p>",
            rows.len()
        );
        for (reason, list) in by_reason {
            body.push_str(&format!("<h2>{} ({})</h2>", esc(reason), list.len()));
            let cells: Vec<_> = list
                .iter()
                .map(|r| {
                    (
                        String::new(),
                        vec![
                            esc(&r.integration_id),
                            esc(&r.detail),
                            format!("<code>{}</code>", esc(&r.statement_id)),
                            when(r.parked_ms),
                        ],
                    )
                })
                .collect();
            body.push_str(&table(
                &["integration", "what was not found", "statement", "parked"],
                &cells,
            ));
        }
        ok(&signed, "Pending statements", &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

fn stats_filter(q: &HashMap<String, String>, limit: i64) -> StatsFilter {
    let opt = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    StatsFilter {
        learner_lms_id: opt("learner"),
        course_external_id: opt("course"),
        limit,
        ..StatsFilter::default()
    }
}

fn stats_json(i: &store::StatsItem) -> serde_json::Value {
    json!({
        "integration": i.row.integration_id,
        "course": i.course_external_id,
        "kind": i.course_kind,
        "learner": i.learner_lms_id,
        "email": i.learner_email,
        "progress": i.row.progress,
        "completed": i.row.completed,
        "result": i.row.result,
        "score": i.row.score,
        "time_spent_s": i.row.time_spent_ms.map(|ms| ms / 1000),
        "last_activity": i.row.last_activity_ms.map(when),
    })
}

const STATS_COLUMNS: [&str; 11] = [
    "integration",
    "course",
    "kind",
    "learner",
    "email",
    "progress",
    "completed",
    "result",
    "score",
    "time_spent_s",
    "last_activity",
];

/// `GET /console/statistics?learner=&course=`.
pub async fn statistics(
    State(app): State<AppState>,
    signed: Signed,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    async {
        let items = app.store.read().await?.list_stats(&stats_filter(&q, 200)).await?;
        let rows: Vec<_> = items
            .iter()
            .map(|i| {
                let j = stats_json(i);
                (String::new(), STATS_COLUMNS.iter().map(|c| esc(&crate::listing::csv_field(&j[*c]))).collect())
            })
            .collect();
        let v = |k: &str| esc(q.get(k).map(String::as_str).unwrap_or_default());
        let csv = format!(
            "/console/statistics.csv?learner={}&course={}",
            url::form_urlencoded::byte_serialize(q.get("learner").map(String::as_bytes).unwrap_or_default()).collect::<String>(),
            url::form_urlencoded::byte_serialize(q.get("course").map(String::as_bytes).unwrap_or_default()).collect::<String>(),
        );
        let body = format!(
            "<form method=\"get\"><input name=\"learner\" value=\"{}\" placeholder=\"LMS user id\"> <input name=\"course\" value=\"{}\" placeholder=\"course id\"> <button>Search</button></form>\
             <p><a href=\"{}\">Export CSV</a> · {} shown (at most 200; the CSV has up to 10,000).</p>{}",
            v("learner"),
            v("course"),
            esc(&csv),
            items.len(),
            table(&STATS_COLUMNS, &rows)
        );
        ok(&signed, "Learner statistics", &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/statistics.csv`: the same search as CSV.
pub async fn statistics_csv(
    State(app): State<AppState>,
    _signed: Signed,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    async {
        let items = app
            .store
            .read()
            .await?
            .list_stats(&stats_filter(&q, 10_000))
            .await?;
        let mut out = STATS_COLUMNS.join(",");
        out.push('\n');
        for i in &items {
            let j = stats_json(i);
            out.push_str(
                &STATS_COLUMNS
                    .iter()
                    .map(|c| crate::listing::csv_field(&j[*c]))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        Ok::<_, ApiError>(
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"statistics.csv\"",
                    ),
                ],
                out,
            )
                .into_response(),
        )
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// Registrations whose result is older than this are highlighted.
const STALE_AFTER_MS: i64 = 24 * 3_600_000;

/// `GET /console/scorm`: registrations, stale ones highlighted, each with a refresh button.
pub async fn scorm(
    State(app): State<AppState>,
    signed: Signed,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    async {
        let now = now_ms();
        let regs = app.store.read().await?.registration_list(500).await?;
        let rows: Vec<_> = regs
            .iter()
            .map(|r| {
                let stale = r.remote_created_ms.is_some() && r.result_ms.is_none_or(|t| t < now - STALE_AFTER_MS);
                (
                    if stale { "stale".into() } else { String::new() },
                    vec![
                        format!("<code>{}</code>", esc(&r.registration_id)),
                        esc(&r.scorm_course_id),
                        esc(&r.learner_ref),
                        r.remote_created_ms.map(when).unwrap_or_else(|| "assigned, not launched".into()),
                        r.result_ms.map(when).unwrap_or_else(|| "none".into()) + if stale { " (stale)" } else { "" },
                        format!(
                            "<form class=\"inline\" method=\"post\" action=\"/console/scorm/{}/refresh\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Refresh</button></form>",
                            esc(&r.registration_id),
                            esc(&signed.csrf)
                        ),
                    ],
                )
            })
            .collect();
        let body = format!(
            "{}<p>Highlighted: known to SCORM Cloud and without a result for 24 hours.</p>{}",
            notice(&q),
            table(&["registration", "course", "learner", "created at SCORM Cloud", "latest result", ""], &rows)
        );
        ok(&signed, "SCORM registrations", &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/credentials`: webhook credentials, revocable; secrets are never shown.
pub async fn credentials(
    State(app): State<AppState>,
    signed: Signed,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    async {
        let creds = app.store.read().await?.credential_list().await?;
        let rows: Vec<_> = creds
            .iter()
            .map(|c| {
                let action = if c.revoked_ms.is_none() {
                    format!(
                        "<form class=\"inline\" method=\"post\" action=\"/console/credentials/{}/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Revoke</button></form>",
                        esc(&c.client_id),
                        esc(&signed.csrf)
                    )
                } else {
                    String::new()
                };
                (
                    if c.revoked_ms.is_some() { "muted".into() } else { String::new() },
                    vec![
                        format!("<code>{}</code>", esc(&c.client_id)),
                        esc(&c.integration_id),
                        when(c.created_ms),
                        c.revoked_ms.map(|t| format!("revoked {}", when(t))).unwrap_or_else(|| "active".into()),
                        action,
                    ],
                )
            })
            .collect();
        let body = format!(
            "{}<p>A secret is shown once, when it is created (<code>coursebridge-ingest credentials create</code>), and never again.</p>{}",
            notice(&q),
            table(&["client id", "integration", "created", "status", ""], &rows)
        );
        ok(&signed, "Credentials", &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/webhooks`: subscriptions and the failing ones' last attempts.
pub async fn webhooks(State(app): State<AppState>, signed: Signed) -> Response {
    async {
        let mut tx = app.store.read().await?;
        let hooks = tx.webhooks().await?;
        let mut body = String::new();
        let rows: Vec<_> = hooks
            .iter()
            .map(|w| {
                let failing = w.failures > 0 || !w.enabled;
                (
                    if failing { "bad".into() } else { String::new() },
                    vec![
                        format!("<code>{}</code>", esc(&w.id)),
                        esc(&w.url),
                        esc(&w.event_types.join(", ")),
                        if w.enabled {
                            "enabled".into()
                        } else {
                            format!(
                                "disabled: {}",
                                esc(w.disabled_reason.as_deref().unwrap_or(""))
                            )
                        },
                        w.delivered_through.to_string(),
                        if w.failures > 0 {
                            format!(
                                "{} since {}",
                                w.failures,
                                w.failing_since_ms.map(when).unwrap_or_default()
                            )
                        } else {
                            "0".into()
                        },
                    ],
                )
            })
            .collect();
        body.push_str(&table(
            &[
                "id",
                "url",
                "events",
                "status",
                "delivered through",
                "failures",
            ],
            &rows,
        ));
        for w in hooks.iter().filter(|w| w.failures > 0) {
            let attempts = tx.webhook_attempts(&w.id, 10).await?;
            body.push_str(&format!("<h2>Last attempts of {}</h2>", esc(&w.id)));
            let cells: Vec<_> = attempts
                .iter()
                .map(|a| {
                    (
                        String::new(),
                        vec![
                            when(a.at_ms),
                            a.seq.to_string(),
                            a.status
                                .map(|s| s.to_string())
                                .unwrap_or_else(|| "no answer".into()),
                            format!("{} ms", a.latency_ms),
                            esc(a.error.as_deref().unwrap_or("")),
                        ],
                    )
                })
                .collect();
            body.push_str(&table(
                &["at", "event", "status", "latency", "error"],
                &cells,
            ));
        }
        ok(&signed, "Webhooks", &body)
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /console/audit`: the newest 200 entries.
pub async fn audit(State(app): State<AppState>, signed: Signed) -> Response {
    async {
        let log = app.store.read().await?.audit_log(200).await?;
        let rows: Vec<_> = log
            .iter()
            .map(|e| {
                (
                    String::new(),
                    vec![
                        when(e.at_ms),
                        esc(&e.username),
                        esc(&e.action),
                        esc(&e.detail),
                        esc(&e.remote),
                    ],
                )
            })
            .collect();
        ok(
            &signed,
            "Audit log",
            &table(&["at", "operator", "action", "detail", "from"], &rows),
        )
    }
    .await
    .unwrap_or_else(IntoResponse::into_response)
}
