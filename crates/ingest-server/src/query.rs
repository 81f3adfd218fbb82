//! The statements list of `GET /xapi/statements`: the filters with the
//! meaning xAPI 1.0.3 gives them (2.1.3), on top of the store's columns.
//!
//! A *plain* statement (`xapi_model::format::is_plain`: an Agent acting on
//! an Activity, no instructor, team or context activities — every provider
//! statement) is filtered exactly by the columns and their indexes. The
//! others are marked broad when stored (schema v10) and read through their
//! own index — at most `limits.scan_window` per page, in chunks, until more
//! than a page matched — and each is tested with [`Criteria::matches`],
//! following StatementRefs to the statements they target. The page is the union of both, cut where the window ended; `more`
//! then continues from there, so a page may hold fewer than `limit`
//! statements (which xAPI allows) but never skips one. The one filter that
//! must read every statement is `related_agents` with an account agent: an
//! authority is an account, and every statement has one.

use std::collections::{BTreeMap, HashMap};

use store::{StatementFilter, StoredStatement, Tx};
use xapi_model::format::{Criteria, ref_target};
use xapi_model::{Ifi, LearnerKey};

use crate::error::ApiError;

/// The fewest candidates read at a time.
const MIN_CHUNK: i64 = 64;

/// How many StatementRefs are followed from one statement.
const MAX_REF_DEPTH: usize = 10;

/// One page of the list, and where the next starts (`seq`, in the listing's
/// direction), if anything may follow.
#[derive(Debug)]
pub struct Page {
    /// The statements of the page, in the listing's order.
    pub rows: Vec<StoredStatement>,
    /// The `seq` the next page starts from; `None` when nothing follows.
    pub next: Option<i64>,
}

/// The query's filters: `base` carries the integration, the time bounds, the
/// cursor and the direction; `criteria` the filters that look into a
/// statement; `agent_ifi` the `agent` parameter's identifier; `window` how
/// many statements are looked at one by one (at least 1).
pub async fn page(
    tx: &mut Tx<'_>,
    base: &StatementFilter,
    criteria: &Criteria,
    agent_ifi: Option<&Ifi>,
    limit: i64,
    window: i64,
) -> Result<Page, ApiError> {
    let window = window.max(1);
    let limit_n = usize::try_from(limit).unwrap_or(usize::MAX);
    if criteria.is_empty() {
        let mut rows = tx
            .statements(&StatementFilter {
                limit: limit + 1,
                ..base.clone()
            })
            .await?;
        let next = cut(&mut rows, limit_n);
        return Ok(Page { rows, next });
    }
    let direct = tx
        .statements(&StatementFilter {
            actor_key: criteria.agent.as_ref().map(LearnerKey::to_string),
            verb: criteria.verb.clone(),
            activity_id: criteria.activity.clone(),
            registration: criteria.registration.map(|r| r.to_string()),
            limit: limit + 1,
            ..base.clone()
        })
        .await?;
    let every_statement = criteria.related_agents && matches!(agent_ifi, Some(Ifi::Account(_)));
    let integration = base.integration_id.as_deref();
    let mut targets: HashMap<String, bool> = HashMap::new();
    let mut found: BTreeMap<i64, StoredStatement> =
        direct.into_iter().map(|r| (r.seq, r)).collect();
    // The candidates, read in chunks up to the window, tested one by one.
    // Reading stops early once more than a page of them matched: the page
    // then ends before the next one (the cut below), wherever the rest
    // would have fallen. Otherwise, a window read to its end without
    // reaching the log's end is the horizon: nothing past it is known.
    let mut horizon = None;
    let (mut read, mut matched, mut cursor) = (0i64, 0usize, base.cursor);
    'scan: while read < window {
        let want = (window - read).min((limit + 1).max(MIN_CHUNK));
        let chunk = tx
            .statements(&StatementFilter {
                broad: !every_statement,
                limit: want,
                cursor,
                ..base.clone()
            })
            .await?;
        read += chunk.len() as i64;
        let last = chunk.last().map(|r| r.seq);
        let exhausted = (chunk.len() as i64) < want;
        for c in chunk {
            if found.contains_key(&c.seq) {
                continue;
            }
            if matches(tx, integration, criteria, &c, &mut targets).await? {
                found.insert(c.seq, c);
                matched += 1;
                if matched > limit_n {
                    break 'scan;
                }
            }
        }
        if exhausted {
            break;
        }
        cursor = last;
        if read >= window {
            horizon = last;
        }
    }
    let mut rows: Vec<StoredStatement> = if base.ascending {
        found.into_values().collect()
    } else {
        found.into_values().rev().collect()
    };
    if let Some(h) = horizon {
        // Past the window the broad statements are not known yet.
        rows.retain(|r| {
            if base.ascending {
                r.seq <= h
            } else {
                r.seq >= h
            }
        });
    }
    let next = match cut(&mut rows, limit_n) {
        Some(n) => Some(n),
        None => horizon,
    };
    Ok(Page { rows, next })
}

/// Keeps the first `limit` rows; the last kept row's `seq` if there were more.
fn cut(rows: &mut Vec<StoredStatement>, limit: usize) -> Option<i64> {
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| r.seq)
    } else {
        None
    }
}

/// Whether a stored statement meets the criteria itself or through the
/// statements it targets (each target's answer kept in `targets`).
async fn matches(
    tx: &mut Tx<'_>,
    integration: Option<&str>,
    criteria: &Criteria,
    row: &StoredStatement,
    targets: &mut HashMap<String, bool>,
) -> Result<bool, ApiError> {
    let mut s = parse_stored(row)?;
    let mut chain = Vec::new();
    let mut answer = false;
    for _ in 0..=MAX_REF_DEPTH {
        if criteria.matches(&s) {
            answer = true;
            break;
        }
        let Some(target) = ref_target(&s).map(|t| t.to_string()) else {
            break;
        };
        if let Some(&known) = targets.get(&target) {
            answer = known;
            break;
        }
        chain.push(target.clone());
        // A target of another integration, or not stored, matches nothing.
        match tx
            .statement(&target)
            .await?
            .filter(|t| integration.is_none_or(|i| t.integration_id == i))
        {
            Some(t) => s = parse_stored(&t)?,
            None => break,
        }
    }
    for t in chain {
        targets.insert(t, answer);
    }
    Ok(answer)
}

/// A stored statement parsed again (it was valid when stored).
pub(crate) fn parse_stored(row: &StoredStatement) -> Result<xapi_model::Statement, ApiError> {
    xapi_model::parse_statement(row.canonical.as_bytes()).map_err(|e| {
        ApiError::internal(format!(
            "stored statement {} does not parse again: {e}",
            row.id
        ))
    })
}
