//! Live sessions of a class: scheduling, opening and ending, and who may enter.

use chrono::{DateTime, Duration, Utc};

use crate::{
    active_statuses,
    db::Db,
    web::{auth::CurrentUser, error::AppError, state::Progress, time::now},
    with_db,
};

/// Where a live session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Scheduled,
    Open,
    Ended,
}

crate::stored_enum!(Status, "estado de la clase en vivo", {
    Scheduled => "scheduled",
    Open => "open",
    Ended => "ended",
});

/// A scheduled live session with its class and course.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LiveSession {
    pub id: i64,
    pub class_id: i64,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
    #[sqlx(try_from = "String")]
    status: Status,
    pub opened_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub class_name: String,
    pub course_title: String,
    pub course_slug: String,
}

impl LiveSession {
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + Duration::minutes(self.duration_minutes)
    }
    /// Whether a learner may enter now: the instructor opened the room, or it is within
    /// `early` minutes of the start and the scheduled time is not over.
    pub fn learner_can_join(&self, at: DateTime<Utc>, early_minutes: i64) -> bool {
        match self.status() {
            Status::Open => true,
            Status::Ended => false,
            Status::Scheduled => {
                at >= self.starts_at - Duration::minutes(early_minutes) && at < self.ends_at()
            }
        }
    }
    pub fn is_ended(&self) -> bool {
        self.status() == Status::Ended
    }
    pub fn is_open(&self) -> bool {
        self.status() == Status::Open
    }
    /// "26/11/2026 18:00 · 90 min"
    pub fn when(&self) -> String {
        format!(
            "{} · {} min",
            crate::web::time::local(&self.starts_at),
            self.duration_minutes
        )
    }
    pub fn status_label(&self) -> &'static str {
        match self.status() {
            Status::Scheduled => "Programada",
            Status::Open => "En curso",
            Status::Ended => "Terminada",
        }
    }
}

/// What a user is in a live session's class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Teaches the class (or is an administrator): moderates the room.
    Instructor,
    /// Enrolled (confirmed or completed) in the class.
    Learner,
}

const SELECT: &str = "SELECT s.id, s.class_id, s.title, s.starts_at, s.duration_minutes, s.status,
        s.opened_at, s.ended_at, k.name AS class_name, c.title AS course_title, c.slug AS course_slug
     FROM live_sessions s JOIN classes k ON k.id = s.class_id JOIN courses c ON c.id = k.course_id";

/// One session by id.
pub async fn get(db: &Db, id: i64) -> Result<Option<LiveSession>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE s.id = $1");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// The sessions of a class, in start order.
pub async fn of_class(db: &Db, class_id: i64) -> Result<Vec<LiveSession>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE s.class_id = $1 ORDER BY s.starts_at, s.id");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(class_id)
        .fetch_all(p)
        .await)
}

/// The user's role in a class, or `None` if they have nothing to do with it.
pub async fn role_in_class(
    db: &Db,
    user: &CurrentUser,
    class_id: i64,
) -> Result<Option<Role>, sqlx::Error> {
    if user.runs_class(class_id) {
        return Ok(Some(Role::Instructor));
    }
    Ok(is_enrolled(db, class_id, user.person_id)
        .await?
        .then_some(Role::Learner))
}

/// Whether a person may study in the class now (enrolled: confirmed or completed). Asked
/// again while they are in a room: a withdrawal may happen in another tab, or on another
/// process.
pub async fn is_enrolled(db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error> {
    crate::enrolment::queries::may_study(db, class_id, person_id).await
}

/// The people enrolled in the class now (confirmed or completed): a room checks its learners
/// against it every few seconds. A class has at most its seats.
pub async fn enrolled(db: &Db, class_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_scalar(concat!(
        "SELECT person_id FROM enrolments WHERE class_id = $1 AND status IN ",
        active_statuses!()
    ))
    .bind(class_id)
    .fetch_all(p)
    .await)
}

/// The session and the user's role in it; 404 for anyone outside the class.
pub async fn authorise(
    db: &Db,
    user: &CurrentUser,
    session_id: i64,
) -> Result<(LiveSession, Role), AppError> {
    let s = get(db, session_id).await?.ok_or(AppError::NotFound)?;
    let role = role_in_class(db, user, s.class_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((s, role))
}

/// A validated new session.
pub struct NewSession {
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
}

/// Schedules a session and returns its id.
pub async fn schedule(
    db: &Db,
    class_id: i64,
    s: &NewSession,
    by_user: i64,
) -> Result<i64, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO live_sessions (class_id, title, starts_at, duration_minutes, status, created_by, created_at)
         VALUES ($1, $2, $3, $4, 'scheduled', $5, $6) RETURNING id"
    )
    .bind(class_id)
    .bind(&s.title)
    .bind(s.starts_at)
    .bind(s.duration_minutes)
    .bind(by_user)
    .bind(now())
    .fetch_one(p)
    .await
    })
}

/// Opens the room (idempotent); false if the session already ended.
pub async fn open(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let n = with_db!(db, |p| sqlx::query(
        "UPDATE live_sessions SET status = 'open', opened_at = COALESCE(opened_at, $2)
         WHERE id = $1 AND status <> 'ended'"
    )
    .bind(id)
    .bind(now())
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Ends the session for good; open presence intervals end now.
pub async fn end(db: &Db, progress: &dyn Progress, id: i64) -> Result<(), sqlx::Error> {
    let t = now();
    with_db!(db, |p| sqlx::query(
        "UPDATE live_sessions SET status = 'ended', ended_at = COALESCE(ended_at, $2) WHERE id = $1"
    )
    .bind(id)
    .bind(t)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    with_db!(db, |p| sqlx::query(
        "UPDATE live_presence SET left_at = $2 WHERE session_id = $1 AND left_at IS NULL"
    )
    .bind(id)
    .bind(t)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    // A held session may complete the course of learners whose other rules were met and who
    // now reach the attendance the course asks for (only courses with such a rule).
    let learners: Vec<(i64, i64)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT e.class_id, e.person_id FROM live_sessions s JOIN enrolments e ON e.class_id = s.class_id
         JOIN classes k ON k.id = s.class_id JOIN courses c ON c.id = k.course_id
         WHERE s.id = $1 AND e.status = 'confirmed' AND c.min_attendance_percent IS NOT NULL"
    )
    .bind(id)
    .fetch_all(p)
    .await
    })?;
    for (class_id, person_id) in learners {
        progress.changed(db, class_id, person_id).await?;
    }
    Ok(())
}

/// Keeps a chat line of a session.
pub async fn keep_chat(
    db: &Db,
    session_id: i64,
    person_id: i64,
    line: &crate::live::protocol::ChatLine,
) -> Result<(), sqlx::Error> {
    let at = chrono::DateTime::from_timestamp_millis(line.at).unwrap_or_else(now);
    with_db!(db, |p| {
        sqlx::query(
        "INSERT INTO live_chat (session_id, person_id, name, text, sent_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(session_id)
    .bind(person_id)
    .bind(&line.name)
    .bind(&line.text)
    .bind(at)
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records that `by` removed `person_id` from the session (once).
pub async fn keep_removal(
    db: &Db,
    session_id: i64,
    person_id: i64,
    by: i64,
) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "INSERT INTO live_removals (session_id, person_id, removed_by, removed_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (session_id, person_id) DO NOTHING"
    )
    .bind(session_id)
    .bind(person_id)
    .bind(by)
    .bind(now())
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records whether learners' cameras and microphones are allowed in the session.
pub async fn keep_permissions(
    db: &Db,
    session_id: i64,
    cams: bool,
    mics: bool,
) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE live_sessions SET cams_allowed = $2, mics_allowed = $3 WHERE id = $1"
    )
    .bind(session_id)
    .bind(cams)
    .bind(mics)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The moderation a room starts with: removed people, and whether learners' cameras and
/// microphones are allowed.
pub async fn moderation(db: &Db, session_id: i64) -> Result<(Vec<i64>, bool, bool), sqlx::Error> {
    let removed = removed(db, session_id).await?;
    let (cams, mics): (bool, bool) = with_db!(db, |p| sqlx::query_as(
        "SELECT cams_allowed, mics_allowed FROM live_sessions WHERE id = $1"
    )
    .bind(session_id)
    .fetch_one(p)
    .await)?;
    Ok((removed, cams, mics))
}

/// The people removed from a session.
async fn removed(db: &Db, session_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_scalar(
        "SELECT person_id FROM live_removals WHERE session_id = $1"
    )
    .bind(session_id)
    .fetch_all(p)
    .await)
}

/// The last `n` chat lines of a session, oldest first (`from` is 0: the participants of an
/// earlier room are gone).
pub async fn recent_chat(
    db: &Db,
    session_id: i64,
    n: usize,
) -> Result<Vec<crate::live::protocol::ChatLine>, sqlx::Error> {
    let rows: Vec<(String, String, chrono::DateTime<chrono::Utc>)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT name, text, sent_at FROM live_chat WHERE session_id = $1 ORDER BY sent_at DESC, id DESC LIMIT $2"
    )
    .bind(session_id)
    .bind(n as i64)
    .fetch_all(p)
    .await
    })?;
    Ok(rows
        .into_iter()
        .rev()
        .map(|(name, text, at)| crate::live::protocol::ChatLine {
            from: 0,
            name,
            text,
            at: at.timestamp_millis(),
        })
        .collect())
}
