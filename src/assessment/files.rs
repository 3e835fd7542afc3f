//! Quizzes and question banks as files in a course folder, imported with the course.
//!
//! - `banks/<bank>.toml` and `banks/<bank>.gift`: question banks. A question is referred to as
//!   `<bank>/<id>`; its category path (e.g. `Atención/Reclamos`) lets a quiz draw from it.
//! - `quizzes/<key>.toml`: one quiz, with its settings and its slots (fixed questions or
//!   "N random questions from a category").
//!
//! The format is documented, with an example of every question type, in `courses/README.md`.
//! Like the rest of the course, every error is reported with file and line, and a course with
//! any error is not imported at all.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    gift::parse_gift,
    question::{Accepted, Choice, NumericAnswer, Question, QuestionKind, TextFormat},
};
use crate::{
    catalog::markdown,
    web::source::{ImportError, line_of_key, line_of_offset, valid_slug},
};

/// How the grades of several attempts make the quiz grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradingMethod {
    Highest,
    Last,
    Average,
}

crate::stored_enum!(GradingMethod, "método de calificación", {
    Highest => "highest",
    Last => "last",
    Average => "average",
});

impl GradingMethod {
    pub fn label(self) -> &'static str {
        match self {
            GradingMethod::Highest => "la calificación más alta",
            GradingMethod::Last => "el último intento",
            GradingMethod::Average => "el promedio de los intentos",
        }
    }
}

/// When learners may see something of a finished attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewWhen {
    /// As soon as the attempt is finished.
    AfterSubmit,
    /// Once the quiz has closed for everyone (needs a closing time).
    AfterClose,
    /// Never (instructors still see everything).
    Never,
}

crate::stored_enum!(ReviewWhen, "revisión", {
    AfterSubmit => "after_submit",
    AfterClose => "after_close",
    Never => "never",
});

/// A place in a quiz: one fixed question or a random draw from a category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Slot {
    Fixed {
        question: String,
        points: f64,
    },
    Random {
        category: String,
        count: usize,
        points: f64,
    },
}

/// A validated question of a bank, keyed `<bank>/<id>` within its course.
#[derive(Clone, Debug)]
pub struct BankQuestion {
    pub key: String,
    pub question: Question,
}

/// A validated quiz.
#[derive(Clone, Debug)]
pub struct QuizFile {
    pub key: String,
    pub title: String,
    pub intro_html: String,
    pub position: i64,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub time_limit_seconds: Option<i64>,
    /// 0 means unlimited.
    pub attempts_allowed: i64,
    pub passing_percent: i64,
    pub grading: GradingMethod,
    pub shuffle_questions: bool,
    pub shuffle_options: bool,
    pub per_page: i64,
    pub review_answers: ReviewWhen,
    pub review_score: ReviewWhen,
    pub slots: Vec<Slot>,
    /// Set from `course.toml`'s completion rules: the quiz grade needed to complete the course.
    pub completion_percent: Option<i64>,
}

/// Everything a course folder holds for assessment.
#[derive(Clone, Debug, Default)]
pub struct CourseAssessments {
    pub questions: Vec<BankQuestion>,
    pub quizzes: Vec<QuizFile>,
}

/// Whether `category` is `wanted` or one of its subcategories.
pub fn in_category(category: &str, wanted: &str) -> bool {
    category == wanted
        || category
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn sorted_files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(e) => e
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| exts.contains(&x))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn read(path: &Path, errors: &mut Vec<ImportError>, hasher: &mut Sha256) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let dir = path.parent().and_then(Path::file_name).unwrap_or_default();
            let name = path.file_name().unwrap_or_default();
            hasher.update(format!(
                "{}/{}",
                dir.to_string_lossy(),
                name.to_string_lossy()
            ));
            hasher.update(&text);
            Some(text)
        }
        Err(e) => {
            errors.push(ImportError {
                file: path.into(),
                line: None,
                message: format!("no se pudo leer: {e}"),
            });
            None
        }
    }
}

/// Reads `banks/` and `quizzes/` of a course folder; problems go to `errors`.
pub fn load(
    folder: &Path,
    errors: &mut Vec<ImportError>,
    hasher: &mut Sha256,
) -> CourseAssessments {
    let mut out = CourseAssessments::default();
    let mut banks = HashSet::new();
    for path in sorted_files(&folder.join("banks"), &["toml", "gift", "txt"]) {
        let Some(text) = read(&path, errors, hasher) else {
            continue;
        };
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !valid_slug(&stem) {
            errors.push(ImportError {
                file: path.clone(),
                line: None,
                message: "el nombre del banco debe ser un slug: minúsculas sin acentos, números y guiones".into(),
            });
            continue;
        }
        if !banks.insert(stem.clone()) {
            errors.push(ImportError {
                file: path.clone(),
                line: None,
                message: format!("hay dos bancos llamados «{stem}» (.toml y .gift)"),
            });
            continue;
        }
        let questions = if path.extension().is_some_and(|x| x == "toml") {
            toml_bank(&path, &text, errors)
        } else {
            let parsed = parse_gift(&text, &stem);
            for e in parsed.errors {
                errors.push(ImportError {
                    file: path.clone(),
                    line: Some(e.line),
                    message: e.message,
                });
            }
            parsed.questions.into_iter().map(|(_, q)| q).collect()
        };
        out.questions
            .extend(questions.into_iter().map(|q| BankQuestion {
                key: format!("{stem}/{}", q.id),
                question: q,
            }));
    }
    for (position, path) in sorted_files(&folder.join("quizzes"), &["toml"])
        .into_iter()
        .enumerate()
    {
        let Some(text) = read(&path, errors, hasher) else {
            continue;
        };
        if let Some(quiz) = quiz_file(&path, &text, position as i64, &out.questions, errors) {
            out.quizzes.push(quiz);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// TOML banks

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BankToml {
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    question: Vec<toml::Spanned<QuestionToml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionToml {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    text: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    feedback: Option<String>,
    #[serde(default)]
    options: Option<Vec<OptionToml>>,
    #[serde(default)]
    answer: Option<bool>,
    #[serde(default)]
    feedback_true: Option<String>,
    #[serde(default)]
    feedback_false: Option<String>,
    #[serde(default)]
    answers: Option<Vec<AnswerToml>>,
    #[serde(default)]
    pairs: Option<Vec<(String, String)>>,
    #[serde(default)]
    items: Option<Vec<String>>,
    #[serde(default)]
    rubric: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionToml {
    text: String,
    #[serde(default)]
    correct: bool,
    /// Percent of the question's value, overriding `correct`.
    #[serde(default)]
    credit: Option<f64>,
    #[serde(default)]
    feedback: Option<String>,
}

/// An accepted answer of a short-answer or numeric question: a bare value, or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AnswerToml {
    Text(String),
    Number(f64),
    Table(AnswerTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerTable {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    tolerance: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    credit: Option<f64>,
    #[serde(default)]
    feedback: Option<String>,
}

fn toml_bank(path: &Path, text: &str, errors: &mut Vec<ImportError>) -> Vec<Question> {
    let bank: BankToml = match toml::from_str(text) {
        Ok(b) => b,
        Err(e) => {
            errors.push(ImportError {
                file: path.into(),
                line: e.span().map(|s| line_of_offset(text, s.start)),
                message: format!("TOML inválido: {}", e.message()),
            });
            return Vec::new();
        }
    };
    let default_category = bank.category.unwrap_or_default();
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for spanned in bank.question {
        let line = line_of_offset(text, spanned.span().start);
        let q = spanned.into_inner();
        let mut push = |message: String| {
            errors.push(ImportError {
                file: path.into(),
                line: Some(line),
                message,
            })
        };
        if !valid_slug(&q.id) {
            push(format!(
                "id de pregunta «{}» inválido: usá minúsculas sin acentos, números y guiones",
                q.id
            ));
            continue;
        }
        if !ids.insert(q.id.clone()) {
            push(format!("el id de pregunta «{}» está repetido", q.id));
            continue;
        }
        match toml_question(q, &default_category) {
            Ok(question) => match question.validate() {
                Ok(()) => out.push(question),
                Err(messages) => {
                    for m in messages {
                        push(format!("pregunta «{}»: {m}", question.id));
                    }
                }
            },
            Err(m) => push(m),
        }
    }
    out
}

fn percent(credit: Option<f64>, default: f64) -> f64 {
    credit.map_or(default, |c| c / 100.0)
}

fn toml_question(q: QuestionToml, default_category: &str) -> Result<Question, String> {
    let id = q.id.clone();
    let need = |what: &str| format!("pregunta «{id}» de tipo {}: falta «{what}»", q.kind);
    let kind = match q.kind.as_str() {
        "single_choice" | "multiple_choice" => {
            let options = q.options.ok_or_else(|| need("options"))?;
            let right = options.iter().filter(|o| o.correct).count().max(1) as f64;
            let single = q.kind == "single_choice";
            let options = options
                .into_iter()
                .map(|o| Choice {
                    fraction: match (single, o.correct) {
                        (true, c) => percent(o.credit, if c { 1.0 } else { 0.0 }),
                        // Unmarked wrong options cost as much as a right one earns, so ticking
                        // every box cannot earn full marks.
                        (false, true) => percent(o.credit, 1.0 / right),
                        (false, false) => percent(o.credit, -1.0 / right),
                    },
                    text: o.text,
                    feedback: o.feedback,
                })
                .collect();
            if single {
                QuestionKind::SingleChoice { options }
            } else {
                QuestionKind::MultipleChoice { options }
            }
        }
        "true_false" => QuestionKind::TrueFalse {
            answer: q.answer.ok_or_else(|| need("answer"))?,
            feedback_true: q.feedback_true,
            feedback_false: q.feedback_false,
        },
        "short_answer" => {
            let answers = q.answers.ok_or_else(|| need("answers"))?;
            let mut accepted = Vec::new();
            for a in answers {
                accepted.push(match a {
                    AnswerToml::Text(text) => Accepted {
                        text,
                        fraction: 1.0,
                        feedback: None,
                    },
                    AnswerToml::Table(AnswerTable {
                        text: Some(text),
                        value: None,
                        tolerance: None,
                        min: None,
                        max: None,
                        credit,
                        feedback,
                    }) => Accepted {
                        text,
                        fraction: percent(credit, 1.0),
                        feedback,
                    },
                    _ => {
                        return Err(format!(
                            "pregunta «{id}»: cada respuesta de short_answer es un texto o {{ text, credit, feedback }}"
                        ));
                    }
                });
            }
            QuestionKind::ShortAnswer { accepted }
        }
        "numeric" => {
            let answers = q.answers.ok_or_else(|| need("answers"))?;
            let mut out = Vec::new();
            for a in answers {
                out.push(match a {
                    AnswerToml::Number(value) => NumericAnswer {
                        value,
                        tolerance: 0.0,
                        fraction: 1.0,
                        feedback: None,
                    },
                    AnswerToml::Table(t) if t.text.is_none() => {
                        let fraction = percent(t.credit, 1.0);
                        let mut answer = match (t.value, t.min, t.max) {
                            (Some(value), None, None) => NumericAnswer {
                                value,
                                tolerance: t.tolerance.unwrap_or(0.0),
                                fraction,
                                feedback: None,
                            },
                            (None, Some(min), Some(max)) if t.tolerance.is_none() => {
                                NumericAnswer::range(min, max, fraction)
                            }
                            _ => {
                                return Err(format!(
                                    "pregunta «{id}»: cada respuesta numérica lleva «value» (y «tolerance») o «min» y «max»"
                                ));
                            }
                        };
                        answer.feedback = t.feedback;
                        answer
                    }
                    _ => {
                        return Err(format!(
                            "pregunta «{id}»: cada respuesta numérica es un número o {{ value, tolerance, credit }}"
                        ));
                    }
                });
            }
            QuestionKind::Numeric { answers: out }
        }
        "matching" => QuestionKind::Matching {
            pairs: q.pairs.ok_or_else(|| need("pairs"))?,
        },
        "ordering" => QuestionKind::Ordering {
            items: q.items.ok_or_else(|| need("items"))?,
        },
        "essay" => QuestionKind::Essay,
        other => {
            return Err(format!(
                "pregunta «{id}»: tipo «{other}» desconocido; usá single_choice, multiple_choice, true_false, short_answer, numeric, matching, ordering o essay"
            ));
        }
    };
    let category = q
        .category
        .unwrap_or_else(|| default_category.to_string())
        .trim()
        .trim_matches('/')
        .to_string();
    Ok(Question {
        name: q
            .name
            .unwrap_or_else(|| q.text.chars().take(60).collect::<String>()),
        id: q.id,
        category,
        text: q.text,
        format: TextFormat::Markdown,
        kind,
        general_feedback: q.feedback,
        rubric: q.rubric,
    })
}

// ---------------------------------------------------------------------------------------------
// Quizzes

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuizToml {
    title: String,
    #[serde(default)]
    intro: String,
    #[serde(default)]
    opens: Option<String>,
    #[serde(default)]
    closes: Option<String>,
    #[serde(default)]
    time_limit_minutes: Option<i64>,
    #[serde(default = "one")]
    attempts: i64,
    #[serde(default = "sixty")]
    passing_percent: i64,
    #[serde(default = "highest")]
    grading: String,
    #[serde(default)]
    shuffle_questions: bool,
    #[serde(default)]
    shuffle_options: bool,
    #[serde(default = "one")]
    per_page: i64,
    #[serde(default = "after_submit")]
    review_answers: String,
    #[serde(default = "after_submit")]
    review_score: String,
    #[serde(default)]
    slot: Vec<toml::Spanned<SlotToml>>,
}

fn one() -> i64 {
    1
}
fn sixty() -> i64 {
    60
}
fn highest() -> String {
    "highest".into()
}
fn after_submit() -> String {
    "after_submit".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotToml {
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default = "one_point")]
    points: f64,
}

fn one_point() -> f64 {
    1.0
}

fn quiz_file(
    path: &Path,
    text: &str,
    position: i64,
    bank: &[BankQuestion],
    errors: &mut Vec<ImportError>,
) -> Option<QuizFile> {
    let before = errors.len();
    let mut push = |line: Option<usize>, message: String| {
        errors.push(ImportError {
            file: path.into(),
            line,
            message,
        })
    };
    let key = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    if !valid_slug(&key) {
        push(
            None,
            "el nombre del archivo de la evaluación debe ser un slug: minúsculas sin acentos, números y guiones".into(),
        );
    }
    let quiz: QuizToml = match toml::from_str(text) {
        Ok(q) => q,
        Err(e) => {
            push(
                e.span().map(|s| line_of_offset(text, s.start)),
                format!("TOML inválido: {}", e.message()),
            );
            return None;
        }
    };
    let at = |k: &str| line_of_key(text, k);
    if quiz.title.trim().is_empty() || quiz.title.chars().count() > 200 {
        push(
            at("title"),
            "«title» no puede estar vacío ni superar 200 caracteres".into(),
        );
    }
    let mut time = |k: &str, v: &Option<String>| {
        v.as_ref().and_then(|s| {
            let t = crate::web::time::parse_local_input(&s.replace(' ', "T"));
            if t.is_none() {
                push(
                    at(k),
                    format!("«{k}» debe ser una fecha y hora como \"2026-12-01 08:00\" (hora de Tucumán)"),
                );
            }
            t
        })
    };
    let opens_at = time("opens", &quiz.opens);
    let closes_at = time("closes", &quiz.closes);
    if let (Some(o), Some(c)) = (opens_at, closes_at)
        && c <= o
    {
        push(at("closes"), "«closes» debe ser posterior a «opens»".into());
    }
    if let Some(m) = quiz.time_limit_minutes
        && !(1..=600).contains(&m)
    {
        push(
            at("time_limit_minutes"),
            "«time_limit_minutes» debe estar entre 1 y 600".into(),
        );
    }
    if !(0..=100).contains(&quiz.attempts) {
        push(
            at("attempts"),
            "«attempts» debe estar entre 0 (sin límite) y 100".into(),
        );
    }
    if !(0..=100).contains(&quiz.passing_percent) {
        push(
            at("passing_percent"),
            "«passing_percent» debe estar entre 0 y 100".into(),
        );
    }
    let grading = GradingMethod::from_code(&quiz.grading);
    if grading.is_none() {
        push(
            at("grading"),
            format!(
                "«grading» = «{}» desconocido: usá highest, last o average",
                quiz.grading
            ),
        );
    }
    if !(1..=50).contains(&quiz.per_page) {
        push(at("per_page"), "«per_page» debe estar entre 1 y 50".into());
    }
    for (k, v) in [
        ("review_answers", &quiz.review_answers),
        ("review_score", &quiz.review_score),
    ] {
        if ReviewWhen::from_code(v).is_none() {
            push(
                at(k),
                format!("«{k}» = «{v}» desconocido: usá after_submit, after_close o never"),
            );
        } else if v == "after_close" && closes_at.is_none() {
            push(
                at(k),
                format!("«{k}» = \"after_close\" necesita una fecha de cierre («closes»)"),
            );
        }
    }
    let by_key: HashMap<&str, &BankQuestion> = bank.iter().map(|q| (q.key.as_str(), q)).collect();
    let mut fixed = HashSet::new();
    let mut slots = Vec::new();
    // Random draws per category, checked against what is left once fixed questions are out.
    let mut draws: Vec<(usize, String, usize)> = Vec::new();
    if quiz.slot.is_empty() {
        push(
            None,
            "la evaluación no tiene preguntas: agregá al menos un [[slot]]".into(),
        );
    }
    for spanned in &quiz.slot {
        let line = line_of_offset(text, spanned.span().start);
        let s = spanned.get_ref();
        if !(s.points.is_finite() && s.points > 0.0 && s.points <= 1000.0) {
            push(
                Some(line),
                "«points» debe ser mayor que 0 y como mucho 1000".into(),
            );
        }
        match (&s.question, &s.category, s.count) {
            (Some(q), None, None) => {
                if !by_key.contains_key(q.as_str()) {
                    push(
                        Some(line),
                        format!(
                            "la pregunta «{q}» no existe: se nombra como <banco>/<id>, p. ej. «basico/canales»"
                        ),
                    );
                } else if !fixed.insert(q.clone()) {
                    push(Some(line), format!("la pregunta «{q}» está dos veces"));
                }
                slots.push(Slot::Fixed {
                    question: q.clone(),
                    points: s.points,
                });
            }
            (None, Some(c), Some(count)) if count >= 1 => {
                let c = c.trim().trim_matches('/').to_string();
                draws.push((line, c.clone(), count));
                slots.push(Slot::Random {
                    category: c,
                    count,
                    points: s.points,
                });
            }
            _ => push(
                Some(line),
                "cada [[slot]] lleva «question» (una pregunta fija) o «category» y «count» (≥ 1 preguntas al azar)".into(),
            ),
        }
    }
    // A rubric that gives points («hasta 4 puntos») must add up to what the question is worth
    // here, or the grader reads «de 0 a 2» beside criteria that add up to 10.
    // (Only when every slot parsed, so each slot is read with its own line.)
    let all_parsed = slots.len() == quiz.slot.len();
    for (spanned, slot) in quiz.slot.iter().zip(&slots).filter(|_| all_parsed) {
        let line = line_of_offset(text, spanned.span().start);
        let (candidates, points): (Vec<&BankQuestion>, f64) = match slot {
            Slot::Fixed { question, points } => (
                by_key.get(question.as_str()).copied().into_iter().collect(),
                *points,
            ),
            Slot::Random {
                category, points, ..
            } => (
                bank.iter()
                    .filter(|q| {
                        in_category(&q.question.category, category) && !fixed.contains(&q.key)
                    })
                    .collect(),
                *points,
            ),
        };
        for q in candidates {
            if let Some(sum) = q.question.rubric.as_deref().and_then(rubric_points)
                && (sum - points).abs() > 1e-6
            {
                push(
                    Some(line),
                    format!(
                        "la rúbrica de «{}» suma {} puntos y la pregunta vale {} en esta evaluación: \
                         hacé que coincidan (o escribí la rúbrica sin puntajes)",
                        q.key,
                        super::attempts::fmt_number(sum),
                        super::attempts::fmt_number(points)
                    ),
                );
            }
        }
    }
    // Random draws never repeat a question of the attempt: each category must have enough
    // questions besides the fixed ones and the other draws that overlap it.
    for (line, category, _) in &draws {
        let available = bank
            .iter()
            .filter(|q| in_category(&q.question.category, category) && !fixed.contains(&q.key))
            .count();
        let wanted: usize = draws
            .iter()
            .filter(|(_, c, _)| in_category(c, category) || in_category(category, c))
            .map(|(_, _, n)| n)
            .sum();
        if available < wanted {
            push(
                Some(*line),
                format!(
                    "la categoría «{category}» tiene {available} preguntas disponibles y se piden {wanted}"
                ),
            );
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(QuizFile {
        key,
        title: quiz.title.trim().into(),
        intro_html: markdown::render(&quiz.intro),
        position,
        opens_at,
        closes_at,
        time_limit_seconds: quiz.time_limit_minutes.map(|m| m * 60),
        attempts_allowed: quiz.attempts,
        passing_percent: quiz.passing_percent,
        grading: grading?,
        shuffle_questions: quiz.shuffle_questions,
        shuffle_options: quiz.shuffle_options,
        per_page: quiz.per_page,
        review_answers: ReviewWhen::from_code(&quiz.review_answers)?,
        review_score: ReviewWhen::from_code(&quiz.review_score)?,
        slots,
        completion_percent: None,
    })
}

/// The points a rubric gives, added up: every number written just before «punto» or «puntos»
/// («hasta 4 puntos», «0,5 puntos», «1 punto»); `None` when it gives none.
pub fn rubric_points(rubric: &str) -> Option<f64> {
    let lower = rubric.to_lowercase();
    let mut total = None;
    for (at, _) in lower.match_indices("punto") {
        let before = lower[..at].trim_end();
        let number: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let number = number
            .trim_matches(|c| c == ',' || c == '.')
            .replace(',', ".");
        if let Ok(x) = number.parse::<f64>() {
            *total.get_or_insert(0.0) += x;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_stored_grading_method_or_review_rule_is_an_error_not_a_default() {
        assert_eq!(
            GradingMethod::try_from("last".to_string()).unwrap(),
            GradingMethod::Last
        );
        assert!(GradingMethod::try_from("mejor".to_string()).is_err());
        assert_eq!(
            ReviewWhen::try_from("after_close".to_string()).unwrap(),
            ReviewWhen::AfterClose
        );
        assert!(ReviewWhen::try_from("siempre".to_string()).is_err());
    }

    #[test]
    fn rubric_points_add_up_the_numbers_before_punto() {
        let rubric = "- Sigue los pasos: hasta 4 puntos.\n- Menciona la Ley 24.240: 0,5 puntos.\n- Claridad: 1 Punto.";
        assert_eq!(rubric_points(rubric), Some(5.5));
        assert_eq!(
            rubric_points("Dar puntaje completo si nombra dos actividades."),
            None
        );
        assert_eq!(rubric_points("Desde el punto de vista del cliente."), None);
    }
}
