//! The shape of an attempt: drawing its questions, the order its options are shown in, and
//! translating between what the form shows and what grading reads.
//!
//! Forms never carry an option's index in the author's order (authors tend to write the right
//! option first, so that index would give the answer away): every value is a *display
//! position*, mapped back through the attempt's frozen `option_order`.

use std::collections::HashSet;

use rand::seq::SliceRandom;

use super::{
    files::{Slot, in_category},
    grading::Response,
    question::{Question, QuestionKind},
};

/// A question drawn for an attempt, with its place and the order of its options.
#[derive(Clone, Debug)]
pub struct Drawn {
    pub key: String,
    pub question: Question,
    pub points: f64,
    /// Display position → index into the question's options (choice), pairs (matching: the
    /// right column) or items (ordering: their initial order). Empty for other kinds.
    pub option_order: Vec<usize>,
    /// 0-based page of the attempt.
    pub page: i64,
}

/// Draws the questions of an attempt from the course's bank (`(key, question)`, active only).
/// Random slots never repeat a question already in the attempt. Fails if the bank changed and
/// no longer has enough questions (import checks this, so it means a bank shrank meanwhile).
pub fn draw(
    slots: &[Slot],
    bank: &[(String, Question)],
    shuffle_questions: bool,
    shuffle_options: bool,
    per_page: i64,
) -> Result<Vec<Drawn>, String> {
    let mut rng = rand::rng();
    let mut taken: HashSet<&str> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Fixed { question, .. } => Some(question.as_str()),
            Slot::Random { .. } => None,
        })
        .collect();
    let mut picked: Vec<(&str, &Question, f64)> = Vec::new();
    for slot in slots {
        match slot {
            Slot::Fixed { question, points } => {
                let (key, q) = bank
                    .iter()
                    .find(|(k, _)| k == question)
                    .ok_or_else(|| format!("la pregunta «{question}» ya no está en el banco"))?;
                picked.push((key, q, *points));
            }
            Slot::Random {
                category,
                count,
                points,
            } => {
                let mut candidates: Vec<&(String, Question)> = bank
                    .iter()
                    .filter(|(k, q)| {
                        in_category(&q.category, category) && !taken.contains(k.as_str())
                    })
                    .collect();
                if candidates.len() < *count {
                    return Err(format!(
                        "la categoría «{category}» ya no tiene {count} preguntas disponibles"
                    ));
                }
                candidates.shuffle(&mut rng);
                for (k, q) in candidates.into_iter().take(*count) {
                    taken.insert(k);
                    picked.push((k, q, *points));
                }
            }
        }
    }
    if shuffle_questions {
        picked.shuffle(&mut rng);
    }
    let per_page = per_page.max(1) as usize;
    Ok(picked
        .into_iter()
        .enumerate()
        .map(|(i, (key, q, points))| Drawn {
            key: key.to_string(),
            option_order: option_order(&q.kind, shuffle_options, &mut rng),
            question: q.clone(),
            points,
            page: (i / per_page) as i64,
        })
        .collect())
}

/// The display order of a question's options. Matching's right column and ordering's items are
/// always shuffled (in author order they would be the answer); choices only when configured.
fn option_order(kind: &QuestionKind, shuffle: bool, rng: &mut impl rand::Rng) -> Vec<usize> {
    match kind {
        QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options } => {
            let mut order: Vec<usize> = (0..options.len()).collect();
            if shuffle {
                order.shuffle(rng);
            }
            order
        }
        QuestionKind::Matching { pairs } => {
            // One entry per distinct right text: two left items may share their right item.
            let mut seen = HashSet::new();
            let mut order: Vec<usize> = (0..pairs.len())
                .filter(|&i| seen.insert(pairs[i].1.as_str()))
                .collect();
            shuffle_away_from_identity(&mut order, rng);
            order
        }
        QuestionKind::Ordering { items } => {
            let mut order: Vec<usize> = (0..items.len()).collect();
            shuffle_away_from_identity(&mut order, rng);
            order
        }
        _ => Vec::new(),
    }
}

fn shuffle_away_from_identity(order: &mut [usize], rng: &mut impl rand::Rng) {
    let sorted: Vec<usize> = {
        let mut s = order.to_vec();
        s.sort_unstable();
        s
    };
    if order.len() < 2 {
        return;
    }
    loop {
        order.shuffle(rng);
        if order != sorted.as_slice() {
            return;
        }
    }
}

/// The form field of a slot (`r3`), or of one of its rows (`r3_1`).
pub fn field(slot: i64) -> String {
    format!("r{slot}")
}

/// What reading a slot's response needs of its question: its kind and how many rows it has
/// (a few bytes, so autosave can keep an attempt's shapes in memory instead of reading the
/// frozen questions again on every save).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Single,
    Multiple,
    TrueFalse,
    Text,
    Essay,
    Matching(usize),
    Ordering(usize),
}

impl Shape {
    /// The shape of a question.
    pub fn of(kind: &QuestionKind) -> Shape {
        match kind {
            QuestionKind::SingleChoice { .. } => Shape::Single,
            QuestionKind::MultipleChoice { .. } => Shape::Multiple,
            QuestionKind::TrueFalse { .. } => Shape::TrueFalse,
            QuestionKind::ShortAnswer { .. } | QuestionKind::Numeric { .. } => Shape::Text,
            QuestionKind::Essay => Shape::Essay,
            QuestionKind::Matching { pairs } => Shape::Matching(pairs.len()),
            QuestionKind::Ordering { items } => Shape::Ordering(items.len()),
        }
    }
}

/// Reads a slot's response from submitted form fields, mapping display positions back to the
/// question's indices. `None` means "no answer" (an empty field clears a saved answer).
pub fn parse_response(
    kind: &QuestionKind,
    order: &[usize],
    slot: i64,
    fields: &[(String, String)],
) -> Option<Response> {
    read_response(Shape::of(kind), order, slot, fields)
}

/// [`parse_response`] from a question's [`Shape`].
pub fn read_response(
    shape: Shape,
    order: &[usize],
    slot: i64,
    fields: &[(String, String)],
) -> Option<Response> {
    let name = field(slot);
    let value = || {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let position = |v: &str| v.parse::<usize>().ok().and_then(|d| order.get(d).copied());
    let row = |i: usize| {
        let name = format!("{name}_{i}");
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    match shape {
        Shape::Single => value().and_then(position).map(Response::Choice),
        Shape::Multiple => {
            let mut chosen: Vec<usize> = fields
                .iter()
                .filter(|(k, _)| *k == name)
                .filter_map(|(_, v)| position(v.trim()))
                .collect();
            chosen.sort_unstable();
            chosen.dedup();
            Some(Response::Choices(chosen))
        }
        Shape::TrueFalse => match value() {
            Some("true") => Some(Response::Bool(true)),
            Some("false") => Some(Response::Bool(false)),
            _ => None,
        },
        Shape::Text => value().map(|v| Response::Text(limit(v))),
        Shape::Essay => value().map(|v| Response::Essay(limit(v))),
        Shape::Matching(rows) => {
            let chosen: Vec<Option<usize>> = (0..rows).map(|i| row(i).and_then(position)).collect();
            chosen
                .iter()
                .any(Option::is_some)
                .then_some(Response::Matches(chosen))
        }
        Shape::Ordering(items) => {
            // Each displayed item gets a rank 1..n; items sorted by rank (ties and blanks keep
            // their display order, blanks last) make the learner's order.
            let mut ranked: Vec<(usize, usize, usize)> = (0..items)
                .filter_map(|d| {
                    let item = *order.get(d)?;
                    let rank = row(d)
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(usize::MAX);
                    Some((rank, d, item))
                })
                .collect();
            if ranked.iter().all(|(r, _, _)| *r == usize::MAX) {
                return None;
            }
            ranked.sort_unstable();
            Some(Response::Order(
                ranked.into_iter().map(|(_, _, i)| i).collect(),
            ))
        }
    }
}

/// Longest text kept from a typed answer (an essay of ~10 pages).
const MAX_TEXT: usize = 20_000;

fn limit(v: &str) -> String {
    v.chars().take(MAX_TEXT).collect()
}

/// A saved response as the form shows it: what is selected, typed or ranked, by display
/// position. The page is built from this, so reloading shows every saved answer.
#[derive(Clone, Debug, Default)]
pub struct Shown {
    /// Choice questions: display positions ticked.
    pub selected: Vec<usize>,
    /// Typed text (short answer, numeric, essay) or `"true"`/`"false"`.
    pub text: String,
    /// Matching: per left row, the display position chosen. Ordering: per displayed item, its
    /// rank (1-based).
    pub rows: Vec<Option<usize>>,
}

/// The inverse of [`parse_response`].
pub fn shown(kind: &QuestionKind, order: &[usize], response: Option<&Response>) -> Shown {
    let display = |i: usize| order.iter().position(|&o| o == i);
    let mut s = Shown::default();
    match (kind, response) {
        (_, None) => {
            if let QuestionKind::Matching { pairs } = kind {
                s.rows = vec![None; pairs.len()];
            }
            if let QuestionKind::Ordering { items } = kind {
                s.rows = vec![None; items.len()];
            }
        }
        (_, Some(Response::Choice(i))) => s.selected = display(*i).into_iter().collect(),
        (_, Some(Response::Choices(v))) => {
            s.selected = v.iter().filter_map(|&i| display(i)).collect()
        }
        (_, Some(Response::Bool(b))) => s.text = b.to_string(),
        (_, Some(Response::Text(t) | Response::Essay(t))) => s.text = t.clone(),
        (_, Some(Response::Number(x))) => s.text = x.to_string(),
        (QuestionKind::Matching { pairs }, Some(Response::Matches(m))) => {
            // The display position of the right text chosen (pairs sharing a text share one).
            s.rows = (0..pairs.len())
                .map(|row| {
                    let chosen = m.get(row).copied().flatten()?;
                    let text = &pairs.get(chosen)?.1;
                    order.iter().position(|&o| pairs[o].1 == *text)
                })
                .collect();
        }
        (QuestionKind::Ordering { items }, Some(Response::Order(o))) => {
            s.rows = (0..items.len())
                .map(|d| {
                    let item = *order.get(d)?;
                    o.iter().position(|&i| i == item).map(|r| r + 1)
                })
                .collect();
        }
        _ => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::question::{Choice, TextFormat};

    fn q(kind: QuestionKind, category: &str) -> Question {
        Question {
            id: "x".into(),
            name: "x".into(),
            category: category.into(),
            text: "¿?".into(),
            format: TextFormat::Markdown,
            kind,
            general_feedback: None,
            rubric: None,
        }
    }

    fn bank() -> Vec<(String, Question)> {
        (0..6)
            .map(|i| {
                (
                    format!("b/q{i}"),
                    q(
                        QuestionKind::TrueFalse {
                            answer: true,
                            feedback_true: None,
                            feedback_false: None,
                        },
                        if i < 4 { "A/Uno" } else { "B" },
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn random_draws_never_repeat_fixed_questions_and_paginate() {
        let slots = vec![
            Slot::Fixed {
                question: "b/q0".into(),
                points: 2.0,
            },
            Slot::Random {
                category: "A".into(),
                count: 3,
                points: 1.0,
            },
        ];
        for _ in 0..50 {
            let d = draw(&slots, &bank(), true, true, 2).unwrap();
            let keys: HashSet<_> = d.iter().map(|x| x.key.clone()).collect();
            assert_eq!(keys.len(), 4, "{keys:?}");
            assert!(keys.contains("b/q0"));
            assert!(!keys.contains("b/q4"));
            assert_eq!(
                d.iter().map(|x| x.page).collect::<Vec<_>>(),
                vec![0, 0, 1, 1]
            );
        }
        let too_many = vec![Slot::Random {
            category: "B".into(),
            count: 3,
            points: 1.0,
        }];
        assert!(draw(&too_many, &bank(), false, false, 1).is_err());
    }

    #[test]
    fn form_values_are_display_positions_mapped_back_through_the_order() {
        let kind = QuestionKind::SingleChoice {
            options: vec![
                Choice {
                    text: "sí".into(),
                    fraction: 1.0,
                    feedback: None,
                },
                Choice {
                    text: "no".into(),
                    fraction: 0.0,
                    feedback: None,
                },
            ],
        };
        let order = [1, 0];
        let fields = vec![("r0".to_string(), "1".to_string())];
        let r = parse_response(&kind, &order, 0, &fields).unwrap();
        assert_eq!(r, Response::Choice(0));
        assert_eq!(shown(&kind, &order, Some(&r)).selected, vec![1]);
        assert_eq!(
            parse_response(&kind, &order, 0, &[("r0".into(), "7".into())]),
            None
        );
    }

    #[test]
    fn ordering_and_matching_round_trip() {
        let kind = QuestionKind::Ordering {
            items: vec!["a".into(), "b".into(), "c".into()],
        };
        let order = [2, 0, 1];
        // The learner ranks displayed c=3, a=1, b=2: the right order.
        let fields: Vec<(String, String)> = [("r4_0", "3"), ("r4_1", "1"), ("r4_2", "2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = parse_response(&kind, &order, 4, &fields).unwrap();
        assert_eq!(r, Response::Order(vec![0, 1, 2]));
        assert_eq!(
            shown(&kind, &order, Some(&r)).rows,
            vec![Some(3), Some(1), Some(2)]
        );

        let kind = QuestionKind::Matching {
            pairs: vec![
                ("1".into(), "uno".into()),
                ("2".into(), "dos".into()),
                ("I".into(), "uno".into()),
            ],
        };
        let mut rng = rand::rng();
        let order = option_order(&kind, false, &mut rng);
        assert_eq!(order.len(), 2, "right texts shown once each");
        let uno = order.iter().position(|&o| o == 0).unwrap();
        let fields = vec![
            ("r1_0".to_string(), uno.to_string()),
            ("r1_2".to_string(), uno.to_string()),
        ];
        let r = parse_response(&kind, &order, 1, &fields).unwrap();
        assert_eq!(r, Response::Matches(vec![Some(0), None, Some(0)]));
        assert_eq!(
            shown(&kind, &order, Some(&r)).rows,
            vec![Some(uno), None, Some(uno)]
        );
    }
}
