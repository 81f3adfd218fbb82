//! The console's list pages (GET): the catalog, parked statements,
//! learner statistics (and their CSV), SCORM registrations, credentials,
//! webhooks and the audit log; every value escaped through `html`.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use store::StatsFilter;

use super::auth::Signed;
use super::html::{esc, table, when};
use super::pages::ok;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

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

/// `GET /console/catalog?q=&archived=`: search by name or id.
pub async fn catalog(
    State(app): State<AppState>,
    signed: Signed,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    async {
        let text = q.get("q").map(|s| s.trim().to_owned()).unwrap_or_default();
        let (archived, explain) = match q.get("archived").map(String::as_str) {
            Some("only") => (Some(true), String::new()),
            Some("all") => (None, String::new()),
            None | Some("active") => (Some(false), String::new()),
            Some(other) => (
                Some(false),
                format!(
                    "<p class=\"error\">archived: {} is not one of active, only, all; showing active courses.</p>",
                    esc(other)
                ),
            ),
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
            "{explain}<form method=\"get\"><input name=\"q\" value=\"{}\" placeholder=\"name or id\"> \
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
