//! The rules of one integration: which provider's statement semantics apply,
//! which policies, and how its activity ids are normalized.

use serde::Deserialize;
use stats_rules::{Policies, Provider, ProviderRules, Rules};
use xapi_model::{ActivityIdNormalizer, ActivityIdRules};

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(
        "integration {id}: provider {provider:?} is not one of opensesame, udemy-business, scorm-cloud, generic"
    )]
    UnknownProvider { id: String, provider: String },
    #[error("integration {id}: settings: {detail}")]
    Settings { id: String, detail: String },
}

/// The keys of an integration's `rules` settings object (the fields of
/// `Overrides`; other keys are ignored when read, and refused by
/// `coursebridge-sync configure`).
pub const RULE_SETTINGS: &[&str] = &[
    "launch_progress",
    "policy_year",
    "ignore_scheme",
    "ignore_www",
    "ignore_trailing_slash",
];

/// Optional per-integration overrides, read from the integration's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Overrides {
    /// Progress set at launch (seed 000: the integration's default, 50 %).
    launch_progress: Option<f64>,
    /// The year of seed 000's policy table.
    policy_year: Option<i32>,
    /// Activity-id normalization.
    ignore_scheme: Option<bool>,
    ignore_www: Option<bool>,
    ignore_trailing_slash: Option<bool>,
}

/// Everything that decides how an integration's statements are read.
#[derive(Debug, Clone)]
pub struct IntegrationRules {
    pub integration_id: String,
    pub stats: Rules,
    pub activity_ids: ActivityIdRules,
}

pub fn provider_of(name: &str) -> Option<Provider> {
    match name {
        "opensesame" => Some(Provider::OpenSesame),
        "udemy-business" => Some(Provider::UdemyBusiness),
        "generic" => Some(Provider::Generic),
        // SCORM Cloud results arrive as registration reports, not statements:
        // the generic rules apply to the launches and overrides around them.
        "scorm-cloud" => Some(Provider::Generic),
        _ => None,
    }
}

impl IntegrationRules {
    /// The rules of integration `id` of `provider`, with the overrides of
    /// its settings' `rules` object.
    pub fn from_settings(
        id: &str,
        provider: &str,
        settings: &serde_json::Value,
    ) -> Result<Self, RulesError> {
        let provider = provider_of(provider).ok_or_else(|| RulesError::UnknownProvider {
            id: id.to_owned(),
            provider: provider.to_owned(),
        })?;
        let o: Overrides = match settings.get("rules") {
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| RulesError::Settings {
                id: id.to_owned(),
                detail: format!("rules: {e}"),
            })?,
            None => Overrides::default(),
        };
        let mut provider_rules = ProviderRules::for_provider(provider);
        if let Some(p) = o.launch_progress {
            if !(0.0..=100.0).contains(&p) {
                return Err(RulesError::Settings {
                    id: id.to_owned(),
                    detail: "rules.launch_progress: must be within 0..100".into(),
                });
            }
            provider_rules.launch_progress = Some(p);
        }
        let mut stats = Rules::new(provider_rules);
        if let Some(y) = o.policy_year {
            stats.policies = Policies::seed_000(y).map_err(|e| RulesError::Settings {
                id: id.to_owned(),
                detail: format!("rules.policy_year: {e}"),
            })?;
        }
        // Defaults per provider: Udemy's ids are course URLs that differ in
        // `www.` and trailing slashes; OpenSesame's are compared as sent.
        let mut activity_ids = match provider {
            Provider::UdemyBusiness => ActivityIdRules::LENIENT,
            Provider::OpenSesame | Provider::Generic => ActivityIdRules {
                ignore_trailing_slash: true,
                ..ActivityIdRules::default()
            },
        };
        if let Some(b) = o.ignore_scheme {
            activity_ids.ignore_scheme = b;
        }
        if let Some(b) = o.ignore_www {
            activity_ids.ignore_www = b;
        }
        if let Some(b) = o.ignore_trailing_slash {
            activity_ids.ignore_trailing_slash = b;
        }
        Ok(Self {
            integration_id: id.to_owned(),
            stats,
            activity_ids,
        })
    }

    /// The form in which this integration's activity ids are stored and matched.
    pub fn normalize(&self, activity_id: &str) -> String {
        self.activity_ids.normalize(activity_id)
    }
}
