//! Catalogue queries: search and filters, course pages, open classes.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    db::Db,
    web::text::{fold, like_pattern},
    web::time::now,
    with_db,
};

/// A course as the catalogue lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CourseCard {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub hours: i64,
    pub modality: String,
    pub cover: Option<String>,
    pub open_classes: i64,
}

impl CourseCard {
    pub fn modality_label(&self) -> &'static str {
        modality_label(&self.modality)
    }
}

/// "Virtual", "Presencial", "Semipresencial".
pub fn modality_label(m: &str) -> &'static str {
    match m {
        "virtual" => "Virtual",
        "presencial" => "Presencial",
        "semipresencial" => "Semipresencial",
        _ => "",
    }
}

/// Catalogue filters, as typed in the form.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Filters {
    /// Cut and cleaned as it arrives (see `web::text::search_input`).
    #[serde(deserialize_with = "crate::web::text::deserialize_search")]
    pub q: String,
    #[serde(deserialize_with = "crate::web::text::deserialize_search")]
    pub categoria: String,
    #[serde(deserialize_with = "crate::web::text::deserialize_search")]
    pub modalidad: String,
    pub departamento: String,
}

/// Courses matching the filters; the department filter keeps courses with a class there
/// (or a province-wide class).
pub async fn search(db: &Db, f: &Filters) -> Result<Vec<CourseCard>, sqlx::Error> {
    let q = fold(&crate::web::text::search_input(&f.q));
    let dept: i64 = f.departamento.parse().unwrap_or(0);
    with_db!(db, |p| {
        sqlx::query_as(
            "SELECT c.id, c.slug, c.title, c.summary, c.category, c.hours, c.modality, c.cover,
                (SELECT COUNT(*) FROM classes k WHERE k.course_id = c.id
                   AND k.enrol_opens_at <= $6 AND k.enrol_closes_at > $6) AS open_classes
         FROM courses c
         WHERE ($1 = '' OR c.search_text LIKE $2 ESCAPE '\\')
           AND ($3 = '' OR c.category = $3)
           AND ($4 = '' OR c.modality = $4)
           AND ($5 = 0 OR EXISTS (SELECT 1 FROM classes k WHERE k.course_id = c.id
                                  AND (k.department_id = $5 OR k.department_id IS NULL)))
         ORDER BY c.title",
        )
        .bind(&q)
        .bind(like_pattern(&q))
        .bind(&f.categoria)
        .bind(&f.modalidad)
        .bind(dept)
        .bind(now())
        .fetch_all(p)
        .await
    })
}

/// Every category in use, for the filter.
pub async fn categories(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_scalar(
        "SELECT DISTINCT category FROM courses ORDER BY category"
    )
    .fetch_all(p)
    .await)
}

/// A course with everything its page shows.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Course {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub hours: i64,
    pub modality: String,
    pub audience: String,
    pub description_html: String,
    pub cover: Option<String>,
    pub min_lessons_percent: i64,
    pub min_attendance_percent: Option<i64>,
}

impl Course {
    pub fn modality_label(&self) -> &'static str {
        modality_label(&self.modality)
    }
}

pub async fn course_by_slug(db: &Db, slug: &str) -> Result<Option<Course>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT id, slug, title, summary, category, hours, modality, audience, description_html, cover, min_lessons_percent,
                min_attendance_percent
         FROM courses WHERE slug = $1"
    )
    .bind(slug)
    .fetch_optional(p)
    .await
    })
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Competency {
    pub code: String,
    pub name: String,
}

pub async fn competencies(db: &Db, course_id: i64) -> Result<Vec<Competency>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_as(
        "SELECT code, name FROM competencies WHERE course_id = $1 ORDER BY position"
    )
    .bind(course_id)
    .fetch_all(p)
    .await)
}

/// A lesson in the outline, with whether this person completed it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutlineLesson {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub minutes: i64,
    pub done: bool,
}

/// The live lessons of a course in order; `person_id` 0 marks none done.
pub async fn outline(
    db: &Db,
    course_id: i64,
    person_id: i64,
) -> Result<Vec<OutlineLesson>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT l.id, l.key, l.title, l.minutes,
                (EXISTS (SELECT 1 FROM lesson_progress lp WHERE lp.lesson_id = l.id AND lp.person_id = $2)) AS done
         FROM lessons l WHERE l.course_id = $1 AND NOT l.retired ORDER BY l.position, l.id"
    )
    .bind(course_id)
    .bind(person_id)
    .fetch_all(p)
    .await
    })
}

/// A class (comisión) as course pages and admin lists show it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClassInfo {
    pub id: i64,
    pub course_id: i64,
    pub course_title: String,
    pub course_slug: String,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub enrol_opens_at: DateTime<Utc>,
    pub enrol_closes_at: DateTime<Utc>,
    pub seats: i64,
    pub seats_taken: i64,
    pub department: Option<String>,
    pub institution: Option<String>,
    pub instructors: Option<String>,
}

impl ClassInfo {
    pub fn seats_left(&self) -> i64 {
        (self.seats - self.seats_taken).max(0)
    }
    pub fn is_open(&self) -> bool {
        let n = now();
        self.enrol_opens_at <= n && n < self.enrol_closes_at
    }
    pub fn not_yet_open(&self) -> bool {
        now() < self.enrol_opens_at
    }
    pub fn dates(&self) -> String {
        format!(
            "del {} al {}",
            crate::web::time::date(&self.starts_on),
            crate::web::time::date(&self.ends_on)
        )
    }
    pub fn window(&self) -> String {
        format!(
            "Inscripción del {} al {}",
            crate::web::time::local(&self.enrol_opens_at),
            crate::web::time::local(&self.enrol_closes_at)
        )
    }
    pub fn place(&self) -> String {
        self.department
            .clone()
            .unwrap_or_else(|| "Toda la provincia".into())
    }
}

pub const CLASS_SELECT: &str = "SELECT k.id, k.course_id, c.title AS course_title, c.slug AS course_slug, k.name,
        k.starts_on, k.ends_on, k.enrol_opens_at, k.enrol_closes_at, k.seats, k.seats_taken,
        d.name AS department, i.name AS institution,
        (SELECT MIN(p.first_name || ' ' || p.last_name) FROM role_grants g JOIN users u ON u.id = g.user_id
           JOIN persons p ON p.id = u.person_id WHERE g.class_id = k.id AND g.role = 'instructor') AS instructors
   FROM classes k JOIN courses c ON c.id = k.course_id
   LEFT JOIN departments d ON d.id = k.department_id LEFT JOIN institutions i ON i.id = k.institution_id";

/// Classes of a course whose enrolment has not closed, soonest first.
pub async fn current_classes(db: &Db, course_id: i64) -> Result<Vec<ClassInfo>, sqlx::Error> {
    let sql = format!(
        "{CLASS_SELECT} WHERE k.course_id = $1 AND k.ends_on >= $2 ORDER BY k.starts_on, k.id"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(course_id)
        .bind(now().date_naive())
        .fetch_all(p)
        .await)
}

/// One class by id.
pub async fn class(db: &Db, id: i64) -> Result<Option<ClassInfo>, sqlx::Error> {
    let sql = format!("{CLASS_SELECT} WHERE k.id = $1");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// Every class, newest first (admin).
pub async fn all_classes(db: &Db) -> Result<Vec<ClassInfo>, sqlx::Error> {
    let sql = format!("{CLASS_SELECT} ORDER BY k.starts_on DESC, k.id DESC");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_all(p)
        .await)
}

/// Classes whose enrolment is open now, for assisted enrolment.
pub async fn open_classes(db: &Db) -> Result<Vec<ClassInfo>, sqlx::Error> {
    let sql = format!(
        "{CLASS_SELECT} WHERE k.enrol_opens_at <= $1 AND k.enrol_closes_at > $1 ORDER BY c.title, k.starts_on"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(now())
        .fetch_all(p)
        .await)
}

/// Classes this user teaches (instructor role), most recent first.
pub async fn taught_by(db: &Db, user_id: i64) -> Result<Vec<ClassInfo>, sqlx::Error> {
    let sql = format!(
        "{CLASS_SELECT} WHERE k.id IN (SELECT class_id FROM role_grants WHERE user_id = $1 AND role = 'instructor')
         ORDER BY k.starts_on DESC, k.id DESC"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(user_id)
        .fetch_all(p)
        .await)
}

/// The slug of a class's course (where enrolment pages send the learner back).
pub async fn class_course_slug(db: &Db, class_id: i64) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_scalar(
        "SELECT c.slug FROM classes k JOIN courses c ON c.id = k.course_id WHERE k.id = $1"
    )
    .bind(class_id)
    .fetch_optional(p)
    .await)
}

/// The share of a course's lessons done, in whole percent (0 for a course without lessons).
/// Every page that shows progress computes it here.
pub fn lessons_percent(done: i64, total: i64) -> i64 {
    if total <= 0 {
        0
    } else {
        done.clamp(0, total) * 100 / total
    }
}
