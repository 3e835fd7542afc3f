//! Automatic grading of a learner's response to a question.
//!
//! [`grade`] never panics on a malformed response: a response whose shape does not fit the
//! question (wrong variant, out-of-range index, duplicated choice, NaN) is [`Grade::Invalid`],
//! which callers count as 0 but can log, since it means a bug or a tampered form.

use serde::{Deserialize, Serialize};

use super::question::{Accepted, Choice, NumericAnswer, QuestionKind};

/// A learner's response, one variant per question kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Single choice: index of the chosen option.
    Choice(usize),
    /// Multiple choice: indices of the ticked options (possibly none).
    Choices(Vec<usize>),
    /// True/false.
    Bool(bool),
    /// Short answer; also accepted for numeric questions and parsed with [`parse_number`].
    Text(String),
    /// Numeric answer.
    Number(f64),
    /// Matching: for each left item, the index (into the question's pairs) of the right item
    /// chosen, or `None` if left unanswered.
    Matches(Vec<Option<usize>>),
    /// Ordering: the item indices in the order the learner put them.
    Order(Vec<usize>),
    /// Essay text, graded later by an instructor.
    Essay(String),
}

/// The outcome of grading one response.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Grade {
    /// Graded on submission; `fraction` is in `0.0..=1.0`.
    Auto {
        /// Share of the question's value earned.
        fraction: f64,
    },
    /// Waits in an instructor's grading queue (essays).
    Manual,
    /// The response does not fit the question; counts as 0.
    Invalid,
}

impl Grade {
    /// The fraction earned so far: `None` while an instructor has not graded it, 0 if invalid.
    pub fn fraction(&self) -> Option<f64> {
        match self {
            Grade::Auto { fraction } => Some(*fraction),
            Grade::Manual => None,
            Grade::Invalid => Some(0.0),
        }
    }
}

/// Grades `response` against the question `kind`.
pub fn grade(kind: &QuestionKind, response: &Response) -> Grade {
    match (kind, response) {
        (QuestionKind::SingleChoice { options }, Response::Choice(i)) => options
            .get(*i)
            .map_or(Grade::Invalid, |option| auto(option.fraction)),
        (QuestionKind::MultipleChoice { options }, Response::Choices(chosen)) => {
            grade_multiple(options, chosen)
        }
        (QuestionKind::TrueFalse { answer, .. }, Response::Bool(given)) => {
            auto(if answer == given { 1.0 } else { 0.0 })
        }
        (QuestionKind::ShortAnswer { accepted }, Response::Text(text)) => {
            grade_short(accepted, text)
        }
        (QuestionKind::Numeric { answers }, Response::Number(x)) => grade_numeric(answers, *x),
        // Typed text that is not a number is a wrong answer, not a malformed response.
        (QuestionKind::Numeric { answers }, Response::Text(text)) => match parse_number(text) {
            Some(x) => grade_numeric(answers, x),
            None => auto(0.0),
        },
        (QuestionKind::Matching { pairs }, Response::Matches(chosen)) => {
            grade_matching(pairs, chosen)
        }
        (QuestionKind::Ordering { items }, Response::Order(order)) => grade_ordering(items, order),
        (QuestionKind::Essay, Response::Essay(_)) => Grade::Manual,
        _ => Grade::Invalid,
    }
}

/// Points earned for `fraction` of a question worth `max_points`, rounded to 2 decimals.
pub fn score(fraction: f64, max_points: f64) -> f64 {
    if !max_points.is_finite() || max_points <= 0.0 {
        return 0.0;
    }
    (unit(fraction) * max_points * 100.0).round() / 100.0
}

/// Clamps to `0.0..=1.0`, mapping NaN to 0 so a broken weight can never award credit.
fn unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

fn auto(fraction: f64) -> Grade {
    Grade::Auto {
        fraction: unit(fraction),
    }
}

/// Moodle's rule: the sum of the chosen options' fractions, clamped to `0..=1`. Wrong options
/// carry negative weights, so ticking everything does not earn full marks.
fn grade_multiple(options: &[Choice], chosen: &[usize]) -> Grade {
    let mut seen = vec![false; options.len()];
    let mut total = 0.0;
    for &i in chosen {
        match seen.get_mut(i) {
            // A repeated index would count an option twice: only a forged form sends that.
            Some(true) | None => return Grade::Invalid,
            Some(flag) => *flag = true,
        }
        total += options.get(i).map_or(0.0, |o| o.fraction);
    }
    auto(total)
}

fn grade_short(accepted: &[Accepted], text: &str) -> Grade {
    let given: Vec<char> = normalize_answer(text).chars().collect();
    // A blank answer never matches, not even a `*` catch-all.
    if given.is_empty() {
        return auto(0.0);
    }
    let best = accepted
        .iter()
        .filter(|a| wildcard_match(&pattern(&a.text), &given))
        .map(|a| unit(a.fraction))
        .fold(0.0, f64::max);
    auto(best)
}

fn grade_numeric(answers: &[NumericAnswer], x: f64) -> Grade {
    if !x.is_finite() {
        return Grade::Invalid;
    }
    let best = answers
        .iter()
        .filter(|a| within(a, x))
        .map(|a| unit(a.fraction))
        .fold(0.0, f64::max);
    auto(best)
}

/// `|x − value| ≤ tolerance`, with a hair of slack so `0.1 + 0.2` equals `0.3` and range ends
/// computed as midpoint ± half-width stay inside.
fn within(answer: &NumericAnswer, x: f64) -> bool {
    let slack = 1e-9 * answer.value.abs().max(1.0);
    (x - answer.value).abs() <= answer.tolerance + slack
}

fn grade_matching(pairs: &[(String, String)], chosen: &[Option<usize>]) -> Grade {
    if pairs.is_empty() || chosen.len() != pairs.len() {
        return Grade::Invalid;
    }
    let mut right = 0usize;
    for ((_, expected), choice) in pairs.iter().zip(chosen) {
        match choice.map(|j| pairs.get(j)) {
            None => {}
            Some(None) => return Grade::Invalid,
            // Compare texts, not indices: two left items may share the same right item.
            Some(Some((_, given))) => right += usize::from(given == expected),
        }
    }
    auto(right as f64 / pairs.len() as f64)
}

fn grade_ordering(items: &[String], order: &[usize]) -> Grade {
    if items.is_empty() || order.len() != items.len() {
        return Grade::Invalid;
    }
    let mut seen = vec![false; items.len()];
    let mut right = 0usize;
    for (position, &i) in order.iter().enumerate() {
        match seen.get_mut(i) {
            Some(true) | None => return Grade::Invalid,
            Some(flag) => *flag = true,
        }
        right += usize::from(i == position);
    }
    auto(right as f64 / items.len() as f64)
}

/// Folds an answer for comparison: lowercase, Spanish accents removed (`ñ` → `n`), whitespace
/// trimmed and collapsed, and leading/trailing `.,;:!?¡¿` dropped, so "¿San Miguel de Tucumán?"
/// equals "san miguel de tucuman".
pub fn normalize_answer(s: &str) -> String {
    crate::web::text::fold(s)
        .trim_matches(|c: char| c.is_whitespace() || ".,;:!?¡¿".contains(c))
        .to_string()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Literal(char),
    AnySequence,
}

/// Stands for an escaped `\*` while normalising, so it survives as a literal asterisk.
const LITERAL_STAR: char = '\u{E000}';

/// Compiles an accepted answer: normalised like a response, `*` a wildcard, `\*` a literal `*`.
fn pattern(accepted: &str) -> Vec<Token> {
    normalize_answer(&accepted.replace("\\*", &LITERAL_STAR.to_string()))
        .chars()
        .map(|c| match c {
            '*' => Token::AnySequence,
            LITERAL_STAR => Token::Literal('*'),
            other => Token::Literal(other),
        })
        .collect()
}

/// Glob matching with only `*`, backtracking to the last wildcard on a mismatch (linear-ish,
/// no recursion, so a hostile pattern cannot blow the stack).
fn wildcard_match(pattern: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::AnySequence) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Token::Literal(c)) if Some(c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    p = star + 1;
                    t = from + 1;
                    backtrack = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..]
        .iter()
        .all(|token| *token == Token::AnySequence)
}

/// Parses a number as typed in Argentina or in English: `3,5` and `3.5` are 3.5, `1.234,5` and
/// `1,234.5` are 1234.5, `1.234.567` is 1234567. When both separators appear, the last one is
/// the decimal mark; a lone separator is always the decimal mark (so `1.234` is 1.234, because
/// learners type decimals with whichever key they have). Thousands groups must have 3 digits.
/// Returns `None` for anything else, including NaN, infinities and exponents.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let (negative, body) = match s.chars().next()? {
        '-' | '−' => (true, &s[s.chars().next()?.len_utf8()..]),
        '+' => (false, &s[1..]),
        _ => (false, s),
    };
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    let dots = body.matches('.').count();
    let commas = body.matches(',').count();
    let (decimal, thousands) = match (dots, commas) {
        (0, 0) => (None, None),
        (1, 0) => (Some('.'), None),
        (0, 1) => (Some(','), None),
        (_, 0) => (None, Some('.')),
        (0, _) => (None, Some(',')),
        _ => {
            let last_dot = body.rfind('.')?;
            let last_comma = body.rfind(',')?;
            if last_dot > last_comma {
                (Some('.'), Some(','))
            } else {
                (Some(','), Some('.'))
            }
        }
    };
    let (int_part, frac_part) = match decimal {
        Some(mark) => body.split_once(mark)?,
        None => (body, ""),
    };
    // The decimal mark must appear once and after every thousands separator.
    if frac_part.contains(['.', ',']) {
        return None;
    }
    let digits: String = match thousands {
        Some(sep) => {
            let mut groups = int_part.split(sep);
            let first = groups.next()?;
            if first.is_empty() || first.len() > 3 || groups.clone().any(|g| g.len() != 3) {
                return None;
            }
            std::iter::once(first).chain(groups).collect()
        }
        None => int_part.to_string(),
    };
    if digits.is_empty() && frac_part.is_empty() {
        return None;
    }
    let int_digits = if digits.is_empty() { "0" } else { &digits };
    let value: f64 = format!("{int_digits}.{frac_part}0").parse().ok()?;
    let value = if negative { -value } else { value };
    value.is_finite().then_some(value)
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

    fn fraction(grade: Grade) -> f64 {
        match grade {
            Grade::Auto { fraction } => fraction,
            other => panic!("expected an automatic grade, got {other:?}"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn single() -> QuestionKind {
        QuestionKind::SingleChoice {
            options: vec![
                choice("San Miguel de Tucumán", 1.0),
                choice("Yerba Buena", 0.5),
                choice("Córdoba", -0.5),
            ],
        }
    }

    fn multiple() -> QuestionKind {
        QuestionKind::MultipleChoice {
            options: vec![
                choice("Tucumán", 0.5),
                choice("Salta", 0.5),
                choice("Mendoza", -0.5),
                choice("Chubut", -0.5),
            ],
        }
    }

    fn short(accepted: &[(&str, f64)]) -> QuestionKind {
        QuestionKind::ShortAnswer {
            accepted: accepted
                .iter()
                .map(|(text, fraction)| Accepted {
                    text: (*text).into(),
                    fraction: *fraction,
                    feedback: None,
                })
                .collect(),
        }
    }

    fn text(s: &str) -> Response {
        Response::Text(s.into())
    }

    #[test]
    fn single_choice_uses_the_option_fraction_clamped_at_zero() {
        assert_eq!(fraction(grade(&single(), &Response::Choice(0))), 1.0);
        assert_eq!(fraction(grade(&single(), &Response::Choice(1))), 0.5);
        assert_eq!(fraction(grade(&single(), &Response::Choice(2))), 0.0);
        assert_eq!(grade(&single(), &Response::Choice(3)), Grade::Invalid);
        assert_eq!(
            grade(&single(), &Response::Choices(vec![0])),
            Grade::Invalid
        );
    }

    #[test]
    fn multiple_choice_adds_chosen_fractions() {
        let q = multiple();
        assert_eq!(fraction(grade(&q, &Response::Choices(vec![0, 1]))), 1.0);
        assert_eq!(fraction(grade(&q, &Response::Choices(vec![1]))), 0.5);
        assert_eq!(fraction(grade(&q, &Response::Choices(vec![0, 2]))), 0.0);
        assert_eq!(fraction(grade(&q, &Response::Choices(vec![0, 1, 2]))), 0.5);
    }

    #[test]
    fn multiple_choice_ticking_everything_does_not_win() {
        assert_eq!(
            fraction(grade(&multiple(), &Response::Choices(vec![0, 1, 2, 3]))),
            0.0
        );
    }

    #[test]
    fn multiple_choice_negative_totals_clamp_to_zero() {
        assert_eq!(
            fraction(grade(&multiple(), &Response::Choices(vec![2, 3]))),
            0.0
        );
    }

    #[test]
    fn multiple_choice_empty_response_is_zero() {
        assert_eq!(
            fraction(grade(&multiple(), &Response::Choices(vec![]))),
            0.0
        );
    }

    #[test]
    fn multiple_choice_duplicates_and_out_of_range_are_invalid() {
        let q = multiple();
        assert_eq!(grade(&q, &Response::Choices(vec![0, 0])), Grade::Invalid);
        assert_eq!(grade(&q, &Response::Choices(vec![0, 4])), Grade::Invalid);
        assert_eq!(grade(&q, &Response::Choice(0)), Grade::Invalid);
    }

    #[test]
    fn true_false() {
        let q = QuestionKind::TrueFalse {
            answer: false,
            feedback_true: None,
            feedback_false: None,
        };
        assert_eq!(fraction(grade(&q, &Response::Bool(false))), 1.0);
        assert_eq!(fraction(grade(&q, &Response::Bool(true))), 0.0);
        assert_eq!(grade(&q, &Response::Choice(0)), Grade::Invalid);
    }

    #[test]
    fn short_answer_ignores_case_accents_spaces_and_punctuation() {
        let q = short(&[("San Miguel de Tucumán", 1.0)]);
        for given in [
            "san miguel de tucuman",
            "  SAN   MIGUEL de TUCUMÁN ",
            "¿San Miguel de Tucumán?",
            "San Miguel de Tucumán.",
            "¡san miguel de tucumán!",
        ] {
            assert_eq!(fraction(grade(&q, &text(given))), 1.0, "{given}");
        }
        assert_eq!(fraction(grade(&q, &text("San Miguel"))), 0.0);
        assert_eq!(fraction(grade(&q, &text("SanMiguel de Tucumán"))), 0.0);
    }

    #[test]
    fn short_answer_folds_enie_and_dieresis() {
        let q = short(&[("Pingüino ñandú", 1.0)]);
        assert_eq!(fraction(grade(&q, &text("PINGUINO NANDU"))), 1.0);
        assert_eq!(fraction(grade(&q, &text("Ñandú"))), 0.0);
    }

    #[test]
    fn short_answer_best_of_several_accepted_answers() {
        let q = short(&[("Belgrano", 0.5), ("Manuel Belgrano", 1.0), ("*", 0.0)]);
        assert_eq!(fraction(grade(&q, &text("manuel belgrano"))), 1.0);
        assert_eq!(fraction(grade(&q, &text("Belgrano"))), 0.5);
        assert_eq!(fraction(grade(&q, &text("San Martín"))), 0.0);
    }

    #[test]
    fn short_answer_wildcards() {
        let q = short(&[("*tucum*n", 1.0)]);
        assert_eq!(fraction(grade(&q, &text("San Miguel de Tucumán"))), 1.0);
        assert_eq!(fraction(grade(&q, &text("tucuman"))), 1.0);
        assert_eq!(fraction(grade(&q, &text("tucumano"))), 0.0);
        let middle = short(&[("ley * de empleo", 1.0)]);
        assert_eq!(
            fraction(grade(&middle, &text("Ley nacional de empleo"))),
            1.0
        );
        assert_eq!(fraction(grade(&middle, &text("ley de empleo"))), 0.0);
        let backtracking = short(&[("a*ab", 1.0)]);
        assert_eq!(fraction(grade(&backtracking, &text("aaab"))), 1.0);
        assert_eq!(fraction(grade(&backtracking, &text("aaba"))), 0.0);
    }

    #[test]
    fn short_answer_escaped_star_is_literal() {
        let q = short(&[("2\\*3", 1.0)]);
        assert_eq!(fraction(grade(&q, &text("2*3"))), 1.0);
        assert_eq!(fraction(grade(&q, &text("2x3"))), 0.0);
    }

    #[test]
    fn short_answer_blank_never_matches() {
        let q = short(&[("*", 1.0)]);
        assert_eq!(fraction(grade(&q, &text("   "))), 0.0);
        assert_eq!(fraction(grade(&q, &text("¿?"))), 0.0);
        assert_eq!(fraction(grade(&q, &text("algo"))), 1.0);
    }

    fn numeric() -> QuestionKind {
        QuestionKind::Numeric {
            answers: vec![
                NumericAnswer {
                    value: 3.5,
                    tolerance: 0.0,
                    fraction: 1.0,
                    feedback: None,
                },
                NumericAnswer {
                    value: 3.5,
                    tolerance: 0.5,
                    fraction: 0.5,
                    feedback: None,
                },
            ],
        }
    }

    #[test]
    fn numeric_best_answer_within_tolerance() {
        let q = numeric();
        assert_eq!(fraction(grade(&q, &Response::Number(3.5))), 1.0);
        assert_eq!(fraction(grade(&q, &Response::Number(3.9))), 0.5);
        assert_eq!(fraction(grade(&q, &Response::Number(4.0))), 0.5);
        assert_eq!(fraction(grade(&q, &Response::Number(4.01))), 0.0);
    }

    #[test]
    fn numeric_ranges_include_both_ends() {
        let q = QuestionKind::Numeric {
            answers: vec![NumericAnswer::range(0.1, 0.3, 1.0)],
        };
        for x in [0.1, 0.2, 0.3, 0.1 + 0.2] {
            assert_eq!(fraction(grade(&q, &Response::Number(x))), 1.0, "{x}");
        }
        assert_eq!(fraction(grade(&q, &Response::Number(0.31))), 0.0);
    }

    #[test]
    fn numeric_accepts_text_with_comma_or_dot() {
        let q = numeric();
        assert_eq!(fraction(grade(&q, &text("3,5"))), 1.0);
        assert_eq!(fraction(grade(&q, &text(" 3.5 "))), 1.0);
        assert_eq!(fraction(grade(&q, &text("tres y medio"))), 0.0);
        assert_eq!(fraction(grade(&q, &text(""))), 0.0);
    }

    #[test]
    fn numeric_rejects_nan_and_infinity() {
        let q = numeric();
        assert_eq!(grade(&q, &Response::Number(f64::NAN)), Grade::Invalid);
        assert_eq!(grade(&q, &Response::Number(f64::INFINITY)), Grade::Invalid);
        assert_eq!(fraction(grade(&q, &text("NaN"))), 0.0);
    }

    #[test]
    fn parse_number_es_ar_and_english() {
        let cases = [
            ("3,5", Some(3.5)),
            ("3.5", Some(3.5)),
            ("1.234,5", Some(1234.5)),
            ("1234.5", Some(1234.5)),
            ("1234,5", Some(1234.5)),
            ("1,234.5", Some(1234.5)),
            ("1.234.567", Some(1_234_567.0)),
            ("1.234.567,89", Some(1_234_567.89)),
            ("-2,5", Some(-2.5)),
            ("−2,5", Some(-2.5)),
            ("+7", Some(7.0)),
            (",5", Some(0.5)),
            ("5.", Some(5.0)),
            ("  42 ", Some(42.0)),
            ("1.234", Some(1.234)),
            ("", None),
            ("-", None),
            (".", None),
            ("1.2.3", None),
            ("1.23,4", None),
            ("1,234,5", None),
            ("1.234,5.6", None),
            ("12a", None),
            ("NaN", None),
            ("inf", None),
            ("1e3", None),
            ("1 234", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_number(input), expected, "{input:?}");
        }
    }

    fn matching() -> QuestionKind {
        QuestionKind::Matching {
            pairs: vec![
                ("Tucumán".into(), "NOA".into()),
                ("Salta".into(), "NOA".into()),
                ("Mendoza".into(), "Cuyo".into()),
                ("Chubut".into(), "Patagonia".into()),
            ],
        }
    }

    #[test]
    fn matching_counts_correct_left_items() {
        let q = matching();
        let all = Response::Matches(vec![Some(0), Some(1), Some(2), Some(3)]);
        assert_eq!(fraction(grade(&q, &all)), 1.0);
        let half = Response::Matches(vec![Some(0), None, Some(3), Some(3)]);
        assert_eq!(fraction(grade(&q, &half)), 0.5);
        let none = Response::Matches(vec![None; 4]);
        assert_eq!(fraction(grade(&q, &none)), 0.0);
    }

    #[test]
    fn matching_equal_right_items_are_interchangeable() {
        let swapped = Response::Matches(vec![Some(1), Some(0), Some(2), Some(3)]);
        assert_eq!(fraction(grade(&matching(), &swapped)), 1.0);
    }

    #[test]
    fn matching_wrong_length_or_index_is_invalid() {
        let q = matching();
        assert_eq!(grade(&q, &Response::Matches(vec![Some(0)])), Grade::Invalid);
        let out = Response::Matches(vec![Some(0), Some(1), Some(2), Some(9)]);
        assert_eq!(grade(&q, &out), Grade::Invalid);
        assert_eq!(grade(&q, &Response::Matches(vec![])), Grade::Invalid);
    }

    fn ordering() -> QuestionKind {
        QuestionKind::Ordering {
            items: vec![
                "Inscribirse".into(),
                "Cursar".into(),
                "Rendir".into(),
                "Certificar".into(),
            ],
        }
    }

    #[test]
    fn ordering_counts_items_in_their_absolute_position() {
        let q = ordering();
        assert_eq!(fraction(grade(&q, &Response::Order(vec![0, 1, 2, 3]))), 1.0);
        assert_eq!(fraction(grade(&q, &Response::Order(vec![0, 1, 3, 2]))), 0.5);
        // Shifting everything by one leaves nothing in its place.
        assert_eq!(fraction(grade(&q, &Response::Order(vec![3, 0, 1, 2]))), 0.0);
    }

    #[test]
    fn ordering_needs_a_permutation() {
        let q = ordering();
        assert_eq!(grade(&q, &Response::Order(vec![0, 1, 2])), Grade::Invalid);
        assert_eq!(
            grade(&q, &Response::Order(vec![0, 0, 1, 2])),
            Grade::Invalid
        );
        assert_eq!(
            grade(&q, &Response::Order(vec![0, 1, 2, 4])),
            Grade::Invalid
        );
        assert_eq!(grade(&q, &Response::Order(vec![])), Grade::Invalid);
    }

    #[test]
    fn essays_wait_for_an_instructor() {
        let g = grade(&QuestionKind::Essay, &Response::Essay(String::new()));
        assert_eq!(g, Grade::Manual);
        assert_eq!(g.fraction(), None);
        assert_eq!(grade(&QuestionKind::Essay, &text("hola")), Grade::Invalid);
        assert_eq!(Grade::Invalid.fraction(), Some(0.0));
    }

    #[test]
    fn broken_weights_never_award_credit() {
        let q = QuestionKind::SingleChoice {
            options: vec![choice("a", f64::NAN), choice("b", 7.0)],
        };
        assert_eq!(fraction(grade(&q, &Response::Choice(0))), 0.0);
        assert_eq!(fraction(grade(&q, &Response::Choice(1))), 1.0);
    }

    #[test]
    fn score_rounds_to_two_decimals() {
        assert!(close(score(1.0 / 3.0, 10.0), 3.33));
        assert!(close(score(2.0 / 3.0, 1.0), 0.67));
        assert!(close(score(1.0, 2.5), 2.5));
        assert_eq!(score(-0.5, 10.0), 0.0);
        assert_eq!(score(1.5, 10.0), 10.0);
        assert_eq!(score(f64::NAN, 10.0), 0.0);
        assert_eq!(score(1.0, -1.0), 0.0);
    }
}
