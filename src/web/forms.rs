//! Field-level validation errors, shown next to the field that caused them.

/// Errors keyed by form field name, each with a Spanish message.
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(pub Vec<(&'static str, String)>);

impl FieldErrors {
    /// Records `message` for `field` (the first message per field wins).
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs a parser and records its error under `field`, returning the parsed value.
    pub fn check<T>(&mut self, field: &'static str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }
}
