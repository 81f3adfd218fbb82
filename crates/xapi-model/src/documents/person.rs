//! The Person object of the Agents resource (1.0.3 Comm. 2.4).

use serde_json::{Map, Value, json};

use crate::{Account, Agent, Ifi};

/// The Person object (Agents resource) for the agents known to be one person:
/// `{"objectType":"Person","name":[..],"mbox":[..],"mbox_sha1sum":[..],"openid":[..],"account":[{"homePage","name"}]}`
/// — every distinct value, in first-seen order, empty arrays left out,
/// objectType always present.
///
/// 1.0.3 Comm. 2.4.s5: `objectType` "Person" is required, every other
/// property optional and an array; 2.4.s6.b1: members have the definition of
/// the Agent property of the same name (so `mbox` keeps its `mailto:` IRI and
/// an account is a complete `{homePage, name}`); 2.4.s6.b2: each property
/// occurs once. 2.4.s3.b3: an LRS with nothing more to say about the agent
/// still returns a Person built from the requested Agent — pass just that
/// agent. Values are compared exactly as given (two spellings of one
/// address are two values: the Person lists what the LRS has seen).
pub fn person<'a>(agents: impl IntoIterator<Item = &'a Agent>) -> Value {
    let mut names: Vec<&str> = Vec::new();
    let mut mboxes: Vec<&str> = Vec::new();
    let mut sums: Vec<&str> = Vec::new();
    let mut openids: Vec<&str> = Vec::new();
    let mut accounts: Vec<&Account> = Vec::new();
    fn add<'v, T: PartialEq + ?Sized>(list: &mut Vec<&'v T>, value: &'v T) {
        if !list.contains(&value) {
            list.push(value);
        }
    }
    for agent in agents {
        if let Some(name) = &agent.name {
            add(&mut names, name.as_str());
        }
        match &agent.ifi {
            Ifi::Mbox(m) => add(&mut mboxes, m.as_str()),
            Ifi::MboxSha1Sum(s) => add(&mut sums, s.as_str()),
            Ifi::OpenId(o) => add(&mut openids, o.as_str()),
            Ifi::Account(a) => add(&mut accounts, a),
        }
    }
    let mut out = Map::new();
    out.insert("objectType".into(), json!("Person"));
    for (key, values) in [
        ("name", names),
        ("mbox", mboxes),
        ("mbox_sha1sum", sums),
        ("openid", openids),
    ] {
        if !values.is_empty() {
            out.insert(key.into(), json!(values));
        }
    }
    if !accounts.is_empty() {
        let list: Vec<Value> = accounts
            .iter()
            .map(|a| json!({"homePage": a.home_page, "name": a.name}))
            .collect();
        out.insert("account".into(), Value::Array(list));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: Option<&str>, ifi: Ifi) -> Agent {
        Agent {
            name: name.map(str::to_owned),
            ifi,
        }
    }

    #[test]
    fn one_agent_is_a_person_of_one() {
        let a = agent(Some("Ada"), Ifi::Mbox("mailto:ada@example.com".into()));
        assert_eq!(
            person([&a]),
            json!({"objectType": "Person", "name": ["Ada"], "mbox": ["mailto:ada@example.com"]})
        );
    }

    #[test]
    fn distinct_values_in_first_seen_order() {
        let account = Account {
            home_page: "https://lms.example.com".into(),
            name: "u-1".into(),
        };
        let agents = [
            agent(Some("Ada"), Ifi::Mbox("mailto:b@example.com".into())),
            agent(None, Ifi::Account(account.clone())),
            agent(Some("Ada L."), Ifi::Mbox("mailto:a@example.com".into())),
            agent(Some("Ada"), Ifi::Mbox("mailto:b@example.com".into())),
            agent(None, Ifi::Account(account)),
            agent(None, Ifi::OpenId("https://id.example.com/ada".into())),
            agent(None, Ifi::MboxSha1Sum("ab".repeat(20))),
        ];
        assert_eq!(
            person(&agents),
            json!({
                "objectType": "Person",
                "name": ["Ada", "Ada L."],
                "mbox": ["mailto:b@example.com", "mailto:a@example.com"],
                "mbox_sha1sum": ["ab".repeat(20)],
                "openid": ["https://id.example.com/ada"],
                "account": [{"homePage": "https://lms.example.com", "name": "u-1"}],
            })
        );
        // first-seen order, not sorted
        assert_eq!(person(&agents)["mbox"][0], "mailto:b@example.com");
    }

    #[test]
    fn nobody_is_still_a_person() {
        assert_eq!(person([]), json!({"objectType": "Person"}));
    }
}
