//! `xapi_model::documents`: the query rules of the Document, Agents and
//! Activities resources per resource × method × version. The preconditions
//! are in `documents_preconditions.rs`, the properties (merge, ETag,
//! canonical Activity) in `documents_properties.rs`.

use xapi_model::documents::{
    ApiVersion, DocumentError, DocumentQuery, Method, Resource, parse_activities_query,
    parse_agents_query, parse_document_query,
};
use xapi_model::{Actor, Ifi};

const ACT: &str = "https://example.com/act/1";
const AGENT: &str = r#"{"objectType":"Agent","mbox":"mailto:Ada@Example.COM"}"#;
const AGENT_KEY: &str = "mbox:ada@example.com";
const GROUP: &str =
    r#"{"objectType":"Group","account":{"homePage":"https://lms.example.com","name":"team-7"}}"#;
const ANON_GROUP: &str = r#"{"objectType":"Group","member":[{"mbox":"mailto:b@example.com"}]}"#;
const REG: &str = "FD41C918-B88B-4B20-A0A5-A4C32391AAA0";

const RESOURCES: [Resource; 3] = [
    Resource::State,
    Resource::ActivityProfile,
    Resource::AgentProfile,
];
const METHODS: [Method; 5] = [
    Method::Get,
    Method::Head,
    Method::Put,
    Method::Post,
    Method::Delete,
];
const VERSIONS: [ApiVersion; 2] = [ApiVersion::V1_0, ApiVersion::V2_0];

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The required parameters of `resource` under `method`, with valid values.
fn required(resource: Resource, method: Method) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if resource != Resource::AgentProfile {
        out.push(("activityId", ACT));
    }
    if resource != Resource::ActivityProfile {
        out.push(("agent", AGENT));
    }
    let id_required = match resource {
        Resource::State => matches!(method, Method::Put | Method::Post),
        _ => matches!(method, Method::Put | Method::Post | Method::Delete),
    };
    if id_required {
        out.push((resource.id_param(), "doc-1"));
    }
    out
}

fn parse(
    r: Resource,
    m: Method,
    v: ApiVersion,
    pairs: &[(&str, &str)],
) -> Result<DocumentQuery, DocumentError> {
    parse_document_query(r, m, v, &params(pairs))
}

fn invalid_param(result: Result<DocumentQuery, DocumentError>) -> &'static str {
    match result {
        Err(DocumentError::Invalid { param, .. }) => param,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn the_required_parameters_suffice_everywhere() {
    for v in VERSIONS {
        for r in RESOURCES {
            for m in METHODS {
                let q = parse(r, m, v, &required(r, m))
                    .unwrap_or_else(|e| panic!("{r:?} {m:?} {v:?}: {e}"));
                assert_eq!(q.resource, r);
                assert_eq!(
                    q.activity_id.as_deref(),
                    (r != Resource::AgentProfile).then_some(ACT)
                );
                assert_eq!(
                    q.agent_key.as_deref(),
                    (r != Resource::ActivityProfile).then_some(AGENT_KEY)
                );
                assert_eq!(q.registration, None);
                assert_eq!(q.since, None);
                let id_given = required(r, m).iter().any(|(k, _)| *k == r.id_param());
                assert_eq!(q.document_id.is_some(), id_given, "{r:?} {m:?}");
            }
        }
    }
}

#[test]
fn each_missing_required_parameter_is_named() {
    for v in VERSIONS {
        for r in RESOURCES {
            for m in METHODS {
                let all = required(r, m);
                for (i, (name, _)) in all.iter().enumerate() {
                    let mut fewer = all.clone();
                    fewer.remove(i);
                    assert_eq!(
                        parse(r, m, v, &fewer),
                        Err(DocumentError::Missing { param: name }),
                        "{r:?} {m:?} {v:?} without {name}"
                    );
                }
            }
        }
    }
}

#[test]
fn optional_ids_select_one_document_or_the_list() {
    for v in VERSIONS {
        // State: stateId optional on GET/HEAD/DELETE
        for m in [Method::Get, Method::Head, Method::Delete] {
            let mut p = required(Resource::State, m);
            p.push(("stateId", "bookmark"));
            let q = parse(Resource::State, m, v, &p).expect("valid");
            assert_eq!(q.document_id.as_deref(), Some("bookmark"));
        }
        // Profiles: profileId optional on GET/HEAD only
        for r in [Resource::ActivityProfile, Resource::AgentProfile] {
            for m in [Method::Get, Method::Head] {
                let mut p = required(r, m);
                p.push(("profileId", "p"));
                assert_eq!(
                    parse(r, m, v, &p).expect("valid").document_id.as_deref(),
                    Some("p")
                );
            }
        }
    }
}

#[test]
fn unknown_parameters_are_refused_by_name() {
    let unknown = |r, m, v, extra: (&str, &str)| {
        let mut p = required(r, m);
        p.push(extra);
        parse(r, m, v, &p)
    };
    for v in VERSIONS {
        for m in METHODS {
            for r in RESOURCES {
                assert_eq!(
                    unknown(r, m, v, ("foo", "1")),
                    Err(DocumentError::Unknown {
                        param: "foo".into()
                    })
                );
                // a known name in another case is not that parameter (1.0.3 Comm. 3.2.s3.b8)
                assert_eq!(
                    unknown(r, m, v, ("ActivityID", ACT)),
                    Err(DocumentError::Unknown {
                        param: "ActivityID".into()
                    })
                );
                // the other resource's id parameter
                let other_id = if r == Resource::State {
                    "profileId"
                } else {
                    "stateId"
                };
                assert_eq!(
                    unknown(r, m, v, (other_id, "x")),
                    Err(DocumentError::Unknown {
                        param: other_id.into()
                    })
                );
            }
            assert_eq!(
                unknown(Resource::ActivityProfile, m, v, ("agent", AGENT)),
                Err(DocumentError::Unknown {
                    param: "agent".into()
                })
            );
            assert_eq!(
                unknown(Resource::AgentProfile, m, v, ("activityId", ACT)),
                Err(DocumentError::Unknown {
                    param: "activityId".into()
                })
            );
            for r in [Resource::ActivityProfile, Resource::AgentProfile] {
                assert_eq!(
                    unknown(r, m, v, ("registration", REG)),
                    Err(DocumentError::Unknown {
                        param: "registration".into()
                    })
                );
            }
        }
    }
}

#[test]
fn a_repeated_parameter_is_refused() {
    for v in VERSIONS {
        for r in RESOURCES {
            for m in METHODS {
                let mut p = required(r, m);
                let first = p[0];
                p.push(first);
                assert_eq!(
                    parse(r, m, v, &p),
                    Err(DocumentError::Repeated {
                        param: first.0.into()
                    }),
                    "{r:?} {m:?}"
                );
            }
        }
        // the same value twice is still twice
        let mut p = required(Resource::State, Method::Get);
        p.push(("since", "2024-01-01T00:00:00Z"));
        p.push(("since", "2024-01-01T00:00:00Z"));
        assert_eq!(
            parse(Resource::State, Method::Get, v, &p),
            Err(DocumentError::Repeated {
                param: "since".into()
            })
        );
    }
}

#[test]
fn a_malformed_agent_is_invalid() {
    for bad in [
        "{",
        "true",
        "\"ada@example.com\"",
        r#"{"name":"Ada"}"#,
        r#"{"mbox":"ada@example.com"}"#,
        r#"{"mbox":"mailto:a@example.com","openid":"https://id.example.com/a"}"#,
        r#"{"objectType":"Person","mbox":["mailto:a@example.com"]}"#,
    ] {
        for v in VERSIONS {
            for r in [Resource::State, Resource::AgentProfile] {
                for m in METHODS {
                    let p: Vec<_> = required(r, m)
                        .into_iter()
                        .map(|(k, val)| (k, if k == "agent" { bad } else { val }))
                        .collect();
                    assert_eq!(
                        invalid_param(parse(r, m, v, &p)),
                        "agent",
                        "{bad} {r:?} {m:?}"
                    );
                }
            }
        }
    }
}

fn with_agent(r: Resource, m: Method, agent: &'static str) -> Vec<(&'static str, &'static str)> {
    required(r, m)
        .into_iter()
        .map(|(k, val)| (k, if k == "agent" { agent } else { val }))
        .collect()
}

#[test]
fn which_actors_each_resource_takes() {
    for m in METHODS {
        // State, 1.0.3: an Agent only
        let p = with_agent(Resource::State, m, GROUP);
        assert_eq!(
            invalid_param(parse(Resource::State, m, ApiVersion::V1_0, &p)),
            "agent"
        );
        // State, 2.0.0: an identified Group too, keyed by its IFI
        let q = parse(Resource::State, m, ApiVersion::V2_0, &p).expect("identified group");
        assert_eq!(
            q.agent_key.as_deref(),
            Some("account:https://lms.example.com|team-7")
        );
        let p = with_agent(Resource::State, m, ANON_GROUP);
        assert_eq!(
            invalid_param(parse(Resource::State, m, ApiVersion::V2_0, &p)),
            "agent"
        );
        // Agent Profile: an Agent only under 1.0.3; under 2.0.0 an
        // identified Group too, never an anonymous one
        let p = with_agent(Resource::AgentProfile, m, GROUP);
        assert_eq!(
            invalid_param(parse(Resource::AgentProfile, m, ApiVersion::V1_0, &p)),
            "agent"
        );
        let q = parse(Resource::AgentProfile, m, ApiVersion::V2_0, &p).expect("identified group");
        assert_eq!(
            q.agent_key.as_deref(),
            Some("account:https://lms.example.com|team-7")
        );
        let p = with_agent(Resource::AgentProfile, m, ANON_GROUP);
        assert_eq!(
            invalid_param(parse(Resource::AgentProfile, m, ApiVersion::V2_0, &p)),
            "agent"
        );
    }
}

#[test]
fn the_agent_key_ignores_the_case_of_an_email() {
    let key = |agent| {
        parse(
            Resource::AgentProfile,
            Method::Get,
            ApiVersion::V1_0,
            &[("agent", agent)],
        )
        .expect("valid")
        .agent_key
    };
    assert_eq!(key(AGENT), key(r#"{"mbox":"mailto:ada@example.com"}"#));
    assert_ne!(key(AGENT), key(r#"{"mbox":"mailto:bea@example.com"}"#));
}

#[test]
fn registration_is_a_uuid_of_the_state_only() {
    for v in VERSIONS {
        for m in METHODS {
            let mut p = required(Resource::State, m);
            p.push(("registration", REG));
            let q = parse(Resource::State, m, v, &p).expect("valid");
            assert_eq!(
                q.registration.as_deref(),
                Some("fd41c918-b88b-4b20-a0a5-a4c32391aaa0")
            );
            for bad in ["nope", "fd41c918b88b4b20a0a5a4c32391aaa0", ""] {
                let mut p = required(Resource::State, m);
                p.push(("registration", bad));
                assert_eq!(
                    invalid_param(parse(Resource::State, m, v, &p)),
                    "registration"
                );
            }
        }
    }
}

#[test]
fn since_belongs_to_the_ids_list() {
    const SINCE: &str = "2024-05-14T00:00:00Z";
    for v in VERSIONS {
        for r in RESOURCES {
            for m in METHODS {
                let mut p = required(r, m);
                p.push(("since", SINCE));
                let result = parse(r, m, v, &p);
                match m {
                    Method::Put | Method::Post | Method::Delete => {
                        assert_eq!(
                            result,
                            Err(DocumentError::Unknown {
                                param: "since".into()
                            }),
                            "{r:?} {m:?}"
                        );
                    }
                    Method::Get | Method::Head => {
                        let q = result.expect("the ids list takes since");
                        assert_eq!(q.since.map(|t| t.unix_timestamp()), Some(1_715_644_800));
                        // with an id it is no list
                        p.push((r.id_param(), "doc"));
                        assert_eq!(invalid_param(parse(r, m, v, &p)), "since");
                        // and it must be a timestamp
                        let mut p = required(r, m);
                        p.push(("since", "yesterday"));
                        assert_eq!(invalid_param(parse(r, m, v, &p)), "since");
                    }
                }
            }
        }
    }
}

#[test]
fn an_empty_id_is_invalid() {
    for v in VERSIONS {
        for r in RESOURCES {
            for m in METHODS {
                let mut p: Vec<_> = required(r, m)
                    .into_iter()
                    .filter(|(k, _)| *k != r.id_param())
                    .collect();
                p.push((r.id_param(), ""));
                assert_eq!(
                    invalid_param(parse(r, m, v, &p)),
                    r.id_param(),
                    "{r:?} {m:?}"
                );
            }
        }
    }
}

#[test]
fn activity_id_must_be_an_absolute_iri() {
    for r in [Resource::State, Resource::ActivityProfile] {
        for bad in ["act-1", "/relative", "http://a b", ""] {
            let p: Vec<_> = required(r, Method::Get)
                .into_iter()
                .map(|(k, val)| (k, if k == "activityId" { bad } else { val }))
                .collect();
            assert_eq!(
                invalid_param(parse(r, Method::Get, ApiVersion::V2_0, &p)),
                "activityId"
            );
        }
    }
}

#[test]
fn the_agents_resource_takes_one_agent() {
    for v in VERSIONS {
        let actor = parse_agents_query(v, &params(&[("agent", AGENT)])).expect("an agent");
        match actor {
            Actor::Agent(a) => assert_eq!(a.ifi, Ifi::Mbox("mailto:Ada@Example.COM".into())),
            Actor::Group(_) => panic!("an agent"),
        }
        let refused = |p: &[(&str, &str)]| parse_agents_query(v, &params(p)).expect_err("refused");
        assert_eq!(refused(&[]), DocumentError::Missing { param: "agent" });
        assert!(matches!(
            refused(&[("agent", GROUP)]),
            DocumentError::Invalid { param: "agent", .. }
        ));
        assert!(matches!(
            refused(&[("agent", "{")]),
            DocumentError::Invalid { param: "agent", .. }
        ));
        assert_eq!(
            refused(&[("agent", AGENT), ("agent", AGENT)]),
            DocumentError::Repeated {
                param: "agent".into()
            }
        );
        assert_eq!(
            refused(&[("agent", AGENT), ("activityId", ACT)]),
            DocumentError::Unknown {
                param: "activityId".into()
            }
        );
    }
}

#[test]
fn the_activities_resource_takes_one_activity_id() {
    assert_eq!(
        parse_activities_query(&params(&[("activityId", ACT)])),
        Ok(ACT.to_owned())
    );
    let refused = |p: &[(&str, &str)]| parse_activities_query(&params(p)).expect_err("refused");
    assert_eq!(
        refused(&[]),
        DocumentError::Missing {
            param: "activityId"
        }
    );
    assert!(matches!(
        refused(&[("activityId", "x")]),
        DocumentError::Invalid {
            param: "activityId",
            ..
        }
    ));
    assert_eq!(
        refused(&[("activityId", ACT), ("activityId", ACT)]),
        DocumentError::Repeated {
            param: "activityId".into()
        }
    );
    assert_eq!(
        refused(&[("agent", AGENT)]),
        DocumentError::Unknown {
            param: "agent".into()
        }
    );
}
