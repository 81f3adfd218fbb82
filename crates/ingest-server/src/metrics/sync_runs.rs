//! The catalog syncs as `/metrics` shows them: `coursebridge-sync` records
//! its runs in `sync_runs` (another process, maybe another machine), so the
//! ingest server reads that table's summary when scraped
//! ([`SyncRuns::refresh`]: three aggregate queries) and this collector
//! encodes the last reading.

use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use store::SyncRunSummary;

/// The last reading of the `sync_runs` summary.
#[derive(Debug, Default)]
pub struct SyncRuns {
    summary: Mutex<Vec<SyncRunSummary>>,
}

impl SyncRuns {
    /// Reads the summary again; on an error the previous reading stays.
    pub async fn refresh(&self, store: &store::Store) -> Result<(), store::StoreError> {
        let summary = {
            let mut tx = store.read().await?;
            tx.sync_run_summary().await?
        };
        *self.lock() = summary;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SyncRunSummary>> {
        self.summary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Unix milliseconds as seconds.
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

impl Collector for SyncRuns {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let summary = self.lock().clone();
        let runs = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "sync_runs",
            "Finished catalog sync runs (coursebridge-sync, recorded in sync_runs), by integration and outcome (ok, failed).",
            None,
            runs.metric_type(),
        )?;
        for s in &summary {
            for (outcome, n) in &s.finished {
                let labels = [
                    ("integration", s.integration_id.as_str()),
                    ("outcome", outcome.as_str()),
                ];
                ConstCounter::new(u64::try_from(*n).unwrap_or(0))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let gauge = ConstGauge::new(0i64);
        let mut family = encoder.encode_descriptor(
            "sync_runs_running",
            "Sync runs started and not finished, by integration (a run in progress, or the record of a crashed one).",
            None,
            gauge.metric_type(),
        )?;
        for s in &summary {
            ConstGauge::new(s.running)
                .encode(family.encode_family(&[("integration", s.integration_id.as_str())])?)?;
        }
        type Pick = fn(&SyncRunSummary) -> Option<f64>;
        let gauges: [(&str, &str, Pick); 3] = [
            (
                "sync_last_run_duration",
                "How long the latest finished sync run of the integration took.",
                |s| s.last.as_ref().map(|(start, end, _)| seconds(end - start)),
            ),
            (
                "sync_last_run_timestamp",
                "When the latest finished sync run of the integration finished (Unix time).",
                |s| s.last.as_ref().map(|(_, end, _)| seconds(*end)),
            ),
            (
                "sync_last_success_timestamp",
                "When the latest successful (ok) sync run of the integration finished (Unix time).",
                |s| s.last_ok_ms.map(seconds),
            ),
        ];
        for (name, help, pick) in gauges {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                Some(&Unit::Seconds),
                ConstGauge::new(0.0f64).metric_type(),
            )?;
            for s in &summary {
                if let Some(v) = pick(s) {
                    ConstGauge::new(v).encode(
                        family.encode_family(&[("integration", s.integration_id.as_str())])?,
                    )?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "sync_last_run_ok",
            "1 when the latest finished sync run of the integration ended ok, 0 when it failed.",
            None,
            gauge.metric_type(),
        )?;
        for s in &summary {
            if let Some((_, _, outcome)) = &s.last {
                ConstGauge::new(i64::from(outcome == "ok"))
                    .encode(family.encode_family(&[("integration", s.integration_id.as_str())])?)?;
            }
        }
        Ok(())
    }
}
