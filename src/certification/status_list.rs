//! W3C Bitstring Status List v1.0: one bit per certificate (1 = revoked), published as a
//! signed `BitstringStatusListCredential`. The list is at least 131,072 entries long so that a
//! single revocation does not single anyone out (herd privacy, spec §6.1 "minimum length").

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::credential::{CredentialError, VC_V2_CONTEXT, sign_vc_jwt, vc_date};
use super::keys::InstitutionKey;

/// The spec's minimum: 16 KiB of bits.
pub const MIN_ENTRIES: usize = 131_072;
/// Decoding refuses lists longer than this (16 MiB of bits), so a gzip bomb cannot eat memory.
const MAX_BYTES: u64 = 16 * 1024 * 1024;
/// The only purpose Aula uses.
pub const PURPOSE_REVOCATION: &str = "revocation";

/// Why a status list could not be read or changed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    #[error("La lista de estados no está bien codificada")]
    Malformed,
    #[error("La lista de estados es más corta que el mínimo de {MIN_ENTRIES} entradas")]
    TooShort,
    #[error("El índice {0} está fuera de la lista de estados")]
    OutOfRange(usize),
}

/// The bitstring; index 0 is the left-most (most significant) bit of the first byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList {
    bytes: Vec<u8>,
}

impl Default for StatusList {
    fn default() -> Self {
        StatusList::new()
    }
}

impl StatusList {
    /// An all-valid list of [`MIN_ENTRIES`] entries.
    pub fn new() -> StatusList {
        StatusList::with_len(MIN_ENTRIES)
    }

    /// An all-valid list of at least `entries` entries (never fewer than the minimum; rounded
    /// up to whole bytes).
    pub fn with_len(entries: usize) -> StatusList {
        let entries = entries.max(MIN_ENTRIES);
        StatusList {
            bytes: vec![0; entries.div_ceil(8)],
        }
    }

    /// A list with the given indexes revoked, long enough to hold all of them.
    pub fn from_revoked(revoked: impl IntoIterator<Item = usize>) -> StatusList {
        let revoked: Vec<usize> = revoked.into_iter().collect();
        let needed = revoked.iter().max().map_or(0, |&m| m + 1);
        let mut list = StatusList::with_len(needed);
        for index in revoked {
            list.bytes[index / 8] |= 0x80 >> (index % 8);
        }
        list
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Never true: a list has at least the minimum number of entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether entry `index` is set (revoked); `None` outside the list.
    pub fn get(&self, index: usize) -> Option<bool> {
        self.bytes
            .get(index / 8)
            .map(|byte| byte & (0x80 >> (index % 8)) != 0)
    }

    /// Sets (revokes) or clears entry `index`.
    pub fn set(&mut self, index: usize, revoked: bool) -> Result<(), StatusListError> {
        let byte = self
            .bytes
            .get_mut(index / 8)
            .ok_or(StatusListError::OutOfRange(index))?;
        let mask = 0x80 >> (index % 8);
        if revoked {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        Ok(())
    }

    /// The `encodedList` value: multibase base64url (`u` prefix, no padding) of the GZIP
    /// (RFC 1952) compressed bitstring.
    pub fn encode(&self) -> String {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        gz.write_all(&self.bytes).expect("gzip into memory");
        let compressed = gz.finish().expect("gzip into memory");
        format!("u{}", URL_SAFE_NO_PAD.encode(compressed))
    }

    /// Reads an `encodedList` value.
    pub fn decode(encoded: &str) -> Result<StatusList, StatusListError> {
        let compressed = encoded
            .strip_prefix('u')
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or(StatusListError::Malformed)?;
        let mut bytes = Vec::new();
        GzDecoder::new(compressed.as_slice())
            .take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| StatusListError::Malformed)?;
        if bytes.len() as u64 > MAX_BYTES {
            return Err(StatusListError::Malformed);
        }
        if bytes.len() * 8 < MIN_ENTRIES {
            return Err(StatusListError::TooShort);
        }
        Ok(StatusList { bytes })
    }

    /// The raw bitstring, e.g. to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The `credentialStatus` of a credential whose bit is `index` in the list at `list_url`.
pub fn status_entry(list_url: &str, index: usize) -> Value {
    json!({
        "id": format!("{list_url}#{index}"),
        "type": "BitstringStatusListEntry",
        "statusPurpose": PURPOSE_REVOCATION,
        "statusListIndex": index.to_string(),
        "statusListCredential": list_url,
    })
}

/// The `BitstringStatusListCredential` (VC 2.0) for `list`, published at `list_url` and issued
/// by `issuer_id` (the institution's profile URL, as in its credentials' `issuer.id`).
pub fn status_list_credential(
    list_url: &str,
    issuer_id: &str,
    valid_from: DateTime<Utc>,
    list: &StatusList,
) -> Value {
    json!({
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": vc_date(valid_from),
        "credentialSubject": {
            "id": format!("{list_url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": PURPOSE_REVOCATION,
            "encodedList": list.encode(),
        }
    })
}

/// The same credential secured as a VC-JWT (ES256), like the certificates.
pub fn status_list_jwt(
    list_url: &str,
    issuer_id: &str,
    valid_from: DateTime<Utc>,
    list: &StatusList,
    key: &InstitutionKey,
    kid: &str,
) -> Result<String, CredentialError> {
    sign_vc_jwt(
        &status_list_credential(list_url, issuer_id, valid_from, list),
        key,
        kid,
    )
}

/// The list inside a (verified) status list credential, checking that it is a revocation list.
pub fn list_of_credential(credential: &Value) -> Result<StatusList, StatusListError> {
    let subject = &credential["credentialSubject"];
    let is_list = credential["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "BitstringStatusListCredential"))
        && subject["type"] == "BitstringStatusList"
        && subject["statusPurpose"] == PURPOSE_REVOCATION;
    if !is_list {
        return Err(StatusListError::Malformed);
    }
    StatusList::decode(subject["encodedList"].as_str().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certification::credential::verify_vc_jwt;
    use crate::certification::keys::KeySet;

    /// The `encodedList` of the specification's example status list credential (§2.2).
    const SPEC_EXAMPLE: &str =
        "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA";

    #[test]
    fn the_spec_example_decodes_to_an_all_valid_list_of_the_minimum_length() {
        let list = StatusList::decode(SPEC_EXAMPLE).unwrap();
        assert_eq!(list.len(), MIN_ENTRIES);
        assert!(list.as_bytes().iter().all(|&b| b == 0));
        assert_eq!(list, StatusList::new());
    }

    #[test]
    fn index_zero_is_the_left_most_bit_of_the_first_byte() {
        let mut list = StatusList::new();
        list.set(0, true).unwrap();
        list.set(9, true).unwrap();
        list.set(MIN_ENTRIES - 1, true).unwrap();
        assert_eq!(list.as_bytes()[0], 0b1000_0000);
        assert_eq!(list.as_bytes()[1], 0b0100_0000);
        assert_eq!(list.as_bytes()[MIN_ENTRIES / 8 - 1], 0b0000_0001);
        assert_eq!(list.get(9), Some(true));
        assert_eq!(list.get(10), Some(false));
        assert_eq!(list.get(MIN_ENTRIES), None);
        assert_eq!(
            list.set(MIN_ENTRIES, true),
            Err(StatusListError::OutOfRange(MIN_ENTRIES))
        );
        list.set(9, false).unwrap();
        assert_eq!(list.get(9), Some(false));
    }

    #[test]
    fn encoding_is_multibase_base64url_of_gzip_and_round_trips() {
        let list = StatusList::from_revoked([3, 94_567, 131_071]);
        let encoded = list.encode();
        assert!(
            encoded.starts_with("uH4sI"),
            "gzip magic 1f8b after the u: {encoded}"
        );
        assert!(!encoded.contains(['=', '+', '/']));
        assert!(
            encoded.len() < 200,
            "a sparse list compresses well: {}",
            encoded.len()
        );
        let back = StatusList::decode(&encoded).unwrap();
        assert_eq!(back, list);
        assert_eq!(back.get(94_567), Some(true));
        assert_eq!(back.get(94_566), Some(false));
        // A list grows to hold a large index.
        assert_eq!(
            StatusList::from_revoked([200_000]).len(),
            200_001usize.div_ceil(8) * 8
        );
    }

    #[test]
    fn decoding_refuses_short_lists_and_garbage() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&[0u8; 100]).unwrap();
        let short = format!("u{}", URL_SAFE_NO_PAD.encode(gz.finish().unwrap()));
        assert_eq!(StatusList::decode(&short), Err(StatusListError::TooShort));
        assert_eq!(
            StatusList::decode(&SPEC_EXAMPLE[1..]),
            Err(StatusListError::Malformed),
            "the multibase prefix is required"
        );
        assert_eq!(StatusList::decode("uAAAA"), Err(StatusListError::Malformed));
    }

    #[test]
    fn the_signed_list_credential_verifies_and_carries_the_bits() {
        let key = InstitutionKey::generate();
        let kid = format!("https://aula.example/claves/{}", key.kid());
        let url = "https://aula.example/estados/1";
        let issued = DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let list = StatusList::from_revoked([42]);
        let json =
            status_list_credential(url, "https://aula.example/instituciones/1", issued, &list);
        assert_eq!(json["type"][1], "BitstringStatusListCredential");
        assert_eq!(json["credentialSubject"]["type"], "BitstringStatusList");
        assert_eq!(json["credentialSubject"]["statusPurpose"], "revocation");
        assert_eq!(json["credentialSubject"]["id"], format!("{url}#list"));

        let jwt = status_list_jwt(
            url,
            "https://aula.example/instituciones/1",
            issued,
            &list,
            &key,
            &kid,
        )
        .unwrap();
        let mut keys = KeySet::new();
        keys.insert(Some(&kid), key.public_key().clone());
        let verified = verify_vc_jwt(&jwt, &keys, Utc::now()).unwrap();
        assert_eq!(verified.credential, json);
        let decoded = list_of_credential(&verified.credential).unwrap();
        assert_eq!(decoded.get(42), Some(true));
        assert_eq!(decoded.get(41), Some(false));
    }

    #[test]
    fn the_entry_names_the_list_and_the_index_as_a_string() {
        let entry = status_entry("https://aula.example/estados/1", 94_567);
        assert_eq!(
            entry,
            json!({
                "id": "https://aula.example/estados/1#94567",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "94567",
                "statusListCredential": "https://aula.example/estados/1"
            })
        );
    }
}
