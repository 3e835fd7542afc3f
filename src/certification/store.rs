//! The certification workflow on the database: institutions' signing keys (generated on first
//! need, sealed with the master key, rotated with the old ones kept), certifying, rejecting and
//! revoking (each one transaction with its audit row and, for certificates, its outbox event),
//! and the lookups the pages and the public verification read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};

use super::{
    code::CertCode,
    credential::{self, AchievementType, Competency, CredentialInput, IssuerProfile},
    keys::{InstitutionKey, Jwk, Jwks, KeySet, MasterKey, PublicKey, key_url},
    status_list::{MIN_ENTRIES, StatusList, status_list_jwt},
};
use crate::{
    completion::{self, Checklist},
    db::{Db, Tx},
    web::{
        outbox::{self, Event},
        time::now,
    },
    with_db, with_tx,
};

/// Errors of the workflow that are not the database's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Key(#[from] super::keys::KeyError),
    #[error(transparent)]
    Credential(#[from] super::credential::CredentialError),
}

impl From<StoreError> for crate::web::error::AppError {
    fn from(e: StoreError) -> Self {
        crate::web::error::AppError::Internal(e.into())
    }
}

/// URLs of the public side, from the site's base address.
pub mod urls {
    /// The issuer `Profile` (JSON; the same path shows the HTML page to browsers).
    pub fn issuer(base: &str, institution_id: i64) -> String {
        format!(
            "{}/instituciones/{institution_id}",
            base.trim_end_matches('/')
        )
    }
    /// The institution's logo (the profile's `image`).
    pub fn logo(base: &str, institution_id: i64) -> String {
        format!("{}/logo", issuer(base, institution_id))
    }
    /// The institution's Bitstring Status List credential (a VC-JWT).
    pub fn status_list(base: &str, institution_id: i64) -> String {
        format!("{}/estados", issuer(base, institution_id))
    }
    /// A certificate's public verification page (also the credential's `id`).
    pub fn verify(base: &str, code: &str) -> String {
        format!("{}/verificar/{code}", base.trim_end_matches('/'))
    }
    /// The achievement: a course as certified by an institution.
    pub fn achievement(base: &str, slug: &str, institution_id: i64) -> String {
        format!(
            "{}/cursos/{slug}/certificacion/{institution_id}",
            base.trim_end_matches('/')
        )
    }
}

/// The institution's current signing key, generated (and stored sealed) on first need.
/// Two requests generating at once store one: the other's insert conflicts with the
/// one-current-key index and it reads the winner's.
pub async fn current_key(
    db: &Db,
    master: &MasterKey,
    institution_id: i64,
) -> Result<InstitutionKey, StoreError> {
    for _ in 0..3 {
        let row: Option<(String, String)> = with_db!(db, |p| {
            sqlx::query_as(
            "SELECT kid, sealed_key FROM institution_keys WHERE institution_id = $1 AND retired_at IS NULL"
        )
        .bind(institution_id)
        .fetch_optional(p)
        .await
        })?;
        if let Some((kid, sealed)) = row {
            return Ok(InstitutionKey::unseal(master, &kid, &sealed)?);
        }
        let key = InstitutionKey::generate();
        insert_key(db, master, institution_id, &key).await?;
    }
    Err(StoreError::Db(sqlx::Error::RowNotFound))
}

async fn insert_key(
    db: &Db,
    master: &MasterKey,
    institution_id: i64,
    key: &InstitutionKey,
) -> Result<(), sqlx::Error> {
    let jwk = serde_json::to_string(&key.public_key().jwk(key.kid())).unwrap_or_default();
    with_db!(db, |p| sqlx::query(
        "INSERT INTO institution_keys (kid, institution_id, public_jwk, sealed_key, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
    )
    .bind(key.kid())
    .bind(institution_id)
    .bind(&jwk)
    .bind(key.seal(master))
    .bind(now())
    .execute(p)
    .await
    .map(|_| ()))
}

/// Rotates the institution's key: the current one is retired (still published, so what it
/// signed keeps verifying) and a new one becomes current, in one transaction. Returns the new kid.
pub async fn rotate_key(
    db: &Db,
    master: &MasterKey,
    institution_id: i64,
) -> Result<String, StoreError> {
    let key = InstitutionKey::generate();
    let jwk = serde_json::to_string(&key.public_key().jwk(key.kid())).unwrap_or_default();
    let mut tx = db.begin().await?;
    let at = now();
    with_tx!(&mut tx, |c| {
        sqlx::query(
        "UPDATE institution_keys SET retired_at = $2 WHERE institution_id = $1 AND retired_at IS NULL"
    )
    .bind(institution_id)
    .bind(at)
    .execute(c)
    .await
    .map(|_| ())
    })?;
    with_tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO institution_keys (kid, institution_id, public_jwk, sealed_key, created_at)
         VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(key.kid())
    .bind(institution_id)
    .bind(&jwk)
    .bind(key.seal(master))
    .bind(at)
    .execute(c)
    .await
    .map(|_| ()))?;
    tx.commit().await?;
    Ok(key.kid().to_string())
}

/// Every institution's public keys, current and retired, with their `kid` as the stable URL
/// the JWTs name.
pub async fn jwks(db: &Db, base: &str) -> Result<Jwks, sqlx::Error> {
    let rows: Vec<(String, String)> = with_db!(db, |p| sqlx::query_as(
        "SELECT kid, public_jwk FROM institution_keys ORDER BY institution_id, created_at, kid"
    )
    .fetch_all(p)
    .await)?;
    Ok(Jwks {
        keys: rows
            .into_iter()
            .filter_map(|(kid, json)| publish_jwk(base, &kid, &json))
            .collect(),
    })
}

fn publish_jwk(base: &str, kid: &str, json: &str) -> Option<Jwk> {
    let jwk: Jwk = serde_json::from_str(json).ok()?;
    let key = PublicKey::from_jwk(&jwk).ok()?;
    let mut out = key.jwk(&key_url(base, kid));
    out.alg = Some("ES256".into());
    out.use_ = Some("sig".into());
    Some(out)
}

/// One public key by its kid (thumbprint).
pub async fn jwk(db: &Db, base: &str, kid: &str) -> Result<Option<Jwk>, sqlx::Error> {
    let row: Option<String> = with_db!(db, |p| sqlx::query_scalar(
        "SELECT public_jwk FROM institution_keys WHERE kid = $1"
    )
    .bind(kid)
    .fetch_optional(p)
    .await)?;
    Ok(row.and_then(|json| publish_jwk(base, kid, &json)))
}

/// The keys to verify with: every published one.
pub async fn key_set(db: &Db, base: &str) -> Result<KeySet, sqlx::Error> {
    Ok(KeySet::from_jwks(&jwks(db, base).await?))
}

/// An institution as the certificates show it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InstitutionInfo {
    pub id: i64,
    pub name: String,
    pub cuit: Option<String>,
    pub address: Option<String>,
    /// Whether a logo was uploaded (it is served at `…/instituciones/{id}/logo`).
    pub has_logo: bool,
}

impl InstitutionInfo {
    /// Its Open Badges issuer profile.
    pub fn profile(&self, base: &str) -> IssuerProfile {
        IssuerProfile {
            id: urls::issuer(base, self.id),
            name: self.name.clone(),
            url: urls::issuer(base, self.id),
            image: self.has_logo.then(|| urls::logo(base, self.id)),
            email: None,
        }
    }
}

pub async fn institution(db: &Db, id: i64) -> Result<Option<InstitutionInfo>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT id, name, cuit, address, (logo IS NOT NULL) AS has_logo FROM institutions WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await
    })
}

/// The institution's logo (PNG or JPEG), if it has one.
pub async fn logo(db: &Db, id: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    Ok(with_db!(db, |p| sqlx::query_scalar::<_, Option<Vec<u8>>>(
        "SELECT logo FROM institutions WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?
    .flatten())
}

/// Replaces the institution's logo (already checked: a PNG or JPEG that decodes).
pub async fn set_logo(db: &Db, id: i64, logo: &[u8]) -> Result<bool, sqlx::Error> {
    let n = with_db!(db, |p| sqlx::query(
        "UPDATE institutions SET logo = $1 WHERE id = $2"
    )
    .bind(logo)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The signed status list credential of an institution, as of now (revocations show at once).
pub async fn status_list(
    db: &Db,
    master: &MasterKey,
    base: &str,
    institution_id: i64,
) -> Result<String, StoreError> {
    let revoked: Vec<i64> = with_db!(db, |p| {
        sqlx::query_scalar(
        "SELECT status_index FROM certificates WHERE institution_id = $1 AND revoked_at IS NOT NULL"
    )
    .bind(institution_id)
    .fetch_all(p)
    .await
    })?;
    let list = StatusList::from_revoked(revoked.into_iter().map(|i| i as usize));
    let key = current_key(db, master, institution_id).await?;
    let at = DateTime::from_timestamp(now().timestamp(), 0).unwrap_or_else(now);
    Ok(status_list_jwt(
        &urls::status_list(base, institution_id),
        &urls::issuer(base, institution_id),
        at,
        &list,
        &key,
        &key_url(base, key.kid()),
    )?)
}

/// A class as the certifier's pages and the credential need it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClassInfo {
    pub id: i64,
    pub name: String,
    pub course_id: i64,
    pub slug: String,
    pub course: String,
    pub summary: String,
    pub hours: i64,
    pub institution_id: Option<i64>,
}

pub async fn class(db: &Db, class_id: i64) -> Result<Option<ClassInfo>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT k.id, k.name, c.id AS course_id, c.slug, c.title AS course, c.summary, c.hours, k.institution_id
         FROM classes k JOIN courses c ON c.id = k.course_id WHERE k.id = $1"
    )
    .bind(class_id)
    .fetch_optional(p)
    .await
    })
}

/// Classes that the institutions in `institutions` certify.
pub async fn classes_of(db: &Db, institutions: &[i64]) -> Result<Vec<ClassInfo>, sqlx::Error> {
    let mut out = Vec::new();
    for &i in institutions {
        let mut rows: Vec<ClassInfo> = with_db!(db, |p| {
            sqlx::query_as(
            "SELECT k.id, k.name, c.id AS course_id, c.slug, c.title AS course, c.summary, c.hours, k.institution_id
             FROM classes k JOIN courses c ON c.id = k.course_id WHERE k.institution_id = $1
             ORDER BY c.title, k.starts_on, k.id"
        )
        .bind(i)
        .fetch_all(p)
        .await
        })?;
        out.append(&mut rows);
    }
    Ok(out)
}

/// The competencies a certificate of this class states: the course's competencies, each as
/// the institution's standard it is mapped to (or as the course names it, unmapped).
pub async fn competencies(
    db: &Db,
    base: &str,
    class: &ClassInfo,
    institution_id: i64,
) -> Result<Vec<Competency>, sqlx::Error> {
    type Row = (String, String, Option<String>, Option<String>, Option<i64>);
    let rows: Vec<Row> = with_db!(db, |p| {
        sqlx::query_as(
            "SELECT cp.code, cp.name, s.code, s.title, s.hours FROM competencies cp
             LEFT JOIN competency_standard_links l ON l.course_id = cp.course_id AND l.competency_code = cp.code
             LEFT JOIN competency_standards s ON s.id = l.standard_id AND s.institution_id = $2
             WHERE cp.course_id = $1 ORDER BY cp.position, s.code"
        )
        .bind(class.course_id)
        .bind(institution_id)
        .fetch_all(p)
        .await
    })?;
    // A competency mapped to several standards states each; a link to another institution's
    // standard counts as unmapped.
    let mut by_code: BTreeMap<String, Competency> = BTreeMap::new();
    let mut mapped_courses: Vec<String> = Vec::new();
    for (code, _, s_code, s_title, s_hours) in &rows {
        if let (Some(sc), Some(st)) = (s_code, s_title) {
            mapped_courses.push(code.clone());
            by_code.insert(
                sc.clone(),
                Competency {
                    code: sc.clone(),
                    title: st.clone(),
                    hours: s_hours.and_then(|h| u32::try_from(h).ok()),
                    url: format!("{}#norma-{sc}", urls::issuer(base, institution_id)),
                },
            );
        }
    }
    for (code, name, _, _, _) in &rows {
        if !mapped_courses.contains(code) && !by_code.contains_key(code) {
            by_code.insert(
                code.clone(),
                Competency {
                    code: code.clone(),
                    title: name.clone(),
                    hours: None,
                    url: format!(
                        "{}/cursos/{}#competencias",
                        base.trim_end_matches('/'),
                        class.slug
                    ),
                },
            );
        }
    }
    Ok(by_code.into_values().collect())
}

/// The key of a set of competencies: their codes, sorted, comma-separated.
pub fn competency_set(competencies: &[Competency]) -> String {
    let mut codes: Vec<&str> = competencies.iter().map(|c| c.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes.join(",")
}

/// A person as the certificate names them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Holder {
    pub id: i64,
    pub dni: String,
    pub first_name: String,
    pub last_name: String,
}

impl Holder {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

pub async fn holder(db: &Db, person_id: i64) -> Result<Option<Holder>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_as(
        "SELECT id, dni, first_name, last_name FROM persons WHERE id = $1"
    )
    .bind(person_id)
    .fetch_optional(p)
    .await)
}

/// The evidence kept with a decision: the checklist as it stood.
fn evidence(checklist: &Checklist, at: DateTime<Utc>) -> String {
    json!({
        "at": credential::vc_date(at),
        "eligible": checklist.eligible(),
        "enrolment": checklist.enrolment,
        "items": checklist.items,
    })
    .to_string()
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    tx: &mut Tx,
    actor: i64,
    institution_id: i64,
    class_id: i64,
    person_id: i64,
    certificate_id: Option<i64>,
    decision: &str,
    reason: Option<&str>,
    evidence: &str,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO certification_audit (at, actor_id, institution_id, class_id, person_id, certificate_id, decision, reason, evidence)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    .bind(now())
    .bind(actor)
    .bind(institution_id)
    .bind(class_id)
    .bind(person_id)
    .bind(certificate_id)
    .bind(decision)
    .bind(reason)
    .bind(evidence)
    .execute(c)
    .await
    .map(|_| ())
    })
}

/// What became of a request to certify one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Certified {
    /// A new certificate, with its code.
    Issued(String),
    /// There already was one (a double click, or another certifier first): its code.
    Already(String),
    /// Not eligible; nothing was written. The reason, in Spanish.
    NotEligible(String),
}

/// The event data of a certificate (`certificado.emitido` / `certificado.revocado`).
#[allow(clippy::too_many_arguments)]
fn event_data(
    base: &str,
    code: &str,
    class: &ClassInfo,
    institution: &InstitutionInfo,
    competencies: &Value,
    issued_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    reason: Option<&str>,
) -> Value {
    let mut data = json!({
        "codigo": code,
        "comision_id": class.id,
        "curso": { "slug": class.slug, "titulo": class.course, "horas": class.hours },
        "institucion": { "nombre": institution.name, "cuit": institution.cuit },
        "competencias": competencies,
        "emitido": credential::vc_date(issued_at),
        "url_verificacion": urls::verify(base, code),
    });
    if let Some(at) = revoked_at {
        data["revocado"] = json!(credential::vc_date(at));
        data["motivo"] = json!(reason);
    }
    data
}

fn competencies_json(competencies: &[Competency]) -> Value {
    Value::Array(
        competencies
            .iter()
            .map(|c| json!({ "codigo": c.code, "titulo": c.title, "horas": c.hours }))
            .collect(),
    )
}

/// Certifies one learner of a class for its institution: checks eligibility (not eligible:
/// nothing written), signs the credential with the institution's current key, and in ONE
/// transaction stores the certificate, its audit row and the `certificado.emitido` event. The
/// insert is the race's referee: a second request for the same person, class and competency
/// set inserts nothing and answers with the first one's code.
pub async fn certify(
    db: &Db,
    master: &MasterKey,
    base: &str,
    actor_user_id: i64,
    class: &ClassInfo,
    institution: &InstitutionInfo,
    person_id: i64,
) -> Result<Certified, StoreError> {
    let checklist = completion::checklist(db, class.id, person_id).await?;
    if let Some(reason) = checklist.reason() {
        return Ok(Certified::NotEligible(reason));
    }
    let Some(person) = holder(db, person_id).await? else {
        return Ok(Certified::NotEligible("La persona no existe.".into()));
    };
    let competencies = competencies(db, base, class, institution.id).await?;
    if competencies.is_empty() {
        return Ok(Certified::NotEligible(
            "El curso no declara competencias para certificar.".into(),
        ));
    }
    let set = competency_set(&competencies);
    if let Some(code) = existing(db, person_id, class.id, &set).await? {
        return Ok(Certified::Already(code));
    }
    let key = current_key(db, master, institution.id).await?;
    let kid = key_url(base, key.kid());
    let criteria = checklist
        .items
        .iter()
        .map(|i| i.label.clone())
        .collect::<Vec<_>>()
        .join(", ");
    for _ in 0..8 {
        let code = CertCode::generate();
        let index = rand::rng().random_range(0..MIN_ENTRIES);
        let issued_at = DateTime::from_timestamp(now().timestamp(), 0).unwrap_or_else(now);
        let input = CredentialInput {
            id: urls::verify(base, code.as_str()),
            name: format!("Certificado: {}", class.course),
            issuer: institution.profile(base),
            subject_id: credential::new_subject_id(),
            dni: person.dni.clone(),
            salt: credential::new_salt(),
            achievement_id: urls::achievement(base, &class.slug, institution.id),
            course: class.course.clone(),
            description: class.summary.clone(),
            criteria: format!(
                "Cumplió los requisitos del curso ({criteria}) y lo certificó {}.",
                institution.name
            ),
            achievement_type: AchievementType::Certificate,
            competencies: competencies.clone(),
            hours: u32::try_from(class.hours).unwrap_or(0),
            valid_from: issued_at,
            valid_until: None,
            status_list_url: urls::status_list(base, institution.id),
            status_index: index,
        };
        let (vc, jwt) = credential::issue(&input, &key, &kid)?;
        let mut tx = db.begin().await?;
        let id: Option<i64> = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO certificates (code, person_id, class_id, institution_id, competency_set, status_index, kid,
                                       credential, vc_jwt, issued_at, issued_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT DO NOTHING RETURNING id"
        )
        .bind(code.as_str())
        .bind(person_id)
        .bind(class.id)
        .bind(institution.id)
        .bind(&set)
        .bind(index as i64)
        .bind(key.kid())
        .bind(vc.to_string())
        .bind(&jwt)
        .bind(issued_at)
        .bind(actor_user_id)
        .fetch_optional(c)
        .await
        })?;
        let Some(id) = id else {
            tx.rollback().await?;
            if let Some(code) = existing(db, person_id, class.id, &set).await? {
                return Ok(Certified::Already(code));
            }
            // The code or the status index was taken: draw again.
            continue;
        };
        audit(
            &mut tx,
            actor_user_id,
            institution.id,
            class.id,
            person_id,
            Some(id),
            "emitido",
            None,
            &evidence(&checklist, issued_at),
        )
        .await?;
        outbox::record(
            &mut tx,
            &Event {
                kind: "certificado.emitido",
                person_id: Some(person_id),
                data: event_data(
                    base,
                    code.as_str(),
                    class,
                    institution,
                    &competencies_json(&competencies),
                    issued_at,
                    None,
                    None,
                ),
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(Certified::Issued(code.as_str().to_string()));
    }
    Err(StoreError::Db(sqlx::Error::RowNotFound))
}

async fn existing(
    db: &Db,
    person_id: i64,
    class_id: i64,
    set: &str,
) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_scalar(
        "SELECT code FROM certificates WHERE person_id = $1 AND class_id = $2 AND competency_set = $3"
    )
    .bind(person_id)
    .bind(class_id)
    .bind(set)
    .fetch_optional(p)
    .await
    })
}

/// Records a certifier's rejection of a learner, with the reason and the evidence.
pub async fn reject(
    db: &Db,
    actor_user_id: i64,
    class: &ClassInfo,
    institution_id: i64,
    person_id: i64,
    reason: &str,
) -> Result<(), StoreError> {
    let checklist = completion::checklist(db, class.id, person_id).await?;
    let mut tx = db.begin().await?;
    audit(
        &mut tx,
        actor_user_id,
        institution_id,
        class.id,
        person_id,
        None,
        "rechazado",
        Some(reason),
        &evidence(&checklist, now()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes a certificate of `institution_id`: in one transaction the certificate is marked
/// (its status bit reads 1 from then on), the audit row and the `certificado.revocado` event
/// are written. `false` when it was already revoked (nothing written).
pub async fn revoke(
    db: &Db,
    base: &str,
    actor_user_id: i64,
    cert: &CertificateRow,
    reason: &str,
) -> Result<bool, StoreError> {
    let Some(class) = class(db, cert.class_id).await? else {
        return Ok(false);
    };
    let Some(institution) = institution(db, cert.institution_id).await? else {
        return Ok(false);
    };
    let checklist = completion::checklist(db, cert.class_id, cert.person_id).await?;
    let at = now();
    let mut tx = db.begin().await?;
    let n = with_tx!(&mut tx, |c| sqlx::query(
        "UPDATE certificates SET revoked_at = $2, revoked_by = $3, revoke_reason = $4
         WHERE id = $1 AND revoked_at IS NULL"
    )
    .bind(cert.id)
    .bind(at)
    .bind(actor_user_id)
    .bind(reason)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    audit(
        &mut tx,
        actor_user_id,
        cert.institution_id,
        cert.class_id,
        cert.person_id,
        Some(cert.id),
        "revocado",
        Some(reason),
        &evidence(&checklist, at),
    )
    .await?;
    let vc: Value = serde_json::from_str(&cert.credential).unwrap_or(Value::Null);
    let competencies: Value = vc["credentialSubject"]["achievement"]["alignment"]
        .as_array()
        .map(|a| {
            Value::Array(
                a.iter()
                    .map(|x| json!({ "codigo": x["targetCode"], "titulo": x["targetName"] }))
                    .collect(),
            )
        })
        .unwrap_or(Value::Array(vec![]));
    outbox::record(
        &mut tx,
        &Event {
            kind: "certificado.revocado",
            person_id: Some(cert.person_id),
            data: event_data(
                base,
                &cert.code,
                &class,
                &institution,
                &competencies,
                cert.issued_at,
                Some(at),
                Some(reason),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A stored certificate.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CertificateRow {
    pub id: i64,
    pub code: String,
    pub person_id: i64,
    pub class_id: i64,
    pub institution_id: i64,
    pub status_index: i64,
    pub credential: String,
    pub vc_jwt: String,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<String>,
}

pub async fn by_code(db: &Db, code: &str) -> Result<Option<CertificateRow>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT id, code, person_id, class_id, institution_id, status_index, credential, vc_jwt, issued_at, revoked_at, revoke_reason FROM certificates WHERE code = $1"
    )
        .bind(code)
        .fetch_optional(p)
        .await
    })
}

pub async fn of_class(db: &Db, class_id: i64) -> Result<Vec<CertificateRow>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT id, code, person_id, class_id, institution_id, status_index, credential, vc_jwt, issued_at, revoked_at, revoke_reason FROM certificates WHERE class_id = $1 ORDER BY id"
    )
        .bind(class_id)
        .fetch_all(p)
        .await
    })
}

/// A certificate as lists show it (the holder's page, the operator's view of the person).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CertificateSummary {
    pub code: String,
    pub course: String,
    pub institution: String,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl CertificateSummary {
    pub fn issued(&self) -> String {
        crate::web::time::date(
            &self
                .issued_at
                .with_timezone(&chrono_tz::America::Argentina::Tucuman)
                .date_naive(),
        )
    }
}

/// The certificates of a person, newest first.
pub async fn of_person(db: &Db, person_id: i64) -> Result<Vec<CertificateSummary>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT ce.code, c.title AS course, i.name AS institution, ce.issued_at, ce.revoked_at
         FROM certificates ce JOIN classes k ON k.id = ce.class_id JOIN courses c ON c.id = k.course_id
         JOIN institutions i ON i.id = ce.institution_id
         WHERE ce.person_id = $1 ORDER BY ce.issued_at DESC, ce.id DESC"
    )
    .bind(person_id)
    .fetch_all(p)
    .await
    })
}

/// The institutions a user certifies for.
pub fn institutions_of(user: &crate::web::auth::CurrentUser) -> Vec<i64> {
    user.grants
        .iter()
        .filter_map(|g| match g {
            crate::web::auth::Grant::Certifier { institution_id } => Some(*institution_id),
            _ => None,
        })
        .collect()
}
