//! What the attempt and review pages show of a question. Only [`review`] ever looks at the
//! answer key; the attempt page is built from [`question_view`], which cannot leak it.

use super::{
    attempts::{AnswerRow, fmt_number},
    draw::{Shown, field, shown},
    grading::{Response, normalize_answer, parse_number},
    question::{Question, QuestionKind, TextFormat},
};
use crate::catalog::markdown;

/// A question as the learner answers it.
#[derive(Clone, Debug)]
pub struct QuestionView {
    pub slot: i64,
    /// 1-based number in the attempt.
    pub number: i64,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub field: String,
    pub text_html: String,
    pub points: String,
    /// Choice options, matching's right column or ordering's items, in display order (HTML).
    pub options_html: Vec<String>,
    /// Matching's left column (HTML).
    pub rows_html: Vec<String>,
    pub shown: Shown,
    pub answered: bool,
    pub saved_at: String,
}

impl QuestionView {
    pub fn is_selected(&self, position: &usize) -> bool {
        self.shown.selected.contains(position)
    }
    /// Matching: the display position chosen for a row; ordering: the rank of a displayed item.
    pub fn row_value(&self, row: &usize) -> usize {
        self.shown
            .rows
            .get(*row)
            .copied()
            .flatten()
            .unwrap_or(usize::MAX)
    }
    /// Ranks 1..=n for ordering selects.
    pub fn ranks(&self) -> Vec<usize> {
        (1..=self.options_html.len()).collect()
    }
}

/// The question's text as safe HTML.
pub fn text_html(format: TextFormat, text: &str) -> String {
    match format {
        TextFormat::Markdown => markdown::render(text),
        TextFormat::Html => ammonia::clean(text),
        TextFormat::Plain => escape(text).replace('\n', "<br>"),
    }
}

/// A short text (an option, an item) as safe inline HTML.
fn inline_html(format: TextFormat, text: &str) -> String {
    match format {
        TextFormat::Html => ammonia::clean(text),
        _ => escape(text),
    }
}

/// Escapes text for HTML content and attributes (ammonia's `clean_text` also escapes spaces,
/// which triples the size of every option on the page).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn question_view(row: &AnswerRow, question: &Question) -> QuestionView {
    let order = row.order();
    let response = row.response();
    let f = question.format;
    let (options_html, rows_html) = match &question.kind {
        QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options } => (
            order
                .iter()
                .filter_map(|&i| options.get(i))
                .map(|o| inline_html(f, &o.text))
                .collect(),
            Vec::new(),
        ),
        QuestionKind::Matching { pairs } => (
            order
                .iter()
                .filter_map(|&i| pairs.get(i))
                .map(|p| inline_html(f, &p.1))
                .collect(),
            pairs.iter().map(|p| inline_html(f, &p.0)).collect(),
        ),
        QuestionKind::Ordering { items } => (
            order
                .iter()
                .filter_map(|&i| items.get(i))
                .map(|t| inline_html(f, t))
                .collect(),
            Vec::new(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let answered = match &response {
        None => false,
        Some(Response::Choices(v)) => !v.is_empty(),
        Some(_) => true,
    };
    QuestionView {
        slot: row.slot,
        number: row.slot + 1,
        kind: question.kind.code(),
        kind_label: question.kind.label(),
        field: field(row.slot),
        text_html: text_html(f, &question.text),
        points: fmt_number(row.max_points),
        options_html,
        rows_html,
        shown: shown(&question.kind, &order, response.as_ref()),
        answered,
        saved_at: row
            .saved_at
            .map(|t| {
                t.with_timezone(&chrono_tz::America::Argentina::Tucuman)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default(),
    }
}

/// A finished question as the review shows it, when the review rules allow it.
#[derive(Clone, Debug)]
pub struct ReviewView {
    pub number: i64,
    pub slot: i64,
    /// Graded by an instructor (essays): the grade can be changed.
    pub manual: bool,
    pub text_html: String,
    pub your_answer: String,
    pub right_answer: String,
    pub feedback: Vec<String>,
    pub points: String,
    pub max_points: String,
    pub pending: bool,
    pub comment: Option<String>,
    pub verdict: &'static str,
}

fn join(v: Vec<String>) -> String {
    v.join("; ")
}

pub fn review(row: &AnswerRow, question: &Question) -> ReviewView {
    let response = row.response();
    let mut feedback = Vec::new();
    let (your, right) = match (&question.kind, &response) {
        (QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options }, r) => {
            let chosen: Vec<usize> = match r {
                Some(Response::Choice(i)) => vec![*i],
                Some(Response::Choices(v)) => v.clone(),
                _ => Vec::new(),
            };
            for &i in &chosen {
                if let Some(fb) = options.get(i).and_then(|o| o.feedback.clone()) {
                    feedback.push(fb);
                }
            }
            (
                join(
                    chosen
                        .iter()
                        .filter_map(|&i| options.get(i))
                        .map(|o| o.text.clone())
                        .collect(),
                ),
                join(
                    options
                        .iter()
                        .filter(|o| o.fraction > 0.0)
                        .map(|o| o.text.clone())
                        .collect(),
                ),
            )
        }
        (
            QuestionKind::TrueFalse {
                answer,
                feedback_true,
                feedback_false,
            },
            r,
        ) => {
            let given = match r {
                Some(Response::Bool(b)) => Some(*b),
                _ => None,
            };
            let fb = match given {
                Some(true) => feedback_true.clone(),
                Some(false) => feedback_false.clone(),
                None => None,
            };
            feedback.extend(fb);
            let word = |b: bool| if b { "Verdadero" } else { "Falso" }.to_string();
            (given.map(word).unwrap_or_default(), word(*answer))
        }
        (QuestionKind::ShortAnswer { accepted }, r) => {
            let text = match r {
                Some(Response::Text(t)) => t.clone(),
                _ => String::new(),
            };
            let norm = normalize_answer(&text);
            if let Some(fb) = accepted
                .iter()
                .filter(|a| !norm.is_empty() && normalize_answer(&a.text) == norm)
                .find_map(|a| a.feedback.clone())
            {
                feedback.push(fb);
            }
            (text, join(author_answers(accepted)))
        }
        (QuestionKind::Numeric { answers }, r) => {
            let text = match r {
                Some(Response::Text(t)) => t.clone(),
                Some(Response::Number(x)) => x.to_string(),
                _ => String::new(),
            };
            if let Some(x) = parse_number(&text)
                && let Some(fb) = answers
                    .iter()
                    .filter(|a| (x - a.value).abs() <= a.tolerance + 1e-9)
                    .find_map(|a| a.feedback.clone())
            {
                feedback.push(fb);
            }
            (
                text,
                join(
                    answers
                        .iter()
                        .filter(|a| a.fraction >= 1.0)
                        .map(|a| {
                            if a.tolerance > 0.0 {
                                format!("{} ± {}", fmt_number(a.value), fmt_number(a.tolerance))
                            } else {
                                fmt_number(a.value)
                            }
                        })
                        .collect(),
                ),
            )
        }
        (QuestionKind::Matching { pairs }, r) => {
            let chosen = match r {
                Some(Response::Matches(m)) => m.clone(),
                _ => Vec::new(),
            };
            (
                join(
                    pairs
                        .iter()
                        .enumerate()
                        .map(|(i, (left, _))| {
                            let right = chosen
                                .get(i)
                                .copied()
                                .flatten()
                                .and_then(|j| pairs.get(j))
                                .map_or("—", |p| p.1.as_str());
                            format!("{left} → {right}")
                        })
                        .collect(),
                ),
                join(pairs.iter().map(|(l, r)| format!("{l} → {r}")).collect()),
            )
        }
        (QuestionKind::Ordering { items }, r) => {
            let given = match r {
                Some(Response::Order(o)) => o
                    .iter()
                    .filter_map(|&i| items.get(i).cloned())
                    .collect::<Vec<_>>()
                    .join(" → "),
                _ => String::new(),
            };
            (given, items.join(" → "))
        }
        (QuestionKind::Essay, r) => (
            match r {
                Some(Response::Essay(t)) => t.clone(),
                _ => String::new(),
            },
            String::new(),
        ),
    };
    feedback.extend(question.general_feedback.clone());
    let verdict = match row.fraction {
        None => "Falta corregir",
        Some(f) if f >= 0.999 => "Correcta",
        Some(f) if f > 0.0 => "Parcialmente correcta",
        Some(_) => "Incorrecta",
    };
    ReviewView {
        number: row.slot + 1,
        slot: row.slot,
        manual: !question.kind.is_auto_graded(),
        text_html: text_html(question.format, &question.text),
        your_answer: if your.is_empty() {
            "Sin responder".into()
        } else {
            your
        },
        right_answer: right,
        feedback,
        points: row
            .fraction
            .map(|f| fmt_number(super::grading::score(f, row.max_points)))
            .unwrap_or_else(|| "—".into()),
        max_points: fmt_number(row.max_points),
        pending: row.fraction.is_none(),
        comment: row.comment.clone(),
        verdict,
    }
}

/// The full-credit answers of a short-answer question as the author wrote them for people:
/// the ones without wildcards; if all have them, each with its wildcards taken out
/// («respuesta* rápida*» reads «respuesta rápida»). The matching syntax is never shown.
fn author_answers(accepted: &[super::question::Accepted]) -> Vec<String> {
    let full: Vec<&str> = accepted
        .iter()
        .filter(|a| a.fraction >= 1.0)
        .map(|a| a.text.as_str())
        .collect();
    let has_wildcard = |t: &str| t.replace("\\*", "").contains('*');
    let plain: Vec<String> = full
        .iter()
        .filter(|t| !has_wildcard(t))
        .map(|t| t.replace("\\*", "*"))
        .collect();
    if !plain.is_empty() {
        return plain;
    }
    let mut shown: Vec<String> = Vec::new();
    for t in full {
        let text = t
            .replace("\\*", "\u{E000}")
            .replace('*', " ")
            .replace('\u{E000}', "*")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() && !shown.contains(&text) {
            shown.push(text);
        }
    }
    shown
}
