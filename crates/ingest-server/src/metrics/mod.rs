//! `/metrics`: one [`prometheus_client`] registry with every family the
//! server exposes, in the Prometheus text format 0.0.4. Counters and
//! histograms are updated where things happen (requests, the group writer,
//! webhook delivery, SCORM postbacks); the writer's state (durable, queue
//! depth) is read at each scrape and the sync runs are read from the
//! `sync_runs` table then ([`sync_runs`]). docs/operations.md lists every
//! family.

pub mod sync_runs;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::delivery::DeliveryCounters;

/// The `Content-Type` of `/metrics`.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Request latency buckets, in seconds (those of the hand-written histogram
/// before, in ms: 1 ms … 10 s).
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A request's labels: the route as declared (axum's `MatchedPath`, or
/// `unmatched`: never the raw path, whose values are unbounded), the method
/// and the status class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route as declared, or `unmatched` (never a raw path: the label's
    /// values must stay bounded).
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// The status class (`2xx`, `4xx`, ...).
    pub code: &'static str,
}

/// A SCORM postback's outcome: `accepted` or `refused`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PostbackLabels {
    /// `accepted` or `refused`.
    pub outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The server's metrics (`App::metrics`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Statements stored (`statements_accepted`).
    pub accepted: Counter,
    /// Statements refused as invalid (`statements_rejected`).
    pub rejected: Counter,
    /// Statements received again with the same content (`statements_duplicate`).
    pub duplicate: Counter,
    /// Statements stored but parked; also counted as accepted (`statements_pending`).
    pub pending: Counter,
    /// Statements refused because another statement has their id
    /// (`statements_conflict`).
    pub conflicts: Counter,
    /// Launches recorded (`launches`).
    pub launches: Counter,
    /// Request latency by route, method and status class.
    pub requests: HistogramFamily<RequestLabels>,
    /// SCORM postbacks by outcome.
    pub scorm_postbacks: Family<PostbackLabels, Counter>,
    /// The webhook dispatcher's counters and lag.
    pub webhooks: std::sync::Arc<DeliveryCounters>,
    durable: Gauge,
    queue_depth: Gauge,
    /// The sync runs as last read ([`Metrics::refresh_sync_runs`]).
    sync_runs: std::sync::Arc<sync_runs::SyncRuns>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(&GroupCounters::default())
    }
}

impl Metrics {
    /// Every family registered, the group writers' `groups` among them.
    pub fn new(groups: &GroupCounters) -> Self {
        let mut registry = Registry::with_prefix("coursebridge");
        let durable = Gauge::default();
        registry.register(
            "writes_durable",
            "1 while commits are synced; 0 after a failed sync of the write-ahead log (restart the server)",
            durable.clone(),
        );
        let this = Self {
            accepted: Counter::default(),
            rejected: Counter::default(),
            duplicate: Counter::default(),
            pending: Counter::default(),
            conflicts: Counter::default(),
            launches: Counter::default(),
            requests: Family::new_with_constructor(latency_histogram),
            scorm_postbacks: Family::default(),
            webhooks: std::sync::Arc::default(),
            durable,
            queue_depth: Gauge::default(),
            sync_runs: std::sync::Arc::default(),
            registry: Registry::default(),
        };
        for (name, help, c) in [
            ("statements_accepted", "Statements stored", &this.accepted),
            (
                "statements_rejected",
                "Statements refused as invalid",
                &this.rejected,
            ),
            (
                "statements_duplicate",
                "Statements received again with the same content",
                &this.duplicate,
            ),
            (
                "statements_pending",
                "Statements stored but parked (unknown course or learner); also counted as accepted",
                &this.pending,
            ),
            (
                "statements_conflict",
                "Statements refused: another statement has their id",
                &this.conflicts,
            ),
            ("launches", "Launches recorded", &this.launches),
            (
                "webhook_deliveries",
                "Events a webhook receiver acknowledged (2xx), by this process",
                &this.webhooks.delivered,
            ),
            (
                "webhook_failed_attempts",
                "Webhook attempts that failed (another status, a timeout, a connection error); each is retried",
                &this.webhooks.failed,
            ),
            (
                "webhook_subscriptions_disabled",
                "Webhook subscriptions disabled by this process (410 Gone, the retry window over, behind retention)",
                &this.webhooks.disabled,
            ),
            (
                "void_repair_failures",
                "Voiding checks that failed (PostgreSQL, after a group's commit or at start): some voided statements may still count until the next start or `coursebridge-ingest replay`; alert on it",
                &groups.void_repair_failures,
            ),
            (
                "write_groups",
                "Group transactions committed by the statement writers (concurrent requests committed together)",
                &groups.groups,
            ),
            (
                "write_group_requests",
                "Requests in the committed groups",
                &groups.requests,
            ),
            (
                "write_group_statements",
                "Statements in the committed groups' requests",
                &groups.statements,
            ),
            (
                "log_syncs",
                "Syncs of the SQLite write-ahead log before answering (each covers every group committed before it)",
                &groups.log_syncs,
            ),
        ] {
            registry.register(name, help, c.clone());
        }
        registry.register(
            "write_group_size_requests",
            "Requests per committed group",
            groups.size_requests.clone(),
        );
        registry.register(
            "write_group_size_statements",
            "Statements per committed group",
            groups.size_statements.clone(),
        );
        registry.register(
            "write_queue_depth",
            "Jobs (statement batches, document writes) waiting in the group writers' queue",
            this.queue_depth.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Request latency by route (as declared), method and status class",
            Unit::Seconds,
            this.requests.clone(),
        );
        registry.register(
            "scorm_postbacks",
            "SCORM Cloud postbacks received, by outcome (accepted, or refused: bad credentials, unknown registration, malformed)",
            this.scorm_postbacks.clone(),
        );
        registry.register_with_unit(
            "webhook_delivery_lag",
            "From an event's creation to its acknowledged delivery to a webhook receiver",
            Unit::Seconds,
            this.webhooks.lag.clone(),
        );
        registry.register_collector(Box::new(this.sync_runs.clone()));
        Self { registry, ..this }
    }

    /// Records one request's latency.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let code = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        // Any other method is `other`: a client must not add series at will.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "OPTIONS" | "PATCH" => method,
            _ => "other",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                code,
            })
            .observe(seconds);
    }

    /// Counts a SCORM postback.
    pub fn postback(&self, accepted: bool) {
        let outcome = if accepted { "accepted" } else { "refused" };
        self.scorm_postbacks
            .get_or_create(&PostbackLabels { outcome })
            .inc();
    }

    /// Reads the sync runs from the database for the next renders; on an
    /// error the previous reading stays (and the error is returned).
    pub async fn refresh_sync_runs(&self, store: &store::Store) -> Result<(), store::StoreError> {
        self.sync_runs.refresh(store).await
    }

    /// The Prometheus text; `durable`: whether the writer's commits are
    /// still known to reach the disk (false after a failed sync of the
    /// log); `queue_depth`: jobs waiting for the group writers.
    pub fn render(&self, durable: bool, queue_depth: usize) -> String {
        self.durable.set(i64::from(durable));
        self.queue_depth
            .set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing to a String does not fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// What the group writers have done since the server started (`/metrics`):
/// how well concurrent requests are being committed together.
#[derive(Debug, Clone)]
pub struct GroupCounters {
    /// Group transactions committed.
    pub groups: Counter,
    /// Requests in those groups (refused ones included: they were answered
    /// by the group's commit).
    pub requests: Counter,
    /// Statements in those requests.
    pub statements: Counter,
    /// Requests per committed group.
    pub size_requests: Histogram,
    /// Statements per committed group.
    pub size_statements: Histogram,
    /// Syncs of SQLite's log by the `log-sync` thread (each covers every
    /// group committed before it started; 0 on PostgreSQL, whose commits
    /// are synced by the server).
    pub log_syncs: Counter,
    /// Voiding checks that failed (after a PostgreSQL group's commit, or
    /// at start): targets may count until the next start or `replay`.
    pub void_repair_failures: Counter,
}

impl Default for GroupCounters {
    fn default() -> Self {
        Self {
            groups: Counter::default(),
            requests: Counter::default(),
            statements: Counter::default(),
            // 1, 2, 4 … 256 (`writer::MAX_JOBS`).
            size_requests: Histogram::new(exponential_buckets(1.0, 2.0, 9)),
            // 1, 4, 16 … 4096, then +Inf (at most about 5,000).
            size_statements: Histogram::new(exponential_buckets(1.0, 4.0, 7)),
            log_syncs: Counter::default(),
            void_repair_failures: Counter::default(),
        }
    }
}

impl GroupCounters {
    pub(crate) fn committed(&self, requests: usize, statements: usize) {
        self.groups.inc();
        self.requests.inc_by(requests as u64);
        self.statements.inc_by(statements as u64);
        self.size_requests.observe(requests as f64);
        self.size_statements.observe(statements as f64);
    }
}
