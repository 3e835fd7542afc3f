//! The enrolment's facts as SIPE receives them (`inscripcion.*`, `curso.*` events; every
//! kind and field is in docs/sipe-eventos.md). Recorded in the change's own transaction.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    db::Tx,
    web::{
        outbox::{self, Event},
        time::now,
    },
    with_tx,
};

/// A seat was taken.
pub const CONFIRMED: &str = "inscripcion.confirmada";
/// No seat left: the person is in line.
pub const WAITLISTED: &str = "inscripcion.en_espera";
/// A seat freed and went to this person, first in line.
pub const PROMOTED: &str = "inscripcion.promovida";
/// The person left the class (or the line).
pub const WITHDRAWN: &str = "inscripcion.baja";
/// The course's completion rules were met.
pub const COMPLETED: &str = "curso.completado";
/// The class ended and the learner had not completed it.
pub const NOT_COMPLETED: &str = "curso.no_completado";

/// What an event says of an enrolment, as read inside the change's transaction.
#[derive(sqlx::FromRow)]
pub struct Facts {
    person_id: i64,
    dni: String,
    /// As stored (`confirmed`, `waitlisted`, ...).
    pub status: String,
    class_id: i64,
    class_name: String,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    course_id: i64,
    course_slug: String,
    course_title: String,
    created_at: DateTime<Utc>,
}

/// Records `kind` about enrolment `enrolment_id`, with its state as it stands inside `tx`.
pub async fn record(tx: &mut Tx, kind: &str, enrolment_id: i64) -> Result<(), sqlx::Error> {
    let f = facts(tx, enrolment_id).await?;
    record_with(tx, kind, enrolment_id, &f).await
}

/// Reads enrolment `enrolment_id`'s facts inside `tx`. An enrolment reads them before it takes
/// a seat (its class, course and person do not change in between; the status is then set in
/// [`Facts::status`]), so the class row stays locked for one statement fewer.
pub async fn facts(tx: &mut Tx, enrolment_id: i64) -> Result<Facts, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT e.person_id, p.dni, e.status, k.id AS class_id, k.name AS class_name, k.starts_on,
                k.ends_on, c.id AS course_id, c.slug AS course_slug, c.title AS course_title,
                e.created_at
         FROM enrolments e JOIN persons p ON p.id = e.person_id JOIN classes k ON k.id = e.class_id
         JOIN courses c ON c.id = k.course_id WHERE e.id = $1"
    )
    .bind(enrolment_id)
    .fetch_one(c)
    .await
    })
}

/// Records `kind` about enrolment `enrolment_id` as `f` describes it.
pub async fn record_with(
    tx: &mut Tx,
    kind: &str,
    enrolment_id: i64,
    f: &Facts,
) -> Result<(), sqlx::Error> {
    let status = match f.status.as_str() {
        "confirmed" => "confirmada",
        "waitlisted" => "en_espera",
        "withdrawn" => "baja",
        "completed" => "completada",
        other => other,
    };
    let data = serde_json::json!({
        "dni": f.dni,
        "inscripcion_id": enrolment_id,
        "estado": status,
        "clase": {
            "id": f.class_id,
            "nombre": f.class_name,
            "inicio": f.starts_on.format("%Y-%m-%d").to_string(),
            "fin": f.ends_on.format("%Y-%m-%d").to_string(),
        },
        "curso": { "id": f.course_id, "slug": f.course_slug, "titulo": f.course_title },
        "inscripta_el": f.created_at.to_rfc3339(),
        "fecha": now().to_rfc3339(),
    });
    outbox::record(
        tx,
        &Event {
            kind,
            person_id: Some(f.person_id),
            data,
        },
    )
    .await?;
    Ok(())
}
