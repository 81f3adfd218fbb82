//! What the console's forms change: each checks the session's CSRF token,
//! does one thing, writes the audit log, and redirects back with a fixed
//! notice.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::auth::Signed;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /console/credentials/{id}/revoke`.
pub async fn revoke_credential(
    State(app): State<AppState>,
    signed: Signed,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = signed.form(&app, &body).await {
        return r;
    }
    let revoked = async {
        let mut tx = app.store.begin().await?;
        let done = tx.revoke_credential(&client_id, now_ms()).await?;
        tx.commit().await?;
        Ok::<_, store::StoreError>(done)
    }
    .await;
    match revoked {
        Ok(true) => {
            app.forget_credential(&client_id);
            if let Err(r) = signed.audit(&app, "credential-revoke", &client_id).await {
                return r;
            }
            Redirect::to("/console/credentials?done=revoked").into_response()
        }
        Ok(false) => ApiError::not_found("no such active credential").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /console/scorm/{id}/refresh`: asks SCORM Cloud for the
/// registration's result now.
pub async fn refresh_registration(
    State(app): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = signed.form(&app, &body).await {
        return r;
    }
    let refreshed = crate::scorm::refresh_registration(&app, &id).await;
    let (detail, done) = match &refreshed {
        Ok(()) => (id.clone(), "refreshed"),
        Err(e) => (format!("{id}: {}", e.message), "refresh-failed"),
    };
    if let Err(r) = signed.audit(&app, "scorm-refresh", &detail).await {
        return r;
    }
    Redirect::to(&format!("/console/scorm?done={done}")).into_response()
}
