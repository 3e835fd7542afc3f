//! The machine-verifiable certificate: an Open Badges 3.0 `OpenBadgeCredential` in the W3C
//! Verifiable Credentials 2.0 data model, secured as a VC-JWT (compact JWS, ES256) following
//! Open Badges 3.0 §8.2 "JSON Web Token Proof Format":
//!
//! - JOSE header: exactly `alg` (`ES256`), `kid` and `typ` (`JWT`); OB 3.0 allows no other
//!   header. `kid` is the key's **URL** (see [`super::keys::key_url`]), not the bare
//!   thumbprint, because OB 3.0 defines it as "a URI that can be dereferenced to an object of
//!   type JWK" and verifiers (the 1EdTech validator among them) fetch it. The URL ends in the
//!   thumbprint, so the key is still identified only by its thumbprint.
//! - JWT payload: the credential itself (VC 2.0 style, no `vc` wrapper) plus the claims OB maps:
//!   `iss` = `issuer.id`, `jti` = `id`, `sub` = `credentialSubject.id`, `nbf` = `validFrom`,
//!   and `exp` = `validUntil` when there is one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::keys::{InstitutionKey, KeySet};
use super::status_list::status_entry;

/// The W3C Verifiable Credentials 2.0 context.
pub const VC_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The Open Badges 3.0 context.
pub const OB_V3_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
/// The JSON schema that Open Badges validators check an `OpenBadgeCredential` against.
pub const OB_V3_SCHEMA: &str =
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json";

/// JWT claims that are not part of the credential itself.
const JWT_CLAIMS: [&str; 6] = ["iss", "jti", "sub", "nbf", "exp", "iat"];

/// The issuing institution as an Open Badges `Profile`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerProfile {
    /// Stable URL of the profile (it serves the profile JSON); also the JWT `iss`.
    pub id: String,
    pub name: String,
    /// The institution's own web site or page.
    pub url: String,
    /// URL of the logo.
    pub image: Option<String>,
    pub email: Option<String>,
}

impl IssuerProfile {
    /// The `Profile` object as it appears inside a credential.
    pub fn to_json(&self) -> Value {
        let mut profile = json!({
            "id": self.id,
            "type": ["Profile"],
            "name": self.name,
            "url": self.url,
        });
        if let Some(image) = &self.image {
            profile["image"] = json!({ "id": image, "type": "Image" });
        }
        if let Some(email) = &self.email {
            profile["email"] = json!(email);
        }
        profile
    }

    /// The standalone profile document served at `id`.
    pub fn document(&self) -> Value {
        let mut doc = json!({ "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT] });
        if let (Some(d), Value::Object(p)) = (doc.as_object_mut(), self.to_json()) {
            d.extend(p);
        }
        doc
    }
}

/// A competency the certificate states, aligned to an institution's standard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Competency {
    /// The standard's code (e.g. the institution's norm number).
    pub code: String,
    pub title: String,
    pub hours: Option<u32>,
    /// Page of the competency standard (Open Badges requires a URL for each alignment).
    pub url: String,
}

/// What the achievement is, from Open Badges' `AchievementType` vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AchievementType {
    /// A certificate of competencies for a course.
    Certificate,
    /// A single competency.
    Competency,
}

impl AchievementType {
    /// The vocabulary term.
    pub fn as_str(self) -> &'static str {
        match self {
            AchievementType::Certificate => "Certificate",
            AchievementType::Competency => "Competency",
        }
    }
}

/// Everything a certificate's credential says; plain data, filled by the workflow.
#[derive(Clone, Debug)]
pub struct CredentialInput {
    /// URL of the credential (unique per certificate), e.g. its verification page.
    pub id: String,
    /// Display name for wallets, e.g. "Certificado: Operador de PC".
    pub name: String,
    pub issuer: IssuerProfile,
    /// The holder's subject id, a URI that is not the DNI (see [`new_subject_id`]).
    pub subject_id: String,
    /// The holder's DNI: only its salted hash goes in the credential.
    pub dni: String,
    /// Per-certificate random salt (see [`new_salt`]).
    pub salt: String,
    /// URL of the achievement (the course's certification by this institution).
    pub achievement_id: String,
    /// The course title, the achievement's name.
    pub course: String,
    pub description: String,
    /// What the person had to do (the completion rules in words).
    pub criteria: String,
    pub achievement_type: AchievementType,
    pub competencies: Vec<Competency>,
    /// The course's hours.
    pub hours: u32,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    /// URL of the institution's status list credential.
    pub status_list_url: String,
    /// This certificate's bit in that list.
    pub status_index: usize,
}

/// Why a credential could not be signed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("A la credencial le falta {0}")]
    Missing(&'static str),
}

/// Why a VC-JWT was not accepted; `Display` is the Spanish message for the person checking it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "El texto no es una credencial firmada que se pueda leer: revisá que la hayas copiado completa"
    )]
    Malformed,
    #[error("La credencial usa el algoritmo de firma «{0}», que no se acepta (solo ES256)")]
    UnsupportedAlgorithm(String),
    #[error(
        "La credencial está firmada con una clave que no es de ninguna institución conocida: no se puede confirmar quién la emitió"
    )]
    UnknownKey(String),
    #[error(
        "La firma no corresponde al contenido: la credencial fue modificada después de emitida"
    )]
    BadSignature,
    #[error("Los datos de la credencial no coinciden con los de su firma ({0}): fue alterada")]
    ClaimsMismatch(&'static str),
    #[error("La credencial todavía no tiene validez: vale desde el {}", crate::web::time::local(.0))]
    NotYetValid(DateTime<Utc>),
    #[error("La credencial venció el {}", crate::web::time::local(.0))]
    Expired(DateTime<Utc>),
}

/// A credential whose signature and claims were checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The credential (the JWT payload without the JWT claims).
    pub credential: Value,
    /// The header `kid`, as written.
    pub kid: String,
    /// Thumbprint of the key that verified it.
    pub thumbprint: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A VC date: UTC, whole seconds (`2026-12-02T15:04:05Z`), so `nbf` equals it exactly.
pub fn vc_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random salt for the identity hash (128 bits, hex).
pub fn new_salt() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A random subject id (`urn:uuid:…`, version 4): identifies the holder in `sub` without
/// telling who they are, and differs between their certificates.
pub fn new_subject_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Open Badges `IdentityHash`: `sha256$` + hex of SHA-256(DNI + salt). The DNI is reduced to its
/// digits first, so `12.345.678` and `12345678` hash alike.
pub fn identity_hash(dni: &str, salt: &str) -> String {
    let digits: String = dni.chars().filter(char::is_ascii_digit).collect();
    let digest = Sha256::digest(format!("{digits}{salt}").as_bytes());
    format!("sha256${}", hex::encode(digest))
}

/// The `OpenBadgeCredential` JSON (unsigned).
pub fn build_credential(input: &CredentialInput) -> Value {
    let alignment: Vec<Value> = input
        .competencies
        .iter()
        .map(|c| {
            let mut a = json!({
                "type": ["Alignment"],
                "targetCode": c.code,
                "targetName": c.title,
                "targetType": "ceasn:Competency",
                "targetUrl": c.url,
                "targetFramework": format!("Normas de competencia de {}", input.issuer.name),
            });
            if let Some(h) = c.hours {
                a["targetDescription"] = json!(format!("Carga horaria: {h} horas"));
            }
            a
        })
        .collect();
    let mut credential = json!({
        "@context": [VC_V2_CONTEXT, OB_V3_CONTEXT],
        "id": input.id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": input.name,
        "issuer": input.issuer.to_json(),
        "validFrom": vc_date(input.valid_from),
        "credentialSubject": {
            "id": input.subject_id,
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject",
                "identityHash": identity_hash(&input.dni, &input.salt),
                "identityType": "nationalIdentityNumber",
                "hashed": true,
                "salt": input.salt,
            }],
            "achievement": {
                "id": input.achievement_id,
                "type": ["Achievement"],
                "achievementType": input.achievement_type.as_str(),
                "name": input.course,
                "description": input.description,
                "criteria": { "narrative": input.criteria },
                "creditsAvailable": input.hours,
                "alignment": alignment,
                "creator": input.issuer.to_json(),
            },
        },
        "credentialStatus": status_entry(&input.status_list_url, input.status_index),
        "credentialSchema": [{
            "id": OB_V3_SCHEMA,
            "type": "1EdTechJsonSchemaValidator2019",
        }],
    });
    if let Some(until) = input.valid_until {
        credential["validUntil"] = json!(vc_date(until));
    }
    credential
}

fn parse_vc_date(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn issuer_id(vc: &Value) -> Option<&str> {
    vc["issuer"]
        .as_str()
        .or_else(|| vc["issuer"]["id"].as_str())
}

/// Signs any VC 2.0 credential (a certificate or a status list) as a compact VC-JWT.
pub fn sign_vc_jwt(vc: &Value, key: &InstitutionKey, kid: &str) -> Result<String, CredentialError> {
    let mut payload: Map<String, Value> = vc
        .as_object()
        .cloned()
        .ok_or(CredentialError::Missing("el contenido"))?;
    let iss = issuer_id(vc).ok_or(CredentialError::Missing("el emisor (issuer.id)"))?;
    let jti = vc["id"].as_str().ok_or(CredentialError::Missing("el id"))?;
    let nbf = parse_vc_date(&vc["validFrom"]).ok_or(CredentialError::Missing("validFrom"))?;
    payload.insert("iss".into(), json!(iss));
    payload.insert("jti".into(), json!(jti));
    if let Some(sub) = vc["credentialSubject"]["id"].as_str() {
        payload.insert("sub".into(), json!(sub));
    }
    payload.insert("nbf".into(), json!(nbf.timestamp()));
    if !vc["validUntil"].is_null() {
        let exp = parse_vc_date(&vc["validUntil"]).ok_or(CredentialError::Missing("validUntil"))?;
        payload.insert("exp".into(), json!(exp.timestamp()));
    }
    let header = json!({ "alg": "ES256", "kid": kid, "typ": "JWT" });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(payload).to_string())
    );
    let signature = key.sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Signs a certificate: [`build_credential`] then [`sign_vc_jwt`].
pub fn issue(
    input: &CredentialInput,
    key: &InstitutionKey,
    kid: &str,
) -> Result<(Value, String), CredentialError> {
    let credential = build_credential(input);
    let jwt = sign_vc_jwt(&credential, key, kid)?;
    Ok((credential, jwt))
}

fn decode_json(part: &str) -> Result<Value, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(VerifyError::Malformed)
    }
}

/// Verifies a compact VC-JWT against trusted keys at time `now`: signature by the key named in
/// the header, then the claims against the credential (Open Badges 3.0 §8.2.6), then the
/// validity period.
pub fn verify_vc_jwt(
    jwt: &str,
    keys: &KeySet,
    now: DateTime<Utc>,
) -> Result<Verified, VerifyError> {
    let jwt = jwt.trim();
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let header = decode_json(h)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| VerifyError::Malformed)?;
    match header["alg"].as_str() {
        Some("ES256") => {}
        Some(other) => return Err(VerifyError::UnsupportedAlgorithm(other.to_string())),
        None => return Err(VerifyError::Malformed),
    }
    if !matches!(
        header["typ"].as_str(),
        None | Some("JWT" | "vc+jwt" | "vc+ld+json+jwt")
    ) {
        return Err(VerifyError::Malformed);
    }
    let kid = header["kid"].as_str().ok_or(VerifyError::Malformed)?;
    let key = keys
        .find(kid)
        .ok_or_else(|| VerifyError::UnknownKey(kid.to_string()))?;
    let signing_input = &jwt[..h.len() + 1 + p.len()];
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(VerifyError::BadSignature);
    }
    let payload = decode_json(p)?;

    // The signature is good; now the claims must say what the credential says.
    let claim_str = |name| payload[name].as_str();
    if claim_str("iss").is_none() || claim_str("iss") != issuer_id(&payload) {
        return Err(VerifyError::ClaimsMismatch("iss"));
    }
    if claim_str("jti").is_none() || claim_str("jti") != payload["id"].as_str() {
        return Err(VerifyError::ClaimsMismatch("jti"));
    }
    if claim_str("sub") != payload["credentialSubject"]["id"].as_str() {
        return Err(VerifyError::ClaimsMismatch("sub"));
    }
    let valid_from = parse_vc_date(&payload["validFrom"]).ok_or(VerifyError::Malformed)?;
    if payload["nbf"].as_i64() != Some(valid_from.timestamp()) {
        return Err(VerifyError::ClaimsMismatch("nbf"));
    }
    let valid_until = match (&payload["validUntil"], payload["exp"].as_i64()) {
        (Value::Null, None) => None,
        (until, Some(exp)) => {
            let until = parse_vc_date(until).ok_or(VerifyError::ClaimsMismatch("exp"))?;
            if until.timestamp() != exp {
                return Err(VerifyError::ClaimsMismatch("exp"));
            }
            Some(until)
        }
        (_, None) => return Err(VerifyError::ClaimsMismatch("exp")),
    };
    if now < valid_from {
        return Err(VerifyError::NotYetValid(valid_from));
    }
    if let Some(until) = valid_until
        && now >= until
    {
        return Err(VerifyError::Expired(until));
    }

    let mut credential = payload;
    if let Some(map) = credential.as_object_mut() {
        for claim in JWT_CLAIMS {
            map.remove(claim);
        }
    }
    Ok(Verified {
        credential,
        kid: kid.to_string(),
        thumbprint: key.thumbprint().to_string(),
        valid_from,
        valid_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certification::keys::key_url;

    fn input() -> CredentialInput {
        CredentialInput {
            id: "https://aula.example/verificar/AB3D-EF4H-JK5".into(),
            name: "Certificado: Operador de PC".into(),
            issuer: IssuerProfile {
                id: "https://aula.example/instituciones/7".into(),
                name: "Centro de Formación Profesional N.º 12".into(),
                url: "https://cfp12.example".into(),
                image: Some("https://aula.example/instituciones/7/logo".into()),
                email: None,
            },
            subject_id: "urn:uuid:2f1c6f0e-3c1b-4a57-9d8e-0b6f1d2a3c4e".into(),
            dni: "30.123.678".into(),
            salt: "4e1b0c1d2e3f40516273849a5b6c7d8e".into(),
            achievement_id: "https://aula.example/cursos/operador-pc/certificacion/7".into(),
            course: "Operador de PC".into(),
            description: "Uso de la computadora, ofimática e internet para el trabajo.".into(),
            criteria: "Completó las 10 lecciones, aprobó la evaluación final y asistió al 75 % de las clases en vivo.".into(),
            achievement_type: AchievementType::Certificate,
            competencies: vec![
                Competency {
                    code: "NC-101".into(),
                    title: "Operar el sistema y gestionar archivos".into(),
                    hours: Some(20),
                    url: "https://aula.example/instituciones/7/normas/NC-101".into(),
                },
                Competency {
                    code: "NC-102".into(),
                    title: "Redactar documentos y planillas".into(),
                    hours: None,
                    url: "https://aula.example/instituciones/7/normas/NC-102".into(),
                },
            ],
            hours: 60,
            valid_from: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            valid_until: None,
            status_list_url: "https://aula.example/instituciones/7/estados".into(),
            status_index: 94_567,
        }
    }

    fn signed(input: &CredentialInput) -> (InstitutionKey, String, KeySet, String) {
        let key = InstitutionKey::generate();
        let kid = key_url("https://aula.example", key.kid());
        let (_, jwt) = issue(input, &key, &kid).unwrap();
        let mut keys = KeySet::new();
        keys.insert(Some(&kid), key.public_key().clone());
        (key, kid, keys, jwt)
    }

    fn segment(jwt: &str, i: usize) -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_credential_has_the_open_badges_shape() {
        let vc = build_credential(&input());
        assert_eq!(vc["@context"], json!([VC_V2_CONTEXT, OB_V3_CONTEXT]));
        assert_eq!(
            vc["type"],
            json!(["VerifiableCredential", "OpenBadgeCredential"])
        );
        assert_eq!(vc["issuer"]["type"], json!(["Profile"]));
        assert_eq!(vc["issuer"]["image"]["type"], "Image");
        assert_eq!(vc["validFrom"], "2026-05-28T20:26:40Z");
        assert!(vc.get("validUntil").is_none());
        let subject = &vc["credentialSubject"];
        assert_eq!(subject["type"], json!(["AchievementSubject"]));
        let identifier = &subject["identifier"][0];
        assert_eq!(identifier["type"], "IdentityObject");
        assert_eq!(identifier["hashed"], true);
        assert_eq!(identifier["identityType"], "nationalIdentityNumber");
        let expected = format!(
            "sha256${}",
            hex::encode(Sha256::digest(b"301236784e1b0c1d2e3f40516273849a5b6c7d8e"))
        );
        assert_eq!(identifier["identityHash"], expected.as_str());
        assert!(
            !vc.to_string().contains("30123678"),
            "the DNI is never published"
        );
        assert!(!vc.to_string().contains("30.123.678"));
        let achievement = &subject["achievement"];
        assert_eq!(achievement["type"], json!(["Achievement"]));
        assert_eq!(achievement["achievementType"], "Certificate");
        assert_eq!(achievement["creditsAvailable"], 60);
        assert!(
            achievement["criteria"]["narrative"]
                .as_str()
                .unwrap()
                .contains("75 %")
        );
        assert_eq!(achievement["alignment"][0]["targetCode"], "NC-101");
        assert_eq!(
            achievement["alignment"][0]["targetDescription"],
            "Carga horaria: 20 horas"
        );
        assert!(
            achievement["alignment"][1]
                .get("targetDescription")
                .is_none()
        );
        assert_eq!(vc["credentialStatus"]["type"], "BitstringStatusListEntry");
        assert_eq!(vc["credentialStatus"]["statusListIndex"], "94567");
    }

    #[test]
    fn the_jwt_has_only_the_headers_and_the_claims_open_badges_maps() {
        let mut with_end = input();
        with_end.valid_until = Some(DateTime::from_timestamp(1_900_000_000, 0).unwrap());
        let (_, kid, _, jwt) = signed(&with_end);
        let header = segment(&jwt, 0);
        assert_eq!(header, json!({ "alg": "ES256", "kid": kid, "typ": "JWT" }));
        let payload = segment(&jwt, 1);
        assert_eq!(payload["iss"], "https://aula.example/instituciones/7");
        assert_eq!(
            payload["jti"],
            "https://aula.example/verificar/AB3D-EF4H-JK5"
        );
        assert_eq!(
            payload["sub"],
            "urn:uuid:2f1c6f0e-3c1b-4a57-9d8e-0b6f1d2a3c4e"
        );
        assert_eq!(payload["nbf"], 1_780_000_000);
        assert_eq!(payload["exp"], 1_900_000_000);
        assert!(
            payload.get("vc").is_none(),
            "VC 2.0: the payload is the credential"
        );
        assert_eq!(payload["type"][1], "OpenBadgeCredential");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(2).unwrap())
                .unwrap()
                .len(),
            64
        );
    }

    #[test]
    fn a_signed_credential_verifies_back_to_the_same_json() {
        let input = input();
        let (_, kid, keys, jwt) = signed(&input);
        let verified = verify_vc_jwt(&jwt, &keys, Utc::now()).unwrap();
        assert_eq!(verified.credential, build_credential(&input));
        assert_eq!(verified.kid, kid);
        assert!(kid.ends_with(&verified.thumbprint));
        assert_eq!(verified.valid_from, input.valid_from);
    }

    #[test]
    fn a_tampered_credential_fails_with_the_tampering_message() {
        let (_, _, keys, jwt) = signed(&input());
        let mut payload = segment(&jwt, 1);
        payload["credentialSubject"]["achievement"]["name"] = json!("Ingeniería nuclear");
        let parts: Vec<&str> = jwt.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            parts[2]
        );
        let err = verify_vc_jwt(&forged, &keys, Utc::now()).unwrap_err();
        assert_eq!(err, VerifyError::BadSignature);
        assert_eq!(
            err.to_string(),
            "La firma no corresponde al contenido: la credencial fue modificada después de emitida"
        );
    }

    #[test]
    fn unknown_key_malformed_text_and_other_algorithms_are_refused() {
        let (_, kid, _, jwt) = signed(&input());
        let other = InstitutionKey::generate();
        let mut others = KeySet::new();
        others.insert(None, other.public_key().clone());
        assert_eq!(
            verify_vc_jwt(&jwt, &others, Utc::now()),
            Err(VerifyError::UnknownKey(kid))
        );
        assert_eq!(
            verify_vc_jwt("hola.que.tal", &others, Utc::now()),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            verify_vc_jwt("", &others, Utc::now()),
            Err(VerifyError::Malformed)
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            jwt.split('.').nth(1).unwrap()
        );
        assert_eq!(
            verify_vc_jwt(&none, &others, Utc::now()),
            Err(VerifyError::UnsupportedAlgorithm("none".into()))
        );
    }

    #[test]
    fn a_key_signing_a_credential_under_another_kid_is_a_bad_signature() {
        // Same kid, different key: an attacker cannot sign in an institution's name.
        let input = input();
        let (key, kid, keys, _) = signed(&input);
        let impostor = InstitutionKey::generate();
        let forged = sign_vc_jwt(&build_credential(&input), &impostor, &kid).unwrap();
        assert_eq!(
            verify_vc_jwt(&forged, &keys, Utc::now()),
            Err(VerifyError::BadSignature)
        );
        assert!(
            verify_vc_jwt(
                &sign_vc_jwt(&build_credential(&input), &key, &kid).unwrap(),
                &keys,
                Utc::now()
            )
            .is_ok()
        );
    }

    #[test]
    fn claims_that_disagree_with_the_credential_are_refused() {
        let input = input();
        let key = InstitutionKey::generate();
        let mut keys = KeySet::new();
        keys.insert(Some("k"), key.public_key().clone());
        // Sign a payload whose jti differs from the id, as a careless issuer could.
        let mut payload = build_credential(&input);
        let jwt = sign_vc_jwt(&payload, &key, "k").unwrap();
        let mut claims = segment(&jwt, 1);
        claims["jti"] = json!("https://otro.example/1");
        let header = jwt.split('.').next().unwrap();
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let sig = URL_SAFE_NO_PAD.encode(key.sign(format!("{header}.{body}").as_bytes()));
        assert_eq!(
            verify_vc_jwt(&format!("{header}.{body}.{sig}"), &keys, Utc::now()),
            Err(VerifyError::ClaimsMismatch("jti"))
        );
        payload["validFrom"] = json!("no es una fecha");
        assert_eq!(
            sign_vc_jwt(&payload, &key, "k"),
            Err(CredentialError::Missing("validFrom"))
        );
    }

    #[test]
    fn validity_period_is_enforced_with_dates_in_the_message() {
        let mut input = input();
        input.valid_until = Some(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let (_, _, keys, jwt) = signed(&input);
        let before = DateTime::from_timestamp(1_779_999_999, 0).unwrap();
        let err = verify_vc_jwt(&jwt, &keys, before).unwrap_err();
        assert_eq!(err, VerifyError::NotYetValid(input.valid_from));
        assert_eq!(
            err.to_string(),
            "La credencial todavía no tiene validez: vale desde el 28/05/2026 17:26"
        );
        let after = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let err = verify_vc_jwt(&jwt, &keys, after).unwrap_err();
        assert!(matches!(err, VerifyError::Expired(_)));
        assert!(
            err.to_string()
                .starts_with("La credencial venció el 15/01/2027 05:00"),
            "{err}"
        );
        let during = DateTime::from_timestamp(1_797_000_000, 0).unwrap();
        assert!(verify_vc_jwt(&jwt, &keys, during).is_ok());
    }

    #[test]
    fn helpers_make_fresh_salts_and_uuid_subject_ids() {
        let a = new_subject_id();
        assert_eq!(a.len(), "urn:uuid:".len() + 36);
        assert_eq!(&a[9 + 14..9 + 15], "4");
        assert_ne!(a, new_subject_id());
        assert_eq!(new_salt().len(), 32);
        assert_ne!(new_salt(), new_salt());
        assert_eq!(
            identity_hash("30.123.678", "x"),
            identity_hash("30123678", "x")
        );
    }
}
