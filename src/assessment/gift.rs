//! Import of question banks written in Moodle's GIFT format.
//!
//! Supported: comments (`//` lines), `$CATEGORY:`, `::title::`, the `[markdown]`, `[plain]`,
//! `[moodle]` and `[html]` format markers, escapes (`\~ \= \# \{ \} \: \\` and `\n`),
//! single and multiple choice with `%weight%` and `#feedback`, true/false, short answer,
//! numeric (`value:tolerance`, `min..max`, several weighted answers), matching, essays and
//! `####general feedback`.
//!
//! Nothing is dropped silently: every construct Aula does not support (missing-word questions,
//! cloze/embedded answers, descriptions, ordering extensions, matching distractors, ...) and
//! every question that fails [`Question::validate`] becomes a [`GiftError`] with its line, and
//! the rest of the file is still imported.
//!
//! Deliberate differences from Moodle, because Aula's model is stricter:
//! - several `=` answers among `~` make a multiple-answer question (Moodle would accept either
//!   one as the single right answer); unweighted `=` share what explicit weights leave of 100%;
//! - in a multiple-answer question an unweighted `~` option subtracts `1/n` (n = number of right
//!   options) instead of 0, so ticking every box cannot earn full marks;
//! - `[html]` text is kept as [`TextFormat::Html`] and must be sanitised when rendered.

use std::collections::HashSet;

use thiserror::Error;

use super::grading::parse_number;
use super::question::{
    Accepted, Choice, FRACTION_EPSILON, NumericAnswer, Question, QuestionKind, TextFormat,
};

/// A problem found while importing, at a 1-based line of the GIFT source.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("línea {line}: {message}")]
pub struct GiftError {
    /// 1-based line of the source where the problem is.
    pub line: usize,
    /// What is wrong, in Spanish, for the author of the file.
    pub message: String,
}

impl GiftError {
    /// The error prefixed with the file name, as `banco.gift:12: mensaje`.
    pub fn with_file(&self, file: &str) -> String {
        format!("{file}:{}: {}", self.line, self.message)
    }
}

/// What [`parse_gift`] found in a file: the importable questions and the problems.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GiftResult {
    /// Valid questions with the line where each one starts.
    pub questions: Vec<(usize, Question)>,
    /// Problems, in source order; questions with errors are not in `questions`.
    pub errors: Vec<GiftError>,
}

/// Parses a GIFT file. Questions before any `$CATEGORY:` go to `default_category`.
/// Question ids are slugs of the titles (or texts), made unique within the file.
pub fn parse_gift(source: &str, default_category: &str) -> GiftResult {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut result = GiftResult::default();
    let mut category = default_category.trim().to_string();
    let mut ids = HashSet::new();
    for mut block in blocks(source) {
        while let Some((line, path)) = block.first().and_then(|(n, l)| category_line(*n, l)) {
            match path {
                Some(path) => category = path,
                None => result.errors.push(GiftError {
                    line,
                    message: "La categoría está vacía.".to_string(),
                }),
            }
            block.remove(0);
        }
        let Some(&(first_line, _)) = block.first() else {
            continue;
        };
        match parse_question(&tokenize(&block), first_line, &category) {
            Ok(mut question) => {
                question.id = unique_id(&question.name, &mut ids);
                result.questions.push((first_line, question));
            }
            Err(mut errors) => result.errors.append(&mut errors),
        }
    }
    result.errors.sort_by_key(|e| e.line);
    result
}

/// Splits the source into blank-line separated blocks of `(line number, text)`, leaving out
/// comment lines (which do not end a question).
fn blocks(source: &str) -> Vec<Vec<(usize, &str)>> {
    let mut blocks = Vec::new();
    let mut current = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if !trimmed.starts_with("//") {
            current.push((i + 1, line));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// `$CATEGORY: $course$/top/Matemática/Fracciones` → `Some(Some("Matemática/Fracciones"))`:
/// Moodle's context prefix and `top` root mean nothing outside Moodle.
fn category_line(line: usize, text: &str) -> Option<(usize, Option<String>)> {
    let rest = text.trim().strip_prefix("$CATEGORY:")?.trim();
    let rest = match rest.strip_prefix('$') {
        Some(after) => after
            .split_once('$')
            .map_or(rest, |(_, path)| path.trim_start_matches('/')),
        None => rest,
    };
    let path = if rest == "top" {
        ""
    } else {
        rest.strip_prefix("top/").unwrap_or(rest)
    };
    let path = path.trim().trim_matches('/').trim();
    Some((line, (!path.is_empty()).then(|| path.to_string())))
}

/// A character of a question with its source line; `escaped` ones are never syntax.
#[derive(Debug, Clone, Copy)]
struct Ch {
    c: char,
    escaped: bool,
    line: usize,
}

/// Resolves escapes line by line and joins the block's lines with `\n`.
fn tokenize(block: &[(usize, &str)]) -> Vec<Ch> {
    let mut out = Vec::new();
    for (i, (line, text)) in block.iter().enumerate() {
        if i > 0 {
            out.push(Ch {
                c: '\n',
                escaped: false,
                line: *line,
            });
        }
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let (c, escaped) = match (c, chars.peek()) {
                ('\\', Some(&next)) if "~=#{}:\\".contains(next) => {
                    chars.next();
                    (next, true)
                }
                ('\\', Some('n')) => {
                    chars.next();
                    ('\n', true)
                }
                // Other backslashes are kept, e.g. `\*` for a literal asterisk in short answers.
                ('\\', _) => ('\\', true),
                (c, _) => (c, false),
            };
            out.push(Ch {
                c,
                escaped,
                line: *line,
            });
        }
    }
    out
}

fn is_syntax(ch: &Ch, c: char) -> bool {
    !ch.escaped && ch.c == c
}

fn starts_with(s: &[Ch], pat: &str) -> bool {
    let mut chars = s.iter();
    pat.chars()
        .all(|p| chars.next().is_some_and(|ch| is_syntax(ch, p)))
}

fn find(s: &[Ch], pat: &str) -> Option<usize> {
    (0..s.len()).find(|&i| starts_with(&s[i..], pat))
}

fn trim(s: &[Ch]) -> &[Ch] {
    let blank = |ch: &Ch| !ch.escaped && ch.c.is_whitespace();
    let start = s.iter().position(|ch| !blank(ch)).unwrap_or(s.len());
    let end = s.iter().rposition(|ch| !blank(ch)).map_or(start, |i| i + 1);
    &s[start..end]
}

fn text(s: &[Ch]) -> String {
    trim(s).iter().map(|ch| ch.c).collect()
}

fn optional(s: &[Ch]) -> Option<String> {
    Some(text(s)).filter(|t| !t.is_empty())
}

/// Splits on unescaped `sep`; returns the parts (there is always at least one).
fn split(s: &[Ch], sep: char) -> Vec<&[Ch]> {
    s.split(|ch| is_syntax(ch, sep)).collect()
}

/// The line of `s`'s first character, or `fallback` for an empty slice.
fn line_of(s: &[Ch], fallback: usize) -> usize {
    s.first().map_or(fallback, |ch| ch.line)
}

fn error(line: usize, message: impl Into<String>) -> GiftError {
    GiftError {
        line,
        message: message.into(),
    }
}

fn parse_question(
    block: &[Ch],
    first_line: usize,
    category: &str,
) -> Result<Question, Vec<GiftError>> {
    let mut s = trim(block);
    let mut title = None;
    if starts_with(s, "::") {
        let end = find(&s[2..], "::")
            .ok_or_else(|| vec![error(first_line, "El título «::…::» no está cerrado.")])?;
        title = optional(&s[2..2 + end]);
        s = trim(&s[end + 4..]);
    }
    let (format, rest) = format_marker(s);
    s = rest;

    let Some(open) = s.iter().position(|ch| is_syntax(ch, '{')) else {
        return Err(vec![error(
            first_line,
            "Texto sin bloque de respuestas {…}: las descripciones no se importan. \
             Si es una pregunta, agregale las respuestas entre llaves.",
        )]);
    };
    let open_line = s[open].line;
    let Some(len) = s[open + 1..].iter().position(|ch| is_syntax(ch, '}')) else {
        return Err(vec![error(
            open_line,
            "Falta la llave de cierre «}» del bloque de respuestas.",
        )]);
    };
    let close = open + 1 + len;
    let content = &s[open + 1..close];
    if is_cloze(content) {
        return Err(vec![error(
            open_line,
            "Las respuestas incrustadas (formato cloze, como {1:MULTICHOICE:…}) no están soportadas.",
        )]);
    }
    if let Some(inner) = content.iter().find(|ch| is_syntax(ch, '{')) {
        return Err(vec![error(
            inner.line,
            "Hay una llave «{» dentro del bloque de respuestas; si es parte del texto, escribila como \\{.",
        )]);
    }
    let suffix = trim(&s[close + 1..]);
    if let Some(second) = suffix.iter().find(|ch| is_syntax(ch, '{')) {
        return Err(vec![error(
            second.line,
            "La pregunta tiene más de un bloque de respuestas: ¿falta una línea en blanco entre dos preguntas? \
             (Las preguntas con varios huecos no están soportadas.)",
        )]);
    }
    if !suffix.is_empty() {
        return Err(vec![error(
            line_of(suffix, close),
            "Las preguntas de «palabra faltante» (texto después de las respuestas) no están soportadas: \
             mové las respuestas al final del enunciado.",
        )]);
    }

    let body = text(&s[..open]);
    let (answers, general_feedback) = match find(content, "####") {
        Some(i) => (&content[..i], optional(&content[i + 4..])),
        None => (content, None),
    };
    let kind = parse_answers(trim(answers), open_line).map_err(|e| vec![e])?;
    let name = title.unwrap_or_else(|| name_from(&body));
    let question = Question {
        id: String::new(),
        name,
        category: category.to_string(),
        text: body,
        format,
        kind,
        general_feedback,
        rubric: None,
    };
    // The id is assigned by the caller; validate with a placeholder so it is not reported.
    let check = Question {
        id: "-".to_string(),
        ..question.clone()
    };
    match check.validate() {
        Ok(()) => Ok(question),
        Err(messages) => Err(messages
            .into_iter()
            .map(|m| error(first_line, format!("«{}»: {m}", question.name)))
            .collect()),
    }
}

/// Reads an optional `[format]` marker at the start of the question text.
fn format_marker(s: &[Ch]) -> (TextFormat, &[Ch]) {
    if !starts_with(s, "[") {
        return (TextFormat::default(), s);
    }
    let Some(end) = s.iter().position(|ch| is_syntax(ch, ']')) else {
        return (TextFormat::default(), s);
    };
    let format = match text(&s[1..end]).to_lowercase().as_str() {
        "markdown" => TextFormat::Markdown,
        // Moodle's auto-format is plain text with line breaks kept.
        "plain" | "moodle" => TextFormat::Plain,
        "html" => TextFormat::Html,
        // Anything else (e.g. "[1] Leé el texto…") is part of the question text.
        _ => return (TextFormat::default(), s),
    };
    (format, trim(&s[end + 1..]))
}

/// `{1:MULTICHOICE:…}` or `{:SHORTANSWER:…}`: Moodle's embedded-answers syntax.
fn is_cloze(content: &[Ch]) -> bool {
    let t = text(content);
    let rest = t.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix(':') else {
        return false;
    };
    rest.split_once(':').is_some_and(|(kind, _)| {
        !kind.is_empty() && kind.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    })
}

fn name_from(body: &str) -> String {
    const MAX: usize = 60;
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX {
        flat
    } else {
        let cut: String = flat.chars().take(MAX).collect();
        format!("{}…", cut.trim_end())
    }
}

/// A slug of `name`, with `-2`, `-3`… appended if already taken in this file.
fn unique_id(name: &str, taken: &mut HashSet<String>) -> String {
    let folded = super::grading::normalize_answer(name);
    let mut slug = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 50 {
            break;
        }
    }
    let slug = match slug.trim_end_matches('-') {
        "" => "pregunta".to_string(),
        s => s.to_string(),
    };
    let mut id = slug.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{slug}-{n}");
        n += 1;
    }
    id
}

/// One `=` or `~` answer: marker, explicit weight (as a fraction), text and feedback.
struct Item<'a> {
    right: bool,
    weight: Option<f64>,
    raw: &'a [Ch],
    text: String,
    feedback: Option<String>,
    line: usize,
}

/// Splits an answer list into `=`/`~` items. `s` must start with a marker.
fn items(s: &[Ch], line: usize) -> Result<Vec<Item<'_>>, GiftError> {
    let starts: Vec<usize> = (0..s.len())
        .filter(|&i| is_syntax(&s[i], '=') || is_syntax(&s[i], '~'))
        .collect();
    if starts.first() != Some(&0) {
        return Err(error(
            line_of(s, line),
            format!(
                "Texto inesperado antes de la primera respuesta: «{}». Cada respuesta empieza con = o ~.",
                text(s)
            ),
        ));
    }
    let mut out = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(s.len());
        let mut raw = trim(&s[start + 1..end]);
        let item_line = s[start].line;
        let mut weight = None;
        if starts_with(raw, "%") {
            let close = raw[1..]
                .iter()
                .position(|ch| is_syntax(ch, '%'))
                .ok_or_else(|| {
                    error(item_line, "El peso «%…%» de una respuesta no está cerrado.")
                })?;
            let spec = text(&raw[1..1 + close]);
            let percent = spec
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|p| (-100.0..=100.0).contains(p))
                .ok_or_else(|| {
                    error(item_line, format!("Peso inválido «%{spec}%»: tiene que ser un porcentaje entre -100 y 100."))
                })?;
            weight = Some(percent / 100.0);
            raw = trim(&raw[close + 2..]);
        }
        let mut parts = raw.splitn(2, |ch| is_syntax(ch, '#'));
        let answer = parts.next().unwrap_or_default();
        let feedback = parts.next().and_then(optional);
        out.push(Item {
            right: is_syntax(&s[start], '='),
            weight,
            raw,
            text: text(answer),
            feedback,
            line: item_line,
        });
    }
    Ok(out)
}

fn parse_answers(s: &[Ch], line: usize) -> Result<QuestionKind, GiftError> {
    if s.is_empty() {
        return Ok(QuestionKind::Essay);
    }
    if starts_with(s, "#") {
        return parse_numeric(trim(&s[1..]), line);
    }
    if starts_with(s, ">") {
        return Err(error(
            line_of(s, line),
            "Las preguntas de ordenamiento no tienen sintaxis GIFT estándar y no se importan: \
             escribilas en el formato TOML de Aula.",
        ));
    }
    let has_marker = s.iter().any(|ch| is_syntax(ch, '=') || is_syntax(ch, '~'));
    if !has_marker {
        return parse_true_false(s, line);
    }
    let items = items(s, line)?;
    if items.iter().any(|i| find(i.raw, "->").is_some()) {
        return parse_matching(&items);
    }
    if items.iter().all(|i| i.right) {
        return Ok(QuestionKind::ShortAnswer {
            accepted: items
                .into_iter()
                .map(|i| Accepted {
                    fraction: i.weight.unwrap_or(1.0),
                    text: i.text,
                    feedback: i.feedback,
                })
                .collect(),
        });
    }
    parse_choices(items, line)
}

fn parse_true_false(s: &[Ch], line: usize) -> Result<QuestionKind, GiftError> {
    let parts = split(s, '#');
    let head = text(parts[0]).to_uppercase();
    let answer = match head.as_str() {
        "T" | "TRUE" => true,
        "F" | "FALSE" => false,
        _ => {
            return Err(error(
                line_of(s, line),
                format!(
                    "Bloque de respuestas no reconocido: «{}». Las respuestas empiezan con = o ~, \
                     los números con # y verdadero/falso se escribe {{T}} o {{F}}.",
                    text(s)
                ),
            ));
        }
    };
    if parts.len() > 3 {
        return Err(error(
            line_of(s, line),
            "Verdadero/falso admite a lo sumo dos retroalimentaciones: {T#si responde mal#si responde bien}.",
        ));
    }
    // GIFT order: the first feedback is for a wrong answer, the second for a right one.
    let wrong = parts.get(1).and_then(|p| optional(p));
    let right = parts.get(2).and_then(|p| optional(p));
    let (feedback_true, feedback_false) = if answer {
        (right, wrong)
    } else {
        (wrong, right)
    };
    Ok(QuestionKind::TrueFalse {
        answer,
        feedback_true,
        feedback_false,
    })
}

fn parse_matching(items: &[Item<'_>]) -> Result<QuestionKind, GiftError> {
    let mut pairs = Vec::new();
    for item in items {
        if !item.right || item.weight.is_some() {
            return Err(error(
                item.line,
                "En emparejamiento cada par se escribe «=elemento -> pareja», sin ~ ni pesos.",
            ));
        }
        if item.feedback.is_some() {
            return Err(error(
                item.line,
                "La retroalimentación por par (#) no está soportada en emparejamiento; \
                 usá la retroalimentación general (####).",
            ));
        }
        let Some(arrow) = find(item.raw, "->") else {
            return Err(error(
                item.line,
                format!("Al par «{}» le falta «->».", item.text),
            ));
        };
        let left = text(&item.raw[..arrow]);
        let right = text(&item.raw[arrow + 2..]);
        if left.is_empty() {
            return Err(error(
                item.line,
                format!(
                    "Las parejas sin elemento («= -> {right}», distractores) no están soportadas."
                ),
            ));
        }
        pairs.push((left, right));
    }
    Ok(QuestionKind::Matching { pairs })
}

fn parse_choices(items: Vec<Item<'_>>, line: usize) -> Result<QuestionKind, GiftError> {
    let equals = items.iter().filter(|i| i.right).count();
    if equals == 1 {
        // Moodle's classic single choice: `=` is 100%, `~` is 0% unless weighted.
        let options = items
            .into_iter()
            .map(|i| Choice {
                fraction: i.weight.unwrap_or(if i.right { 1.0 } else { 0.0 }),
                text: i.text,
                feedback: i.feedback,
            })
            .collect();
        return Ok(QuestionKind::SingleChoice { options });
    }
    // Several `=`, or none with weighted `~`: learners may tick several options.
    let explicit: f64 = items
        .iter()
        .filter_map(|i| i.weight)
        .filter(|w| *w > 0.0)
        .sum();
    let unweighted_right = items
        .iter()
        .filter(|i| i.right && i.weight.is_none())
        .count();
    let share = if unweighted_right > 0 {
        let left = 1.0 - explicit;
        if left <= FRACTION_EPSILON {
            return Err(error(
                line,
                "Hay respuestas = sin peso, pero los pesos explícitos ya suman 100%.",
            ));
        }
        left / unweighted_right as f64
    } else {
        0.0
    };
    let fraction = |i: &Item<'_>| i.weight.unwrap_or(if i.right { share } else { 0.0 });
    let positive = items.iter().filter(|i| fraction(i) > 0.0).count();
    if positive == 0 {
        return Err(error(
            line,
            "Ninguna opción es correcta: marcá la correcta con = o dale un peso positivo (~%50%).",
        ));
    }
    // An unweighted wrong option cancels one right option (see the module docs).
    let penalty = -1.0 / positive as f64;
    let options = items
        .iter()
        .map(|i| Choice {
            fraction: match i.weight {
                None if !i.right => penalty,
                _ => fraction(i),
            },
            text: i.text.clone(),
            feedback: i.feedback.clone(),
        })
        .collect();
    Ok(QuestionKind::MultipleChoice { options })
}

fn parse_numeric(s: &[Ch], line: usize) -> Result<QuestionKind, GiftError> {
    if s.is_empty() {
        return Err(error(
            line,
            "Falta el valor de la respuesta numérica: {#3.14:0.01}.",
        ));
    }
    let answers = if starts_with(s, "=") || starts_with(s, "~") {
        let mut answers = Vec::new();
        for item in items(s, line)? {
            if !item.right {
                return Err(error(
                    item.line,
                    "Las respuestas numéricas incorrectas (~) no están soportadas: \
                     usá ####retroalimentación general.",
                ));
            }
            let mut answer = numeric_spec(&item.text, item.line)?;
            answer.fraction = item.weight.unwrap_or(1.0);
            answer.feedback = item.feedback;
            answers.push(answer);
        }
        answers
    } else {
        let mut parts = s.splitn(2, |ch| is_syntax(ch, '#'));
        let spec = text(parts.next().unwrap_or_default());
        let mut answer = numeric_spec(&spec, line_of(s, line))?;
        answer.feedback = parts.next().and_then(optional);
        vec![answer]
    };
    Ok(QuestionKind::Numeric { answers })
}

/// `3.14`, `3.14:0.01` or `1..5`, with full credit.
fn numeric_spec(spec: &str, line: usize) -> Result<NumericAnswer, GiftError> {
    let unknown = || {
        error(
            line,
            format!(
                "Sintaxis numérica no reconocida: «{spec}». Se admite {{#valor}}, {{#valor:tolerancia}} \
                 o {{#mínimo..máximo}}."
            ),
        )
    };
    if let Some((min, max)) = spec.split_once("..") {
        let (min, max) = (
            number(min).ok_or_else(unknown)?,
            number(max).ok_or_else(unknown)?,
        );
        if min > max {
            return Err(error(
                line,
                format!("El rango «{spec}» está invertido: el mínimo es mayor que el máximo."),
            ));
        }
        return Ok(NumericAnswer::range(min, max, 1.0));
    }
    let (value, tolerance) = match spec.split_once(':') {
        Some((value, tolerance)) => (number(value), number(tolerance)),
        None => (number(spec), Some(0.0)),
    };
    Ok(NumericAnswer {
        value: value.ok_or_else(unknown)?,
        tolerance: tolerance.ok_or_else(unknown)?,
        fraction: 1.0,
        feedback: None,
    })
}

/// GIFT numbers use `.`, but files written in Spanish sometimes use `,`; also `1e-3`.
fn number(s: &str) -> Option<f64> {
    parse_number(s).or_else(|| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::grading::{Grade, Response, grade};

    fn parse(source: &str) -> GiftResult {
        parse_gift(source, "General")
    }

    /// Parses a file expected to hold exactly one valid question.
    fn one(source: &str) -> Question {
        let result = parse(source);
        assert_eq!(result.errors, vec![], "{source}");
        assert_eq!(result.questions.len(), 1, "{source}");
        result.questions[0].1.clone()
    }

    /// Parses a file expected to fail with exactly one error; returns its line and message.
    fn fails(source: &str) -> (usize, String) {
        let result = parse(source);
        assert_eq!(result.questions, vec![], "{source}");
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        (result.errors[0].line, result.errors[0].message.clone())
    }

    fn fractions(kind: &QuestionKind) -> Vec<f64> {
        match kind {
            QuestionKind::SingleChoice { options } | QuestionKind::MultipleChoice { options } => {
                options.iter().map(|o| o.fraction).collect()
            }
            QuestionKind::ShortAnswer { accepted } => accepted.iter().map(|a| a.fraction).collect(),
            other => panic!("no fractions in {other:?}"),
        }
    }

    #[test]
    fn single_choice_with_title_and_feedback() {
        let q = one("::Capital::¿Cuál es la capital de Tucumán? {\n\
             =San Miguel de Tucumán#¡Correcto!\n\
             ~Tafí Viejo#No, es otra ciudad.\n\
             ~%50%Yerba Buena#Casi: es parte del Gran Tucumán.\n\
             }");
        assert_eq!(q.name, "Capital");
        assert_eq!(q.id, "capital");
        assert_eq!(q.category, "General");
        assert_eq!(q.text, "¿Cuál es la capital de Tucumán?");
        assert_eq!(q.format, TextFormat::Markdown);
        let QuestionKind::SingleChoice { options } = &q.kind else {
            panic!("{:?}", q.kind)
        };
        assert_eq!(options[0].text, "San Miguel de Tucumán");
        assert_eq!(options[0].feedback.as_deref(), Some("¡Correcto!"));
        assert_eq!(options[1].text, "Tafí Viejo");
        assert_eq!(fractions(&q.kind), vec![1.0, 0.0, 0.5]);
    }

    #[test]
    fn weighted_options_without_equals_are_multiple_choice() {
        let q = one("¿Qué provincias forman parte del NOA? {\n\
             ~%50%Tucumán\n\
             ~%50%Salta\n\
             ~%-100%Mendoza#Mendoza es de Cuyo.\n\
             }");
        assert!(matches!(q.kind, QuestionKind::MultipleChoice { .. }));
        assert_eq!(fractions(&q.kind), vec![0.5, 0.5, -1.0]);
    }

    #[test]
    fn several_equals_share_the_credit_and_wrong_options_subtract() {
        let q = one(
            "¿Qué documentos sirven para inscribirse? {=DNI =Pasaporte ~Carnet del club ~Factura}",
        );
        assert_eq!(fractions(&q.kind), vec![0.5, 0.5, -0.5, -0.5]);
        let all = Response::Choices(vec![0, 1, 2, 3]);
        assert_eq!(grade(&q.kind, &all), Grade::Auto { fraction: 0.0 });
        let right = Response::Choices(vec![0, 1]);
        assert_eq!(grade(&q.kind, &right), Grade::Auto { fraction: 1.0 });
    }

    #[test]
    fn unweighted_wrong_options_penalise_in_moodle_style_multiple_answers() {
        let q = one("Elegí los días hábiles {~%50%Lunes ~%50%Martes ~Domingo}");
        assert_eq!(fractions(&q.kind), vec![0.5, 0.5, -0.5]);
        let explicit = one("Elegí {=%70%A =B ~%0%C ~D}");
        assert_eq!(
            fractions(&explicit.kind),
            vec![0.7, 0.30000000000000004, 0.0, -0.5]
        );
    }

    #[test]
    fn true_false_forms() {
        for (source, expected) in [
            ("El mate es una infusión. {T}", true),
            ("El mate es una infusión. {TRUE}", true),
            ("Tucumán es la provincia más grande del país. {F}", false),
            (
                "Tucumán es la provincia más grande del país. {FALSE}",
                false,
            ),
        ] {
            let QuestionKind::TrueFalse { answer, .. } = one(source).kind else {
                panic!("{source}")
            };
            assert_eq!(answer, expected, "{source}");
        }
    }

    #[test]
    fn true_false_feedback_goes_to_the_answer_it_follows() {
        let q = one(
            "Tucumán es la provincia más chica del país. {T#Pensá en el mapa.#¡Sí, la más chica!}",
        );
        assert_eq!(
            q.kind,
            QuestionKind::TrueFalse {
                answer: true,
                feedback_true: Some("¡Sí, la más chica!".into()),
                feedback_false: Some("Pensá en el mapa.".into()),
            }
        );
        let q = one("La Casa Histórica está en Salta. {F#No: está en Tucumán.#Correcto.}");
        assert_eq!(
            q.kind,
            QuestionKind::TrueFalse {
                answer: false,
                feedback_true: Some("No: está en Tucumán.".into()),
                feedback_false: Some("Correcto.".into()),
            }
        );
    }

    #[test]
    fn short_answer_with_several_answers_weights_and_feedback() {
        let q = one(
            "¿Quién creó la bandera argentina? {=Manuel Belgrano#¡Exacto! =%50%Belgrano#Falta el nombre. =Gral. Belgrano}",
        );
        let QuestionKind::ShortAnswer { accepted } = &q.kind else {
            panic!("{:?}", q.kind)
        };
        assert_eq!(accepted.len(), 3);
        assert_eq!(accepted[1].text, "Belgrano");
        assert_eq!(accepted[1].feedback.as_deref(), Some("Falta el nombre."));
        assert_eq!(fractions(&q.kind), vec![1.0, 0.5, 1.0]);
        let response = Response::Text("manuel BELGRANO.".into());
        assert_eq!(grade(&q.kind, &response), Grade::Auto { fraction: 1.0 });
    }

    #[test]
    fn numeric_value_and_tolerance() {
        let q = one("¿Cuál es la aceleración de la gravedad en m/s²? {#9.81:0.01}");
        let QuestionKind::Numeric { answers } = &q.kind else {
            panic!("{:?}", q.kind)
        };
        assert_eq!(
            (answers[0].value, answers[0].tolerance, answers[0].fraction),
            (9.81, 0.01, 1.0)
        );
        assert_eq!(
            grade(&q.kind, &Response::Text("9,8".into())),
            Grade::Auto { fraction: 1.0 }
        );
    }

    #[test]
    fn numeric_range_and_exact_value() {
        let range = one("Un número entre 1 y 5: {#1..5}");
        assert_eq!(
            range.kind,
            QuestionKind::Numeric {
                answers: vec![NumericAnswer::range(1.0, 5.0, 1.0)]
            }
        );
        let exact = one("¿Cuántas provincias tiene la Argentina? {#23#¡Bien!}");
        let QuestionKind::Numeric { answers } = &exact.kind else {
            panic!("{:?}", exact.kind)
        };
        assert_eq!((answers[0].value, answers[0].tolerance), (23.0, 0.0));
        assert_eq!(answers[0].feedback.as_deref(), Some("¡Bien!"));
    }

    #[test]
    fn numeric_several_weighted_answers() {
        let q = one(
            "¿En qué año se declaró la Independencia? {#\n=1816:0#¡Exacto!\n=%50%1816:2#Cerca.\n}",
        );
        let QuestionKind::Numeric { answers } = &q.kind else {
            panic!("{:?}", q.kind)
        };
        assert_eq!(answers.len(), 2);
        assert_eq!(
            (answers[1].value, answers[1].tolerance, answers[1].fraction),
            (1816.0, 2.0, 0.5)
        );
        assert_eq!(answers[1].feedback.as_deref(), Some("Cerca."));
        assert_eq!(
            grade(&q.kind, &Response::Number(1817.0)),
            Grade::Auto { fraction: 0.5 }
        );
    }

    #[test]
    fn matching_pairs() {
        let q = one("::Regiones::Uní cada provincia con su región. {\n\
             =Tucumán -> NOA\n\
             =Mendoza -> Cuyo\n\
             =Chubut -> Patagonia\n\
             }");
        assert_eq!(
            q.kind,
            QuestionKind::Matching {
                pairs: vec![
                    ("Tucumán".into(), "NOA".into()),
                    ("Mendoza".into(), "Cuyo".into()),
                    ("Chubut".into(), "Patagonia".into()),
                ]
            }
        );
    }

    #[test]
    fn essays_with_and_without_general_feedback() {
        let q = one("Contá tu experiencia laboral más reciente. {}");
        assert_eq!(q.kind, QuestionKind::Essay);
        assert_eq!(q.general_feedback, None);
        let q = one("Describí tu puesto ideal. {####Tené en cuenta tus fortalezas.}");
        assert_eq!(q.kind, QuestionKind::Essay);
        assert_eq!(
            q.general_feedback.as_deref(),
            Some("Tené en cuenta tus fortalezas.")
        );
    }

    #[test]
    fn general_feedback_after_answers() {
        let q = one("¿2 + 2? {=4#Bien ~5#No ####La suma es conmutativa.}");
        assert_eq!(
            q.general_feedback.as_deref(),
            Some("La suma es conmutativa.")
        );
        let QuestionKind::SingleChoice { options } = &q.kind else {
            panic!("{:?}", q.kind)
        };
        assert_eq!(options[1].feedback.as_deref(), Some("No"));
    }

    #[test]
    fn escapes_are_literal() {
        let q = one(
            r"::Llaves \: y signos::¿Qué símbolo es \{ \}? {=Llaves \{\} ~Igual \= ~Virgulilla \~#Es \#1\nlínea 2}",
        );
        assert_eq!(q.name, "Llaves : y signos");
        assert_eq!(q.text, "¿Qué símbolo es { }?");
        let QuestionKind::SingleChoice { options } = &q.kind else {
            panic!("{:?}", q.kind)
        };
        assert_eq!(options[0].text, "Llaves {}");
        assert_eq!(options[1].text, "Igual =");
        assert_eq!(options[2].text, "Virgulilla ~");
        assert_eq!(options[2].feedback.as_deref(), Some("Es #1\nlínea 2"));
    }

    #[test]
    fn escaped_star_reaches_short_answer_as_literal() {
        let q = one(r"¿Cómo se escribe 2 por 3 en una planilla? {=2\*3}");
        assert_eq!(
            grade(&q.kind, &Response::Text("2*3".into())),
            Grade::Auto { fraction: 1.0 }
        );
        assert_eq!(
            grade(&q.kind, &Response::Text("2 x 3".into())),
            Grade::Auto { fraction: 0.0 }
        );
    }

    #[test]
    fn categories_apply_to_following_questions() {
        let result = parse(
            "Primera {T}\n\
             \n\
             $CATEGORY: $course$/top/Matemática/Fracciones\n\
             \n\
             Segunda {F}\n\
             \n\
             $CATEGORY: Lengua\n\
             Tercera {T}\n",
        );
        assert_eq!(result.errors, vec![]);
        let categories: Vec<_> = result
            .questions
            .iter()
            .map(|(line, q)| (*line, q.category.as_str()))
            .collect();
        assert_eq!(
            categories,
            vec![(1, "General"), (5, "Matemática/Fracciones"), (8, "Lengua")]
        );
    }

    #[test]
    fn empty_category_is_reported_and_previous_kept() {
        let result = parse("$CATEGORY: Oficios\n\n$CATEGORY: $course$/top\n\nPregunta {T}");
        assert_eq!(
            result.errors,
            vec![GiftError {
                line: 3,
                message: "La categoría está vacía.".into()
            }]
        );
        assert_eq!(result.questions[0].1.category, "Oficios");
    }

    #[test]
    fn comments_are_ignored_and_do_not_split_questions() {
        let result = parse(
            "// Banco de preguntas del curso de Carpintería\n\
             // revisado en 2025\n\
             \n\
             ::Herramienta::¿Qué herramienta mide ángulos? {\n\
             // la correcta primero\n\
             =Escuadra\n\
             ~Martillo\n\
             }\n\
             \n\
             // Pregunta de repaso\n\
             La madera se mide en pies. {T}",
        );
        assert_eq!(result.errors, vec![]);
        let lines: Vec<usize> = result.questions.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![4, 11]);
        assert_eq!(result.questions[1].1.text, "La madera se mide en pies.");
    }

    #[test]
    fn format_markers() {
        assert_eq!(
            one("[markdown]**Negrita** {T}").format,
            TextFormat::Markdown
        );
        assert_eq!(one("::T::[plain] Texto {T}").format, TextFormat::Plain);
        assert_eq!(one("[moodle]Texto {T}").format, TextFormat::Plain);
        let html = one("[html]<p>¿Es <b>cierto</b>?</p> {T}");
        assert_eq!(html.format, TextFormat::Html);
        assert_eq!(html.text, "<p>¿Es <b>cierto</b>?</p>");
        // An unknown bracketed word is part of the text.
        let q = one("[1] Leé el texto y respondé. {T}");
        assert_eq!(q.text, "[1] Leé el texto y respondé.");
        assert_eq!(q.format, TextFormat::Markdown);
    }

    #[test]
    fn multi_line_text_keeps_line_breaks() {
        let q =
            one("Leé con atención:\nel contrato dura 3 meses.\n¿Es un contrato a plazo fijo?\n{T}");
        assert_eq!(
            q.text,
            "Leé con atención:\nel contrato dura 3 meses.\n¿Es un contrato a plazo fijo?"
        );
    }

    #[test]
    fn ids_are_unique_slugs() {
        let result = parse(
            "::Año::Pregunta uno {T}\n\n::Año::Pregunta dos {F}\n\n¿Qué es un CV, en pocas palabras? {}",
        );
        let ids: Vec<_> = result
            .questions
            .iter()
            .map(|(_, q)| q.id.as_str())
            .collect();
        assert_eq!(ids, vec!["ano", "ano-2", "que-es-un-cv-en-pocas-palabras"]);
        assert_eq!(
            result.questions[2].1.name,
            "¿Qué es un CV, en pocas palabras?"
        );
    }

    #[test]
    fn long_texts_get_a_shortened_name() {
        let text = "Esta es una pregunta muy larga que sigue y sigue sin título para ver cómo se recorta el nombre";
        let q = one(&format!("{text} {{T}}"));
        assert!(q.name.ends_with('…'));
        assert!(q.name.chars().count() <= 61);
    }

    #[test]
    fn bom_and_crlf_are_handled() {
        let result = parse("\u{feff}// comentario\r\n::A::Uno {T}\r\n\r\n::B::Dos {F}\r\n");
        assert_eq!(result.errors, vec![]);
        assert_eq!(result.questions.len(), 2);
        assert_eq!(result.questions[1].0, 4);
    }

    #[test]
    fn description_items_are_reported() {
        let (line, message) = fails("// intro\n\nEste texto es una descripción sin preguntas.");
        assert_eq!(line, 3);
        assert!(
            message.contains("descripciones no se importan"),
            "{message}"
        );
    }

    #[test]
    fn missing_word_is_reported_at_the_text_after_the_answers() {
        let (line, message) = fails("El Himno se canta\n{=de pie ~sentado}\nen los actos.");
        assert_eq!(line, 3);
        assert!(message.contains("palabra faltante"), "{message}");
    }

    #[test]
    fn cloze_is_reported() {
        let (line, message) = fails(
            "Intro\nLa capital es {1:MULTICHOICE:=Tucumán~Salta} y el río es {1:SHORTANSWER:=Salí}.",
        );
        assert_eq!(line, 2);
        assert!(message.contains("cloze"), "{message}");
    }

    #[test]
    fn ordering_extension_is_reported() {
        let (line, message) = fails("Ordená los pasos {\n>3 ALL\nInscribirse\nCursar\n}");
        assert_eq!(line, 2);
        assert!(message.contains("TOML"), "{message}");
    }

    #[test]
    fn unknown_numeric_syntax_is_reported() {
        for source in [
            "¿Cuánto? {#abc}",
            "¿Cuánto? {#1:2:3}",
            "¿Cuánto? {#}",
            "¿Cuánto? {#=1..x}",
        ] {
            let (line, message) = fails(source);
            assert_eq!(line, 1, "{source}");
            assert!(message.contains("numérica"), "{source}: {message}");
        }
        let (_, message) = fails("¿Cuánto? {#5..1}");
        assert!(message.contains("invertido"), "{message}");
        let (line, message) = fails("¿Cuánto?\n{#\n=3:0\n~4}");
        assert_eq!(line, 4);
        assert!(message.contains("(~)"), "{message}");
    }

    #[test]
    fn matching_extensions_are_reported() {
        let (line, message) = fails("Uní {\n=Tucumán -> NOA\n=Mendoza -> Cuyo\n= -> Pampa\n}");
        assert_eq!(line, 4);
        assert!(message.contains("distractores"), "{message}");
        let (line, message) = fails("Uní {\n=Tucumán -> NOA#bien\n=Mendoza -> Cuyo\n}");
        assert_eq!(line, 2);
        assert!(message.contains("por par"), "{message}");
        let (_, message) = fails("Uní {=Tucumán -> NOA =Mendoza}");
        assert!(message.contains("->"), "{message}");
    }

    #[test]
    fn structural_errors_are_reported_with_lines() {
        let (line, message) = fails("Pregunta sin cerrar\n{=a ~b");
        assert_eq!((line, message.contains("llave de cierre")), (2, true));
        let (line, message) = fails("Uno {T}\nDos {F}");
        assert_eq!((line, message.contains("línea en blanco")), (2, true));
        let (line, message) = fails("::Título sin cerrar {T}");
        assert_eq!((line, message.contains("título")), (1, true));
        let (line, message) = fails("Texto {\n=a {=b}\n}");
        assert_eq!((line, message.contains("\\{")), (2, true));
        let (_, message) = fails("¿Cuál? {Lunes =Martes ~Miércoles}");
        assert!(
            message.contains("antes de la primera respuesta"),
            "{message}"
        );
        let (_, message) = fails("¿Cierto? {Verdadero}");
        assert!(message.contains("no reconocido"), "{message}");
        let (_, message) = fails("¿Cierto? {T#a#b#c}");
        assert!(message.contains("dos retroalimentaciones"), "{message}");
    }

    #[test]
    fn weight_errors_are_reported() {
        let (line, message) = fails("¿Cuál?\n{=a\n~%150%b}");
        assert_eq!(line, 3);
        assert!(message.contains("%150%"), "{message}");
        let (_, message) = fails("¿Cuál? {=a ~%50b}");
        assert!(message.contains("no está cerrado"), "{message}");
        let (_, message) = fails("¿Cuál? {~a ~b}");
        assert!(message.contains("Ninguna opción es correcta"), "{message}");
        let (_, message) = fails("¿Cuál? {=%100%a =b ~c}");
        assert!(message.contains("ya suman 100%"), "{message}");
    }

    #[test]
    fn invalid_questions_are_reported_by_validation_at_their_line() {
        let result = parse("Buena {T}\n\n::Pesos::¿Cuáles? {\n~%50%a\n~%30%b\n~c\n}");
        assert_eq!(result.questions.len(), 1);
        assert_eq!(result.errors.len(), 1);
        assert_eq!(result.errors[0].line, 3);
        assert!(
            result.errors[0].message.starts_with("«Pesos»: "),
            "{}",
            result.errors[0].message
        );
        assert!(result.errors[0].message.contains("suman 80%"));
        let (_, message) = fails("{T}");
        assert!(message.contains("enunciado"), "{message}");
        let (_, message) = fails("Uní {=Tucumán -> NOA}");
        assert!(message.contains("dos pares"), "{message}");
    }

    #[test]
    fn errors_do_not_stop_the_rest_of_the_file() {
        let result = parse(
            "$CATEGORY: Empleo\n\
             \n\
             ::CV::¿Qué es un CV? {=Currículum vitae =CV}\n\
             \n\
             El {=CV ~DNI} resume tu experiencia.\n\
             \n\
             ::Entrevista::Contá cómo te preparás para una entrevista. {}\n\
             \n\
             ::Horas::¿Cuántas horas tiene una jornada completa? {#8}\n",
        );
        assert_eq!(result.errors.len(), 1);
        assert_eq!(result.errors[0].line, 5);
        let names: Vec<_> = result
            .questions
            .iter()
            .map(|(line, q)| (*line, q.name.as_str()))
            .collect();
        assert_eq!(names, vec![(3, "CV"), (7, "Entrevista"), (9, "Horas")]);
        assert!(result.questions.iter().all(|(_, q)| q.validate().is_ok()));
    }

    #[test]
    fn error_display_includes_line_and_file() {
        let e = GiftError {
            line: 7,
            message: "Falta algo.".into(),
        };
        assert_eq!(e.to_string(), "línea 7: Falta algo.");
        assert_eq!(e.with_file("banco.gift"), "banco.gift:7: Falta algo.");
    }

    #[test]
    fn empty_source_yields_nothing() {
        assert_eq!(parse(""), GiftResult::default());
        assert_eq!(parse("// solo comentarios\n\n   \n"), GiftResult::default());
    }
}
