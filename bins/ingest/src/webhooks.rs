//! `coursebridge-ingest webhooks …`: the subscriptions, as `/api/v1/webhooks`
//! manages them (`ingest_server::delivery::webhooks::manage`).

use clap::Subcommand;
use ingest_server::config::Config;
use ingest_server::delivery::webhooks::manage::{self, CreateRequest, ManageError};
use serde_json::Value;

use crate::Failure;

#[derive(Subcommand)]
pub enum Action {
    /// Create a subscription; prints its id and its secret (`whsec_…`, shown once).
    Create {
        /// The receiver's URL (https, or http with `[delivery] allow_http`; at a public address unless `[delivery] allow_private_networks`).
        #[arg(long)]
        url: String,
        /// Event types or patterns, comma-separated: course.created, course.*, statistic.updated, *, …
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Only the events of this integration.
        #[arg(long)]
        integration: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Deliver from this sequence number on (default: only new events).
        #[arg(long)]
        from_seq: Option<i64>,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// List the subscriptions and their delivery state (never the secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop delivering to a subscription.
    Disable { id: String },
    /// Deliver to a subscription again, from where it stopped.
    Enable { id: String },
    /// Deliver again from a sequence number on (enables the subscription).
    Redeliver {
        id: String,
        #[arg(long = "from")]
        from_seq: i64,
    },
    /// The latest delivery attempts, newest first.
    Attempts {
        id: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

fn failure(e: ManageError) -> Failure {
    match e {
        ManageError::Invalid(_) | ManageError::BadField(_) | ManageError::NotFound(_) => {
            (2, e.to_string())
        }
        ManageError::Store(_) => (1, e.to_string()),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn run(action: Action, config: &Config) -> Result<(), Failure> {
    let store = crate::open(config).await?;
    match action {
        Action::Create {
            url,
            events,
            integration,
            description,
            from_seq,
            json,
        } => {
            let req = CreateRequest {
                url,
                event_types: events,
                integration,
                description,
                from_seq,
            };
            let created = manage::create(&store, &config.delivery, &req)
                .await
                .map_err(failure)?;
            let id = &created.webhook.id;
            if json {
                let mut body = manage::webhook_json(&created.webhook);
                body["secret"] = Value::String(created.secret);
                println!("{body}");
            } else {
                println!(
                    "id:     {id}\nsecret: {}\n\nThe secret is shown once: the receiver verifies every delivery's signature with it.\nDelivery starts after event {}.",
                    created.secret, created.webhook.delivered_through
                );
            }
        }
        Action::List { json } => {
            let all = store
                .read()
                .await
                .map_err(|e| (1, e.to_string()))?
                .webhooks()
                .await
                .map_err(|e| (1, e.to_string()))?;
            let items: Vec<Value> = all.iter().map(manage::webhook_json).collect();
            if json {
                println!("{}", Value::Array(items));
            } else {
                for w in &items {
                    let state = if w["enabled"] == Value::Bool(true) {
                        "enabled".to_owned()
                    } else {
                        format!("disabled ({})", text(&w["disabled_reason"]))
                    };
                    println!(
                        "{}  {}  {}  types={}  integration={}  delivered_through={}  failures={}  {}",
                        text(&w["id"]),
                        text(&w["url"]),
                        state,
                        text(&w["event_types"]),
                        text(&w["integration"]),
                        text(&w["delivered_through"]),
                        text(&w["failures"]),
                        text(&w["description"]),
                    );
                }
            }
        }
        Action::Disable { id } => {
            manage::set_enabled(&store, &id, false)
                .await
                .map_err(failure)?;
            println!("{id} disabled");
        }
        Action::Enable { id } => {
            let w = manage::set_enabled(&store, &id, true)
                .await
                .map_err(failure)?;
            println!(
                "{id} enabled; delivery goes on after event {}",
                w.delivered_through
            );
        }
        Action::Redeliver { id, from_seq } => {
            manage::redeliver(&store, &id, from_seq)
                .await
                .map_err(failure)?;
            println!("{id}: events from {from_seq} on will be delivered again");
        }
        Action::Attempts { id, limit, json } => {
            if !(1..=10_000).contains(&limit) {
                return Err((2, "--limit: must be between 1 and 10000".into()));
            }
            let list = manage::attempts(&store, &id, limit)
                .await
                .map_err(failure)?;
            let items: Vec<Value> = list.iter().map(manage::attempt_json).collect();
            if json {
                println!("{}", Value::Array(items));
            } else {
                for a in &items {
                    println!(
                        "seq={}  attempt={}  at={}  status={}  latency_ms={}  error={}",
                        text(&a["seq"]),
                        text(&a["attempt"]),
                        text(&a["at"]),
                        text(&a["status"]),
                        text(&a["latency_ms"]),
                        text(&a["error"]),
                    );
                }
            }
        }
    }
    store.close().await;
    Ok(())
}
