//! Enrolling and withdrawing, by the learner themself.

use axum::{
    extract::{Path, State},
    response::Response,
};

use crate::{
    accounts::auth::User,
    catalog::queries,
    enrolment::queries::{Outcome, Refusal, enrol as do_enrol, withdraw as do_withdraw},
    web::{
        csrf::redirect_with_notice,
        error::{AppError, AppResult},
        state::AppState,
    },
};

/// The Spanish message for an enrolment result.
pub fn message(outcome: &Result<Outcome, Refusal>) -> String {
    match outcome {
        Ok(Outcome::Confirmed) => "¡Listo! Quedaste inscripto/a en la comisión.".into(),
        Ok(Outcome::Waitlisted) => "La comisión está completa: quedaste en la lista de espera. Si se libera un lugar, pasás automáticamente.".into(),
        Ok(Outcome::Already(s)) => format!("Ya estabas anotado/a en esta comisión ({}).", s.label().to_lowercase()),
        Err(Refusal::NotOpenYet) => "La inscripción a esta comisión todavía no abrió.".into(),
        Err(Refusal::Closed) => "La inscripción a esta comisión ya cerró.".into(),
        Err(Refusal::NoSuchClass) => "Esa comisión no existe.".into(),
    }
}

/// `POST /comisiones/{id}/inscribirme`
pub async fn enrol(
    State(state): State<AppState>,
    User(user): User,
    Path(class_id): Path<i64>,
) -> AppResult<Response> {
    let slug = queries::class_course_slug(&state.db, class_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let outcome = do_enrol(&state.db, class_id, user.person_id, Some(user.user_id)).await?;
    if matches!(outcome, Err(Refusal::NotOpenYet | Refusal::Closed)) {
        return Err(AppError::Conflict(message(&outcome)));
    }
    Ok(redirect_with_notice(
        &format!("/cursos/{}", slug),
        &message(&outcome),
    ))
}

/// `POST /comisiones/{id}/baja`
pub async fn withdraw(
    State(state): State<AppState>,
    User(user): User,
    Path(class_id): Path<i64>,
) -> AppResult<Response> {
    let slug = queries::class_course_slug(&state.db, class_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let changed = do_withdraw(&state.db, class_id, user.person_id).await?;
    let msg = if changed {
        "Te diste de baja de la comisión."
    } else {
        "No estabas anotado/a en esa comisión."
    };
    Ok(redirect_with_notice(&format!("/cursos/{}", slug), msg))
}
