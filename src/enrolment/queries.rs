//! The enrolment decisions, each in one transaction whose seat change is a single
//! conditional statement.

use chrono::{DateTime, Utc};

use crate::{
    catalog::queries::lessons_percent,
    db::{Db, Tx},
    enrolment::events,
    web::time::now,
    with_db, with_tx,
};

/// Where a person stands in a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrolmentStatus {
    Confirmed,
    Waitlisted,
    Withdrawn,
    Completed,
}

crate::stored_enum!(EnrolmentStatus, "estado de inscripción", {
    Confirmed => "confirmed",
    Waitlisted => "waitlisted",
    Withdrawn => "withdrawn",
    Completed => "completed",
});

impl EnrolmentStatus {
    pub fn label(&self) -> &'static str {
        match self {
            EnrolmentStatus::Confirmed => "Inscripto/a",
            EnrolmentStatus::Waitlisted => "En lista de espera",
            EnrolmentStatus::Withdrawn => "Dado/a de baja",
            EnrolmentStatus::Completed => "Terminado",
        }
    }
}

/// Why an enrolment was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    NoSuchClass,
    NotOpenYet,
    Closed,
}

/// The outcome of an enrolment request.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Confirmed,
    Waitlisted,
    /// Already enrolled or waitlisted: nothing changed (idempotent).
    Already(EnrolmentStatus),
}

#[derive(sqlx::FromRow)]
struct Window {
    enrol_opens_at: DateTime<Utc>,
    enrol_closes_at: DateTime<Utc>,
}

/// Enrols `person_id` in `class_id`: a seat if one is left, else the waitlist.
pub async fn enrol(
    db: &Db,
    class_id: i64,
    person_id: i64,
    by_user: Option<i64>,
) -> Result<Result<Outcome, Refusal>, sqlx::Error> {
    let now = now();
    let window: Option<Window> = with_db!(db, |p| sqlx::query_as(
        "SELECT enrol_opens_at, enrol_closes_at FROM classes WHERE id = $1"
    )
    .bind(class_id)
    .fetch_optional(p)
    .await)?;
    match window {
        None => return Ok(Err(Refusal::NoSuchClass)),
        Some(w) if now < w.enrol_opens_at => return Ok(Err(Refusal::NotOpenYet)),
        Some(w) if now >= w.enrol_closes_at => return Ok(Err(Refusal::Closed)),
        Some(_) => {}
    }
    let outcome = async {
        let mut tx = db.begin().await?;
        // A first write takes SQLite's write lock at once, so this transaction never has
        // to upgrade a read lock (which fails instead of waiting).
        let inserted: Option<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "INSERT INTO enrolments (class_id, person_id, status, queued_at, enrolled_by, created_at, updated_at)
             VALUES ($1, $2, 'waitlisted', $3, $4, $3, $3)
             ON CONFLICT (class_id, person_id) DO NOTHING RETURNING id",
        )
        .bind(class_id)
        .bind(person_id)
        .bind(now)
        .bind(by_user)
        .fetch_optional(c)
        .await)?;
        let enrolment_id = match inserted {
            Some(id) => Some(id),
            // Rejoining after a withdrawal goes to the back of the line.
            None => with_tx!(&mut tx, |c| sqlx::query_scalar(
                "UPDATE enrolments SET status = 'waitlisted', queued_at = $3, updated_at = $3, enrolled_by = $4
                 WHERE class_id = $1 AND person_id = $2 AND status = 'withdrawn' RETURNING id",
            )
            .bind(class_id)
            .bind(person_id)
            .bind(now)
            .bind(by_user)
            .fetch_optional(c)
            .await)?,
        };
        let Some(enrolment_id) = enrolment_id else {
            let status: String = with_tx!(&mut tx, |c| sqlx::query_scalar(
                "SELECT status FROM enrolments WHERE class_id = $1 AND person_id = $2"
            )
            .bind(class_id)
            .bind(person_id)
            .fetch_one(c)
            .await)?;
            tx.commit().await?;
            let status =
                EnrolmentStatus::try_from(status).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            return Ok::<_, sqlx::Error>(Outcome::Already(status));
        };
        // What the event will say, read before the seat's statement locks the class row.
        let mut facts = events::facts(&mut tx, enrolment_id).await?;
        // The seat: one conditional statement, so two requests can never take the last one.
        let took = with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE classes SET seats_taken = seats_taken + 1 WHERE id = $1 AND seats_taken < seats"
        )
        .bind(class_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?
            == 1;
        if took {
            with_tx!(&mut tx, |c| sqlx::query("UPDATE enrolments SET status = 'confirmed' WHERE id = $1")
                .bind(enrolment_id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        let kind = if took { events::CONFIRMED } else { events::WAITLISTED };
        facts.status = if took { "confirmed" } else { "waitlisted" }.to_string();
        events::record_with(&mut tx, kind, enrolment_id, &facts).await?;
        tx.commit().await?;
        Ok(if took { Outcome::Confirmed } else { Outcome::Waitlisted })
    }
    .await?;
    if outcome != Outcome::Waitlisted {
        return Ok(Ok(outcome));
    }
    // A withdrawal that committed while this request was still uncommitted could not see it
    // in line and returned its seat to the class. Settle that here: free seats go to the
    // first in line (which may be this person).
    if fill_from_waitlist(db, class_id).await? > 0 {
        let status: String = with_db!(db, |p| sqlx::query_scalar(
            "SELECT status FROM enrolments WHERE class_id = $1 AND person_id = $2"
        )
        .bind(class_id)
        .bind(person_id)
        .fetch_one(p)
        .await)?;
        if status == "confirmed" {
            return Ok(Ok(Outcome::Confirmed));
        }
    }
    Ok(Ok(Outcome::Waitlisted))
}

/// Withdraws `person_id` from `class_id`; a freed seat goes to the first in line.
/// Returns whether anything changed.
pub async fn withdraw(db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error> {
    let now = now();
    let mut tx = db.begin().await?;
    // Lock the class first: withdrawals of one class serialise here.
    let exists = with_tx!(&mut tx, |c| sqlx::query(
        "UPDATE classes SET seats_taken = seats_taken WHERE id = $1"
    )
    .bind(class_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if exists == 0 {
        return Ok(false);
    }
    let previous: Option<(i64, String)> = with_tx!(&mut tx, |c| {
        sqlx::query_as(
        "SELECT id, status FROM enrolments WHERE class_id = $1 AND person_id = $2 AND status IN ('confirmed', 'waitlisted')",
    )
    .bind(class_id)
    .bind(person_id)
    .fetch_optional(c)
    .await
    })?;
    let Some((enrolment_id, previous)) = previous else {
        return Ok(false);
    };
    with_tx!(&mut tx, |c| sqlx::query(
        "UPDATE enrolments SET status = 'withdrawn', updated_at = $2 WHERE id = $1"
    )
    .bind(enrolment_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    events::record(&mut tx, events::WITHDRAWN, enrolment_id).await?;
    if previous == "confirmed" {
        match promote_first(&mut tx, class_id, now).await? {
            Some(promoted) => events::record(&mut tx, events::PROMOTED, promoted).await?,
            None => {
                with_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE classes SET seats_taken = seats_taken - 1 WHERE id = $1"
                )
                .bind(class_id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            }
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Moves the first in line of the class's waitlist to a seat the caller already holds for
/// them; returns the promoted enrolment, if anyone was waiting.
async fn promote_first(
    tx: &mut Tx,
    class_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    with_tx!(tx, |c| sqlx::query_scalar(
        "UPDATE enrolments SET status = 'confirmed', updated_at = $2 WHERE id = (
            SELECT id FROM enrolments WHERE class_id = $1 AND status = 'waitlisted'
            ORDER BY queued_at, id LIMIT 1) RETURNING id",
    )
    .bind(class_id)
    .bind(now)
    .fetch_optional(c)
    .await)
}

/// After seats were added to a class: moves people from the waitlist into the free seats.
pub async fn fill_from_waitlist(db: &Db, class_id: i64) -> Result<u64, sqlx::Error> {
    let now = now();
    let mut promoted = 0;
    loop {
        let moved = async {
            let mut tx = db.begin().await?;
            let took = with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE classes SET seats_taken = seats_taken + 1 WHERE id = $1 AND seats_taken < seats
                 AND EXISTS (SELECT 1 FROM enrolments WHERE class_id = $1 AND status = 'waitlisted')"
            )
            .bind(class_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            if took == 1
                && let Some(promoted) = promote_first(&mut tx, class_id, now).await?
            {
                events::record(&mut tx, events::PROMOTED, promoted).await?;
            }
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(took == 1)
        }
        .await?;
        if !moved {
            return Ok(promoted);
        }
        promoted += 1;
    }
}

/// A person's enrolments across courses, with progress, for `/mi-aula` and profiles.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EnrolmentSummary {
    pub class_id: i64,
    pub class_name: String,
    pub course_slug: String,
    pub course_title: String,
    #[sqlx(try_from = "String")]
    pub status: EnrolmentStatus,
    pub position: i64,
    pub lessons_total: i64,
    pub lessons_done: i64,
    pub enrolled_by_name: Option<String>,
}

impl EnrolmentSummary {
    pub fn label(&self) -> &'static str {
        self.status.label()
    }
    pub fn is_waitlisted(&self) -> bool {
        self.status == EnrolmentStatus::Waitlisted
    }
    /// Confirmed or completed: may study the lessons.
    pub fn is_active(&self) -> bool {
        matches!(
            self.status,
            EnrolmentStatus::Confirmed | EnrolmentStatus::Completed
        )
    }
    pub fn is_withdrawn(&self) -> bool {
        self.status == EnrolmentStatus::Withdrawn
    }
    pub fn percent(&self) -> i64 {
        lessons_percent(self.lessons_done, self.lessons_total)
    }
}

/// Every enrolment of a person (withdrawn ones last).
pub async fn summaries(db: &Db, person_id: i64) -> Result<Vec<EnrolmentSummary>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT e.class_id, k.name AS class_name, c.slug AS course_slug, c.title AS course_title, e.status,
            (SELECT COUNT(*) FROM enrolments w WHERE w.class_id = e.class_id AND w.status = 'waitlisted'
               AND (w.queued_at < e.queued_at OR (w.queued_at = e.queued_at AND w.id <= e.id))) AS position,
            (SELECT COUNT(*) FROM lessons l WHERE l.course_id = c.id AND NOT l.retired) AS lessons_total,
            (SELECT COUNT(*) FROM lessons l JOIN lesson_progress lp ON lp.lesson_id = l.id
               WHERE l.course_id = c.id AND NOT l.retired AND lp.person_id = e.person_id) AS lessons_done,
            (SELECT pb.first_name || ' ' || pb.last_name FROM users ub JOIN persons pb ON pb.id = ub.person_id
               WHERE ub.id = e.enrolled_by AND ub.person_id <> e.person_id) AS enrolled_by_name
         FROM enrolments e JOIN classes k ON k.id = e.class_id JOIN courses c ON c.id = k.course_id
         WHERE e.person_id = $1
         ORDER BY CASE e.status WHEN 'withdrawn' THEN 1 ELSE 0 END, e.created_at DESC"
    )
    .bind(person_id)
    .fetch_all(p)
    .await
    })
}

/// A learner studying in a class (confirmed or completed enrolment).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClassLearner {
    pub person_id: i64,
    pub dni: String,
    pub first_name: String,
    pub last_name: String,
}

/// The learners studying in a class, by last name: the rows of gradebooks and attendance
/// sheets (waitlisted and withdrawn people are not there).
pub async fn class_learners(db: &Db, class_id: i64) -> Result<Vec<ClassLearner>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_as(concat!(
        "SELECT p.id AS person_id, p.dni, p.first_name, p.last_name
         FROM enrolments e JOIN persons p ON p.id = e.person_id
         WHERE e.class_id = $1 AND e.status IN ",
        active_statuses!(),
        "
         ORDER BY p.last_name, p.first_name, p.id"
    ))
    .bind(class_id)
    .fetch_all(p)
    .await)
}

/// Whether a person may study in the class now: "learner who may study in this class",
/// written once (confirmed or completed; see `active_statuses!`).
pub async fn may_study(db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = with_db!(db, |p| sqlx::query_scalar(concat!(
        "SELECT id FROM enrolments WHERE class_id = $1 AND person_id = $2 AND status IN ",
        active_statuses!()
    ))
    .bind(class_id)
    .bind(person_id)
    .fetch_optional(p)
    .await)?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_statuses_round_trip_and_unknown_ones_are_errors() {
        for s in [
            EnrolmentStatus::Confirmed,
            EnrolmentStatus::Waitlisted,
            EnrolmentStatus::Withdrawn,
            EnrolmentStatus::Completed,
        ] {
            assert_eq!(
                EnrolmentStatus::try_from(s.as_str().to_string()).unwrap(),
                s
            );
        }
        let err = EnrolmentStatus::try_from("confirmado".to_string()).unwrap_err();
        assert!(err.to_string().contains("confirmado"), "{err}");
    }
}
