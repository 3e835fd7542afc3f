//! Small text helpers shared by several modules.

/// Lowercase and strip Spanish diacritics, so "Tafí" matches "tafi". Used for search columns.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `LIKE` pattern that matches `needle` anywhere, with `%`, `_` and `\` escaped
/// (use with `ESCAPE '\'`).
pub fn like_pattern(needle: &str) -> String {
    let mut out = like_prefix(needle);
    out.insert(0, '%');
    out
}

/// A `LIKE` pattern that matches values starting with `prefix`, with `%`, `_` and `\` escaped
/// (use with `ESCAPE '\'`).
pub fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Longest search text we look for, in characters: longer input is cut at the edge (a longer
/// pattern finds nothing more, and SQLite refuses very long `LIKE` patterns with a 500).
pub const MAX_SEARCH: usize = 100;

/// Search text as typed, made safe to look for: control characters dropped, spaces trimmed,
/// cut to [`MAX_SEARCH`] characters.
pub fn search_input(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_SEARCH)
        .collect()
}

/// `#[serde(deserialize_with = "...")]` for a search box: see [`search_input`].
pub fn deserialize_search<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = <String as serde::Deserialize>::deserialize(d)?;
    Ok(search_input(&raw))
}

/// Whether a single-line text has control characters (NUL, bell, line breaks, tabs...): such
/// text is refused before it is stored (PostgreSQL refuses NUL with an error, and the rest only
/// garbles pages, CSVs and emails).
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Whether a multi-line text has control characters other than line breaks and tabs.
pub fn has_control_beyond_lines(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// Percent-encodes a query-string component.
pub fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A safe local redirect target: only a path (and query) on this site, else `/mi-aula`.
///
/// Browsers drop tabs and line breaks from a `Location` and read `\` as `/`, so `/<TAB>/evil`
/// or `/\evil` would take them to `//evil`, another site; control characters cannot even be
/// sent in a header. Only printable ASCII without `\` is accepted (what our paths
/// percent-encode to), starting with a single `/`, and it must parse as a path and query.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_string(),
        _ => "/mi-aula".to_string(),
    }
}

fn is_local_path(n: &str) -> bool {
    let b = n.as_bytes();
    b.first() == Some(&b'/')
        && b.get(1) != Some(&b'/')
        && n.len() <= 2048
        && b.iter().all(|c| c.is_ascii_graphic() && *c != b'\\')
        && n.parse::<axum::http::uri::PathAndQuery>()
            .is_ok_and(|p| p.as_str() == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_strips_accents_case_and_extra_spaces() {
        assert_eq!(fold("  Tafí del  VALLE ñandú "), "tafi del valle nandu");
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("50%_a"), "%50\\%\\_a%");
        assert_eq!(like_prefix("30%"), "30\\%%");
    }

    #[test]
    fn search_input_is_cut_and_cleaned() {
        assert_eq!(search_input("  café\u{0}\u{7} "), "café");
        assert_eq!(
            search_input(&"a".repeat(60_000)).chars().count(),
            MAX_SEARCH
        );
    }

    #[test]
    fn control_characters_are_found() {
        assert!(has_control("ana\u{7}@mail.com") && has_control("a\nb"));
        assert!(!has_control("Av. Sarmiento 123, 1° B"));
        assert!(!has_control_beyond_lines("uno\r\ndos\tz"));
        assert!(has_control_beyond_lines("x\u{0}"));
    }

    #[test]
    fn safe_next_refuses_other_hosts() {
        assert_eq!(safe_next(Some("//evil.example")), "/mi-aula");
        assert_eq!(safe_next(Some("https://evil.example")), "/mi-aula");
        assert_eq!(safe_next(Some("/cursos/x")), "/cursos/x");
        assert_eq!(
            safe_next(Some("/cursos/x?pagina=2&q=a%20b")),
            "/cursos/x?pagina=2&q=a%20b"
        );
        for bad in [
            "/\t/evil.example/",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/\u{0}",
            "/\\evil.example",
            "/\\/evil.example",
            "\\\\evil.example",
            "/ /evil.example",
            "/cursos/tafí",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/mi-aula", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/mi-aula");
    }
}
