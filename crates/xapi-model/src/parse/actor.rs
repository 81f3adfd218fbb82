//! Actors: Agents, Groups and their inverse functional identifiers.

use serde_json::Value;

use super::values::{Obj, array, finish, iri, irl, object, object_type, opt, req, string};
use crate::error::{Ctx, Seg};
use crate::model::{Account, Actor, Agent, Group, Ifi};
use crate::syntax;

/// Reads the four identifiers present in `m` (each validated).
/// Returns the valid ones and how many were present.
fn ifis(cx: &mut Ctx, m: &mut Obj) -> (Vec<Ifi>, Vec<&'static str>) {
    let mut found = Vec::new();
    let mut present = Vec::new();
    for key in ["mbox", "mbox_sha1sum", "openid", "account"] {
        if !m.contains_key(key) {
            continue;
        }
        present.push(key);
        let ifi = match key {
            "mbox" => opt(cx, m, key, |cx, v| {
                let s = string(cx, v)?;
                if syntax::is_mailto_iri(&s) {
                    Some(Ifi::Mbox(s))
                } else {
                    cx.error("must be a mailto: IRI");
                    None
                }
            }),
            "mbox_sha1sum" => opt(cx, m, key, |cx, v| {
                let s = string(cx, v)?;
                if syntax::is_sha1_hex(&s) {
                    Some(Ifi::MboxSha1Sum(s))
                } else {
                    cx.error("must be the 40-digit hex SHA-1 of a mailto: IRI");
                    None
                }
            }),
            "openid" => opt(cx, m, key, |cx, v| iri(cx, v).map(Ifi::OpenId)),
            _ => opt(cx, m, key, |cx, v| account(cx, v).map(Ifi::Account)),
        };
        found.extend(ifi);
    }
    (found, present)
}

fn account(cx: &mut Ctx, v: Value) -> Option<Account> {
    let mut m = object(cx, v)?;
    let home_page = req(cx, &mut m, "homePage", irl);
    let name = req(cx, &mut m, "name", string);
    finish(cx, m);
    Some(Account {
        home_page: home_page?,
        name: name?,
    })
}

const IFI_RULE: &str = "identifier (mbox, mbox_sha1sum, openid or account)";

pub(super) fn agent_fields(cx: &mut Ctx, mut m: Obj) -> Option<Agent> {
    let name = opt(cx, &mut m, "name", string);
    let (mut found, present) = ifis(cx, &mut m);
    finish(cx, m);
    match present.len() {
        0 => {
            cx.error(format!(
                "an Agent must have exactly one {IFI_RULE}, found none"
            ));
            None
        }
        1 => Some(Agent {
            name,
            ifi: found.pop()?,
        }),
        _ => {
            cx.error(format!(
                "an Agent must have exactly one {IFI_RULE}, found {}: {}",
                present.len(),
                present.join(", ")
            ));
            None
        }
    }
}

/// An Agent; `objectType` is optional and must be `Agent` when present.
pub(super) fn agent(cx: &mut Ctx, v: Value) -> Option<Agent> {
    let mut m = object(cx, v)?;
    if let Some(t) = object_type(cx, &mut m) {
        if t != "Agent" {
            cx.error_at("objectType", "must be \"Agent\"");
            return None;
        }
    }
    agent_fields(cx, m)
}

pub(super) fn group_fields(cx: &mut Ctx, mut m: Obj) -> Option<Group> {
    let name = opt(cx, &mut m, "name", string);
    let (mut found, present) = ifis(cx, &mut m);
    let member_present = m.contains_key("member");
    let member = opt(cx, &mut m, "member", |cx, v| {
        let items = array(cx, v)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let a = cx.at(Seg::Index(i), |cx| {
                if let Value::Object(o) = &item {
                    if o.get("objectType").and_then(Value::as_str) == Some("Group") {
                        cx.error("a Group's members must be Agents, not Groups");
                        return None;
                    }
                }
                agent(cx, item)
            });
            match a {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    });
    finish(cx, m);
    match present.len() {
        0 => {
            if !member_present {
                cx.error_at("member", "is required in an anonymous Group");
                return None;
            }
            Some(Group {
                name,
                ifi: None,
                member,
            })
        }
        1 => Some(Group {
            name,
            ifi: Some(found.pop()?),
            member,
        }),
        _ => {
            cx.error(format!(
                "an identified Group must have exactly one {IFI_RULE}, found {}: {}",
                present.len(),
                present.join(", ")
            ));
            None
        }
    }
}

/// A Group; `objectType` is required and must be `Group`.
pub(super) fn group(cx: &mut Ctx, v: Value) -> Option<Group> {
    let mut m = object(cx, v)?;
    match object_type(cx, &mut m).as_deref() {
        Some("Group") => group_fields(cx, m),
        Some(_) => {
            cx.error_at("objectType", "must be \"Group\"");
            None
        }
        None => {
            cx.error_at("objectType", "is required and must be \"Group\"");
            None
        }
    }
}

pub(super) fn actor(cx: &mut Ctx, v: Value) -> Option<Actor> {
    let mut m = object(cx, v)?;
    match object_type(cx, &mut m).as_deref() {
        None | Some("Agent") => agent_fields(cx, m).map(Actor::Agent),
        Some("Group") => group_fields(cx, m).map(Actor::Group),
        Some(_) => {
            cx.error_at("objectType", "must be \"Agent\" or \"Group\"");
            None
        }
    }
}

/// The rule a statement's `authority` follows (xAPI Data 2.4.9; IEEE
/// 9274.1.1 keeps it as a "shall").
const AUTHORITY_RULE: &str = "an authority is an Agent, or (3-legged OAuth) an anonymous Group of exactly two Agents, the OAuth consumer and the user (xAPI Data 2.4.9)";

/// A statement's `authority`: an Agent, or an anonymous Group of exactly two
/// Agents. An identified Group, or a Group of fewer or more members, breaks
/// one rule, reported once at `authority` (or its `member`).
pub(super) fn authority(cx: &mut Ctx, v: Value) -> Option<Actor> {
    let before = cx.errors.len();
    let a = actor(cx, v)?;
    // A Group whose members are already refused is not counted again.
    if cx.errors.len() > before {
        return None;
    }
    if let Actor::Group(g) = &a {
        if !g.is_anonymous() {
            cx.error(format!("is an identified Group; {AUTHORITY_RULE}"));
            return None;
        }
        let members = g.member.as_ref().map_or(0, Vec::len);
        if members != 2 {
            cx.error_at(
                "member",
                format!(
                    "has {members} member{}; {AUTHORITY_RULE}",
                    if members == 1 { "" } else { "s" }
                ),
            );
            return None;
        }
    }
    Some(a)
}

/// An Agent or Group at the root of a document (errors are reported at `statement`).
pub(crate) fn actor_at_root(cx: &mut Ctx, v: Value) -> Option<Actor> {
    actor(cx, v)
}
