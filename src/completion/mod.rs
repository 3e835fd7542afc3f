//! Completion: the rules that turn a learner's progress into a completed class — enough
//! lessons done, every quiz named in the course's `[completion]` passed with its minimum grade,
//! and enough of the class's live sessions attended. The modules that record progress
//! (learning, assessment, live) sit below and call in through [`Rules`], which the composition
//! root hands them as the kernel's [`Progress`].

use chrono::{DateTime, Utc};

use crate::{
    db::Db,
    enrolment::events,
    live::attendance::union_minutes,
    web::{state::Progress, time::now},
    with_db, with_tx,
};

/// The completion rules, as the kernel's progress hook.
pub struct Rules;

#[async_trait::async_trait]
impl Progress for Rules {
    async fn changed(&self, db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error> {
        complete_if_met(db, class_id, person_id).await
    }
}

/// Marks the enrolment completed when the course's completion rules are met: enough lessons
/// done, every quiz named in `[completion]` passed with its minimum grade, and enough of the
/// class's live sessions attended.
pub async fn complete_if_met(db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error> {
    if !attendance_met(db, class_id, person_id).await? {
        return Ok(false);
    }
    // The change and its event commit together, and only a row that changed gets an event.
    let mut tx = db.begin().await?;
    let changed: Option<i64> = with_tx!(&mut tx, |c| {
        sqlx::query_scalar(
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
                                   AND g.percent + 0.000001 >= q.completion_percent))
         RETURNING id"
    )
    .bind(class_id)
    .bind(person_id)
    .bind(now())
    .fetch_optional(c)
    .await
    })?;
    let Some(enrolment_id) = changed else {
        return Ok(false);
    };
    events::record(&mut tx, events::COMPLETED, enrolment_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Marks, once per enrolment, the learners whose class ended (its last day is before today in
/// Tucumán) without completing it, each with a `curso.no_completado` event in the same
/// transaction. The `not_completed_at` marker is set by one conditional UPDATE, so two
/// processes sweeping at once never mark (nor announce) the same enrolment twice.
pub async fn sweep_not_completed(db: &Db) -> Result<u64, sqlx::Error> {
    let today = now()
        .with_timezone(&chrono_tz::America::Argentina::Tucuman)
        .date_naive();
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let ids: Vec<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "UPDATE enrolments SET not_completed_at = $1 WHERE id IN (
                SELECT e.id FROM enrolments e JOIN classes k ON k.id = e.class_id
                WHERE e.status = 'confirmed' AND e.not_completed_at IS NULL AND k.ends_on < $2
                ORDER BY e.id LIMIT 200)
             AND status = 'confirmed' AND not_completed_at IS NULL RETURNING id"
        )
        .bind(now())
        .bind(today)
        .fetch_all(c)
        .await)?;
        for id in &ids {
            events::record(&mut tx, events::NOT_COMPLETED, *id).await?;
        }
        tx.commit().await?;
        total += ids.len() as u64;
        if ids.len() < 200 {
            return Ok(total);
        }
    }
}

/// The background job: sweeps ended classes every few minutes.
pub async fn run_not_completed(db: Db, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match sweep_not_completed(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "inscripciones marcadas como no completadas"),
            Err(e) => tracing::warn!(error = %e, "no se pudieron marcar las no completadas"),
        }
    }
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
            None => union_minutes(
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

/// One line of the eligibility checklist: what the rule asks, where the learner stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckItem {
    /// e.g. "Lecciones", "Evaluación final", "Asistencia".
    pub label: String,
    /// e.g. "9 de 10 (hace falta 8)", "aprobada 7/10", "60 % de 75 %".
    pub detail: String,
    pub met: bool,
}

impl CheckItem {
    /// The line as the learner reads it: "Lecciones: 9 de 10".
    pub fn line(&self) -> String {
        format!("{}: {}", self.label, self.detail)
    }
}

/// Whether a learner meets a class's completion rules, rule by rule (the certifier's evidence,
/// and what the learner sees on their page).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Checklist {
    /// The enrolment's status (`confirmed`, `completed`, …), if enrolled.
    pub enrolment: Option<String>,
    pub items: Vec<CheckItem>,
}

impl Checklist {
    /// Eligible: enrolled (confirmed or completed) and every rule met.
    pub fn eligible(&self) -> bool {
        matches!(self.enrolment.as_deref(), Some("confirmed" | "completed"))
            && self.items.iter().all(|i| i.met)
    }

    /// The first reason why not, in Spanish, or `None` when eligible.
    pub fn reason(&self) -> Option<String> {
        if !matches!(self.enrolment.as_deref(), Some("confirmed" | "completed")) {
            return Some("No está inscripto/a en la comisión.".into());
        }
        self.items
            .iter()
            .find(|i| !i.met)
            .map(|i| format!("No cumple: {}.", i.line()))
    }
}

fn grade_text(percent: f64) -> String {
    // Grades as on a 10-point scale, the way learners and certifiers speak of them.
    let ten = (percent / 10.0 * 10.0).round() / 10.0;
    if ten.fract() == 0.0 {
        format!("{}/10", ten as i64)
    } else {
        format!("{ten:.1}/10").replace('.', ",")
    }
}

/// The eligibility checklist of a learner in a class: lessons done against the course's
/// minimum, each quiz named in `[completion]` with its grade, and live attendance when the
/// course asks for it.
pub async fn checklist(db: &Db, class_id: i64, person_id: i64) -> Result<Checklist, sqlx::Error> {
    let enrolment: Option<String> = with_db!(db, |p| sqlx::query_scalar(
        "SELECT status FROM enrolments WHERE class_id = $1 AND person_id = $2"
    )
    .bind(class_id)
    .bind(person_id)
    .fetch_optional(p)
    .await)?;
    let (done, total, min_percent, attendance): (i64, i64, i64, Option<i64>) = with_db!(db, |p| {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM lessons l JOIN lesson_progress lp ON lp.lesson_id = l.id AND lp.person_id = $2
                      WHERE l.course_id = c.id AND NOT l.retired),
                    (SELECT COUNT(*) FROM lessons l2 WHERE l2.course_id = c.id AND NOT l2.retired),
                    c.min_lessons_percent, c.min_attendance_percent
             FROM classes k JOIN courses c ON c.id = k.course_id WHERE k.id = $1"
        )
        .bind(class_id)
        .bind(person_id)
        .fetch_one(p)
        .await
    })?;
    let mut items = Vec::new();
    let needed = (min_percent * total + 99) / 100;
    items.push(CheckItem {
        label: "Lecciones".into(),
        detail: if needed < total {
            format!("{done} de {total} (hacen falta {needed})")
        } else {
            format!("{done} de {total}")
        },
        met: done * 100 >= min_percent * total,
    });
    let quizzes: Vec<(String, i64, Option<f64>)> = with_db!(db, |p| sqlx::query_as(
        "SELECT q.title, q.completion_percent, g.percent FROM quizzes q
         JOIN classes k ON k.course_id = q.course_id
         LEFT JOIN quiz_grades g ON g.quiz_id = q.id AND g.class_id = k.id AND g.person_id = $2
         WHERE k.id = $1 AND NOT q.retired AND q.completion_percent IS NOT NULL
         ORDER BY q.position, q.id"
    )
    .bind(class_id)
    .bind(person_id)
    .fetch_all(p)
    .await)?;
    for (title, required, grade) in quizzes {
        let (detail, met) = match grade {
            None => (
                format!(
                    "sin rendir (se aprueba con {})",
                    grade_text(required as f64)
                ),
                false,
            ),
            Some(g) if g + 0.000001 >= required as f64 => {
                (format!("aprobada {}", grade_text(g)), true)
            }
            Some(g) => (
                format!(
                    "no aprobada {} (se aprueba con {})",
                    grade_text(g),
                    grade_text(required as f64)
                ),
                false,
            ),
        };
        items.push(CheckItem {
            label: title,
            detail,
            met,
        });
    }
    if let Some(required) = attendance {
        let (scheduled, attended) = sessions_attended(db, class_id, person_id).await?;
        let percent = if scheduled == 0 {
            100
        } else {
            attended * 100 / scheduled
        };
        items.push(CheckItem {
            label: "Asistencia".into(),
            detail: if scheduled == 0 {
                format!("sin clases en vivo (se pide {required} %)")
            } else {
                format!("{percent} % de {required} % ({attended} de {scheduled} clases en vivo)")
            },
            met: scheduled == 0 || attended * 100 >= required * scheduled,
        });
    }
    Ok(Checklist { enrolment, items })
}
