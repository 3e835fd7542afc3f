//! The attempt lifecycle, settled by the database: start (or resume), save answers, close and
//! grade, grade essays, and keep each learner's quiz grade.
//!
//! The server's clock is the only clock. Every state change is one conditional statement on the
//! attempt row inside a transaction, so a save racing the deadline closer, two tabs submitting,
//! or a retried request all end the same way: one attempt, one grade, and every answer that got
//! a success response included in it.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{
    draw::{self, Drawn},
    files::{GradingMethod, ReviewWhen, Slot},
    grading::{self, Grade, Response},
    question::Question,
};
use crate::{
    active_statuses,
    db::{Db, Tx, is_unique_violation},
    web::state::Progress,
    with_db, with_tx,
};

/// A quiz as stored, with its settings.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QuizRow {
    pub id: i64,
    pub course_id: i64,
    pub key: String,
    pub title: String,
    pub intro_html: String,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub time_limit_seconds: Option<i64>,
    pub attempts_allowed: i64,
    pub passing_percent: i64,
    #[sqlx(try_from = "String")]
    pub grading_method: GradingMethod,
    pub shuffle_questions: bool,
    pub shuffle_options: bool,
    pub per_page: i64,
    #[sqlx(try_from = "String")]
    pub review_answers: ReviewWhen,
    #[sqlx(try_from = "String")]
    pub review_score: ReviewWhen,
    pub slots: String,
    pub completion_percent: Option<i64>,
}

/// The quiz's columns, with the opening and closing times of the class's window (`w`, from
/// `quiz_windows`) when its instructor set one, else the course file's.
pub const QUIZ_COLUMNS: &str = "q.id, q.course_id, q.key, q.title, q.intro_html, \
     CASE WHEN w.quiz_id IS NULL THEN q.opens_at ELSE w.opens_at END AS opens_at, \
     CASE WHEN w.quiz_id IS NULL THEN q.closes_at ELSE w.closes_at END AS closes_at, \
     q.time_limit_seconds, q.attempts_allowed, q.passing_percent, q.grading_method, q.shuffle_questions, \
     q.shuffle_options, q.per_page, q.review_answers, q.review_score, q.slots, q.completion_percent";

impl QuizRow {
    pub fn grading(&self) -> GradingMethod {
        self.grading_method
    }
    /// Whether the quiz may be started at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.opens_at.is_none_or(|o| o <= now) && self.closes_at.is_none_or(|c| now < c)
    }
    fn allowed(&self, when: ReviewWhen, finished: bool, now: DateTime<Utc>) -> bool {
        finished
            && match when {
                ReviewWhen::AfterSubmit => true,
                ReviewWhen::AfterClose => self.closes_at.is_some_and(|c| c <= now),
                ReviewWhen::Never => false,
            }
    }
    /// Whether a learner may see the correct answers and feedback of a finished attempt.
    pub fn answers_visible(&self, finished: bool, now: DateTime<Utc>) -> bool {
        self.allowed(self.review_answers, finished, now)
    }
    /// Whether a learner may see the score of a finished attempt (seeing the answers shows it).
    pub fn score_visible(&self, finished: bool, now: DateTime<Utc>) -> bool {
        self.allowed(self.review_score, finished, now) || self.answers_visible(finished, now)
    }
    pub fn time_limit_minutes(&self) -> Option<i64> {
        self.time_limit_seconds.map(|s| s / 60)
    }
    pub fn opens(&self) -> String {
        self.opens_at
            .as_ref()
            .map(crate::web::time::local)
            .unwrap_or_default()
    }
    pub fn closes(&self) -> String {
        self.closes_at
            .as_ref()
            .map(crate::web::time::local)
            .unwrap_or_default()
    }
    pub fn grading_label(&self) -> &'static str {
        self.grading().label()
    }
}

/// An attempt as stored.
#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct AttemptRow {
    pub id: i64,
    pub quiz_id: i64,
    pub class_id: i64,
    pub person_id: i64,
    pub number: i64,
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub last_saved_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub max_points: f64,
    pub points: Option<f64>,
    pub percent: Option<f64>,
}

const ATTEMPT_COLUMNS: &str = "a.id, a.quiz_id, a.class_id, a.person_id, a.number, a.state, a.started_at, \
     a.deadline_at, a.last_saved_at, a.submitted_at, a.closed_by, a.max_points, a.points, a.percent";

impl AttemptRow {
    pub fn in_progress(&self) -> bool {
        self.state == "in_progress"
    }
    pub fn finished(&self) -> bool {
        !self.in_progress()
    }
    /// Seconds left before the deadline, never negative; `None` without a deadline.
    pub fn remaining(&self, now: DateTime<Utc>) -> Option<i64> {
        self.deadline_at.map(|d| (d - now).num_seconds().max(0))
    }
    /// Past its deadline and the grace: the closer may close it.
    pub fn overdue(&self, now: DateTime<Utc>, grace: Duration) -> bool {
        self.in_progress() && self.deadline_at.is_some_and(|d| d + grace <= now)
    }
    pub fn state_label(&self) -> &'static str {
        match self.state.as_str() {
            "in_progress" => "En curso",
            "pending" => "Entregado: falta corregir",
            _ => "Calificado",
        }
    }
    pub fn started(&self) -> String {
        crate::web::time::local(&self.started_at)
    }
    pub fn submitted(&self) -> String {
        self.submitted_at
            .as_ref()
            .map(crate::web::time::local)
            .unwrap_or_default()
    }
    pub fn percent_label(&self) -> String {
        self.percent.map(fmt_percent).unwrap_or_default()
    }
    pub fn points_label(&self) -> String {
        format!(
            "{} de {}",
            fmt_number(self.points.unwrap_or(0.0)),
            fmt_number(self.max_points)
        )
    }
}

/// `72,5 %`: Spanish decimal comma, at most one decimal.
pub fn fmt_percent(p: f64) -> String {
    format!("{} %", fmt_number((p * 10.0).round() / 10.0))
}

/// `2,5` / `3`: Spanish decimal comma, at most two decimals.
pub fn fmt_number(x: f64) -> String {
    let s = format!("{:.2}", (x * 100.0).round() / 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.replace('.', ",")
}

/// A question of an attempt with the learner's response and its grade.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AnswerRow {
    pub slot: i64,
    pub page: i64,
    pub question_key: String,
    pub question: String,
    pub option_order: String,
    pub max_points: f64,
    pub response: Option<String>,
    pub saved_at: Option<DateTime<Utc>>,
    pub fraction: Option<f64>,
    pub comment: Option<String>,
}

impl AnswerRow {
    pub fn question(&self) -> Result<Question, serde_json::Error> {
        serde_json::from_str(&self.question)
    }
    pub fn order(&self) -> Vec<usize> {
        serde_json::from_str(&self.option_order).unwrap_or_default()
    }
    pub fn response(&self) -> Option<Response> {
        self.response
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
    }
}

/// What a learner's request to start ended in.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    New(i64),
    Resumed(i64),
}

/// Why an attempt cannot start, in words for the learner.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("La evaluación todavía no está abierta: abre el {0}.")]
    NotYetOpen(String),
    #[error("La evaluación ya cerró.")]
    Closed,
    #[error("Ya usaste todos los intentos permitidos ({0}).")]
    NoAttemptsLeft(i64),
    #[error("La evaluación no se puede armar: {0}. Avisale a tu docente.")]
    Bank(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The learner's quiz (by course slug and quiz key) with the class they take it in.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QuizView {
    #[sqlx(flatten)]
    pub quiz: QuizRow,
    pub course_slug: String,
    pub course_title: String,
    /// The course's content hash: its question bank is the same while this is.
    pub course_hash: String,
    /// Confirmed or completed enrolment's class; `None` means not allowed to take it.
    pub class_id: Option<i64>,
}

pub async fn quiz_view(
    db: &Db,
    slug: &str,
    key: &str,
    person_id: i64,
) -> Result<Option<QuizView>, sqlx::Error> {
    let sql = format!(
        "SELECT {QUIZ_COLUMNS}, c.slug AS course_slug, c.title AS course_title,
                c.content_hash AS course_hash, e.class_id
         FROM courses c JOIN quizzes q ON q.course_id = c.id AND q.key = $2 AND NOT q.retired
         LEFT JOIN enrolments e ON e.id = (
             SELECT e2.id FROM enrolments e2 JOIN classes k ON k.id = e2.class_id
             WHERE e2.person_id = $3 AND k.course_id = c.id AND e2.status IN {active}
             ORDER BY e2.created_at DESC LIMIT 1)
         LEFT JOIN quiz_windows w ON w.quiz_id = q.id AND w.class_id = e.class_id
         WHERE c.slug = $1",
        active = active_statuses!()
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(slug)
        .bind(key)
        .bind(person_id)
        .fetch_optional(p)
        .await)
}

/// One active quiz of a course, by key, with the times of `class_id`'s window (none: the
/// course file's times).
pub async fn course_quiz(
    db: &Db,
    course_id: i64,
    class_id: Option<i64>,
    key: &str,
) -> Result<Option<QuizRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {QUIZ_COLUMNS} FROM quizzes q
         LEFT JOIN quiz_windows w ON w.quiz_id = q.id AND w.class_id = $2
         WHERE q.course_id = $1 AND q.key = $3 AND NOT q.retired"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(course_id)
        .bind(class_id)
        .bind(key)
        .fetch_optional(p)
        .await)
}

/// The active quizzes of a course, in order, with the times of `class_id`'s windows (none:
/// the course file's times).
pub async fn course_quizzes(
    db: &Db,
    course_id: i64,
    class_id: Option<i64>,
) -> Result<Vec<QuizRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {QUIZ_COLUMNS} FROM quizzes q
         LEFT JOIN quiz_windows w ON w.quiz_id = q.id AND w.class_id = $2
         WHERE q.course_id = $1 AND NOT q.retired ORDER BY q.position, q.id"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(course_id)
        .bind(class_id)
        .fetch_all(p)
        .await)
}

/// Opening and closing times; `None` on a side means no limit there.
pub type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The deadline of an attempt started at `started`: the end of the time limit, capped by the
/// closing time.
pub(crate) fn deadline_for(
    started: DateTime<Utc>,
    limit_seconds: Option<i64>,
    closes: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let limit_end = limit_seconds.map(|s| started + Duration::seconds(s));
    match (limit_end, closes) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether two deadlines are the same to the millisecond (what both databases keep).
pub(crate) fn same_instant(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> bool {
    a.map(|d| d.timestamp_millis()) == b.map(|d| d.timestamp_millis())
}

/// Sets (or, with `None`, removes) a class's own opening and closing times for `quiz` (the
/// course file's settings). Attempts of the class in progress follow the new closing time, as
/// attempts started now would: a later closing gives them back the rest of their time limit,
/// an earlier one ends them sooner. One transaction; returns how many deadlines moved.
pub async fn set_window(
    db: &Db,
    quiz: &QuizRow,
    class_id: i64,
    window: Option<Window>,
    by: i64,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let closes = match window {
        Some((_, closes)) => closes,
        None => quiz.closes_at,
    };
    with_db!(db, |p| {
        let mut tx = p.begin().await?;
        match window {
            Some((opens, closes)) => sqlx::query(
                "INSERT INTO quiz_windows (quiz_id, class_id, opens_at, closes_at, set_by, set_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (quiz_id, class_id) DO UPDATE SET opens_at = excluded.opens_at,
                    closes_at = excluded.closes_at, set_by = excluded.set_by, set_at = excluded.set_at",
            )
            .bind(quiz.id)
            .bind(class_id)
            .bind(opens)
            .bind(closes)
            .bind(by)
            .bind(now)
            .execute(&mut *tx)
            .await?,
            None => sqlx::query("DELETE FROM quiz_windows WHERE quiz_id = $1 AND class_id = $2")
                .bind(quiz.id)
                .bind(class_id)
                .execute(&mut *tx)
                .await?,
        };
        let open: Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, started_at, deadline_at FROM attempts
             WHERE quiz_id = $1 AND class_id = $2 AND state = 'in_progress'",
        )
        .bind(quiz.id)
        .bind(class_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut moved = 0;
        for (id, started, old) in open {
            let new = deadline_for(started, quiz.time_limit_seconds, closes);
            if !same_instant(new, old) {
                moved += sqlx::query(
                    "UPDATE attempts SET deadline_at = $1 WHERE id = $2 AND state = 'in_progress'",
                )
                .bind(new)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        }
        tx.commit().await?;
        Ok(moved)
    })
}

/// A learner's attempts at a quiz, in every class of its course, oldest first: the allowance
/// of attempts is per person and quiz, not per class.
pub async fn attempts_of(
    db: &Db,
    quiz_id: i64,
    person_id: i64,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts a
         WHERE a.quiz_id = $1 AND a.person_id = $2 ORDER BY a.number"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(quiz_id)
        .bind(person_id)
        .fetch_all(p)
        .await)
}

/// An attempt with its quiz and course, if it belongs to `person_id` (`None` for anyone else:
/// attempts of others do not exist for a learner).
pub async fn attempt_of(
    db: &Db,
    attempt_id: i64,
    person_id: Option<i64>,
) -> Result<Option<(AttemptRow, QuizRow, String)>, sqlx::Error> {
    // Two small queries: attempts and quizzes share column names (id), which flattening into
    // one row would confuse.
    let Some(attempt) = attempt_row(db, attempt_id, person_id).await? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {QUIZ_COLUMNS}, c.slug AS course_slug FROM quizzes q JOIN courses c ON c.id = q.course_id
         LEFT JOIN quiz_windows w ON w.quiz_id = q.id AND w.class_id = $2
         WHERE q.id = $1"
    );
    #[derive(sqlx::FromRow)]
    struct QuizWithSlug {
        #[sqlx(flatten)]
        quiz: QuizRow,
        course_slug: String,
    }
    let q: Option<QuizWithSlug> = with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(attempt.quiz_id)
        .bind(attempt.class_id)
        .fetch_optional(p)
        .await)?;
    Ok(q.map(|q| (attempt, q.quiz, q.course_slug)))
}

/// Just the attempt (of `person_id`, when given): what the autosave and the page posts need.
pub async fn attempt_row(
    db: &Db,
    attempt_id: i64,
    person_id: Option<i64>,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts a WHERE a.id = $1 AND ($2 IS NULL OR a.person_id = $2)"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(attempt_id)
        .bind(person_id)
        .fetch_optional(p)
        .await)
}

/// The questions of an attempt (one page, or all with `None`), in slot order.
pub async fn answers(
    db: &Db,
    attempt_id: i64,
    page: Option<i64>,
) -> Result<Vec<AnswerRow>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT slot, page, question_key, question, option_order, max_points, response, saved_at, fraction, comment
         FROM attempt_answers WHERE attempt_id = $1 AND ($2 IS NULL OR page = $2) ORDER BY slot"
    )
    .bind(attempt_id)
    .bind(page)
    .fetch_all(p)
    .await
    })
}

/// A course's question bank as parsed from the database, kept per course and content hash:
/// it changes only when the course is imported again (and then its hash changes), so drawing
/// an attempt does not read and parse the whole bank each time.
#[derive(Clone)]
pub struct Banks(std::sync::Arc<quick_cache::sync::Cache<(i64, String), Bank>>);

/// A parsed bank: `(key, question)` by key.
pub type Bank = std::sync::Arc<Vec<(String, Question)>>;

impl Default for Banks {
    fn default() -> Banks {
        Banks(std::sync::Arc::new(quick_cache::sync::Cache::new(256)))
    }
}

impl Banks {
    /// The bank of `course_id` at content `hash`.
    pub async fn get(&self, db: &Db, course_id: i64, hash: &str) -> Result<Bank, sqlx::Error> {
        let key = (course_id, hash.to_string());
        if let Some(b) = self.0.get(&key) {
            return Ok(b);
        }
        let rows: Vec<(String, String)> = with_db!(db, |p| sqlx::query_as(
            "SELECT key, body FROM questions WHERE course_id = $1 AND NOT retired ORDER BY key"
        )
        .bind(course_id)
        .fetch_all(p)
        .await)?;
        let bank: Bank = std::sync::Arc::new(
            rows.into_iter()
                .filter_map(|(k, b)| serde_json::from_str(&b).ok().map(|q| (k, q)))
                .collect(),
        );
        self.0.insert(key, bank.clone());
        Ok(bank)
    }
}

/// Starts an attempt, or resumes the open one (also when two requests race to start). The
/// common case (no attempt open) is one insert: an open attempt is found by the insert's
/// conflict with the "one open attempt" index, not by reading first.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    db: &Db,
    progress: &dyn Progress,
    view: &QuizView,
    banks: &Banks,
    class_id: i64,
    person_id: i64,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Started, StartError> {
    let quiz = &view.quiz;
    if let Some(o) = quiz.opens_at
        && now < o
    {
        return Err(StartError::NotYetOpen(crate::web::time::local(&o)));
    }
    if quiz.closes_at.is_some_and(|c| c <= now) {
        return Err(StartError::Closed);
    }
    let slots: Vec<Slot> =
        serde_json::from_str(&quiz.slots).map_err(|e| StartError::Bank(e.to_string()))?;
    let bank = banks.get(db, quiz.course_id, &view.course_hash).await?;
    let drawn = draw::draw(
        &slots,
        &bank,
        quiz.shuffle_questions,
        quiz.shuffle_options,
        quiz.per_page,
    )
    .map_err(StartError::Bank)?;
    let max_points: f64 = drawn.iter().map(|d| d.points).sum();
    let deadline = deadline_for(now, quiz.time_limit_seconds, quiz.closes_at);
    let mut tries = 0;
    loop {
        tries += 1;
        match insert_attempt(
            db, quiz, class_id, person_id, now, deadline, max_points, &drawn,
        )
        .await
        {
            Ok(Some(id)) => return Ok(Started::New(id)),
            Ok(None) => return Err(StartError::NoAttemptsLeft(quiz.attempts_allowed)),
            // An attempt is open (another tab, a double click, or one left unfinished): resume
            // it, or close it first if its time is over.
            Err(e) if is_unique_violation(&e) => {
                match open_attempt(db, quiz.id, class_id, person_id).await? {
                    Some(open) if !open.overdue(now, grace) => {
                        return Ok(Started::Resumed(open.id));
                    }
                    Some(open) => {
                        close(db, progress, open.id, Closer::Deadline, now).await?;
                    }
                    // A start in another class of the course took the same number: count
                    // again (the allowance still holds, the statement checks it).
                    None => {}
                }
                if tries >= 3 {
                    return Err(e.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn open_attempt(
    db: &Db,
    quiz_id: i64,
    class_id: i64,
    person_id: i64,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts a
         WHERE a.quiz_id = $1 AND a.class_id = $2 AND a.person_id = $3 AND a.state = 'in_progress'"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(quiz_id)
        .bind(class_id)
        .bind(person_id)
        .fetch_optional(p)
        .await)
}

/// Inserts the attempt and its frozen questions in one transaction. The attempt number and the
/// attempts limit are decided by the same statement that inserts, counting the person's
/// attempts at the quiz in every class of the course (enrolling in another class gives no new
/// attempts), so racing starts cannot exceed the limit: the unique indexes (one open attempt
/// per class; one number per person and quiz) turn a lost race into a resume or a recount.
#[allow(clippy::too_many_arguments)]
async fn insert_attempt(
    db: &Db,
    quiz: &QuizRow,
    class_id: i64,
    person_id: i64,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
    max_points: f64,
    drawn: &[Drawn],
) -> Result<Option<i64>, sqlx::Error> {
    let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
    let insert_attempt = "INSERT INTO attempts (quiz_id, class_id, person_id, number, state, started_at, deadline_at, max_points)
         SELECT $1, $2, $3, s.n + 1, 'in_progress', $4, $5, $6
         FROM (SELECT COUNT(*) AS c, COALESCE(MAX(number), 0) AS n FROM attempts
               WHERE quiz_id = $1 AND person_id = $3) s
         WHERE $7 = 0 OR s.c < $7
         RETURNING id";
    let questions: Vec<String> = drawn
        .iter()
        .map(|d| serde_json::to_string(&d.question))
        .collect::<Result<_, _>>()
        .map_err(encode)?;
    let orders: Vec<String> = drawn
        .iter()
        .map(|d| serde_json::to_string(&d.option_order))
        .collect::<Result<_, _>>()
        .map_err(encode)?;
    let slots: Vec<i64> = (0..drawn.len() as i64).collect();
    let pages: Vec<i64> = drawn.iter().map(|d| d.page).collect();
    let keys: Vec<&str> = drawn.iter().map(|d| d.key.as_str()).collect();
    let points: Vec<f64> = drawn.iter().map(|d| d.points).collect();
    match db {
        // One statement, one round trip: the attempt (numbered and limited by the statement)
        // and its frozen questions, or nothing.
        Db::Postgres(p) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "WITH a AS ({insert_attempt}),
                      q AS (INSERT INTO attempt_answers
                              (attempt_id, slot, page, question_key, question, option_order, max_points)
                            SELECT a.id, v.slot, v.page, v.key, v.question, v.option_order, v.points
                            FROM a, unnest($8::bigint[], $9::bigint[], $10::text[], $11::text[],
                                           $12::text[], $13::float8[])
                                 AS v(slot, page, key, question, option_order, points))
                 SELECT id FROM a"
            )))
            .bind(quiz.id)
            .bind(class_id)
            .bind(person_id)
            .bind(now)
            .bind(deadline)
            .bind(max_points)
            .bind(quiz.attempts_allowed)
            .bind(&slots)
            .bind(&pages)
            .bind(&keys)
            .bind(&questions)
            .bind(&orders)
            .bind(&points)
            .fetch_optional(p)
            .await
        }
        Db::Sqlite(p) => {
            let mut tx = p.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(insert_attempt)
                .bind(quiz.id)
                .bind(class_id)
                .bind(person_id)
                .bind(now)
                .bind(deadline)
                .bind(max_points)
                .bind(quiz.attempts_allowed)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(id) = id else {
                return Ok(None);
            };
            for i in 0..drawn.len() {
                sqlx::query(
                    "INSERT INTO attempt_answers (attempt_id, slot, page, question_key, question, option_order, max_points)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(slots[i])
                .bind(pages[i])
                .bind(keys[i])
                .bind(&questions[i])
                .bind(&orders[i])
                .bind(points[i])
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Some(id))
        }
    }
}

/// What a save ended in.
#[derive(Debug, PartialEq)]
pub enum Saved {
    /// Stored at this time; the deadline for the countdown.
    At(DateTime<Utc>, Option<DateTime<Utc>>),
    /// The attempt is no longer open (submitted, or past its deadline and grace): nothing saved.
    Closed,
    /// The learner is no longer enrolled in the attempt's class (withdrew): nothing saved.
    NotEnrolled,
}

/// The condition, on an `attempts` row, that its learner is still enrolled in its class.
const STILL_ENROLLED: &str = concat!(
    "EXISTS (SELECT 1 FROM enrolments e WHERE e.class_id = attempts.class_id
     AND e.person_id = attempts.person_id AND e.status IN ",
    active_statuses!(),
    ")"
);

/// The person whose session token hash is `$4`, if the session is alive at `$1`.
const SESSION_PERSON: &str = "(SELECT u.person_id FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = $4 AND s.expires_at > $1)";

/// Autosave: saves responses of an open attempt for the holder of a session (its token's hash),
/// with no read before the write: the session, the attempt's owner, its deadline (plus `grace`)
/// and the enrolment are conditions of the attempt's UPDATE, which also locks the row (so a
/// concurrent close either waits for this save and grades it, or wins and this saves nothing).
/// On PostgreSQL it is one statement (one round trip); on SQLite, in the process, a short
/// transaction. `None` means nothing was saved and [`save`]'s reasons must be asked for.
pub async fn autosave(
    db: &Db,
    attempt_id: i64,
    token_hash: &str,
    responses: &[(i64, Option<Response>)],
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Option<Saved>, sqlx::Error> {
    let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
    let (slots, texts): (Vec<i64>, Vec<Option<String>>) = responses
        .iter()
        .map(|(slot, r)| {
            r.as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map(|r| (*slot, r))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(encode)?
        .into_iter()
        .unzip();
    let update_attempt = format!(
        "UPDATE attempts SET last_saved_at = $1
         WHERE id = $2 AND state = 'in_progress' AND (deadline_at IS NULL OR deadline_at > $3)
           AND person_id = {SESSION_PERSON} AND {STILL_ENROLLED}
         RETURNING id, deadline_at"
    );
    let deadline: Option<Option<DateTime<Utc>>> = match db {
        Db::Postgres(p) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "WITH a AS ({update_attempt}),
                  w AS (UPDATE attempt_answers t SET response = v.response, saved_at = $1
                        FROM unnest($5::bigint[], $6::text[]) AS v(slot, response)
                        WHERE t.attempt_id = (SELECT id FROM a) AND t.slot = v.slot)
             SELECT deadline_at FROM a"
            )))
            .bind(now)
            .bind(attempt_id)
            .bind(now - grace)
            .bind(token_hash)
            .bind(&slots)
            .bind(&texts)
            .fetch_optional(p)
            .await?
        }
        Db::Sqlite(p) => {
            let mut tx = p.begin().await?;
            let row: Option<(i64, Option<DateTime<Utc>>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(update_attempt))
                    .bind(now)
                    .bind(attempt_id)
                    .bind(now - grace)
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
            if row.is_some() {
                for (slot, text) in slots.iter().zip(&texts) {
                    sqlx::query(
                        "UPDATE attempt_answers SET response = $1, saved_at = $2
                         WHERE attempt_id = $3 AND slot = $4",
                    )
                    .bind(text)
                    .bind(now)
                    .bind(attempt_id)
                    .bind(slot)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            row.map(|(_, d)| d)
        }
    };
    Ok(deadline.map(|d| Saved::At(now, d)))
}

/// Saves responses (`None` clears one) of an open attempt of `person_id`, still enrolled in its
/// class. The attempt row is updated first, in the same transaction: that checks the deadline
/// and the enrolment and locks the row, so a concurrent close either waits for this save (and
/// grades it) or wins (and this saves nothing), and a withdrawal is never raced past.
pub async fn save(
    db: &Db,
    attempt_id: i64,
    person_id: i64,
    responses: &[(i64, Option<Response>)],
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Saved, sqlx::Error> {
    let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
    let encoded: Vec<(i64, Option<String>)> = responses
        .iter()
        .map(|(slot, r)| {
            r.as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map(|r| (*slot, r))
        })
        .collect::<Result<_, _>>()
        .map_err(encode)?;
    with_db!(db, |p| {
        let mut tx = p.begin().await?;
        let deadline: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "UPDATE attempts SET last_saved_at = $1
             WHERE id = $2 AND person_id = $3 AND state = 'in_progress'
               AND (deadline_at IS NULL OR deadline_at > $4) AND {STILL_ENROLLED}
             RETURNING deadline_at"
            )))
            .bind(now)
            .bind(attempt_id)
            .bind(person_id)
            .bind(now - grace)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(deadline) = deadline else {
            // Why nothing was saved, for the learner's message only (the decision is above).
            let withdrawn: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) > 0 FROM attempts WHERE id = $1 AND state = 'in_progress'
                   AND (deadline_at IS NULL OR deadline_at > $2) AND NOT {STILL_ENROLLED}"
            )))
            .bind(attempt_id)
            .bind(now - grace)
            .fetch_one(&mut *tx)
            .await?;
            return Ok(if withdrawn {
                Saved::NotEnrolled
            } else {
                Saved::Closed
            });
        };
        for (slot, response) in &encoded {
            sqlx::query(
                "UPDATE attempt_answers SET response = $1, saved_at = $2 WHERE attempt_id = $3 AND slot = $4",
            )
            .bind(response)
            .bind(now)
            .bind(attempt_id)
            .bind(slot)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Saved::At(now, deadline))
    })
}

/// Sums the attempt's graded parts in `tx`; when none waits for an instructor the attempt is
/// graded and the learner's quiz grade recomputed. Returns whether it is graded.
async fn finalize(tx: &mut Tx, attempt_id: i64, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    with_tx!(tx, |c| {
        let parts: Vec<(Option<f64>, f64)> = sqlx::query_as(
            "SELECT fraction, max_points FROM attempt_answers WHERE attempt_id = $1",
        )
        .bind(attempt_id)
        .fetch_all(&mut *c)
        .await?;
        let pending = parts.iter().any(|(f, _)| f.is_none());
        let points: f64 = parts
            .iter()
            .map(|(f, max)| grading::score(f.unwrap_or(0.0), *max))
            .sum();
        let max: f64 = parts.iter().map(|(_, m)| m).sum();
        let percent = if max > 0.0 { points * 100.0 / max } else { 0.0 };
        let (quiz_id, class_id, person_id): (i64, i64, i64) = sqlx::query_as(
            "UPDATE attempts SET state = $2, points = $3, percent = $4
             WHERE id = $1 AND state <> 'in_progress' RETURNING quiz_id, class_id, person_id",
        )
        .bind(attempt_id)
        .bind(if pending { "pending" } else { "graded" })
        .bind(points)
        .bind(percent)
        .fetch_one(&mut *c)
        .await?;
        let (method, passing): (String, i64) =
            sqlx::query_as("SELECT grading_method, passing_percent FROM quizzes WHERE id = $1")
                .bind(quiz_id)
                .fetch_one(&mut *c)
                .await?;
        let graded: Vec<f64> = sqlx::query_scalar(
            "SELECT percent FROM attempts WHERE quiz_id = $1 AND class_id = $2 AND person_id = $3
               AND state = 'graded' ORDER BY number",
        )
        .bind(quiz_id)
        .bind(class_id)
        .bind(person_id)
        .fetch_all(&mut *c)
        .await?;
        let method =
            GradingMethod::try_from(method).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        if let Some(grade) = quiz_grade(method, &graded) {
            sqlx::query(
                "INSERT INTO quiz_grades (quiz_id, class_id, person_id, percent, passed, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (quiz_id, class_id, person_id) DO UPDATE SET percent = excluded.percent,
                    passed = excluded.passed, updated_at = excluded.updated_at",
            )
            .bind(quiz_id)
            .bind(class_id)
            .bind(person_id)
            .bind(grade)
            .bind(grade + 1e-9 >= passing as f64)
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
        Ok(!pending)
    })
}

/// Who closed an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    /// The learner submitted it; past the deadline and this grace, the time limit closed it.
    Learner {
        grace: Duration,
    },
    Deadline,
}

/// Closes an open attempt and grades what was saved. Returns `false` if it was not closed: it
/// was already (a second submit, or the closer got there first: harmless, nothing changes), or
/// the learner who submits is no longer enrolled in its class. A learner's submit that arrives
/// past the deadline and grace is recorded as closed by the time limit, as it is.
pub async fn close(
    db: &Db,
    progress: &dyn Progress,
    attempt_id: i64,
    by: Closer,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (by, cutoff, learner) = match by {
        Closer::Learner { grace } => ("learner", now - grace, true),
        Closer::Deadline => ("deadline", now, false),
    };
    let mut tx = db.begin().await?;
    let owner: Option<(i64, i64)> = with_tx!(&mut tx, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(
        format!(
            "UPDATE attempts SET state = 'pending', submitted_at = $2,
                closed_by = CASE WHEN deadline_at IS NOT NULL AND deadline_at <= $4 THEN 'deadline' ELSE $3 END
             WHERE id = $1 AND state = 'in_progress'
               AND (NOT $5 OR (deadline_at IS NOT NULL AND deadline_at <= $4) OR {STILL_ENROLLED})
             RETURNING class_id, person_id"
        )
    ))
    .bind(attempt_id)
    .bind(now)
    .bind(by)
    .bind(cutoff)
    .bind(learner)
    .fetch_optional(c)
    .await
    })?;
    let Some((class_id, person_id)) = owner else {
        return Ok(false);
    };
    let rows: Vec<(i64, String, Option<String>)> = with_tx!(&mut tx, |c| {
        sqlx::query_as(
        "SELECT slot, question, response FROM attempt_answers WHERE attempt_id = $1 ORDER BY slot"
    )
    .bind(attempt_id)
    .fetch_all(c)
    .await
    })?;
    for (slot, question, response) in rows {
        let Some(fraction) = auto_fraction(attempt_id, slot, &question, response.as_deref()) else {
            continue;
        };
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE attempt_answers SET fraction = $1 WHERE attempt_id = $2 AND slot = $3"
        )
        .bind(fraction)
        .bind(attempt_id)
        .bind(slot)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    let graded = finalize(&mut tx, attempt_id, now).await?;
    tx.commit().await?;
    let outcome = Some((class_id, person_id, graded));
    if let Some((class_id, person_id, true)) = outcome {
        progress.changed(db, class_id, person_id).await?;
    }
    Ok(outcome.is_some())
}

/// The grade of a saved response when it needs no instructor: `None` for an answered essay.
/// Unanswered questions (essays too) are worth 0.
fn auto_fraction(
    attempt_id: i64,
    slot: i64,
    question: &str,
    response: Option<&str>,
) -> Option<f64> {
    let Ok(question) = serde_json::from_str::<Question>(question) else {
        tracing::error!(attempt_id, slot, "pregunta ilegible en el intento; vale 0");
        return Some(0.0);
    };
    let Some(response) = response.and_then(|r| serde_json::from_str::<Response>(r).ok()) else {
        return Some(0.0);
    };
    match grading::grade(&question.kind, &response) {
        Grade::Auto { fraction } => Some(fraction.clamp(0.0, 1.0)),
        Grade::Manual => None,
        Grade::Invalid => {
            tracing::warn!(
                attempt_id,
                slot,
                "respuesta que no corresponde a la pregunta; vale 0"
            );
            Some(0.0)
        }
    }
}

/// The quiz grade from the percents of graded attempts (oldest first), by grading method.
pub fn quiz_grade(method: GradingMethod, percents: &[f64]) -> Option<f64> {
    match method {
        GradingMethod::Highest => percents.iter().copied().reduce(f64::max),
        GradingMethod::Last => percents.last().copied(),
        GradingMethod::Average => {
            (!percents.is_empty()).then(|| percents.iter().sum::<f64>() / percents.len() as f64)
        }
    }
}

/// Closes attempts past their deadline and grace; returns how many it closed.
pub async fn close_overdue(
    db: &Db,
    progress: &dyn Progress,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<usize, sqlx::Error> {
    let ids: Vec<i64> = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM attempts WHERE state = 'in_progress' AND deadline_at IS NOT NULL
           AND deadline_at <= $1 ORDER BY deadline_at LIMIT 1000"
    )
    .bind(now - grace)
    .fetch_all(p)
    .await)?;
    let mut closed = 0;
    for id in ids {
        if close(db, progress, id, Closer::Deadline, now).await? {
            closed += 1;
        }
    }
    Ok(closed)
}

/// An instructor's grade of an essay (fraction of its value) with a comment. The attempt must
/// be of `class_id` and closed. Returns `false` when there is no such essay.
#[allow(clippy::too_many_arguments)]
pub async fn grade_manual(
    db: &Db,
    progress: &dyn Progress,
    class_id: i64,
    attempt_id: i64,
    slot: i64,
    fraction: f64,
    comment: &str,
    grader: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let n = with_tx!(&mut tx, |c| {
        sqlx::query(
        "UPDATE attempt_answers SET fraction = $1, comment = $2, graded_by = $3, graded_at = $4
         WHERE attempt_id = $5 AND slot = $6
           AND attempt_id IN (SELECT id FROM attempts WHERE id = $5 AND class_id = $7 AND state <> 'in_progress')"
    )
    .bind(fraction.clamp(0.0, 1.0))
    .bind(comment)
    .bind(grader)
    .bind(now)
    .bind(attempt_id)
    .bind(slot)
    .bind(class_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Ok(false);
    }
    let graded = finalize(&mut tx, attempt_id, now).await?;
    let person: i64 = with_tx!(&mut tx, |c| sqlx::query_scalar(
        "SELECT person_id FROM attempts WHERE id = $1"
    )
    .bind(attempt_id)
    .fetch_one(c)
    .await)?;
    tx.commit().await?;
    let outcome = Some((person, graded));
    if let Some((person_id, true)) = outcome {
        progress.changed(db, class_id, person_id).await?;
    }
    Ok(outcome.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading_methods() {
        let p = [40.0, 90.0, 65.0];
        assert_eq!(quiz_grade(GradingMethod::Highest, &p), Some(90.0));
        assert_eq!(quiz_grade(GradingMethod::Last, &p), Some(65.0));
        assert_eq!(quiz_grade(GradingMethod::Average, &p), Some(65.0));
        assert_eq!(quiz_grade(GradingMethod::Average, &[]), None);
    }

    #[test]
    fn spanish_numbers() {
        assert_eq!(fmt_number(2.5), "2,5");
        assert_eq!(fmt_number(3.0), "3");
        assert_eq!(fmt_percent(66.666), "66,7 %");
    }
}
