//! Enrolling and withdrawing, by the learner themself or by an office operator for a person
//! of their territory (assisted enrolment).

use axum::{
    Form,
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;

use crate::{
    catalog::queries,
    enrolment::queries::{Outcome, Refusal, enrol as do_enrol, withdraw as do_withdraw},
    people::persons,
    web::{
        auth::{Operator, User},
        error::{AppError, AppResult},
        notice::redirect_with_notice,
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

/// The Spanish message an operator reads after enrolling `name`: it names the person, since
/// the operator did not enrol themself.
pub fn assisted_message(outcome: &Result<Outcome, Refusal>, name: &str) -> String {
    match outcome {
        Ok(Outcome::Confirmed) => format!("Inscribiste a {name} en la comisión."),
        Ok(Outcome::Waitlisted) => format!(
            "La comisión está completa: {name} quedó en la lista de espera. Si se libera un lugar, pasa automáticamente."
        ),
        Ok(Outcome::Already(s)) => format!(
            "{name} ya estaba anotado/a en esta comisión ({}).",
            s.label().to_lowercase()
        ),
        Err(_) => message(outcome),
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AssistedForm {
    class_id: i64,
}

/// `POST /oficina/personas/{id}/inscribir`: assisted enrolment; the record keeps who did it.
pub async fn assisted_enrol(
    State(state): State<AppState>,
    Operator(op): Operator,
    Path(id): Path<i64>,
    Form(form): Form<AssistedForm>,
) -> AppResult<Response> {
    let person = persons::get_in_territory(&state.db, op.user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let outcome = do_enrol(&state.db, form.class_id, person.id, Some(op.user_id)).await?;
    if matches!(outcome, Ok(Outcome::Confirmed | Outcome::Waitlisted)) {
        tracing::info!(
            operator = op.user_id,
            person = person.id,
            class = form.class_id,
            "inscripción asistida"
        );
    }
    Ok(redirect_with_notice(
        &format!("/oficina/personas/{id}"),
        &assisted_message(
            &outcome,
            &format!("{} {}", person.first_name, person.last_name),
        ),
    ))
}
