//! Deserializers for configuration values that arrive as text from environment variables:
//! every module's settings use them, so `AULA_X=1` and a secret made of digits read the same
//! way everywhere.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Bool(bool),
    Int(i64),
    Text(String),
}

/// `true`/`false`, or `1`/`0`, `yes`/`no`, `si`/`no` as environment variables write them.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Loose>::deserialize(d)? {
        None => None,
        Some(Loose::Bool(b)) => Some(b),
        Some(Loose::Int(i)) => Some(i != 0),
        Some(Loose::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "si" | "sí" | "on" => Some(true),
            "0" | "false" | "no" | "off" | "" => Some(false),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "se esperaba sí/no (1/0, true/false): {other:?}"
                )));
            }
        },
    })
}

/// Text even when it looks like a number (a secret of digits, say); empty means unset.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Loose>::deserialize(d)? {
        None => None,
        Some(Loose::Bool(b)) => Some(b.to_string()),
        Some(Loose::Int(i)) => Some(i.to_string()),
        Some(Loose::Text(t)) => Some(t).filter(|t| !t.trim().is_empty()),
    })
}
