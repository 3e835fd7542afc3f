//! The question model: the kinds of question Aula can ask and what makes one well-formed.
//!
//! Credit is expressed as *fractions* of the question's value (Moodle's "grade" percentages
//! divided by 100): `1.0` is fully right, `0.5` half right, negative values penalise a wrong
//! option in a multiple-choice question. Validation messages are in Spanish because they are
//! shown to the instructors who wrote the question.

use serde::{Deserialize, Serialize};

use super::grading::normalize_answer;

/// Slack when fractions must add up to exactly 1: authors write `%33.33333%` three times.
pub const FRACTION_EPSILON: f64 = 0.001;

/// How a question's text is written, so the renderer knows how to display it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// Markdown, rendered like lesson bodies. The default for everything Aula authors write.
    #[default]
    Markdown,
    /// Plain text: shown escaped, line breaks kept.
    Plain,
    /// HTML coming from Moodle banks. It is stored as written and MUST be sanitised when rendered.
    Html,
}

/// One question of a bank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Stable key inside its bank (a slug), used to refer to the question from quizzes.
    pub id: String,
    /// Short name shown to instructors in bank listings (GIFT's `::title::`).
    pub name: String,
    /// Category path inside the bank, segments separated by `/` (e.g. `Matemática/Fracciones`).
    pub category: String,
    /// The question as shown to the learner, in [`Question::format`].
    pub text: String,
    /// How [`Question::text`] is written.
    #[serde(default)]
    pub format: TextFormat,
    /// The kind of question with its answers.
    pub kind: QuestionKind,
    /// Feedback shown to every learner after answering, whatever the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_feedback: Option<String>,
    /// For essays: what the instructor should look for (shown only to graders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubric: Option<String>,
}

/// An option of a single- or multiple-choice question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// What the learner sees.
    pub text: String,
    /// Credit for choosing it, in `-1.0..=1.0`.
    pub fraction: f64,
    /// Shown to a learner who chose this option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

/// An accepted answer of a short-answer question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    /// The answer; `*` matches any sequence of characters, `\*` is a literal asterisk.
    pub text: String,
    /// Credit when the learner's answer matches, in `0.0..=1.0`.
    pub fraction: f64,
    /// Shown to a learner whose answer matched this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

/// An accepted value of a numeric question: anything within `value ± tolerance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericAnswer {
    /// The expected value.
    pub value: f64,
    /// Largest accepted distance from `value` (`0.0` for an exact answer).
    pub tolerance: f64,
    /// Credit for an answer in range, in `0.0..=1.0`.
    pub fraction: f64,
    /// Shown to a learner whose answer fell in this range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

impl NumericAnswer {
    /// An answer accepting anything in `min..=max`, stored as its midpoint and half-width.
    pub fn range(min: f64, max: f64, fraction: f64) -> Self {
        NumericAnswer {
            value: (min + max) / 2.0,
            tolerance: (max - min) / 2.0,
            fraction,
            feedback: None,
        }
    }
}

/// The kind of a question, with what is needed to grade it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// One option must be picked; exactly one option is worth `1.0`.
    SingleChoice {
        /// Options in the author's order (the UI may shuffle them).
        options: Vec<Choice>,
    },
    /// Any number of options may be picked; positive fractions add up to `1.0`.
    MultipleChoice {
        /// Options in the author's order (the UI may shuffle them).
        options: Vec<Choice>,
    },
    /// A statement that is either true or false.
    TrueFalse {
        /// Whether the statement is true.
        answer: bool,
        /// Shown to a learner who answered "true".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feedback_true: Option<String>,
        /// Shown to a learner who answered "false".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feedback_false: Option<String>,
    },
    /// A typed answer compared ignoring case, accents, extra spaces and surrounding punctuation.
    ShortAnswer {
        /// Accepted answers; the best match counts.
        accepted: Vec<Accepted>,
    },
    /// A number, right within a tolerance.
    Numeric {
        /// Accepted values; the best match counts.
        answers: Vec<NumericAnswer>,
    },
    /// Each left item must be paired with its right item.
    Matching {
        /// `(left, right)` pairs in the correct pairing; the UI shuffles the right column.
        pairs: Vec<(String, String)>,
    },
    /// Items must be put in order.
    Ordering {
        /// The items in their correct order; the UI shuffles them.
        items: Vec<String>,
    },
    /// A free text answer graded by an instructor.
    Essay,
}

impl QuestionKind {
    /// Whether responses are graded on submission (everything but essays).
    pub fn is_auto_graded(&self) -> bool {
        !matches!(self, QuestionKind::Essay)
    }

    /// The kind's code, as written in bank files and stored in the database.
    pub fn code(&self) -> &'static str {
        match self {
            QuestionKind::SingleChoice { .. } => "single_choice",
            QuestionKind::MultipleChoice { .. } => "multiple_choice",
            QuestionKind::TrueFalse { .. } => "true_false",
            QuestionKind::ShortAnswer { .. } => "short_answer",
            QuestionKind::Numeric { .. } => "numeric",
            QuestionKind::Matching { .. } => "matching",
            QuestionKind::Ordering { .. } => "ordering",
            QuestionKind::Essay => "essay",
        }
    }

    /// The kind's name as instructors know it, for listings and messages.
    pub fn label(&self) -> &'static str {
        match self {
            QuestionKind::SingleChoice { .. } => "Opción múltiple (una respuesta)",
            QuestionKind::MultipleChoice { .. } => "Opción múltiple (varias respuestas)",
            QuestionKind::TrueFalse { .. } => "Verdadero/Falso",
            QuestionKind::ShortAnswer { .. } => "Respuesta corta",
            QuestionKind::Numeric { .. } => "Numérica",
            QuestionKind::Matching { .. } => "Emparejamiento",
            QuestionKind::Ordering { .. } => "Ordenamiento",
            QuestionKind::Essay => "Ensayo",
        }
    }

    /// Checks the kind's answers; returns every problem found, in Spanish.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        match self {
            QuestionKind::SingleChoice { options } => validate_single(options, &mut errors),
            QuestionKind::MultipleChoice { options } => validate_multiple(options, &mut errors),
            QuestionKind::TrueFalse { .. } | QuestionKind::Essay => {}
            QuestionKind::ShortAnswer { accepted } => validate_short(accepted, &mut errors),
            QuestionKind::Numeric { answers } => validate_numeric(answers, &mut errors),
            QuestionKind::Matching { pairs } => validate_matching(pairs, &mut errors),
            QuestionKind::Ordering { items } => validate_ordering(items, &mut errors),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl Question {
    /// Checks the whole question; returns every problem found, in Spanish.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if self.id.trim().is_empty() {
            errors.push("La pregunta no tiene identificador.".to_string());
        }
        if self.category.trim().is_empty() {
            errors.push("La pregunta no tiene categoría.".to_string());
        }
        if self.text.trim().is_empty() {
            errors.push("El enunciado de la pregunta está vacío.".to_string());
        }
        if let Err(mut kind_errors) = self.kind.validate() {
            errors.append(&mut kind_errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn is_one(fraction: f64) -> bool {
    (fraction - 1.0).abs() <= FRACTION_EPSILON
}

/// Common checks of choice options; `n` in messages is 1-based like the author counts.
fn validate_options(options: &[Choice], errors: &mut Vec<String>) {
    if options.len() < 2 {
        errors.push("Tiene que haber al menos dos opciones.".to_string());
    }
    for (i, option) in options.iter().enumerate() {
        let n = i + 1;
        if option.text.trim().is_empty() {
            errors.push(format!("La opción {n} está vacía."));
        }
        if !(-1.0..=1.0).contains(&option.fraction) {
            errors.push(format!(
                "El peso de la opción {n} tiene que estar entre -100% y 100%."
            ));
        }
    }
}

fn validate_single(options: &[Choice], errors: &mut Vec<String>) {
    validate_options(options, errors);
    let right = options.iter().filter(|o| is_one(o.fraction)).count();
    if right != 1 {
        errors.push(format!(
            "Tiene que haber exactamente una opción correcta (100%), y hay {right}."
        ));
    }
}

fn validate_multiple(options: &[Choice], errors: &mut Vec<String>) {
    validate_options(options, errors);
    let positive: f64 = options
        .iter()
        .map(|o| o.fraction)
        .filter(|f| *f > 0.0)
        .sum();
    if !is_one(positive) {
        errors.push(format!(
            "Los pesos de las opciones correctas tienen que sumar 100%, y suman {}%.",
            round2(positive * 100.0)
        ));
        return;
    }
    // With zero-weight wrong options, ticking every box earns full marks: refuse such a question
    // rather than let learners game it. Questions whose options are all right are fine.
    let has_wrong = options.iter().any(|o| o.fraction <= 0.0);
    let all: f64 = options.iter().map(|o| o.fraction).sum();
    if has_wrong && all >= 1.0 - FRACTION_EPSILON {
        errors.push(
            "Marcando todas las opciones se obtendría el puntaje completo: \
             las opciones incorrectas tienen que restar (peso negativo, por ejemplo ~%-50%)."
                .to_string(),
        );
    }
}

fn validate_short(accepted: &[Accepted], errors: &mut Vec<String>) {
    if accepted.is_empty() {
        errors.push("Tiene que haber al menos una respuesta aceptada.".to_string());
    }
    for (i, answer) in accepted.iter().enumerate() {
        let n = i + 1;
        if normalize_answer(&answer.text).is_empty() {
            errors.push(format!("La respuesta aceptada {n} está vacía."));
        }
        if !(0.0..=1.0).contains(&answer.fraction) {
            errors.push(format!(
                "El peso de la respuesta {n} tiene que estar entre 0% y 100%."
            ));
        }
    }
    if !accepted.is_empty() && !accepted.iter().any(|a| is_one(a.fraction)) {
        errors.push("Al menos una respuesta aceptada tiene que valer 100%.".to_string());
    }
}

fn validate_numeric(answers: &[NumericAnswer], errors: &mut Vec<String>) {
    if answers.is_empty() {
        errors.push("Tiene que haber al menos un valor aceptado.".to_string());
    }
    for (i, answer) in answers.iter().enumerate() {
        let n = i + 1;
        if !answer.value.is_finite() {
            errors.push(format!("El valor {n} no es un número válido."));
        }
        if !answer.tolerance.is_finite() || answer.tolerance < 0.0 {
            errors.push(format!(
                "La tolerancia del valor {n} tiene que ser un número mayor o igual a 0."
            ));
        }
        if !(0.0..=1.0).contains(&answer.fraction) {
            errors.push(format!(
                "El peso del valor {n} tiene que estar entre 0% y 100%."
            ));
        }
    }
    if !answers.is_empty() && !answers.iter().any(|a| is_one(a.fraction)) {
        errors.push("Al menos un valor aceptado tiene que valer 100%.".to_string());
    }
}

fn validate_matching(pairs: &[(String, String)], errors: &mut Vec<String>) {
    if pairs.len() < 2 {
        errors.push("Tiene que haber al menos dos pares para emparejar.".to_string());
    }
    for (i, (left, right)) in pairs.iter().enumerate() {
        let n = i + 1;
        if left.trim().is_empty() || right.trim().is_empty() {
            errors.push(format!("El par {n} tiene un lado vacío."));
        }
        if pairs[..i].iter().any(|(l, _)| l.trim() == left.trim()) {
            errors.push(format!("El elemento «{}» está repetido.", left.trim()));
        }
    }
}

fn validate_ordering(items: &[String], errors: &mut Vec<String>) {
    if items.len() < 2 {
        errors.push("Tiene que haber al menos dos elementos para ordenar.".to_string());
    }
    for (i, item) in items.iter().enumerate() {
        if item.trim().is_empty() {
            errors.push(format!("El elemento {} está vacío.", i + 1));
        } else if items[..i].iter().any(|other| other.trim() == item.trim()) {
            // Two equal items would make "the correct position" ambiguous.
            errors.push(format!("El elemento «{}» está repetido.", item.trim()));
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(text: &str, fraction: f64) -> Choice {
        Choice {
            text: text.into(),
            fraction,
            feedback: None,
        }
    }

    fn question(kind: QuestionKind) -> Question {
        Question {
            id: "q1".into(),
            name: "Capital".into(),
            category: "Geografía".into(),
            text: "¿Cuál es la capital de Tucumán?".into(),
            format: TextFormat::Markdown,
            kind,
            general_feedback: None,
            rubric: None,
        }
    }

    fn errors(kind: QuestionKind) -> Vec<String> {
        kind.validate().err().unwrap_or_default()
    }

    #[test]
    fn well_formed_single_choice_is_valid() {
        let kind = QuestionKind::SingleChoice {
            options: vec![choice("San Miguel", 1.0), choice("Tafí", 0.0)],
        };
        assert_eq!(question(kind).validate(), Ok(()));
    }

    #[test]
    fn single_choice_needs_exactly_one_right_option() {
        let none = QuestionKind::SingleChoice {
            options: vec![choice("a", 0.5), choice("b", 0.0)],
        };
        assert!(errors(none)[0].contains("exactamente una"));
        let two = QuestionKind::SingleChoice {
            options: vec![choice("a", 1.0), choice("b", 1.0)],
        };
        assert!(errors(two)[0].contains("hay 2"));
    }

    #[test]
    fn choice_weights_and_texts_are_checked() {
        let kind = QuestionKind::SingleChoice {
            options: vec![choice("a", 1.0), choice(" ", -1.5)],
        };
        let errs = errors(kind);
        assert!(errs.iter().any(|e| e.contains("opción 2 está vacía")));
        assert!(errs.iter().any(|e| e.contains("entre -100% y 100%")));
        let nan = QuestionKind::SingleChoice {
            options: vec![choice("a", 1.0), choice("b", f64::NAN)],
        };
        assert!(!errors(nan).is_empty());
    }

    #[test]
    fn multiple_choice_positive_weights_sum_to_one() {
        let third = 1.0 / 3.0;
        let ok = QuestionKind::MultipleChoice {
            options: vec![
                choice("a", 0.33333),
                choice("b", 0.33333),
                choice("c", 0.33333),
                choice("d", -third),
            ],
        };
        assert_eq!(ok.validate(), Ok(()));
        let short = QuestionKind::MultipleChoice {
            options: vec![choice("a", 0.5), choice("b", 0.4), choice("c", -1.0)],
        };
        assert!(errors(short)[0].contains("suman 90%"));
    }

    #[test]
    fn multiple_choice_where_ticking_everything_wins_is_rejected() {
        let gameable = QuestionKind::MultipleChoice {
            options: vec![choice("a", 0.5), choice("b", 0.5), choice("c", 0.0)],
        };
        assert!(errors(gameable)[0].contains("Marcando todas"));
        let all_right = QuestionKind::MultipleChoice {
            options: vec![choice("a", 0.5), choice("b", 0.5)],
        };
        assert_eq!(all_right.validate(), Ok(()));
    }

    #[test]
    fn short_answer_needs_a_full_credit_non_empty_answer() {
        let kind = QuestionKind::ShortAnswer {
            accepted: vec![Accepted {
                text: " ¿? ".into(),
                fraction: 0.5,
                feedback: None,
            }],
        };
        let errs = errors(kind);
        assert!(errs.iter().any(|e| e.contains("está vacía")));
        assert!(errs.iter().any(|e| e.contains("100%")));
        assert!(!errors(QuestionKind::ShortAnswer { accepted: vec![] }).is_empty());
    }

    #[test]
    fn numeric_rejects_nan_and_negative_tolerance() {
        let kind = QuestionKind::Numeric {
            answers: vec![NumericAnswer {
                value: f64::NAN,
                tolerance: -1.0,
                fraction: 1.0,
                feedback: None,
            }],
        };
        assert_eq!(errors(kind).len(), 2);
        let range = NumericAnswer::range(1.0, 5.0, 1.0);
        assert_eq!((range.value, range.tolerance), (3.0, 2.0));
        assert_eq!(
            QuestionKind::Numeric {
                answers: vec![range]
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn matching_needs_two_distinct_pairs() {
        let one = QuestionKind::Matching {
            pairs: vec![("a".into(), "1".into())],
        };
        assert!(errors(one)[0].contains("dos pares"));
        let dup = QuestionKind::Matching {
            pairs: vec![("a".into(), "1".into()), ("a ".into(), "2".into())],
        };
        assert!(errors(dup)[0].contains("repetido"));
        // Equal right items are fine: two provinces can share a region.
        let shared = QuestionKind::Matching {
            pairs: vec![
                ("Tucumán".into(), "NOA".into()),
                ("Salta".into(), "NOA".into()),
            ],
        };
        assert_eq!(shared.validate(), Ok(()));
    }

    #[test]
    fn ordering_needs_two_distinct_items() {
        assert!(
            !errors(QuestionKind::Ordering {
                items: vec!["a".into()]
            })
            .is_empty()
        );
        let dup = QuestionKind::Ordering {
            items: vec!["a".into(), "a".into()],
        };
        assert!(errors(dup)[0].contains("repetido"));
    }

    #[test]
    fn question_level_fields_are_checked() {
        let mut q = question(QuestionKind::Essay);
        q.text = "  ".into();
        q.category = String::new();
        assert_eq!(q.validate().err().map(|e| e.len()), Some(2));
    }

    #[test]
    fn every_kind_round_trips_through_toml() {
        let kinds = vec![
            QuestionKind::SingleChoice {
                options: vec![choice("a", 1.0), choice("b", -0.5)],
            },
            QuestionKind::MultipleChoice {
                options: vec![choice("a", 1.0), choice("b", -1.0)],
            },
            QuestionKind::TrueFalse {
                answer: true,
                feedback_true: Some("Bien".into()),
                feedback_false: None,
            },
            QuestionKind::ShortAnswer {
                accepted: vec![Accepted {
                    text: "Tucumán".into(),
                    fraction: 1.0,
                    feedback: None,
                }],
            },
            QuestionKind::Numeric {
                answers: vec![NumericAnswer::range(1.0, 5.0, 1.0)],
            },
            QuestionKind::Matching {
                pairs: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            },
            QuestionKind::Ordering {
                items: vec!["Inscribirse".into(), "Cursar".into()],
            },
            QuestionKind::Essay,
        ];
        for kind in kinds {
            let q = question(kind);
            let written = toml::to_string(&q).expect("serialises");
            let read: Question = toml::from_str(&written).expect("deserialises");
            assert_eq!(read, q, "{written}");
        }
    }

    #[test]
    fn ordering_question_as_an_author_writes_it_in_toml() {
        let q: Question = toml::from_str(
            r#"
            id = "pasos"
            name = "Pasos de la inscripción"
            category = "Empleo"
            text = "Ordená los pasos."
            [kind]
            type = "ordering"
            items = ["Crear la cuenta", "Completar el perfil", "Inscribirse"]
            "#,
        )
        .expect("parses");
        assert_eq!(q.format, TextFormat::Markdown);
        assert_eq!(q.validate(), Ok(()));
        // The items in the order the author wrote them: that order is the right one.
        match &q.kind {
            QuestionKind::Ordering { items } => assert_eq!(
                items,
                &["Crear la cuenta", "Completar el perfil", "Inscribirse"]
            ),
            other => panic!("se esperaba ordering: {other:?}"),
        }
    }

    #[test]
    fn only_essays_wait_for_an_instructor() {
        assert!(!QuestionKind::Essay.is_auto_graded());
        assert!(QuestionKind::Ordering { items: vec![] }.is_auto_graded());
    }
}
