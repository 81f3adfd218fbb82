//! A statement as the receiving side completes it ([`prepare`]), stamped
//! again as it enters the writer's queue ([`Prepared::restamp`]), and what
//! storing it needs under an integration's rules ([`Prepared::derive`]).

use std::borrow::Cow;

use stats_rules::{Event, EventKind, TargetKind};
use time::OffsetDateTime;
use uuid::Uuid;
use xapi_model::{Actor, ApiVersion, LearnerKey, Statement};

use crate::{IntegrationRules, PlanError};

/// A validated statement completed by the receiving side (id, stored,
/// authority, version, timestamp), with the JSON it arrived as and its
/// normalized form (computed here, by the request, not by the writer).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub statement: Statement,
    pub raw: String,
    pub canonical: String,
    /// The raw data of its attachments that came with it (multipart/mixed),
    /// stored in the same transaction as the statement.
    pub attachments: Vec<AttachmentData>,
    /// The version of the request it came in, whose rules decide whether
    /// it is the same statement as one stored under its id
    /// (`xapi_model::compare`).
    pub api: ApiVersion,
    /// What [`Prepared::derive`] computed under an integration's rules.
    derived: Option<Derived>,
    /// The statement came without a timestamp: its timestamp is `stored`
    /// (xAPI), and moves with it ([`Prepared::restamp`]).
    timestamp_is_stored: bool,
    /// Where `stored` (and a timestamp that is `stored`) stand in
    /// `canonical`; `None` if they could not be located (then
    /// [`Prepared::restamp`] serializes again).
    stamps: Option<Stamps>,
}

/// Byte ranges of RFC 3339 texts (inside their quotes) in a canonical form.
#[derive(Debug, Clone, PartialEq)]
struct Stamps {
    stored: std::ops::Range<usize>,
    timestamp: Option<std::ops::Range<usize>>,
}

/// What `serde_json` writes between a statement's `stored` value and its
/// end: the fields after `stored`, in the order of [`Statement`]'s fields.
#[derive(serde::Serialize)]
struct AfterStored<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    authority: Option<&'a xapi_model::Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<&'a Vec<xapi_model::Attachment>>,
}

/// Locates `stored` (and, when `timestamp_is_stored`, the timestamp just
/// before it) in `canonical`, `serde_json::to_string(s)`: from the end,
/// after measuring what follows `stored`, so that no text a sender wrote
/// (an extension, a language map) can be taken for it. Every range found is
/// checked against the text it must hold.
fn locate_stamps(s: &Statement, canonical: &str, timestamp_is_stored: bool) -> Option<Stamps> {
    let text = s.stored?.to_rfc3339();
    let after = serde_json::to_string(&AfterStored {
        authority: s.authority.as_ref(),
        version: s.version.as_ref(),
        attachments: s.attachments.as_ref(),
    })
    .ok()?;
    // `{}` leaves the closing brace; `{"authority":…}` is written as `,"authority":…}`.
    let tail = if after.len() == 2 { 1 } else { after.len() };
    let end = canonical.len().checked_sub(tail + 1)?;
    let stored = end.checked_sub(text.len())?..end;
    let found = |r: &std::ops::Range<usize>, key: &str| {
        canonical.get(r.clone()) == Some(text.as_str())
            && canonical
                .get(..r.start)
                .is_some_and(|head| head.ends_with(key))
            && canonical.get(r.end..r.end + 1) == Some("\"")
    };
    if !found(&stored, "\"stored\":\"") {
        return None;
    }
    let timestamp = if timestamp_is_stored {
        // `"timestamp":"T","stored":"S"`: T ends 12 bytes before S starts.
        let end = stored.start.checked_sub(12)?;
        let r = end.checked_sub(text.len())?..end;
        if !found(&r, "\"timestamp\":\"") {
            return None;
        }
        Some(r)
    } else {
        None
    };
    Some(Stamps { stored, timestamp })
}

/// What storing a statement needs that depends only on the statement and on
/// its integration's rules: its actor's identity key, the columns it is
/// filtered by, and — when it is about an activity — how it is matched to a
/// course and the learning event it gives. The request computes it
/// ([`Prepared::derive`]), so that the one writer does not; the writer
/// computes it only for a statement not derived under its integration's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// The integration whose rules these are.
    pub integration_id: String,
    pub actor_key: Option<String>,
    pub registration: Option<String>,
    pub voids: Option<String>,
    pub broad: bool,
    /// None when the statement is not about an activity, or voids another.
    pub learning: Option<Learning>,
}

/// How a statement about an activity is matched and what it gives once it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Learning {
    pub kind: TargetKind,
    /// The activity id, normalized by the integration's rules.
    pub activity: String,
    pub event: Event,
    pub event_json: String,
}

/// What storing `s` needs under `rules` (see [`Derived`]).
pub fn derive(rules: &IntegrationRules, s: &Statement) -> Result<Derived, PlanError> {
    let learning = match s.activity().filter(|_| !s.is_voiding()) {
        None => None,
        Some(activity) => {
            let kind = rules.stats.provider.target_kind(s);
            let event = statement_event(rules, s, kind)?;
            let event_json = event_json(&event)?;
            Some(Learning {
                kind,
                activity: rules.normalize(&activity.id),
                event,
                event_json,
            })
        }
    };
    Ok(Derived {
        integration_id: rules.integration_id.clone(),
        actor_key: LearnerKey::from_actor(&s.actor).map(|k| k.to_string()),
        registration: s
            .context
            .as_ref()
            .and_then(|c| c.registration)
            .map(|r| r.to_string()),
        voids: s.voided_target().map(|t| t.to_string()),
        broad: !xapi_model::format::is_plain(s),
        learning,
    })
}

impl Prepared {
    /// Computes, under the rules of the integration it is sent to, what
    /// storing it needs (its identity key, its course matching, its learning
    /// event), so that the writer finds it done. Call it last: the writer
    /// trusts it for this statement and these rules' integration.
    pub fn derive(mut self, rules: &IntegrationRules) -> Result<Self, PlanError> {
        self.derived = Some(derive(rules, &self.statement)?);
        Ok(self)
    }

    /// What [`Prepared::derive`] computed for `rules`' integration, or
    /// computed now.
    pub fn derived_for(&self, rules: &IntegrationRules) -> Result<Cow<'_, Derived>, PlanError> {
        match &self.derived {
            Some(d) if d.integration_id == rules.integration_id => Ok(Cow::Borrowed(d)),
            _ => derive(rules, &self.statement).map(Cow::Owned),
        }
    }
}

/// An attachment's raw data, named by the SHA-2 its statement gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentData {
    /// Lower-case hex.
    pub sha2: String,
    pub content_type: String,
    /// Shared by every statement of a request that names the same data.
    pub content: std::sync::Arc<[u8]>,
}

/// Sets what the LRS sets: an id when absent (`new_id`, a fresh random UUID
/// the caller draws), `stored` (now), `authority`, the version, and
/// `timestamp` = `stored` when absent (xAPI §2.4.7/§2.4.8); then serializes
/// the normalized form that is stored and served. `version` is the request's
/// (`1.0.0` or `2.0.0`): a statement without one takes it, and its major
/// version is [`Prepared::api`].
pub fn prepare(
    mut statement: Statement,
    raw: String,
    now: OffsetDateTime,
    new_id: Uuid,
    authority: &Actor,
    version: &str,
) -> Result<Prepared, PlanError> {
    let stored = xapi_model::Timestamp(now);
    statement.id.get_or_insert(new_id);
    statement.stored = Some(stored);
    statement.authority = Some(authority.clone());
    statement.version.get_or_insert_with(|| version.to_owned());
    let timestamp_is_stored = statement.timestamp.is_none();
    statement.timestamp.get_or_insert(stored);
    let canonical =
        serde_json::to_string(&statement).map_err(|e| PlanError::Corrupt(e.to_string()))?;
    let stamps = locate_stamps(&statement, &canonical, timestamp_is_stored);
    Ok(Prepared {
        statement,
        raw,
        canonical,
        attachments: Vec::new(),
        api: if version.starts_with("2.") {
            ApiVersion::V2_0
        } else {
            ApiVersion::V1_0
        },
        derived: None,
        timestamp_is_stored,
        stamps,
    })
}

impl Prepared {
    /// Sets `stored` to `now` (and the timestamp, where the statement came
    /// without one and so took `stored`'s): its canonical form and learning
    /// event as [`prepare`] with `now` would have made them. The server
    /// stamps each batch as it hands it to the writer, so that `stored`
    /// follows the order in which statements are written (docs/ARCHITECTURE.md,
    /// "stored is the order of the log").
    pub fn restamp(&mut self, now: OffsetDateTime) -> Result<(), PlanError> {
        let stored = xapi_model::Timestamp(now);
        self.statement.stored = Some(stored);
        if self.timestamp_is_stored {
            self.statement.timestamp = Some(stored);
        }
        self.stamps = match self.stamps.take() {
            Some(at) => {
                let text = stored.to_rfc3339();
                let old = &self.canonical;
                let mut out = String::with_capacity(old.len() + 2 * text.len());
                let mut from = 0;
                let mut moved = |r: &std::ops::Range<usize>, out: &mut String| {
                    out.push_str(&old[from..r.start]);
                    let start = out.len();
                    out.push_str(&text);
                    from = r.end;
                    start..out.len()
                };
                let timestamp = at.timestamp.as_ref().map(|r| moved(r, &mut out));
                let stored = moved(&at.stored, &mut out);
                out.push_str(&old[from..]);
                self.canonical = out;
                Some(Stamps { stored, timestamp })
            }
            None => {
                self.canonical = serde_json::to_string(&self.statement)
                    .map_err(|e| PlanError::Corrupt(e.to_string()))?;
                locate_stamps(&self.statement, &self.canonical, self.timestamp_is_stored)
            }
        };
        if let Some(learning) = self.derived.as_mut().and_then(|d| d.learning.as_mut()) {
            learning.event.stored = now;
            if self.timestamp_is_stored {
                learning.event.at = now;
            }
            learning.event_json = event_json(&learning.event)?;
        }
        Ok(())
    }
}

/// The learning event a statement about an activity gives (its facts under
/// the integration's provider rules, for a target of `kind`).
pub fn statement_event(
    rules: &IntegrationRules,
    s: &Statement,
    kind: TargetKind,
) -> Result<Event, PlanError> {
    let (Some(id), Some(at), Some(stored)) = (s.id, s.timestamp, s.stored) else {
        return Err(PlanError::Corrupt(
            "a prepared statement lacks id, timestamp or stored".into(),
        ));
    };
    Ok(Event {
        id,
        at: at.0,
        stored: stored.0,
        kind: EventKind::Statement(rules.stats.provider.statement_facts(s, kind)),
    })
}

/// A learning event's JSON, as stored.
pub fn event_json(event: &Event) -> Result<String, PlanError> {
    event
        .to_json()
        .map_err(|e| PlanError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod restamp_tests {
    use super::*;
    use proptest::prelude::*;
    use xapi_model::{Account, Agent, Ifi};

    fn fixtures() -> Vec<(String, Statement)> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/statements/valid"
        );
        let mut out: Vec<(String, Statement)> = std::fs::read_dir(dir)
            .expect("the valid statement fixtures")
            .map(|e| e.expect("a fixture").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let bytes = std::fs::read(&p).expect("a readable fixture");
                let s = xapi_model::parse_statement(&bytes).expect("a valid fixture");
                (p.display().to_string(), s)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(out.len() >= 10, "fixtures missing: {}", out.len());
        out
    }

    fn rules(provider: &str) -> IntegrationRules {
        IntegrationRules::from_settings("i", provider, &serde_json::json!({})).expect("rules")
    }

    fn authority() -> Actor {
        Actor::Agent(Agent {
            name: None,
            ifi: Ifi::Account(Account {
                home_page: "https://lms.example.com".into(),
                name: "wh_client".into(),
            }),
        })
    }

    fn at(nanos: i128) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(nanos).expect("in range")
    }

    fn prepared(s: &Statement, now: OffsetDateTime, rules: &IntegrationRules) -> Prepared {
        prepare(
            s.clone(),
            "{}".into(),
            now,
            Uuid::nil(),
            &authority(),
            "1.0.0",
        )
        .and_then(|p| p.derive(rules))
        .expect("prepared")
    }

    /// Restamped at `t2`, a statement prepared at `t1` is what preparing it
    /// at `t2` gives: canonical text, statement, derived event and its JSON,
    /// and where its stamps stand.
    fn assert_restamp_equals_prepare(
        s: &Statement,
        t1: OffsetDateTime,
        t2: OffsetDateTime,
        rules: &IntegrationRules,
    ) {
        let mut moved = prepared(s, t1, rules);
        assert!(
            moved.stamps.is_some(),
            "stamps not located in {}",
            moved.canonical
        );
        moved.restamp(t2).expect("restamp");
        let fresh = prepared(s, t2, rules);
        assert_eq!(moved.canonical, fresh.canonical);
        assert_eq!(moved.statement, fresh.statement);
        assert_eq!(moved.derived, fresh.derived);
        assert_eq!(moved.timestamp_is_stored, fresh.timestamp_is_stored);
        assert_eq!(moved.stamps, fresh.stamps);
    }

    // 2000-01-01 … 2100-01-01, in nanoseconds.
    const FROM: i128 = 946_684_800_000_000_000;
    const TO: i128 = 4_102_444_800_000_000_000;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn restamping_equals_preparing_at_the_new_time(
            pick in 0usize..64,
            drop_timestamp in any::<bool>(),
            udemy in any::<bool>(),
            t1 in FROM..TO,
            t2 in FROM..TO,
            whole_ms in any::<bool>(),
        ) {
            let all = fixtures();
            let (_, mut s) = all[pick % all.len()].clone();
            // A fixed id: `prepare` would give each call its own.
            s.id.get_or_insert(Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef));
            if drop_timestamp {
                s.timestamp = None;
            }
            // Texts of other lengths: whole milliseconds drop the fraction's zeros.
            let t2 = if whole_ms { t2 - t2 % 1_000_000 } else { t2 };
            let rules = rules(if udemy { "udemy-business" } else { "opensesame" });
            assert_restamp_equals_prepare(&s, at(t1), at(t2), &rules);
        }
    }

    /// The stamp's own text elsewhere in the statement — in an extension
    /// before `stored`, in an attachment's display after it — is the
    /// sender's and stays: only `stored` (and a timestamp that is `stored`)
    /// move.
    #[test]
    fn restamping_moves_only_the_stamps_whatever_the_statement_holds() {
        let t1 = at(1_733_400_000_123_456_789);
        let t2 = at(1_733_400_000_987_654_321);
        let text = xapi_model::Timestamp(t1).to_rfc3339();
        let rules = rules("udemy-business");
        let all = fixtures();
        let with_attachment = all
            .iter()
            .find(|(name, _)| name.contains("attachment"))
            .expect("the attachment fixture");
        let plain = all
            .iter()
            .find(|(name, _)| name.contains("udemy-course-progressed-mbox"))
            .expect("the Udemy progress fixture");
        for (_, base) in [with_attachment, plain] {
            let mut v = serde_json::to_value(base).expect("json");
            v["id"] = serde_json::json!("0123e567-89ab-4def-8123-456789abcdef");
            v.as_object_mut().expect("object").remove("timestamp");
            v["result"]["extensions"] = serde_json::json!({
                "https://x.example.com/stamp": {"stored": text, "timestamp": text}
            });
            if let Some(list) = v.get_mut("attachments").and_then(|a| a.as_array_mut()) {
                for a in list {
                    a["display"] = serde_json::json!({"en-US": text});
                }
            }
            let s = xapi_model::statement_from_value(v).expect("still valid");
            let mut moved = prepared(&s, t1, &rules);
            assert_eq!(
                moved.canonical.matches(text.as_str()).count(),
                if s.attachments.is_some() { 5 } else { 4 }
            );
            moved.restamp(t2).expect("restamp");
            assert_eq!(
                moved.canonical.matches(text.as_str()).count(),
                if s.attachments.is_some() { 3 } else { 2 }
            );
            assert_restamp_equals_prepare(&s, t1, t2, &rules);
        }
    }
}
