//! Storing a course's banks and quizzes, inside the course's import transaction.

use chrono::{DateTime, Utc};

use crate::{
    assessment::{
        attempts::{deadline_for, same_instant},
        files::CourseAssessments,
    },
    db::Tx,
    with_tx,
};

/// Stores the banks and quizzes `a` of course `course_id` in the import's transaction. Like
/// lessons, questions and quizzes are retired and revived by key, so a quiz keeps its id (and
/// its attempts) across edits; attempts never depend on the bank's current text because each
/// keeps a snapshot of the questions it drew. Attempts in progress take the quiz's new closing
/// time and time limit.
pub async fn store(tx: &mut Tx, course_id: i64, a: &CourseAssessments) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
        sqlx::query("UPDATE questions SET retired = TRUE WHERE course_id = $1")
            .bind(course_id)
            .execute(&mut *c)
            .await?;
        for q in &a.questions {
            sqlx::query(
                "INSERT INTO questions (course_id, key, category, kind, body, retired)
                 VALUES ($1, $2, $3, $4, $5, FALSE)
                 ON CONFLICT (course_id, key) DO UPDATE SET category = excluded.category,
                    kind = excluded.kind, body = excluded.body, retired = FALSE",
            )
            .bind(course_id)
            .bind(&q.key)
            .bind(&q.question.category)
            .bind(q.question.kind.code())
            .bind(serde_json::to_string(&q.question).map_err(encode)?)
            .execute(&mut *c)
            .await?;
        }
        sqlx::query("UPDATE quizzes SET retired = TRUE WHERE course_id = $1")
            .bind(course_id)
            .execute(&mut *c)
            .await?;
        for z in &a.quizzes {
            sqlx::query(
                "INSERT INTO quizzes (course_id, key, title, intro_html, position, opens_at, closes_at,
                    time_limit_seconds, attempts_allowed, passing_percent, grading_method,
                    shuffle_questions, shuffle_options, per_page, review_answers, review_score, slots,
                    completion_percent, retired)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, FALSE)
                 ON CONFLICT (course_id, key) DO UPDATE SET title = excluded.title,
                    intro_html = excluded.intro_html, position = excluded.position,
                    opens_at = excluded.opens_at, closes_at = excluded.closes_at,
                    time_limit_seconds = excluded.time_limit_seconds,
                    attempts_allowed = excluded.attempts_allowed,
                    passing_percent = excluded.passing_percent,
                    grading_method = excluded.grading_method,
                    shuffle_questions = excluded.shuffle_questions,
                    shuffle_options = excluded.shuffle_options, per_page = excluded.per_page,
                    review_answers = excluded.review_answers, review_score = excluded.review_score,
                    slots = excluded.slots, completion_percent = excluded.completion_percent,
                    retired = FALSE",
            )
            .bind(course_id)
            .bind(&z.key)
            .bind(&z.title)
            .bind(&z.intro_html)
            .bind(z.position)
            .bind(z.opens_at)
            .bind(z.closes_at)
            .bind(z.time_limit_seconds)
            .bind(z.attempts_allowed)
            .bind(z.passing_percent)
            .bind(z.grading.as_str())
            .bind(z.shuffle_questions)
            .bind(z.shuffle_options)
            .bind(z.per_page)
            .bind(z.review_answers.as_str())
            .bind(z.review_score.as_str())
            .bind(serde_json::to_string(&z.slots).map_err(encode)?)
            .bind(z.completion_percent)
            .execute(&mut *c)
            .await?;
            // Attempts in progress follow the quiz's new closing time and time limit, in the
            // classes that keep the course's dates (the others follow their own closing time).
            #[allow(clippy::type_complexity)]
            let open: Vec<(
                i64,
                DateTime<Utc>,
                Option<DateTime<Utc>>,
                Option<DateTime<Utc>>,
                bool,
            )> = sqlx::query_as(
                "SELECT a.id, a.started_at, a.deadline_at, w.closes_at, w.quiz_id IS NOT NULL
                     FROM attempts a JOIN quizzes q ON q.id = a.quiz_id
                     LEFT JOIN quiz_windows w ON w.quiz_id = a.quiz_id AND w.class_id = a.class_id
                     WHERE q.course_id = $1 AND q.key = $2 AND a.state = 'in_progress'",
            )
            .bind(course_id)
            .bind(&z.key)
            .fetch_all(&mut *c)
            .await?;
            for (id, started, old, window_closes, has_window) in open {
                let closes = if has_window {
                    window_closes
                } else {
                    z.closes_at
                };
                let new = deadline_for(started, z.time_limit_seconds, closes);
                if same_instant(new, old) {
                    continue;
                }
                sqlx::query(
                    "UPDATE attempts SET deadline_at = $1 WHERE id = $2 AND state = 'in_progress'",
                )
                .bind(new)
                .bind(id)
                .execute(&mut *c)
                .await?;
            }
        }
        Ok(())
    })
}
