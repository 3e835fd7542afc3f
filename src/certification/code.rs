//! The certificate's human code: what a person reads off the paper and types into
//! `/verificar`, so it is short, has no look-alike characters and carries a check character.
//!
//! Ten random characters from a 29-symbol alphabet (about 48 bits, far beyond guessing at a
//! rate-limited form) plus one check character, shown as `XXXX-XXXX-XXX`.
//!
//! Why 29 symbols and a weighted sum: the alphabet drops 0/O, 1/I/L, U and S (read as 5),
//! which leaves 29, a prime. With the check `Σ position·value ≡ 0 (mod 29)` every single
//! substitution changes the sum by `position·Δ`, never a multiple of 29, and swapping any two
//! characters changes it by `(i − j)·Δ`, again never a multiple of 29: all substitutions and
//! all transpositions (adjacent or not) are caught, which Luhn mod N does not fully do (it
//! misses swapping the first and last symbols of the alphabet).

use std::fmt;
use std::str::FromStr;

use rand::Rng;

/// The symbols a code may contain, in value order.
pub const ALPHABET: &[u8; 29] = b"23456789ABCDEFGHJKMNPQRTVWXYZ";
/// Random characters in a code.
pub const DATA_LEN: usize = 10;
/// Characters in a code, check character included (dashes aside).
pub const LEN: usize = DATA_LEN + 1;

const MODULUS: u32 = ALPHABET.len() as u32;

/// A certificate code that is known to be well formed and to carry a correct check character.
/// Stored and compared in its compact form (`as_str`), shown grouped (`Display`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertCode(String);

/// Why a typed code was refused; `Display` is the Spanish message for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Too short or too long once spaces and dashes are removed.
    #[error(
        "El código tiene {expected} caracteres (sin contar los guiones) y escribiste {found}: revisá que esté bien copiado",
        expected = LEN
    )]
    WrongLength { found: usize },
    /// A character that never appears in a code.
    #[error("El código no puede tener «{0}»: revisá que esté bien copiado")]
    InvalidCharacter(char),
    /// Well formed, but the check character does not match: a typo.
    #[error("El código no es válido: revisá que esté bien copiado")]
    CheckMismatch,
}

impl CertCode {
    /// A fresh random code (the caller makes it unique in the database).
    pub fn generate() -> CertCode {
        let mut rng = rand::rng();
        let values: Vec<u32> = (0..DATA_LEN)
            .map(|_| rng.random_range(0..MODULUS))
            .collect();
        CertCode::from_values(&values)
    }

    /// Parses what a person typed: case, spaces, dashes and dots do not matter, and an `S`
    /// is read as the `5` it was copied from.
    pub fn parse(input: &str) -> Result<CertCode, CodeError> {
        let mut values = Vec::with_capacity(LEN);
        let mut count = 0;
        for c in input.chars() {
            if c.is_whitespace() || matches!(c, '-' | '‐' | '–' | '—' | '.' | '_') {
                continue;
            }
            count += 1;
            let upper = c.to_ascii_uppercase();
            let canonical = if upper == 'S' { '5' } else { upper };
            match value_of(canonical) {
                Some(v) => values.push(v),
                None => return Err(CodeError::InvalidCharacter(c)),
            }
        }
        if count != LEN {
            return Err(CodeError::WrongLength { found: count });
        }
        let code = CertCode::from_values(&values[..DATA_LEN]);
        if code.0.as_bytes()[DATA_LEN] != ALPHABET[values[DATA_LEN] as usize] {
            return Err(CodeError::CheckMismatch);
        }
        Ok(code)
    }

    /// The compact form, `LEN` characters without dashes: what the database stores.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_values(data: &[u32]) -> CertCode {
        debug_assert_eq!(data.len(), DATA_LEN);
        let mut s = String::with_capacity(LEN);
        for &v in data {
            s.push(ALPHABET[v as usize] as char);
        }
        s.push(ALPHABET[check_value(data) as usize] as char);
        CertCode(s)
    }
}

/// The check value `c` such that `Σ (i+1)·vᵢ + LEN·c ≡ 0 (mod 29)`.
fn check_value(data: &[u32]) -> u32 {
    let sum: u32 = data
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u32 + 1) * v)
        .sum::<u32>()
        % MODULUS;
    // LEN·c ≡ −sum, and LEN is invertible modulo a prime larger than it.
    let inverse = (1..MODULUS)
        .find(|x| (x * LEN as u32) % MODULUS == 1)
        .unwrap_or(1);
    ((MODULUS - sum) % MODULUS) * inverse % MODULUS
}

fn value_of(c: char) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|p| p as u32)
}

impl fmt::Display for CertCode {
    /// `XXXX-XXXX-XXX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            // Only ALPHABET bytes, all ASCII.
            f.write_str(std::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl FromStr for CertCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CertCode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_has_no_look_alikes_and_a_prime_size() {
        for c in "01OILUS".chars() {
            assert!(!ALPHABET.contains(&(c as u8)), "{c} must not be used");
        }
        let n = ALPHABET.len();
        assert!((2..n).all(|d| !n.is_multiple_of(d)), "{n} must be prime");
        let mut sorted = ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), n, "no repeated symbol");
    }

    #[test]
    fn generated_codes_parse_back_and_display_grouped() {
        for _ in 0..200 {
            let code = CertCode::generate();
            assert_eq!(code.as_str().len(), LEN);
            let shown = code.to_string();
            assert_eq!(shown.len(), LEN + 2);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(&shown[9..10], "-");
            assert_eq!(CertCode::parse(&shown), Ok(code.clone()));
            assert_eq!(CertCode::parse(code.as_str()), Ok(code));
        }
    }

    #[test]
    fn parsing_tolerates_case_spaces_dashes_and_s_for_5() {
        let code = CertCode::from_values(&[3, 0, 12, 28, 5, 7, 9, 21, 14, 2]);
        let shown = code.to_string();
        assert!(shown.contains('5'), "{shown}");
        let typed = format!(
            "  {} ",
            shown.to_lowercase().replace('-', " - ").replace('5', "s")
        );
        assert_eq!(CertCode::parse(&typed), Ok(code));
    }

    #[test]
    fn every_single_substitution_is_caught() {
        let code = CertCode::generate();
        let bytes = code.as_str().as_bytes();
        for pos in 0..LEN {
            for &other in ALPHABET.iter().filter(|&&a| a != bytes[pos]) {
                let mut typo = bytes.to_vec();
                typo[pos] = other;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(
                    CertCode::parse(&typo),
                    Err(CodeError::CheckMismatch),
                    "{typo}"
                );
            }
        }
    }

    #[test]
    fn every_transposition_of_different_characters_is_caught() {
        for _ in 0..50 {
            let code = CertCode::generate();
            let bytes = code.as_str().as_bytes();
            for i in 0..LEN {
                for j in i + 1..LEN {
                    if bytes[i] == bytes[j] {
                        continue;
                    }
                    let mut swapped = bytes.to_vec();
                    swapped.swap(i, j);
                    let swapped = String::from_utf8(swapped).unwrap();
                    assert_eq!(
                        CertCode::parse(&swapped),
                        Err(CodeError::CheckMismatch),
                        "{swapped}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_length_and_foreign_characters_get_their_own_message() {
        let err = CertCode::parse("ABCD-EFGH").unwrap_err();
        assert_eq!(err, CodeError::WrongLength { found: 8 });
        assert_eq!(
            err.to_string(),
            "El código tiene 11 caracteres (sin contar los guiones) y escribiste 8: revisá que esté bien copiado"
        );
        let err = CertCode::parse("ABCD-EFGH-JKO").unwrap_err();
        assert_eq!(err, CodeError::InvalidCharacter('O'));
        assert_eq!(
            err.to_string(),
            "El código no puede tener «O»: revisá que esté bien copiado"
        );
        assert_eq!(
            CodeError::CheckMismatch.to_string(),
            "El código no es válido: revisá que esté bien copiado"
        );
    }
}
