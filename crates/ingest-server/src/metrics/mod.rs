//! Prometheus metrics, hand-rolled (a few counters and one histogram), and
//! the group writers' counters ([`GroupCounters`]) they render.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const BUCKETS_MS: [f64; 12] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub duplicate: AtomicU64,
    pub pending: AtomicU64,
    pub conflicts: AtomicU64,
    pub launches: AtomicU64,
    /// The webhook dispatcher's counters.
    pub webhooks: std::sync::Arc<crate::delivery::DeliveryCounters>,
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Metrics {
    pub fn observe_ms(&self, ms: f64) {
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add((ms * 1000.0) as u64, Relaxed);
    }

    /// The Prometheus text; `durable`: whether the writer's commits are still
    /// known to reach the disk (false after a failed sync of the log);
    /// `groups`: what the group writers did.
    pub fn render(&self, durable: bool, groups: &GroupCounters) -> String {
        let mut out = String::new();
        let name = "coursebridge_writes_durable";
        let _ = writeln!(
            out,
            "# HELP {name} 1 while commits are synced; 0 after a failed sync of the write-ahead log (restart the server).\n# TYPE {name} gauge\n{name} {}",
            u8::from(durable)
        );
        for (name, help, v) in [
            (
                "coursebridge_statements_accepted_total",
                "Statements stored.",
                &self.accepted,
            ),
            (
                "coursebridge_statements_rejected_total",
                "Statements refused as invalid.",
                &self.rejected,
            ),
            (
                "coursebridge_statements_duplicate_total",
                "Statements received again with the same content.",
                &self.duplicate,
            ),
            (
                "coursebridge_statements_pending_total",
                "Statements stored but parked (unknown course or learner).",
                &self.pending,
            ),
            (
                "coursebridge_statements_conflict_total",
                "Statements refused: another statement has their id.",
                &self.conflicts,
            ),
            (
                "coursebridge_launches_total",
                "Launches recorded.",
                &self.launches,
            ),
            (
                "coursebridge_webhook_deliveries_total",
                "Events a webhook receiver acknowledged (2xx), by this process.",
                &self.webhooks.delivered,
            ),
            (
                "coursebridge_webhook_failed_attempts_total",
                "Webhook attempts that failed (another status, a timeout, a connection error); each is retried.",
                &self.webhooks.failed,
            ),
            (
                "coursebridge_webhook_subscriptions_disabled_total",
                "Webhook subscriptions disabled by this process (410 Gone, the retry window over, behind retention).",
                &self.webhooks.disabled,
            ),
            (
                "coursebridge_void_repair_failures_total",
                "Voiding checks that failed (PostgreSQL, after a group's commit or at start): some voided statements may still count until the next start or `coursebridge-ingest replay`; alert on it.",
                &groups.void_repair_failures,
            ),
            (
                "coursebridge_write_groups_total",
                "Group transactions committed by the statement writers (concurrent requests committed together).",
                &groups.groups,
            ),
            (
                "coursebridge_write_group_requests_total",
                "Requests in the committed groups.",
                &groups.requests,
            ),
            (
                "coursebridge_write_group_statements_total",
                "Statements in the committed groups' requests.",
                &groups.statements,
            ),
            (
                "coursebridge_log_syncs_total",
                "Syncs of the SQLite write-ahead log before answering (each covers every group committed before it).",
                &groups.log_syncs,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        let name = "coursebridge_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Request latency.\n# TYPE {name} histogram"
        );
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {}",
                b / 1000.0,
                self.buckets[i].load(Relaxed)
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

/// What the group writers have done since the server started (`/metrics`):
/// how well concurrent requests are being committed together.
#[derive(Debug, Default)]
pub struct GroupCounters {
    /// Group transactions committed.
    pub groups: AtomicU64,
    /// Requests in those groups (refused ones included: they were answered
    /// by the group's commit).
    pub requests: AtomicU64,
    /// Statements in those requests.
    pub statements: AtomicU64,
    /// Syncs of SQLite's log by the `log-sync` thread (each covers every
    /// group committed before it started; 0 on PostgreSQL, whose commits
    /// are synced by the server).
    pub log_syncs: AtomicU64,
    /// Voiding checks that failed (after a PostgreSQL group's commit, or
    /// at start): targets may count until the next start or `replay`.
    pub void_repair_failures: AtomicU64,
}

impl GroupCounters {
    pub(crate) fn committed(&self, requests: usize, statements: usize) {
        self.groups.fetch_add(1, Relaxed);
        self.requests.fetch_add(requests as u64, Relaxed);
        self.statements.fetch_add(statements as u64, Relaxed);
    }
}
