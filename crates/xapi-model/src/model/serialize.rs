//! Hand-written serializers for the `objectType`-tagged shapes.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use super::{
    Activity, Actor, Agent, ContextAgent, ContextGroup, Group, Ifi, StatementObject, StatementRef,
};

fn put_ifi<M: SerializeMap>(m: &mut M, ifi: &Ifi) -> Result<(), M::Error> {
    match ifi {
        Ifi::Mbox(v) => m.serialize_entry("mbox", v),
        Ifi::MboxSha1Sum(v) => m.serialize_entry("mbox_sha1sum", v),
        Ifi::OpenId(v) => m.serialize_entry("openid", v),
        Ifi::Account(a) => m.serialize_entry("account", a),
    }
}

impl Serialize for Agent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "Agent")?;
        if let Some(n) = &self.name {
            m.serialize_entry("name", n)?;
        }
        put_ifi(&mut m, &self.ifi)?;
        m.end()
    }
}

impl Serialize for Group {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "Group")?;
        if let Some(n) = &self.name {
            m.serialize_entry("name", n)?;
        }
        if let Some(ifi) = &self.ifi {
            put_ifi(&mut m, ifi)?;
        }
        if let Some(member) = &self.member {
            m.serialize_entry("member", member)?;
        }
        m.end()
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Actor::Agent(a) => a.serialize(s),
            Actor::Group(g) => g.serialize(s),
        }
    }
}

impl Serialize for Activity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "Activity")?;
        m.serialize_entry("id", &self.id)?;
        if let Some(d) = &self.definition {
            m.serialize_entry("definition", d)?;
        }
        m.end()
    }
}

impl Serialize for StatementRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("objectType", "StatementRef")?;
        m.serialize_entry("id", &self.id)?;
        m.end()
    }
}

impl Serialize for StatementObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StatementObject::Activity(a) => a.serialize(s),
            StatementObject::Agent(a) => a.serialize(s),
            StatementObject::Group(g) => g.serialize(s),
            StatementObject::StatementRef(r) => r.serialize(s),
            StatementObject::SubStatement(sub) => {
                // Flatten the sub-statement's fields after objectType.
                let v = serde_json::to_value(sub.as_ref()).map_err(serde::ser::Error::custom)?;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("objectType", "SubStatement")?;
                if let Value::Object(fields) = v {
                    for (k, v) in &fields {
                        m.serialize_entry(k, v)?;
                    }
                }
                m.end()
            }
        }
    }
}

impl Serialize for ContextAgent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "contextAgent")?;
        m.serialize_entry("agent", &self.agent)?;
        if let Some(t) = &self.relevant_types {
            m.serialize_entry("relevantTypes", t)?;
        }
        m.end()
    }
}

impl Serialize for ContextGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("objectType", "contextGroup")?;
        m.serialize_entry("group", &self.group)?;
        if let Some(t) = &self.relevant_types {
            m.serialize_entry("relevantTypes", t)?;
        }
        m.end()
    }
}
