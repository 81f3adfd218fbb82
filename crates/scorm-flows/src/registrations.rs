//! Registrations (seed 003 "Creating Registrations" and "Launching
//! Registrations").
//!
//! A registration is our record first: id, SCORM course, learner. It is
//! created in SCORM Cloud either at assignment or right before the first
//! launch ([`crate::Creation`]); either way the remote `createRegistration`
//! runs inside the database transaction that writes the local record, and a
//! refusal rolls that transaction back — there is never a local registration
//! that claims to exist remotely when it does not.

use records::IntegrationRules;
use scorm_cloud_client::{NewRegistration, Postback, check_id, parse};
use stats_rules::EntryPoint;
use store::{Registration, Store, Tx};

use crate::settings::{Creation, Settings};
use crate::{Remote, ScormError, hash_secret, ms, new_secret, registration_key};

/// An LMS assigning a SCORM course to a learner.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The SCORM course id (as imported).
    pub course_id: String,
    /// The learner's LMS user id (also the learner id SCORM Cloud sees).
    pub learner: String,
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// Our registration id; generated when absent.
    pub registration_id: Option<String>,
}

/// A registration and whether this call created it.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub registration: Registration,
    pub created: bool,
}

/// What a SCORM course is reported under.
pub struct Target {
    pub rules: IntegrationRules,
    pub lms_course: i64,
    pub integration: store::Integration,
}

/// The integration, rules and LMS course record of a SCORM course.
pub async fn target(tx: &mut Tx<'_>, scorm_course_id: &str) -> Result<Target, ScormError> {
    let course = tx
        .scorm_course(scorm_course_id)
        .await?
        .ok_or_else(|| ScormError::NotFound(format!("no SCORM course {scorm_course_id}")))?;
    let (Some(integration_id), Some(lms_course)) = (course.integration_id, course.lms_course)
    else {
        return Err(ScormError::Conflict(format!(
            "SCORM course {scorm_course_id} has no LMS course record yet (import it first)"
        )));
    };
    let integration = tx
        .integration(&integration_id)
        .await?
        .ok_or_else(|| ScormError::NotFound(format!("no integration {integration_id}")))?;
    let rules = records::rules_for(&integration)?;
    Ok(Target {
        rules,
        lms_course,
        integration,
    })
}

/// Assigns a course: the registration is recorded (and, when the integration
/// creates registrations at assignment, created in SCORM Cloud in the same
/// transaction). Assigning the same course to the same learner again returns
/// the existing registration.
pub async fn assign(
    store: &Store,
    remote: &Remote,
    settings: &Settings,
    a: &Assignment,
) -> Result<Assigned, ScormError> {
    check_id("courseid", &a.course_id)?;
    check_id("learnerid", &a.learner)?;
    let registration_id = match &a.registration_id {
        Some(id) => id.clone(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    check_id("regid", &registration_id)?;
    let now = ms(remote.now());
    let mut tx = store.begin().await?;
    let target = target(&mut tx, &a.course_id).await?;
    if target.integration.id != settings.integration_id {
        return Err(ScormError::Conflict(format!(
            "SCORM course {} belongs to integration {}",
            a.course_id, target.integration.id
        )));
    }
    if !target.integration.active {
        return Err(ScormError::Conflict(format!(
            "integration {} is deactivated",
            target.integration.id
        )));
    }
    let learner = records::upsert_lms_learner(&mut tx, &a.learner, a.email.as_deref(), now)
        .await?
        .id;
    if let Some(existing) = tx.registration_for(&a.course_id, learner).await? {
        tx.commit().await?;
        return Ok(Assigned {
            registration: existing,
            created: false,
        });
    }
    let mut reg = Registration {
        registration_id: registration_id.clone(),
        scorm_course_id: a.course_id.clone(),
        learner_id: learner,
        learner_ref: a.learner.clone(),
        postback_user: registration_id.clone(),
        postback_secret_hash: String::new(),
        created_ms: now,
        remote_created_ms: None,
        result: None,
        result_ms: None,
        override_: None,
    };
    if !tx.insert_registration(&reg).await? {
        return Err(ScormError::Conflict(format!(
            "registration id {registration_id} is taken"
        )));
    }
    if settings.creation == Creation::AtAssignment {
        create_remote(
            &mut tx,
            remote,
            settings,
            &mut reg,
            &a.first_name,
            &a.last_name,
            a.email.as_deref(),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(registration = %reg.registration_id, course = %a.course_id, remote = reg.remote_created_ms.is_some(), "registration assigned");
    Ok(Assigned {
        registration: reg,
        created: true,
    })
}

/// Creates the registration in SCORM Cloud, inside the caller's transaction:
/// a fresh postback password is sent with it and only its hash is kept. If
/// SCORM Cloud refuses, the error is returned and the caller's transaction
/// (dropped without commit) rolls back.
pub async fn create_remote(
    tx: &mut Tx<'_>,
    remote: &Remote,
    settings: &Settings,
    reg: &mut Registration,
    first_name: &str,
    last_name: &str,
    email: Option<&str>,
) -> Result<(), ScormError> {
    let password = new_secret()?;
    let req = remote.client.create_registration(
        &NewRegistration {
            course_id: reg.scorm_course_id.clone(),
            registration_id: reg.registration_id.clone(),
            learner_id: reg.learner_ref.clone(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            email: email.map(str::to_owned),
            postback: Some(Postback {
                url: settings.postback_url(),
                auth: settings.postback_auth,
                user: reg.postback_user.clone(),
                password: password.clone(),
                format: settings.results_format,
            }),
        },
        remote.now(),
    )?;
    let body = remote.call("createRegistration", &req).await?;
    parse::success(&body).map_err(ScormError::api("createRegistration"))?;
    let hash = hash_secret(&password);
    let at = ms(remote.now());
    tx.set_registration_remote(&reg.registration_id, &hash, at)
        .await?;
    reg.postback_secret_hash = hash;
    reg.remote_created_ms = Some(at);
    Ok(())
}

/// Commits a transaction that created a registration remotely. Should the
/// commit fail after SCORM Cloud accepted the registration, the remote one is
/// deleted again (best effort) so that both sides agree.
pub async fn commit_created(
    tx: Tx<'_>,
    remote: &Remote,
    registration_id: &str,
    created_now: bool,
) -> Result<(), ScormError> {
    match tx.commit().await {
        Ok(()) => Ok(()),
        Err(e) => {
            if created_now {
                let req = remote
                    .client
                    .delete_registration(registration_id, remote.now());
                if let Err(del) = remote.call("deleteRegistration", &req).await {
                    tracing::error!(registration = registration_id, error = %del, "could not delete a registration whose local record failed to commit");
                }
            }
            Err(e.into())
        }
    }
}

/// The learner who may launch, from a verified LMS-signed link.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// LMS user id.
    pub learner: String,
    pub email: Option<String>,
    pub entry: EntryPoint,
}

/// Launches a registration: checks the link is the registration's learner's,
/// creates the registration in SCORM Cloud if it is not there yet (in one
/// transaction with the record), records the launch for statistics, and
/// returns the launch URL built now (valid about 15 minutes) with `return_to`
/// as its `redirecturl`.
pub async fn launch(
    store: &Store,
    remote: &Remote,
    settings: &Settings,
    registration_id: &str,
    who: &Launcher,
    return_to: &str,
) -> Result<String, ScormError> {
    let mut tx = store.begin().await?;
    tx.lock_key(registration_key(registration_id)).await?;
    let mut reg = tx
        .registration(registration_id)
        .await?
        .ok_or_else(|| ScormError::NotFound(format!("no registration {registration_id}")))?;
    if reg.learner_ref != who.learner {
        return Err(ScormError::Forbidden(
            "this registration belongs to another learner".into(),
        ));
    }
    let created_now = launch_locked(&mut tx, remote, settings, &mut reg, who).await?;
    commit_created(tx, remote, &reg.registration_id, created_now).await?;
    // built after the commit: signed as late as possible
    Ok(remote
        .client
        .launch_url(&reg.registration_id, return_to, remote.now()))
}

async fn launch_locked(
    tx: &mut Tx<'_>,
    remote: &Remote,
    settings: &Settings,
    reg: &mut Registration,
    who: &Launcher,
) -> Result<bool, ScormError> {
    let target = target(tx, &reg.scorm_course_id).await?;
    if target.integration.id != settings.integration_id {
        return Err(ScormError::Conflict(
            "the registration belongs to another integration".into(),
        ));
    }
    let created_now = reg.remote_created_ms.is_none();
    if created_now {
        create_remote(tx, remote, settings, reg, "", "", who.email.as_deref()).await?;
    }
    records::record_launch(
        tx,
        &target.rules,
        target.lms_course,
        reg.learner_id,
        who.entry.clone(),
        remote.now(),
    )
    .await?;
    Ok(created_now)
}
