//! People created or updated by the employment system (SIPE), one at a time or in batches of
//! thousands. Validated with the same domain types as the office's form; each change records
//! `persona.registrada` / `persona.actualizada` in its own transaction.
//!
//! **Precedence.** SIPE is the system of record for identity: names, CUIL, birth date,
//! department and locality are always written. Contact details (email, phone) are written
//! only when SIPE's change is more recent than the person's own last change of them
//! (`contact_self_at`: their registration, or «Mis datos»); otherwise the person's stay. SIPE
//! never touches the account: its password and login email are the person's.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use crate::{
    db::{Db, Tx, is_unique_violation},
    people::{
        domain::{Cuil, Dni, Email, PersonName, Phone, parse_birth_date},
        persons,
        territory::{self, Department, Locality},
    },
    web::{
        outbox::{self, Event},
        text::fold,
        time::now,
    },
    with_db, with_tx,
};

/// Departments and localities, loaded once per request to resolve names without a query
/// per person.
pub struct Territory {
    departments: Vec<Department>,
    localities: Vec<Locality>,
}

impl Territory {
    pub async fn load(db: &Db) -> Result<Territory, sqlx::Error> {
        Ok(Territory {
            departments: territory::departments(db).await?,
            localities: territory::localities(db).await?,
        })
    }

    /// The department (and locality, if given) by name, accents and case aside.
    fn resolve(
        &self,
        department: &str,
        locality: Option<&str>,
        errors: &mut Vec<(&'static str, String)>,
    ) -> Option<(i64, Option<i64>)> {
        let d = fold(department.trim());
        let Some(dep) = self.departments.iter().find(|x| fold(&x.name) == d) else {
            errors.push((
                "departamento",
                "El departamento no es uno de los 17 de Tucumán (por ejemplo «Capital»).".into(),
            ));
            return None;
        };
        let loc = match locality.map(str::trim).filter(|l| !l.is_empty()) {
            None => None,
            Some(l) => {
                let l = fold(l);
                match self
                    .localities
                    .iter()
                    .find(|x| x.department_id == dep.id && fold(&x.name) == l)
                {
                    Some(x) => Some(x.id),
                    None => {
                        errors.push((
                            "localidad",
                            format!("La localidad no es del departamento {}.", dep.name),
                        ));
                        return None;
                    }
                }
            }
        };
        Some((dep.id, loc))
    }
}

/// A person as SIPE sends them, before validation.
#[derive(Clone, Debug, Default)]
pub struct RawPerson<'a> {
    pub dni: &'a str,
    pub cuil: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub birth_date: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub department: &'a str,
    pub locality: Option<&'a str>,
    /// When the data changed at SIPE (default: now; a future time counts as now).
    pub changed_at: Option<DateTime<Utc>>,
}

/// A validated person from SIPE.
#[derive(Clone, Debug)]
pub struct SipePerson {
    pub dni: Dni,
    pub cuil: Cuil,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub birth_date: NaiveDate,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub department_id: i64,
    pub locality_id: Option<i64>,
    pub changed_at: DateTime<Utc>,
}

/// Validates every field, returning all refusals at once (field name as the API calls it).
pub fn validate(raw: &RawPerson, t: &Territory) -> Result<SipePerson, Vec<(&'static str, String)>> {
    let mut errors: Vec<(&'static str, String)> = vec![];
    fn keep<T>(
        errors: &mut Vec<(&'static str, String)>,
        field: &'static str,
        r: Result<T, String>,
    ) -> Option<T> {
        r.map_err(|m| errors.push((field, m))).ok()
    }
    macro_rules! check {
        ($field:literal, $r:expr $(,)?) => {
            keep(&mut errors, $field, $r)
        };
    }
    let dni = check!("dni", Dni::parse(raw.dni));
    let cuil = check!("cuil", Cuil::parse(raw.cuil));
    let first_name = check!("nombre", PersonName::parse(raw.first_name, "nombre"));
    let last_name = check!("apellido", PersonName::parse(raw.last_name, "apellido"));
    let birth_date = check!(
        "fecha_nacimiento",
        parse_birth_date(raw.birth_date, now().date_naive()),
    );
    let email = match raw.email.map(str::trim).filter(|e| !e.is_empty()) {
        None => Some(None),
        Some(e) => check!("email", Email::parse(e)).map(Some),
    };
    let phone = match raw.phone.map(str::trim).filter(|e| !e.is_empty()) {
        None => Some(None),
        Some(p) => check!("telefono", Phone::parse(p)).map(Some),
    };
    if let (Some(d), Some(c)) = (&dni, &cuil)
        && !c.matches_dni(d)
    {
        errors.push((
            "cuil",
            "El CUIL no corresponde al DNI: los 8 números del medio son el DNI.".into(),
        ));
    }
    let place = t.resolve(raw.department, raw.locality, &mut errors);
    let at = now();
    match (
        dni, cuil, first_name, last_name, birth_date, email, phone, place,
    ) {
        (
            Some(dni),
            Some(cuil),
            Some(first_name),
            Some(last_name),
            Some(birth_date),
            Some(email),
            Some(phone),
            Some((department_id, locality_id)),
        ) if errors.is_empty() => Ok(SipePerson {
            dni,
            cuil,
            first_name,
            last_name,
            birth_date,
            email,
            phone,
            department_id,
            locality_id,
            changed_at: raw.changed_at.map_or(at, |c| c.min(at)),
        }),
        _ => Err(errors),
    }
}

impl SipePerson {
    fn search_name(&self) -> String {
        fold(&format!(
            "{} {} {}",
            self.last_name.as_str(),
            self.first_name.as_str(),
            self.dni.as_str()
        ))
    }
}

/// What happened to one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created(i64),
    /// Updated, with the fields that changed (as the API names them).
    Updated(i64, Vec<&'static str>),
    Unchanged(i64),
    /// Refused, with the reason in Spanish.
    Refused(String),
}

/// The stored person, as the comparison needs it.
#[derive(Clone, Debug, sqlx::FromRow)]
struct Existing {
    id: i64,
    dni: String,
    cuil: String,
    first_name: String,
    last_name: String,
    birth_date: NaiveDate,
    email: Option<String>,
    phone: Option<String>,
    department_id: i64,
    locality_id: Option<i64>,
    contact_self_at: Option<DateTime<Utc>>,
}

const EXISTING_COLUMNS: &str = "id, dni, cuil, first_name, last_name, birth_date, email, phone, department_id, locality_id, contact_self_at";

/// The values to store and the fields that change, by the precedence rule.
struct Plan {
    email: Option<String>,
    phone: Option<String>,
    changed: Vec<&'static str>,
}

fn plan(e: &Existing, p: &SipePerson) -> Plan {
    let mut changed = vec![];
    if e.cuil != p.cuil.as_str() {
        changed.push("cuil");
    }
    if e.first_name != p.first_name.as_str() {
        changed.push("nombre");
    }
    if e.last_name != p.last_name.as_str() {
        changed.push("apellido");
    }
    if e.birth_date != p.birth_date {
        changed.push("fecha_nacimiento");
    }
    if e.department_id != p.department_id {
        changed.push("departamento");
    }
    if e.locality_id != p.locality_id {
        changed.push("localidad");
    }
    let sipe_wins_contact = e.contact_self_at.is_none_or(|t| p.changed_at > t);
    let (mut email, mut phone) = (e.email.clone(), e.phone.clone());
    if sipe_wins_contact {
        let new_email = p.email.as_ref().map(|x| x.as_str().to_string());
        let new_phone = p.phone.as_ref().map(|x| x.as_str().to_string());
        if new_email != email {
            changed.push("email");
            email = new_email;
        }
        if new_phone != phone {
            changed.push("telefono");
            phone = new_phone;
        }
    }
    Plan {
        email,
        phone,
        changed,
    }
}

fn cuil_taken() -> Outcome {
    Outcome::Refused("Ya hay otra persona (con otro DNI) registrada con este CUIL.".into())
}

async fn record(
    tx: &mut Tx,
    kind: &str,
    id: i64,
    changed: &[&'static str],
) -> Result<(), sqlx::Error> {
    record_all(tx, &[(kind, id, changed)]).await
}

/// Records person events for SIPE's own changes: the person as the change left them, with
/// `origen: "sipe"` and the fields that changed (docs/sipe-eventos.md).
async fn record_all(
    tx: &mut Tx,
    changes: &[(&str, i64, &[&'static str])],
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = changes.iter().map(|c| c.1).collect();
    let mut snaps = persons::snapshots(tx, &ids).await?;
    let mut events = Vec::with_capacity(changes.len());
    for (kind, id, changed) in changes {
        let mut data = snaps.remove(id).ok_or(sqlx::Error::RowNotFound)?;
        data["origen"] = "sipe".into();
        data["campos"] = json!(changed);
        events.push(Event {
            kind,
            person_id: Some(*id),
            data,
        });
    }
    outbox::record_many(tx, &events).await?;
    Ok(())
}

/// Updates a person by `plan` if their contact precedence did not change since it was read
/// (a person saving «Mis datos» meanwhile wins); returns whether the row was written.
async fn apply_update(
    tx: &mut Tx,
    e: &Existing,
    p: &SipePerson,
    plan: &Plan,
) -> Result<bool, sqlx::Error> {
    let n = with_tx!(tx, |c| {
        sqlx::query(
        "UPDATE persons SET cuil = $1, first_name = $2, last_name = $3, birth_date = $4, email = $5,
            phone = $6, department_id = $7, locality_id = $8, search_name = $9, sipe_updated_at = $10
         WHERE id = $11 AND ((contact_self_at IS NULL AND $12 IS NULL) OR contact_self_at = $12)"
    )
    .bind(p.cuil.as_str())
    .bind(p.first_name.as_str())
    .bind(p.last_name.as_str())
    .bind(p.birth_date)
    .bind(&plan.email)
    .bind(&plan.phone)
    .bind(p.department_id)
    .bind(p.locality_id)
    .bind(p.search_name())
    .bind(now())
    .bind(e.id)
    .bind(e.contact_self_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Creates or updates one person in its own transaction, with its event.
pub async fn upsert_one(db: &Db, p: &SipePerson) -> Result<Outcome, sqlx::Error> {
    // A concurrent change (the person's own, or another request for this DNI) makes a step
    // find the row different from what it read: read again and decide again.
    for _ in 0..3 {
        let mut tx = db.begin().await?;
        let sql = format!("SELECT {EXISTING_COLUMNS} FROM persons WHERE dni = $1");
        let existing: Option<Existing> = with_tx!(&mut tx, |c| sqlx::query_as(
            sqlx::AssertSqlSafe(sql.clone())
        )
        .bind(p.dni.as_str())
        .fetch_optional(c)
        .await)?;
        let outcome = match existing {
            None => match insert_one(&mut tx, p).await {
                Ok(Some(id)) => {
                    record(&mut tx, "persona.registrada", id, &[]).await?;
                    Outcome::Created(id)
                }
                Ok(None) => continue,
                Err(e) if is_unique_violation(&e) => return Ok(cuil_taken()),
                Err(e) => return Err(e),
            },
            Some(e) => {
                let plan = plan(&e, p);
                if plan.changed.is_empty() {
                    return Ok(Outcome::Unchanged(e.id));
                }
                match apply_update(&mut tx, &e, p, &plan).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(err) if is_unique_violation(&err) => return Ok(cuil_taken()),
                    Err(err) => return Err(err),
                }
                record(&mut tx, "persona.actualizada", e.id, &plan.changed).await?;
                Outcome::Updated(e.id, plan.changed)
            }
        };
        tx.commit().await?;
        return Ok(outcome);
    }
    Err(sqlx::Error::Protocol(
        "la persona cambió tres veces mientras se actualizaba".into(),
    ))
}

async fn insert_one(tx: &mut Tx, p: &SipePerson) -> Result<Option<i64>, sqlx::Error> {
    let t = now();
    with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO persons (dni, cuil, first_name, last_name, birth_date, email, phone, department_id,
                              locality_id, search_name, created_at, sipe_updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (dni) DO NOTHING RETURNING id"
    )
    .bind(p.dni.as_str())
    .bind(p.cuil.as_str())
    .bind(p.first_name.as_str())
    .bind(p.last_name.as_str())
    .bind(p.birth_date)
    .bind(p.email.as_ref().map(|e| e.as_str()))
    .bind(p.phone.as_ref().map(|e| e.as_str()))
    .bind(p.department_id)
    .bind(p.locality_id)
    .bind(p.search_name())
    .bind(t)
    .fetch_optional(c)
    .await
    })
}

/// Rows per multi-row statement: 12 parameters each stays far under both backends' limits
/// (SQLite 32,766; PostgreSQL 65,535).
const CHUNK: usize = 500;

/// `$1, $2, ...` groups for `rows` rows of `cols` columns.
fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let inner = (1..=cols)
                .map(|c| format!("${}", r * cols + c))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({inner})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates or updates a batch of people: duplicates within the batch are refused, the stored
/// rows are read in a few multi-row queries, new people go in with multi-row inserts and the
/// whole batch (rows and events) commits in one transaction. If that transaction meets a
/// concurrent change (a unique violation, a row that changed), it is undone and each person
/// is applied on its own instead, so the answer is always per person.
pub async fn upsert_batch(db: &Db, people: &[SipePerson]) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; people.len()];
    // Duplicates within the batch: the first one counts.
    let mut seen_dni: HashMap<&str, usize> = HashMap::new();
    let mut seen_cuil: HashMap<&str, usize> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        if let Some(first) = seen_dni.get(p.dni.as_str()) {
            outcomes[i] = Some(Outcome::Refused(format!(
                "El DNI ya vino antes en este lote (elemento {}).",
                first + 1
            )));
        } else if let Some(first) = seen_cuil.get(p.cuil.as_str()) {
            outcomes[i] = Some(Outcome::Refused(format!(
                "El CUIL ya vino antes en este lote (elemento {}).",
                first + 1
            )));
        } else {
            seen_dni.insert(p.dni.as_str(), i);
            seen_cuil.insert(p.cuil.as_str(), i);
        }
    }
    let todo: Vec<usize> = (0..people.len())
        .filter(|i| outcomes[*i].is_none())
        .collect();
    // What is stored for these DNIs, and who holds these CUILs.
    let mut existing: HashMap<String, Existing> = HashMap::new();
    let mut cuil_owner: HashMap<String, String> = HashMap::new();
    for chunk in todo.chunks(CHUNK) {
        let marks = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {EXISTING_COLUMNS} FROM persons WHERE dni IN ({marks})");
        let rows: Vec<Existing> = with_db!(db, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for i in chunk {
                q = q.bind(people[*i].dni.as_str());
            }
            q.fetch_all(pool).await
        })?;
        existing.extend(rows.into_iter().map(|r| (r.dni.clone(), r)));
        let sql = format!("SELECT cuil, dni FROM persons WHERE cuil IN ({marks})");
        let rows: Vec<(String, String)> = with_db!(db, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for i in chunk {
                q = q.bind(people[*i].cuil.as_str());
            }
            q.fetch_all(pool).await
        })?;
        cuil_owner.extend(rows);
    }
    let mut inserts: Vec<usize> = vec![];
    let mut updates: Vec<(usize, Plan)> = vec![];
    for &i in &todo {
        let p = &people[i];
        if cuil_owner
            .get(p.cuil.as_str())
            .is_some_and(|d| d != p.dni.as_str())
        {
            outcomes[i] = Some(cuil_taken());
            continue;
        }
        match existing.get(p.dni.as_str()) {
            None => inserts.push(i),
            Some(e) => {
                let plan = plan(e, p);
                if plan.changed.is_empty() {
                    outcomes[i] = Some(Outcome::Unchanged(e.id));
                } else {
                    updates.push((i, plan));
                }
            }
        }
    }
    match write_batch(db, people, &inserts, &updates, &existing).await {
        Ok(done) => {
            for (i, o) in done {
                outcomes[i] = Some(o);
            }
        }
        Err(e) if is_unique_violation(&e) || matches!(e, sqlx::Error::RowNotFound) => {
            tracing::info!(error = %e, "lote de SIPE con un cambio concurrente: se aplica persona por persona");
            for &i in inserts.iter().chain(updates.iter().map(|(i, _)| i)) {
                outcomes[i] = Some(upsert_one(db, &people[i]).await?);
            }
        }
        Err(e) => return Err(e),
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Refused("sin procesar".into())))
        .collect())
}

/// The batch's writes in one transaction; `RowNotFound` when a row was not as read.
async fn write_batch(
    db: &Db,
    people: &[SipePerson],
    inserts: &[usize],
    updates: &[(usize, Plan)],
    existing: &HashMap<String, Existing>,
) -> Result<Vec<(usize, Outcome)>, sqlx::Error> {
    let mut done = Vec::with_capacity(inserts.len() + updates.len());
    let mut tx = db.begin().await?;
    let t = now();
    for chunk in inserts.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO persons (dni, cuil, first_name, last_name, birth_date, email, phone, department_id,
                                  locality_id, search_name, created_at, sipe_updated_at)
             VALUES {} ON CONFLICT (dni) DO NOTHING RETURNING id, dni",
            placeholders(chunk.len(), 12)
        );
        let rows: Vec<(i64, String)> = with_tx!(&mut tx, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for i in chunk {
                let p = &people[*i];
                q = q
                    .bind(p.dni.as_str())
                    .bind(p.cuil.as_str())
                    .bind(p.first_name.as_str())
                    .bind(p.last_name.as_str())
                    .bind(p.birth_date)
                    .bind(p.email.as_ref().map(|e| e.as_str()))
                    .bind(p.phone.as_ref().map(|e| e.as_str()))
                    .bind(p.department_id)
                    .bind(p.locality_id)
                    .bind(p.search_name())
                    .bind(t)
                    .bind(t);
            }
            q.fetch_all(c).await
        })?;
        if rows.len() != chunk.len() {
            // Someone registered one of these DNIs since we read.
            return Err(sqlx::Error::RowNotFound);
        }
        let ids: HashMap<String, i64> = rows.into_iter().map(|(id, dni)| (dni, id)).collect();
        let mut created = Vec::with_capacity(chunk.len());
        for i in chunk {
            let id = *ids
                .get(people[*i].dni.as_str())
                .ok_or(sqlx::Error::RowNotFound)?;
            created.push(id);
            done.push((*i, Outcome::Created(id)));
        }
        let changes: Vec<(&str, i64, &[&'static str])> = created
            .iter()
            .map(|id| ("persona.registrada", *id, &[][..]))
            .collect();
        record_all(&mut tx, &changes).await?;
    }
    let mut changes: Vec<(&str, i64, &[&'static str])> = Vec::with_capacity(updates.len());
    for (i, plan) in updates {
        let p = &people[*i];
        let e = existing
            .get(p.dni.as_str())
            .ok_or(sqlx::Error::RowNotFound)?;
        // One UPDATE per changed person (each with its own precondition); their events go in
        // together below.
        if !apply_update(&mut tx, e, p, plan).await? {
            return Err(sqlx::Error::RowNotFound);
        }
        changes.push(("persona.actualizada", e.id, &plan.changed[..]));
        done.push((*i, Outcome::Updated(e.id, plan.changed.clone())));
    }
    record_all(&mut tx, &changes).await?;
    tx.commit().await?;
    Ok(done)
}
