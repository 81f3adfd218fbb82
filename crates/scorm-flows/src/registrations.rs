//! Registrations (seed 003 "Creating Registrations" and "Launching
//! Registrations").
//!
//! A registration is our record first: id, SCORM course, learner. It is
//! created in SCORM Cloud either at assignment or right before the first
//! launch ([`crate::Creation`]), by [`ensure_remote`], under the
//! registration's key lock (`Store::hold_key`) and outside any database
//! transaction: a slow or silent SCORM Cloud holds up that registration
//! only, never other writes. Our record says the registration exists
//! remotely (`remote_created_ms`) only after SCORM Cloud accepted it; a
//! creation whose outcome is unknown (a timeout) is asked about before it
//! is tried again.

use records::IntegrationRules;
use scorm_cloud_client::{NewRegistration, Postback, check_id};
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

/// Assigns a course: the registration is recorded and, when the integration
/// creates registrations at assignment, created in SCORM Cloud
/// ([`ensure_remote`]). Assigning the same course to the same learner again
/// returns the existing registration — and, at assignment, creates it in
/// SCORM Cloud if an earlier attempt did not.
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
    let record = tx.learner_by_lms_id(&a.learner).await?;
    let names = || {
        crate::names::resolve(
            &a.first_name,
            &a.last_name,
            record.as_ref().and_then(|r| r.name.as_deref()),
            a.email
                .as_deref()
                .or(record.as_ref().and_then(|r| r.email.as_deref())),
        )
    };
    let (reg, inserted) = match tx.registration_for(&a.course_id, learner).await? {
        Some(mut existing) => {
            // Assigned before names were kept (schema v15): keep them now,
            // when they can be had (else at creation, from the launch's email).
            if existing.first_name.is_empty() || existing.last_name.is_empty() {
                if let Ok((first, last)) = names() {
                    tx.set_registration_names(&existing.registration_id, &first, &last)
                        .await?;
                    (existing.first_name, existing.last_name) = (first, last);
                }
            }
            (existing, false)
        }
        None => {
            let (first_name, last_name) = names()?;
            let reg = Registration {
                registration_id: registration_id.clone(),
                scorm_course_id: a.course_id.clone(),
                learner_id: learner,
                learner_ref: a.learner.clone(),
                first_name,
                last_name,
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
            (reg, true)
        }
    };
    tx.commit().await?;
    if settings.creation != Creation::AtAssignment || reg.remote_created_ms.is_some() {
        return Ok(Assigned {
            registration: reg,
            created: inserted,
        });
    }
    let lock = store
        .hold_key(registration_key(&reg.registration_id))
        .await?;
    let created = create_locked(store, remote, settings, &reg.registration_id, a).await;
    lock.release().await;
    let reg = created?;
    tracing::info!(registration = %reg.registration_id, course = %a.course_id, "registration assigned and created in SCORM Cloud");
    Ok(Assigned {
        registration: reg,
        created: true,
    })
}

/// [`assign`]'s remote half, under the registration's key lock: read again
/// (another instance may have created it meanwhile), then created remotely
/// and recorded.
async fn create_locked(
    store: &Store,
    remote: &Remote,
    settings: &Settings,
    registration_id: &str,
    a: &Assignment,
) -> Result<Registration, ScormError> {
    let mut reg = read_registration(store, registration_id).await?;
    if reg.remote_created_ms.is_some() {
        return Ok(reg);
    }
    ensure_remote(store, remote, settings, &mut reg, a.email.as_deref()).await?;
    let mut tx = store.begin().await?;
    mark_created(&mut tx, &mut reg, remote).await?;
    tx.commit().await?;
    Ok(reg)
}

async fn read_registration(store: &Store, id: &str) -> Result<Registration, ScormError> {
    store
        .read()
        .await?
        .registration(id)
        .await?
        .ok_or_else(|| ScormError::NotFound(format!("no registration {id}")))
}

/// Makes sure SCORM Cloud has the registration, holding no transaction while
/// it waits (a slow SCORM Cloud never holds up other writes):
/// 1. the hash of a fresh postback password is recorded first, so that a
///    postback sent as soon as SCORM Cloud has the registration is accepted;
/// 2. if an earlier attempt may have created it (a hash is recorded, but not
///    the creation — it timed out, or its record failed; a refusal clears
///    the hash), SCORM Cloud is asked; if it has it, only its postback
///    settings are moved to the new password;
/// 3. otherwise `createRegistration`, with the password.
///
/// The caller holds the registration's key lock and records the creation
/// ([`mark_created`]) after. On an error nothing claims the registration
/// exists remotely: the next attempt asks again.
pub async fn ensure_remote(
    store: &Store,
    remote: &Remote,
    settings: &Settings,
    reg: &mut Registration,
    email: Option<&str>,
) -> Result<(), ScormError> {
    let attempted = !reg.postback_secret_hash.is_empty();
    let password = new_secret()?;
    let hash = hash_secret(&password);
    let mut tx = store.begin().await?;
    if reg.first_name.is_empty() || reg.last_name.is_empty() {
        // Assigned before names were kept (schema v15).
        let record = tx.learner_by_lms_id(&reg.learner_ref).await?;
        let (first, last) = crate::names::resolve(
            &reg.first_name,
            &reg.last_name,
            record.as_ref().and_then(|r| r.name.as_deref()),
            email.or(record.as_ref().and_then(|r| r.email.as_deref())),
        )?;
        tx.set_registration_names(&reg.registration_id, &first, &last)
            .await?;
        (reg.first_name, reg.last_name) = (first, last);
    }
    tx.set_registration_secret(&reg.registration_id, &hash)
        .await?;
    tx.commit().await?;
    reg.postback_secret_hash = hash;
    let postback = Postback {
        url: settings.postback_url(),
        auth: settings.postback_auth,
        user: reg.postback_user.clone(),
        password,
        format: settings.results_format,
    };
    let new = NewRegistration {
        course_id: reg.scorm_course_id.clone(),
        registration_id: reg.registration_id.clone(),
        learner_id: reg.learner_ref.clone(),
        first_name: reg.first_name.clone(),
        last_name: reg.last_name.clone(),
        email: email.map(str::to_owned),
        postback: Some(postback.clone()),
    };
    if attempted && remote.registration_exists(&reg.registration_id).await? {
        return remote.renew_postback(&new, &postback).await;
    }
    let created = remote.create_registration(&new).await;
    if let Err(ScormError::Api { .. }) = &created {
        // SCORM Cloud answered, and refused: nothing of ours is there, so the
        // next attempt need not ask (and must not adopt a registration of
        // that id that is not ours).
        let mut tx = store.begin().await?;
        tx.set_registration_secret(&reg.registration_id, "").await?;
        tx.commit().await?;
        reg.postback_secret_hash.clear();
    }
    created
}

/// Records, in the caller's transaction, that SCORM Cloud has the
/// registration (after [`ensure_remote`]).
pub async fn mark_created(
    tx: &mut Tx<'_>,
    reg: &mut Registration,
    remote: &Remote,
) -> Result<(), ScormError> {
    let at = ms(remote.now());
    tx.set_registration_remote(&reg.registration_id, &reg.postback_secret_hash, at)
        .await?;
    reg.remote_created_ms = Some(at);
    Ok(())
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
/// creates the registration in SCORM Cloud if it is not there yet
/// ([`ensure_remote`], under the registration's key lock, no transaction
/// held while SCORM Cloud answers), records the creation and the launch for
/// statistics in one transaction, and returns the launch URL built now
/// (valid about 15 minutes) with `return_to` as its `redirecturl`.
pub async fn launch(
    store: &Store,
    remote: &Remote,
    settings: &Settings,
    registration_id: &str,
    who: &Launcher,
    return_to: &str,
) -> Result<String, ScormError> {
    let lock = store.hold_key(registration_key(registration_id)).await?;
    let launched = launch_locked(store, remote, settings, registration_id, who).await;
    lock.release().await;
    launched?;
    // built after the commit: signed (V1) or asked for (V2) as late as possible
    remote.launch_link(registration_id, return_to).await
}

async fn launch_locked(
    store: &Store,
    remote: &Remote,
    settings: &Settings,
    registration_id: &str,
    who: &Launcher,
) -> Result<(), ScormError> {
    let mut reg = read_registration(store, registration_id).await?;
    if reg.learner_ref != who.learner {
        return Err(ScormError::Forbidden(
            "this registration belongs to another learner".into(),
        ));
    }
    let target = {
        let mut tx = store.read().await?;
        target(&mut tx, &reg.scorm_course_id).await?
    };
    if target.integration.id != settings.integration_id {
        return Err(ScormError::Conflict(
            "the registration belongs to another integration".into(),
        ));
    }
    let create = reg.remote_created_ms.is_none();
    if create {
        ensure_remote(store, remote, settings, &mut reg, who.email.as_deref()).await?;
    }
    let mut tx = store.begin().await?;
    if create {
        mark_created(&mut tx, &mut reg, remote).await?;
    }
    records::record_launch(
        &mut tx,
        &target.rules,
        target.lms_course,
        reg.learner_id,
        who.entry.clone(),
        remote.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Resets a registration in SCORM Cloud (its progress cleared: the learner
/// starts again), then stores SCORM Cloud's state through the refresh path,
/// which is authoritative. Under the registration's key lock, no transaction
/// held while SCORM Cloud answers.
pub async fn reset(
    store: &Store,
    remote: &Remote,
    registration_id: &str,
) -> Result<crate::results::Applied, ScormError> {
    let lock = store.hold_key(registration_key(registration_id)).await?;
    let done = async {
        let reg = read_registration(store, registration_id).await?;
        if reg.remote_created_ms.is_none() {
            return Err(ScormError::Conflict(format!(
                "registration {registration_id} is not in SCORM Cloud yet: nothing to reset"
            )));
        }
        remote.reset_registration(registration_id).await?;
        crate::results::refresh_locked(store, remote, registration_id).await
    }
    .await;
    lock.release().await;
    done
}

/// Deletes a registration: from SCORM Cloud when it is there (asked first, so
/// that a deletion interrupted after SCORM Cloud's part completes on a second
/// try), then our record. The learner's statistics for the course stay;
/// assigning the course again makes a new registration.
pub async fn delete(
    store: &Store,
    remote: &Remote,
    registration_id: &str,
) -> Result<(), ScormError> {
    let lock = store.hold_key(registration_key(registration_id)).await?;
    let done = async {
        let reg = read_registration(store, registration_id).await?;
        let maybe_remote = reg.remote_created_ms.is_some() || !reg.postback_secret_hash.is_empty();
        if maybe_remote && remote.registration_exists(registration_id).await? {
            remote.delete_registration(registration_id).await?;
        }
        let mut tx = store.begin().await?;
        tx.delete_registration(registration_id).await?;
        tx.commit().await?;
        tracing::info!(registration = registration_id, "registration deleted");
        Ok(())
    }
    .await;
    lock.release().await;
    done
}
