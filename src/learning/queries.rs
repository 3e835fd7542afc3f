//! Progress queries.

use chrono::{DateTime, Utc};

use crate::{
    accounts::auth::{VIEWER_COLUMNS, VIEWER_FROM, VIEWER_WHERE, ViewerRow, viewer_binds},
    active_statuses,
    db::Db,
    enrolment::queries::EnrolmentStatus,
    web::time::now,
    with_db,
};

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
        sqlx::query_as(concat!(
            "SELECT l.id, l.key, l.title, l.minutes, l.body_html, l.video,
                c.id AS course_id, c.slug AS course_slug, c.title AS course_title,
                e.class_id, e.last_activity_at
         FROM courses c JOIN lessons l ON l.course_id = c.id AND l.key = $2 AND NOT l.retired
         LEFT JOIN enrolments e ON e.id = (
             SELECT e2.id FROM enrolments e2 JOIN classes k ON k.id = e2.class_id
             WHERE e2.person_id = $3 AND k.course_id = c.id AND e2.status IN ",
            active_statuses!(),
            "
             ORDER BY e2.created_at DESC LIMIT 1)
         WHERE c.slug = $1"
        ))
        .bind(slug)
        .bind(key)
        .bind(person_id)
        .fetch_optional(p)
        .await
    })
}

/// What a lesson page reads from the database on each view, in one query: the session's
/// user, the course's content hash (its lessons come from the in-process cache), the class
/// through which this person studies it and which lessons they have done.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LessonVisit {
    #[sqlx(flatten)]
    pub viewer: ViewerRow,
    pub course_id: i64,
    pub content_hash: String,
    /// Confirmed or completed enrolment's class; `None` means not allowed to study.
    pub class_id: Option<i64>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Ids of the course's live lessons this person has done, joined by commas.
    done_ids: Option<String>,
}

impl LessonVisit {
    /// The ids of the course's lessons this person has done.
    pub fn done(&self) -> std::collections::HashSet<i64> {
        self.done_ids
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|id| id.parse().ok())
            .collect()
    }
}

/// The lesson page's one round trip for the session `token` and the course `slug`; `None`
/// when the session is not live or there is no such course.
pub async fn lesson_visit(
    db: &Db,
    token: &str,
    slug: &str,
) -> Result<Option<LessonVisit>, sqlx::Error> {
    let (hash, at) = viewer_binds(token);
    let sql = format!(
        "SELECT {VIEWER_COLUMNS}, c.id AS course_id, c.content_hash, e.class_id, e.last_activity_at,
                (SELECT string_agg(CAST(lp.lesson_id AS TEXT), ',')
                   FROM lesson_progress lp JOIN lessons l ON l.id = lp.lesson_id
                  WHERE lp.person_id = u.person_id AND l.course_id = c.id AND NOT l.retired) AS done_ids
         FROM {VIEWER_FROM} JOIN courses c ON c.slug = $3
         LEFT JOIN enrolments e ON e.id = (
             SELECT e2.id FROM enrolments e2 JOIN classes k ON k.id = e2.class_id
             WHERE e2.person_id = u.person_id AND k.course_id = c.id AND e2.status IN {active}
             ORDER BY e2.created_at DESC LIMIT 1)
         WHERE {VIEWER_WHERE}",
        active = active_statuses!()
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(&hash)
        .bind(at)
        .bind(slug)
        .fetch_optional(p)
        .await)
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

/// One learner of a class with their progress.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RosterRow {
    pub person_id: i64,
    pub dni: String,
    pub first_name: String,
    pub last_name: String,
    #[sqlx(try_from = "String")]
    pub status: EnrolmentStatus,
    pub lessons_done: i64,
    pub lessons_total: i64,
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl RosterRow {
    pub fn percent(&self) -> i64 {
        crate::catalog::queries::lessons_percent(self.lessons_done, self.lessons_total)
    }
    pub fn last_activity(&self) -> String {
        self.last_activity_at
            .as_ref()
            .map(crate::web::time::local)
            .unwrap_or_else(|| "Sin actividad".into())
    }
    pub fn status_label(&self) -> &'static str {
        self.status.label()
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
