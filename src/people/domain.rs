//! Parsed values that cannot be invalid: DNI, CUIL, email, phone, names.
//! Each `parse` returns the Spanish message to show at the field when the input is wrong.

use chrono::{Datelike, NaiveDate};

/// Documento Nacional de Identidad: 7 or 8 digits (dots and spaces accepted on input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dni(String);

impl Dni {
    pub fn parse(input: &str) -> Result<Dni, String> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, '.' | ' ' | '-'))
            .collect();
        if digits.is_empty() {
            return Err("Ingresá tu DNI.".into());
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err("El DNI lleva solo números (por ejemplo 35123456).".into());
        }
        if !(7..=8).contains(&digits.len()) || digits.starts_with('0') {
            return Err("El DNI tiene 7 u 8 números.".into());
        }
        Ok(Dni(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Código Único de Identificación Laboral: 11 digits with a valid check digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cuil(String);

impl Cuil {
    pub fn parse(input: &str) -> Result<Cuil, String> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '.'))
            .collect();
        if digits.is_empty() {
            return Err("Ingresá tu CUIL.".into());
        }
        if digits.len() != 11 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err("El CUIL tiene 11 números (por ejemplo 20-35123456-7).".into());
        }
        if !["20", "23", "24", "27", "30", "33", "34"].contains(&&digits[..2]) {
            return Err("El CUIL empieza con 20, 23, 24 o 27. Revisalo en tu constancia.".into());
        }
        let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
        if check_digit(&d[..10]) != Some(d[10]) {
            return Err(
                "El CUIL no es válido: revisá los números (el último es el dígito verificador)."
                    .into(),
            );
        }
        Ok(Cuil(digits))
    }

    /// Whether the CUIL's middle part is this DNI (the usual case for people).
    pub fn matches_dni(&self, dni: &Dni) -> bool {
        let middle = self.0[2..10].trim_start_matches('0');
        middle == dni.as_str().trim_start_matches('0')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "20-35123456-7".
    pub fn formatted(&self) -> String {
        format!("{}-{}-{}", &self.0[..2], &self.0[2..10], &self.0[10..])
    }

    /// A valid CUIL for a DNI with the given prefix (used for demo data and tests).
    pub fn for_dni(prefix: &str, dni: &Dni) -> Option<Cuil> {
        let body = format!("{prefix}{:0>8}", dni.as_str());
        let d: Vec<u32> = body.chars().filter_map(|c| c.to_digit(10)).collect();
        let check = check_digit(&d)?;
        Some(Cuil(format!("{body}{check}")))
    }
}

/// Modulo-11 check digit of the first ten digits; `None` when the result would be 10.
fn check_digit(d: &[u32]) -> Option<u32> {
    const W: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = d.iter().zip(W).map(|(a, b)| a * b).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        n => Some(n),
    }
}

/// An email address, lowercased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, String> {
        let e = input.trim().to_lowercase();
        let bad = || Err("El email no parece válido (por ejemplo nombre@gmail.com).".to_string());
        // Control characters (NUL, bell...) are not whitespace, but no address has them.
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad();
        }
        let Some((local, domain)) = e.split_once('@') else {
            return bad();
        };
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return bad();
        }
        Ok(Email(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mobile phone number: digits only, 10 to 13 of them (area code included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, String> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '+'))
            .collect();
        if digits.len() < 10 || digits.len() > 13 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(
                "Ingresá el celular con código de área, sin 0 ni 15 (por ejemplo 3815123456)."
                    .into(),
            );
        }
        Ok(Phone(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's first or last name(s): 1 to 80 characters of letters, spaces, apostrophes, dashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str, what: &str) -> Result<PersonName, String> {
        let n = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if n.is_empty() {
            return Err(format!("Ingresá tu {what}."));
        }
        if n.chars().count() > 80 {
            return Err(format!("El {what} es demasiado largo (máximo 80 letras)."));
        }
        if !n
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '\'' | '-' | '.'))
        {
            return Err(format!("El {what} lleva solo letras."));
        }
        Ok(PersonName(n))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A birth date that makes sense for a learner: 14 to 100 years old today.
pub fn parse_birth_date(input: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let Some(d) = crate::web::time::parse_date(input) else {
        return Err("Ingresá la fecha de nacimiento (día, mes y año).".into());
    };
    let age =
        today.year() - d.year() - i32::from((today.month(), today.day()) < (d.month(), d.day()));
    if !(14..=100).contains(&age) {
        return Err("Revisá la fecha de nacimiento: hay que tener entre 14 y 100 años.".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dni_accepts_dots_and_rejects_wrong_lengths() {
        assert_eq!(Dni::parse("35.123.456").unwrap().as_str(), "35123456");
        assert!(Dni::parse("123456").is_err());
        assert!(Dni::parse("123456789").is_err());
        assert!(Dni::parse("3512345a").is_err());
    }

    #[test]
    fn cuil_check_digit_is_validated() {
        let dni = Dni::parse("35123456").unwrap();
        let cuil = Cuil::for_dni("20", &dni).unwrap();
        assert!(Cuil::parse(cuil.as_str()).is_ok());
        assert!(cuil.matches_dni(&dni));
        let mut wrong = cuil.as_str().to_string();
        let last = wrong.pop().unwrap().to_digit(10).unwrap();
        wrong.push(char::from_digit((last + 1) % 10, 10).unwrap());
        assert!(Cuil::parse(&wrong).is_err());
        // A known real-format example: 20-12345678-6.
        assert!(Cuil::parse("20-12345678-6").is_ok());
    }

    #[test]
    fn email_and_phone() {
        assert_eq!(
            Email::parse(" Ana@Mail.COM ").unwrap().as_str(),
            "ana@mail.com"
        );
        assert!(Email::parse("ana@mail").is_err());
        assert!(Email::parse("ana\u{0}@mail.com").is_err());
        assert!(Email::parse("ana@mail.com\u{7}").is_err());
        assert!(Phone::parse("381 512-3456").is_ok());
        assert!(Phone::parse("12345").is_err());
    }

    #[test]
    fn birth_date_range() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert!(parse_birth_date("2000-05-01", today).is_ok());
        assert!(parse_birth_date("2020-05-01", today).is_err());
        assert!(parse_birth_date("nope", today).is_err());
    }
}
