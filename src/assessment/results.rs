//! Results for instructors: the gradebook, the essay grading queue and item statistics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{
    attempts::{QuizRow, fmt_number, fmt_percent},
    files::{GradingMethod, ReviewWhen},
    grading,
};
use crate::{active_statuses, db::Db, with_db};

pub use crate::enrolment::queries::ClassLearner as Learner;

/// One cell of the gradebook: a learner's standing in a quiz.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub attempts: i64,
    pub best: Option<f64>,
    pub grade: Option<f64>,
    pub passed: Option<bool>,
    pub pending: bool,
    pub in_progress: bool,
}

impl Cell {
    pub fn grade_label(&self) -> String {
        self.grade.map(fmt_percent).unwrap_or_else(|| "—".into())
    }
    pub fn best_label(&self) -> String {
        self.best.map(fmt_percent).unwrap_or_else(|| "—".into())
    }
    pub fn status(&self) -> &'static str {
        match (self.attempts, self.passed, self.pending, self.in_progress) {
            (0, _, _, _) => "Sin intentos",
            (_, _, true, _) => "Falta corregir",
            (_, Some(true), _, _) => "Aprobada",
            (_, Some(false), _, _) => "No aprobada",
            (_, None, _, true) => "En curso",
            _ => "—",
        }
    }
}

/// Learners × quizzes.
pub struct Gradebook {
    pub quizzes: Vec<QuizRow>,
    pub rows: Vec<(Learner, Vec<Cell>)>,
}

pub async fn gradebook(db: &Db, class_id: i64, course_id: i64) -> Result<Gradebook, sqlx::Error> {
    let quizzes = super::attempts::course_quizzes(db, course_id, Some(class_id)).await?;
    let learners = crate::enrolment::queries::class_learners(db, class_id).await?;
    let stats: Vec<(i64, i64, i64, Option<f64>, i64, i64)> = with_db!(db, |p| sqlx::query_as(
        "SELECT person_id, quiz_id, COUNT(*),
                MAX(CASE WHEN state = 'graded' THEN percent END),
                SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END),
                SUM(CASE WHEN state = 'in_progress' THEN 1 ELSE 0 END)
         FROM attempts WHERE class_id = $1 GROUP BY person_id, quiz_id"
    )
    .bind(class_id)
    .fetch_all(p)
    .await)?;
    let grades: Vec<(i64, i64, f64, bool)> = with_db!(db, |p| sqlx::query_as(
        "SELECT person_id, quiz_id, percent, passed FROM quiz_grades WHERE class_id = $1"
    )
    .bind(class_id)
    .fetch_all(p)
    .await)?;
    let mut cells: HashMap<(i64, i64), Cell> = HashMap::new();
    for (person, quiz, n, best, pending, open) in stats {
        let c = cells.entry((person, quiz)).or_default();
        c.attempts = n;
        c.best = best;
        c.pending = pending > 0;
        c.in_progress = open > 0;
    }
    for (person, quiz, percent, passed) in grades {
        let c = cells.entry((person, quiz)).or_default();
        c.grade = Some(percent);
        c.passed = Some(passed);
    }
    let rows = learners
        .into_iter()
        .map(|l| {
            let row = quizzes
                .iter()
                .map(|q| cells.get(&(l.person_id, q.id)).cloned().unwrap_or_default())
                .collect();
            (l, row)
        })
        .collect();
    Ok(Gradebook { quizzes, rows })
}

/// An essay waiting for an instructor.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QueueItem {
    pub attempt_id: i64,
    pub slot: i64,
    pub question: String,
    pub response: Option<String>,
    pub max_points: f64,
    pub number: i64,
    pub submitted_at: Option<DateTime<Utc>>,
    pub first_name: String,
    pub last_name: String,
    pub dni: String,
    pub quiz_title: String,
}

impl QueueItem {
    pub fn essay(&self) -> String {
        match self
            .response
            .as_deref()
            .and_then(|r| serde_json::from_str::<grading::Response>(r).ok())
        {
            Some(grading::Response::Essay(t)) => t,
            _ => String::new(),
        }
    }
    pub fn question(&self) -> Option<super::question::Question> {
        serde_json::from_str(&self.question).ok()
    }
    pub fn question_html(&self) -> String {
        self.question()
            .map(|q| super::view::text_html(q.format, &q.text))
            .unwrap_or_default()
    }
    /// The rubric as sanitised HTML (written in Markdown, like the question), or empty.
    pub fn rubric_html(&self) -> String {
        self.question()
            .and_then(|q| q.rubric)
            .filter(|r| !r.trim().is_empty())
            .map(|r| crate::catalog::markdown::render(&r))
            .unwrap_or_default()
    }
    pub fn max_label(&self) -> String {
        fmt_number(self.max_points)
    }
    pub fn submitted(&self) -> String {
        self.submitted_at
            .as_ref()
            .map(crate::web::time::local)
            .unwrap_or_default()
    }
}

pub async fn queue(db: &Db, class_id: i64) -> Result<Vec<QueueItem>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT aa.attempt_id, aa.slot, aa.question, aa.response, aa.max_points, a.number, a.submitted_at,
                p.first_name, p.last_name, p.dni, q.title AS quiz_title
         FROM attempt_answers aa JOIN attempts a ON a.id = aa.attempt_id
         JOIN persons p ON p.id = a.person_id JOIN quizzes q ON q.id = a.quiz_id
         WHERE a.class_id = $1 AND a.state = 'pending' AND aa.fraction IS NULL
         ORDER BY a.submitted_at, a.id, aa.slot"
    )
    .bind(class_id)
    .fetch_all(p)
    .await
    })
}

/// Statistics of one question of a quiz, as in Moodle's quiz statistics report.
#[derive(Clone, Debug)]
pub struct ItemStats {
    pub key: String,
    pub name: String,
    pub kind: &'static str,
    pub attempts: usize,
    /// Mean score as a percent of the question's value.
    pub facility: Option<f64>,
    /// Standard deviation of the score, as a percent of the question's value.
    pub sd: Option<f64>,
    /// Correlation between this question's score and the rest of the test, × 100.
    pub discrimination: Option<f64>,
}

impl ItemStats {
    pub fn facility_label(&self) -> String {
        self.facility.map(fmt_percent).unwrap_or_else(|| "—".into())
    }
    pub fn sd_label(&self) -> String {
        self.sd.map(fmt_percent).unwrap_or_else(|| "—".into())
    }
    pub fn discrimination_label(&self) -> String {
        self.discrimination
            .map(fmt_percent)
            .unwrap_or_else(|| "—".into())
    }
    /// Why an instructor should look at this question, if they should.
    pub fn warning(&self) -> &'static str {
        match (self.facility, self.discrimination) {
            (_, Some(d)) if d < 0.0 => {
                "Revisar: quienes mejor rinden en el resto la responden peor (¿clave equivocada?)"
            }
            (Some(f), _) if f < 10.0 => "Revisar: casi nadie la responde bien",
            (_, Some(d)) if d < 20.0 => "Discrimina poco",
            (Some(f), _) if f > 95.0 => "Muy fácil",
            _ => "",
        }
    }
}

/// Which graded attempts item statistics analyse, the choices of Moodle's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Analysed {
    First,
    Best,
    Last,
    All,
}

impl Analysed {
    pub const CHOICES: [Analysed; 4] = [
        Analysed::First,
        Analysed::Best,
        Analysed::Last,
        Analysed::All,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Analysed::First => "primero",
            Analysed::Best => "mejor",
            Analysed::Last => "ultimo",
            Analysed::All => "todos",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Analysed::First => "El primer intento de cada estudiante",
            Analysed::Best => "El mejor intento de cada estudiante",
            Analysed::Last => "El último intento de cada estudiante",
            Analysed::All => "Todos los intentos",
        }
    }
    pub fn parse(code: &str) -> Option<Analysed> {
        Self::CHOICES.into_iter().find(|a| a.code() == code)
    }
    /// By default, the attempts the quiz's grade counts (as Moodle does).
    pub fn for_grading(method: GradingMethod) -> Analysed {
        match method {
            GradingMethod::Highest => Analysed::Best,
            GradingMethod::Last => Analysed::Last,
            GradingMethod::Average => Analysed::All,
        }
    }
    /// Keeps, of the graded attempts `a`, the ones analysed.
    fn condition(self) -> String {
        let same = "b.quiz_id = a.quiz_id AND b.class_id = a.class_id \
                    AND b.person_id = a.person_id AND b.state = 'graded'";
        match self {
            Analysed::First => {
                format!("AND a.number = (SELECT MIN(b.number) FROM attempts b WHERE {same})")
            }
            Analysed::Last => {
                format!("AND a.number = (SELECT MAX(b.number) FROM attempts b WHERE {same})")
            }
            // Ties: the earlier attempt.
            Analysed::Best => format!(
                "AND a.id = (SELECT b.id FROM attempts b WHERE {same} \
                 ORDER BY b.percent DESC, b.number LIMIT 1)"
            ),
            Analysed::All => String::new(),
        }
    }
}

/// Item statistics over the `analysed` graded attempts of `quiz_id` in a class.
pub async fn statistics(
    db: &Db,
    class_id: i64,
    quiz_id: i64,
    analysed: Analysed,
) -> Result<(usize, Vec<ItemStats>), sqlx::Error> {
    let sql = format!(
        "SELECT aa.attempt_id, aa.question_key, aa.question, aa.max_points, aa.fraction
         FROM attempt_answers aa JOIN attempts a ON a.id = aa.attempt_id
         WHERE a.class_id = $1 AND a.quiz_id = $2 AND a.state = 'graded' {}
         ORDER BY aa.question_key, aa.attempt_id",
        analysed.condition()
    );
    let rows: Vec<GradedItem> = with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(class_id)
        .bind(quiz_id)
        .fetch_all(p)
        .await)?;
    Ok(item_statistics(&rows))
}

/// One graded question of an attempt: `(attempt, key, question JSON, max points, fraction)`.
pub type GradedItem = (i64, String, String, f64, Option<f64>);

/// The computation behind [`statistics`], over rows sorted by key.
pub fn item_statistics(rows: &[GradedItem]) -> (usize, Vec<ItemStats>) {
    let mut totals: HashMap<i64, f64> = HashMap::new();
    for (attempt, _, _, max, fraction) in rows {
        *totals.entry(*attempt).or_default() += grading::score(fraction.unwrap_or(0.0), *max);
    }
    let mut by_key: Vec<(&str, Vec<&GradedItem>)> = Vec::new();
    for r in rows {
        match by_key.last_mut() {
            Some((k, v)) if *k == r.1 => v.push(r),
            _ => by_key.push((&r.1, vec![r])),
        }
    }
    let items = by_key
        .into_iter()
        .map(|(key, list)| {
            let q: Option<super::question::Question> = serde_json::from_str(&list[0].2).ok();
            let x: Vec<f64> = list
                .iter()
                .map(|r| grading::score(r.4.unwrap_or(0.0), r.3))
                .collect();
            let rest: Vec<f64> = list
                .iter()
                .zip(&x)
                .map(|(r, xi)| totals[&r.0] - xi)
                .collect();
            let max = list[0].3;
            let n = x.len() as f64;
            let mean = x.iter().sum::<f64>() / n;
            let sd = if x.len() > 1 {
                Some(
                    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() * 100.0
                        / max,
                )
            } else {
                None
            };
            ItemStats {
                key: key.to_string(),
                name: q.as_ref().map(|q| q.name.clone()).unwrap_or_default(),
                kind: q.as_ref().map_or("", |q| q.kind.label()),
                attempts: list.len(),
                facility: Some(mean * 100.0 / max),
                sd,
                discrimination: pearson(&x, &rest).map(|r| r * 100.0),
            }
        })
        .collect();
    (totals.len(), items)
}

/// Pearson's correlation; `None` when either side does not vary.
fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx <= f64::EPSILON || syy <= f64::EPSILON {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attempt: i64, key: &str, fraction: f64) -> GradedItem {
        (attempt, key.into(), "{}".into(), 1.0, Some(fraction))
    }

    #[test]
    fn facility_and_discrimination_follow_moodle_definitions() {
        // Four learners; "buena" is answered right by those who do well elsewhere, "rota" by
        // those who do badly (a wrong key), "todos" by everyone.
        let mut rows = Vec::new();
        for (a, good) in [(1, true), (2, true), (3, false), (4, false)] {
            rows.push(row(a, "buena", if good { 1.0 } else { 0.0 }));
            rows.push(row(a, "otra1", if good { 1.0 } else { 0.0 }));
            rows.push(row(a, "otra2", if good || a == 3 { 1.0 } else { 0.0 }));
            rows.push(row(a, "rota", if good { 0.0 } else { 1.0 }));
            rows.push(row(a, "todos", 1.0));
        }
        rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        let (n, items) = item_statistics(&rows);
        assert_eq!(n, 4);
        let get = |k: &str| items.iter().find(|i| i.key == k).unwrap();
        assert_eq!(get("buena").facility, Some(50.0));
        assert!(get("buena").discrimination.unwrap() > 50.0);
        assert!(get("rota").discrimination.unwrap() < 0.0);
        assert!(get("rota").warning().starts_with("Revisar"));
        assert_eq!(get("todos").facility, Some(100.0));
        assert_eq!(get("todos").discrimination, None);
    }
}

/// An attempt of a class as the instructor's list shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AttemptListItem {
    pub id: i64,
    pub number: i64,
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub percent: Option<f64>,
    pub dni: String,
    pub first_name: String,
    pub last_name: String,
}

impl AttemptListItem {
    pub fn state_label(&self) -> &'static str {
        match self.state.as_str() {
            "in_progress" => "En curso",
            "pending" => "Falta corregir",
            _ => "Calificado",
        }
    }
    pub fn started(&self) -> String {
        crate::web::time::local(&self.started_at)
    }
    pub fn submitted(&self) -> String {
        match (&self.submitted_at, self.closed_by.as_deref()) {
            (Some(t), Some("deadline")) => {
                format!("{} (al vencer el tiempo)", crate::web::time::local(t))
            }
            (Some(t), _) => crate::web::time::local(t),
            (None, _) => "—".into(),
        }
    }
    pub fn percent_label(&self) -> String {
        self.percent.map(fmt_percent).unwrap_or_else(|| "—".into())
    }
}

/// Every attempt at a quiz in a class, by learner and number.
pub async fn class_attempts(
    db: &Db,
    class_id: i64,
    quiz_id: i64,
) -> Result<Vec<AttemptListItem>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_as(
        "SELECT a.id, a.number, a.state, a.started_at, a.submitted_at, a.closed_by, a.percent,
                p.dni, p.first_name, p.last_name
         FROM attempts a JOIN persons p ON p.id = a.person_id
         WHERE a.class_id = $1 AND a.quiz_id = $2
         ORDER BY p.last_name, p.first_name, p.id, a.number"
    )
    .bind(class_id)
    .bind(quiz_id)
    .fetch_all(p)
    .await)
}

/// A quiz of one of the learner's courses, for "Mi aula".
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LearnerQuiz {
    pub course_slug: String,
    pub course_title: String,
    pub key: String,
    pub title: String,
    pub attempts: i64,
    pub open: i64,
    /// Finished attempts waiting for an instructor (essays).
    pub pending: i64,
    /// The quiz's grade in the class, once one is known.
    pub grade: Option<f64>,
    pub passed: Option<bool>,
    #[sqlx(try_from = "String")]
    pub review_score: ReviewWhen,
    #[sqlx(try_from = "String")]
    pub review_answers: ReviewWhen,
    /// The closing time of the class's window, else the course file's.
    pub closes_at: Option<DateTime<Utc>>,
}

impl LearnerQuiz {
    /// Whether the learner may see the grade, by the quiz's review rules (seeing the answers
    /// shows the score too, as on the quiz's own page).
    fn grade_visible(&self, now: DateTime<Utc>) -> bool {
        [self.review_score, self.review_answers]
            .iter()
            .any(|when| match when {
                ReviewWhen::AfterSubmit => true,
                ReviewWhen::AfterClose => self.closes_at.is_some_and(|c| c <= now),
                ReviewWhen::Never => false,
            })
    }

    /// Where the learner stands: the grade and whether it passes once graded (when the quiz's
    /// review rules show it), or that an instructor still has to grade it.
    pub fn status(&self) -> String {
        if self.open > 0 {
            return "En curso: seguí donde dejaste".into();
        }
        if self.attempts == 0 {
            return "Por hacer".into();
        }
        let waiting = if self.pending > 0 {
            "falta que tu docente corrija una entrega"
        } else {
            ""
        };
        match (self.grade, self.passed) {
            (Some(g), Some(passed)) if self.grade_visible(crate::web::time::now()) => {
                let verdict = if passed { "Aprobada" } else { "No aprobada" };
                let mut s = format!("{verdict}: {}", fmt_percent(g));
                if !waiting.is_empty() {
                    s.push_str(&format!(" ({waiting})"));
                }
                s
            }
            _ if !waiting.is_empty() => format!("Entregada: {waiting}"),
            _ => "Entregada".into(),
        }
    }
}

/// The quizzes of the courses a learner is studying, with their attempts and grade.
pub async fn learner_quizzes(db: &Db, person_id: i64) -> Result<Vec<LearnerQuiz>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        concat!(
            "SELECT c.slug AS course_slug, c.title AS course_title, q.key, q.title,
            (SELECT COUNT(*) FROM attempts a WHERE a.quiz_id = q.id AND a.class_id = e.class_id AND a.person_id = $1) AS attempts,
            (SELECT COUNT(*) FROM attempts a WHERE a.quiz_id = q.id AND a.class_id = e.class_id AND a.person_id = $1
               AND a.state = 'in_progress') AS open,
            (SELECT COUNT(*) FROM attempts a WHERE a.quiz_id = q.id AND a.class_id = e.class_id AND a.person_id = $1
               AND a.state = 'pending') AS pending,
            g.percent AS grade, g.passed AS passed, q.review_score, q.review_answers,
            CASE WHEN w.quiz_id IS NULL THEN q.closes_at ELSE w.closes_at END AS closes_at
         FROM enrolments e JOIN classes k ON k.id = e.class_id JOIN courses c ON c.id = k.course_id
         JOIN quizzes q ON q.course_id = c.id AND NOT q.retired
         LEFT JOIN quiz_windows w ON w.quiz_id = q.id AND w.class_id = e.class_id
         LEFT JOIN quiz_grades g ON g.quiz_id = q.id AND g.class_id = e.class_id AND g.person_id = $1
         WHERE e.person_id = $1 AND e.status IN ", active_statuses!(), "
         ORDER BY c.title, q.position, q.id"
        )
    )
    .bind(person_id)
    .fetch_all(p)
    .await
    })
}

/// The value of an essay of a closed attempt of the class (graded or not), or `None` when
/// there is no such essay (other class, open attempt, another kind of question).
pub async fn essay_max_points(
    db: &Db,
    class_id: i64,
    attempt_id: i64,
    slot: i64,
) -> Result<Option<f64>, sqlx::Error> {
    let row: Option<(f64, String)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT aa.max_points, aa.question FROM attempt_answers aa JOIN attempts a ON a.id = aa.attempt_id
         WHERE a.class_id = $1 AND a.id = $2 AND aa.slot = $3 AND a.state <> 'in_progress'"
    )
    .bind(class_id)
    .bind(attempt_id)
    .bind(slot)
    .fetch_optional(p)
    .await
    })?;
    Ok(row.and_then(|(max, q)| {
        serde_json::from_str::<super::question::Question>(&q)
            .ok()
            .filter(|q| !q.kind.is_auto_graded())
            .map(|_| max)
    }))
}
