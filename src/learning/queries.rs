//! Progress queries.

use chrono::{DateTime, Utc};

use crate::{db::Db, web::time::now, with_db};

/// A lesson with its course and, if any, the class through which this person studies it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LessonView {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub minutes: i64,
    pub body_html: String,
    pub video: Option<String>,
    pub course_id: i64,
    pub course_slug: String,
    pub course_title: String,
    /// Confirmed or completed enrolment's class; `None` means not allowed to study.
    pub class_id: Option<i64>,
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// The lesson page's data in one round trip.
pub async fn lesson_view(
    db: &Db,
    slug: &str,
    key: &str,
    person_id: i64,
) -> Result<Option<LessonView>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT l.id, l.key, l.title, l.minutes, l.body_html, l.video,
                c.id AS course_id, c.slug AS course_slug, c.title AS course_title,
                e.class_id, e.last_activity_at
         FROM courses c JOIN lessons l ON l.course_id = c.id AND l.key = $2 AND NOT l.retired
         LEFT JOIN enrolments e ON e.id = (
             SELECT e2.id FROM enrolments e2 JOIN classes k ON k.id = e2.class_id
             WHERE e2.person_id = $3 AND k.course_id = c.id AND e2.status IN ('confirmed', 'completed')
             ORDER BY e2.created_at DESC LIMIT 1)
         WHERE c.slug = $1"
    )
    .bind(slug)
    .bind(key)
    .bind(person_id)
    .fetch_optional(p)
    .await
    })
}

/// How stale "last activity" may get before a lesson view records it again. Viewing is then
/// a read-only request most of the time (no write lock on SQLite).
pub const ACTIVITY_RESOLUTION: chrono::Duration = chrono::Duration::minutes(5);

/// Records activity unless it was recorded less than [`ACTIVITY_RESOLUTION`] ago.
pub async fn touch_if_stale(
    db: &Db,
    class_id: i64,
    person_id: i64,
    last: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    if last.is_some_and(|t| now() - t < ACTIVITY_RESOLUTION) {
        return Ok(());
    }
    touch(db, class_id, person_id).await
}

/// Records activity on the enrolment (shown to instructors as "última actividad").
pub async fn touch(db: &Db, class_id: i64, person_id: i64) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE enrolments SET last_activity_at = $3 WHERE class_id = $1 AND person_id = $2"
    )
    .bind(class_id)
    .bind(person_id)
    .bind(now())
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks a lesson done (idempotent: the first completion time is kept).
pub async fn mark_done(db: &Db, person_id: i64, lesson_id: i64) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "INSERT INTO lesson_progress (person_id, lesson_id, completed_at) VALUES ($1, $2, $3)
         ON CONFLICT (person_id, lesson_id) DO NOTHING"
    )
    .bind(person_id)
    .bind(lesson_id)
    .bind(now())
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks the enrolment completed when the course's completion rules are met: enough lessons
/// done, every quiz named in `[completion]` passed with its minimum grade, and enough of the
/// class's live sessions attended.
pub async fn complete_if_met(db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error> {
    if !attendance_met(db, class_id, person_id).await? {
        return Ok(false);
    }
    let n = with_db!(db, |p| {
        sqlx::query(
        "UPDATE enrolments SET status = 'completed', updated_at = $3
         WHERE class_id = $1 AND person_id = $2 AND status = 'confirmed'
           AND (SELECT COUNT(*) FROM lessons l JOIN lesson_progress lp ON lp.lesson_id = l.id AND lp.person_id = $2
                 JOIN classes k ON k.course_id = l.course_id WHERE k.id = $1 AND NOT l.retired) * 100
               >= (SELECT c.min_lessons_percent * (SELECT COUNT(*) FROM lessons l2 WHERE l2.course_id = c.id AND NOT l2.retired)
                   FROM classes k2 JOIN courses c ON c.id = k2.course_id WHERE k2.id = $1)
           AND NOT EXISTS (
               SELECT 1 FROM quizzes q JOIN classes k3 ON k3.course_id = q.course_id
               WHERE k3.id = $1 AND NOT q.retired AND q.completion_percent IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM quiz_grades g
                                 WHERE g.quiz_id = q.id AND g.class_id = $1 AND g.person_id = $2
                                   AND g.percent + 0.000001 >= q.completion_percent))"
    )
    .bind(class_id)
    .bind(person_id)
    .bind(now())
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// One learner of a class with their progress.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RosterRow {
    pub person_id: i64,
    pub dni: String,
    pub first_name: String,
    pub last_name: String,
    pub status: String,
    pub lessons_done: i64,
    pub lessons_total: i64,
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl RosterRow {
    pub fn percent(&self) -> i64 {
        if self.lessons_total == 0 {
            0
        } else {
            self.lessons_done * 100 / self.lessons_total
        }
    }
    pub fn last_activity(&self) -> String {
        self.last_activity_at
            .as_ref()
            .map(crate::web::time::local)
            .unwrap_or_else(|| "Sin actividad".into())
    }
    pub fn status_label(&self) -> &'static str {
        crate::enrolment::queries::EnrolmentStatus::parse(&self.status).label()
    }
}

/// Confirmed, completed and waitlisted learners of a class, by last name.
pub async fn roster(db: &Db, class_id: i64) -> Result<Vec<RosterRow>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT p.id AS person_id, p.dni, p.first_name, p.last_name, e.status,
            (SELECT COUNT(*) FROM lessons l JOIN lesson_progress lp ON lp.lesson_id = l.id
               WHERE l.course_id = k.course_id AND NOT l.retired AND lp.person_id = p.id) AS lessons_done,
            (SELECT COUNT(*) FROM lessons l WHERE l.course_id = k.course_id AND NOT l.retired) AS lessons_total,
            e.last_activity_at
         FROM enrolments e JOIN persons p ON p.id = e.person_id JOIN classes k ON k.id = e.class_id
         WHERE e.class_id = $1 AND e.status IN ('confirmed', 'completed', 'waitlisted')
         ORDER BY CASE e.status WHEN 'waitlisted' THEN 1 ELSE 0 END, p.last_name, p.first_name, p.id"
    )
    .bind(class_id)
    .fetch_all(p)
    .await
    })
}

/// A live session counts as attended when the learner was there for at least this share of
/// its length (measured presence, or the instructor's correction).
pub const SESSION_ATTENDED_PERCENT: i64 = 50;

/// Whether the learner attended enough of the class's live sessions for the course's
/// `min_attendance_percent`. Every session the instructor scheduled counts, held or not (a
/// learner cannot complete the course before the sessions happen); only held ones can have
/// been attended. True when the course has no such rule or the class has no live sessions.
pub async fn attendance_met(db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error> {
    let required: Option<i64> = with_db!(db, |p| sqlx::query_scalar(
        "SELECT c.min_attendance_percent FROM classes k JOIN courses c ON c.id = k.course_id WHERE k.id = $1"
    )
    .bind(class_id)
    .fetch_optional(p)
    .await)?
    .flatten();
    let Some(required) = required else {
        return Ok(true);
    };
    let (scheduled, attended) = sessions_attended(db, class_id, person_id).await?;
    Ok(scheduled == 0 || attended * 100 >= required * scheduled)
}

/// `(scheduled, attended)`: the class's live sessions, and how many of the held (ended) ones
/// this learner attended (see [`SESSION_ATTENDED_PERCENT`]).
pub async fn sessions_attended(
    db: &Db,
    class_id: i64,
    person_id: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let sessions: Vec<(i64, i64, Option<DateTime<Utc>>, String)> =
        with_db!(db, |p| sqlx::query_as(
            "SELECT id, duration_minutes, ended_at, status FROM live_sessions WHERE class_id = $1"
        )
        .bind(class_id)
        .fetch_all(p)
        .await)?;
    let spans: Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> =
        with_db!(db, |p| sqlx::query_as(
            "SELECT pr.session_id, pr.joined_at, pr.left_at FROM live_presence pr
         JOIN live_sessions s ON s.id = pr.session_id
         WHERE s.class_id = $1 AND s.status = 'ended' AND pr.person_id = $2"
        )
        .bind(class_id)
        .bind(person_id)
        .fetch_all(p)
        .await)?;
    // The latest correction of each session wins (corrections are kept as history).
    let corrections: Vec<(i64, i64)> = with_db!(db, |p| sqlx::query_as(
        "SELECT co.session_id, co.minutes FROM live_attendance_corrections co
         JOIN live_sessions s ON s.id = co.session_id
         WHERE s.class_id = $1 AND co.person_id = $2 ORDER BY co.id"
    )
    .bind(class_id)
    .bind(person_id)
    .fetch_all(p)
    .await)?;
    let mut attended = 0;
    for (id, length, ended_at, status) in &sessions {
        if status != "ended" {
            continue;
        }
        let minutes = match corrections.iter().rev().find(|(s, _)| s == id) {
            Some((_, m)) => *m,
            None => crate::live::attendance::union_minutes(
                spans
                    .iter()
                    .filter(|(s, _, _)| s == id)
                    .map(|(_, a, b)| (*a, *b))
                    .collect(),
                ended_at.unwrap_or_else(now),
            ),
        };
        if minutes * 100 >= SESSION_ATTENDED_PERCENT * length {
            attended += 1;
        }
    }
    Ok((sessions.len() as i64, attended))
}
