//! The Persona: unique by DNI, optionally with an account. Queries that return people are
//! scoped in SQL to the territory of the asking operator.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::{
    db::{Db, Tx, is_constraint},
    people::{
        domain::{Cuil, Dni, Email, PersonName, Phone, parse_birth_date},
        territory,
    },
    web::{
        forms::FieldErrors,
        outbox::{self, Event},
        text::fold,
        time::now,
    },
    with_db, with_tx,
};

/// The raw person fields of a form, kept to re-render it with the user's input.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PersonInput {
    pub dni: String,
    pub cuil: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: String,
    pub email: String,
    pub phone: String,
    pub department_id: String,
    pub locality_id: String,
}

/// A validated new person.
#[derive(Clone, Debug)]
pub struct NewPerson {
    pub dni: Dni,
    pub cuil: Cuil,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub birth_date: NaiveDate,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub department_id: i64,
    pub locality_id: Option<i64>,
}

impl PersonInput {
    /// Validates every field, collecting all errors at once.
    pub async fn parse(
        &self,
        db: &Db,
        errors: &mut FieldErrors,
    ) -> Result<Option<NewPerson>, sqlx::Error> {
        let dni = errors.check("dni", Dni::parse(&self.dni));
        let cuil = errors.check("cuil", Cuil::parse(&self.cuil));
        if let (Some(d), Some(c)) = (&dni, &cuil)
            && !c.matches_dni(d)
        {
            errors.add(
                "cuil",
                "El CUIL no corresponde al DNI ingresado: revisá los 8 números del medio.",
            );
        }
        let first_name = errors.check("first_name", PersonName::parse(&self.first_name, "nombre"));
        let last_name = errors.check("last_name", PersonName::parse(&self.last_name, "apellido"));
        let birth_date = errors.check(
            "birth_date",
            parse_birth_date(&self.birth_date, now().date_naive()),
        );
        let email = if self.email.trim().is_empty() {
            None
        } else {
            errors.check("email", Email::parse(&self.email))
        };
        let phone = if self.phone.trim().is_empty() {
            None
        } else {
            errors.check("phone", Phone::parse(&self.phone))
        };
        if self.email.trim().is_empty() && self.phone.trim().is_empty() {
            errors.add(
                "email",
                "Dejá un email o un celular para poder contactarte.",
            );
        }
        let department_id = self.department_id.parse::<i64>().ok();
        let mut department_ok = false;
        if let Some(d) = department_id {
            department_ok = territory::departments(db).await?.iter().any(|x| x.id == d);
        }
        if !department_ok {
            errors.add("department_id", "Elegí el departamento donde vivís.");
        }
        let locality_id = match self.locality_id.trim() {
            "" => None,
            l => match (l.parse::<i64>(), department_id) {
                (Ok(l), Some(d))
                    if department_ok && territory::locality_in_department(db, l, d).await? =>
                {
                    Some(l)
                }
                _ => {
                    errors.add(
                        "locality_id",
                        "La localidad elegida no es de ese departamento.",
                    );
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Ok(None);
        }
        match (dni, cuil, first_name, last_name, birth_date, department_id) {
            (
                Some(dni),
                Some(cuil),
                Some(first_name),
                Some(last_name),
                Some(birth_date),
                Some(department_id),
            ) => Ok(Some(NewPerson {
                dni,
                cuil,
                first_name,
                last_name,
                birth_date,
                email,
                phone,
                department_id,
                locality_id,
            })),
            _ => Ok(None),
        }
    }
}

/// Turns a unique violation on persons/users into the message at the right field.
pub fn unique_error(err: &sqlx::Error, errors: &mut FieldErrors) -> bool {
    if is_constraint(err, "persons_dni_key") || is_constraint(err, "persons.dni") {
        errors.add("dni", "Ya hay una persona registrada con este DNI.");
    } else if is_constraint(err, "persons_cuil_key") || is_constraint(err, "persons.cuil") {
        errors.add("cuil", "Ya hay una persona registrada con este CUIL.");
    } else if is_constraint(err, "users_email_key") || is_constraint(err, "users.email") {
        errors.add(
            "email",
            "Ya hay una cuenta con este email. Ingresá o recuperá tu contraseña.",
        );
    } else {
        return false;
    }
    true
}

/// Inserts a person in `tx` (the caller's registration, with whatever else it writes) and
/// returns its id; `by` is the operator who registered them, if any (without one, the person
/// typed their contact details themselves: `contact_self_at`, see `people::upsert`).
///
/// Records `persona.registrada` in the same transaction: every path that creates a person
/// (registration, an office, an administrator, demo data) goes through here.
pub async fn insert(tx: &mut Tx, p: &NewPerson, by: Option<i64>) -> Result<i64, sqlx::Error> {
    let id = insert_row(tx, p, by).await?;
    record_event(tx, "persona.registrada", id).await?;
    Ok(id)
}

async fn insert_row(tx: &mut Tx, p: &NewPerson, by: Option<i64>) -> Result<i64, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO persons (dni, cuil, first_name, last_name, birth_date, email, phone, department_id,
                              locality_id, search_name, created_by, created_at, contact_self_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                 CASE WHEN $11 IS NULL THEN $12 END) RETURNING id"
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
    .bind(by)
    .bind(now())
    .fetch_one(c)
    .await
    })
}

impl NewPerson {
    /// The folded "last first dni" text that operator search matches against.
    pub fn search_name(&self) -> String {
        fold(&format!(
            "{} {} {}",
            self.last_name.as_str(),
            self.first_name.as_str(),
            self.dni.as_str()
        ))
    }
}

/// A person as profile pages show them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Person {
    pub id: i64,
    pub dni: String,
    pub cuil: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub department: String,
    pub locality: Option<String>,
    pub has_account: bool,
}

impl Person {
    /// "20-35123456-4".
    pub fn cuil_formatted(&self) -> String {
        if self.cuil.len() == 11 {
            format!(
                "{}-{}-{}",
                &self.cuil[..2],
                &self.cuil[2..10],
                &self.cuil[10..]
            )
        } else {
            self.cuil.clone()
        }
    }
}

/// The email shown is the account's when there is one (the one the person logs in with and
/// last chose); else the one the office registered.
const PERSON_SELECT: &str = "SELECT p.id, p.dni, p.cuil, p.first_name, p.last_name, p.birth_date,
        COALESCE((SELECT u.email FROM users u WHERE u.person_id = p.id), p.email) AS email, p.phone,
        d.name AS department, l.name AS locality,
        (EXISTS (SELECT 1 FROM users u WHERE u.person_id = p.id)) AS has_account
   FROM persons p JOIN departments d ON d.id = p.department_id LEFT JOIN localities l ON l.id = p.locality_id";

/// Territory filter: the person's department is covered by an office the user operates, and
/// they are a person of the territory, not a staff account (administrators, demo instructor).
const IN_TERRITORY: &str = "NOT p.staff_only AND p.department_id IN (SELECT od.department_id FROM office_departments od
        JOIN role_grants g ON g.office_id = od.office_id WHERE g.user_id = $1 AND g.role = 'operator')";

/// One person by id (no scoping: for the person themself).
pub async fn get(db: &Db, id: i64) -> Result<Option<Person>, sqlx::Error> {
    let sql = format!("{PERSON_SELECT} WHERE p.id = $1");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// One person by id, only if within the territory of `operator_user_id`.
pub async fn get_in_territory(
    db: &Db,
    operator_user_id: i64,
    id: i64,
) -> Result<Option<Person>, sqlx::Error> {
    let sql = format!("{PERSON_SELECT} WHERE {IN_TERRITORY} AND p.id = $2");
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(operator_user_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// People of the operator's territory matching `query` (DNI prefix or name), paginated.
pub async fn search_in_territory(
    db: &Db,
    operator_user_id: i64,
    query: &str,
    page: i64,
    per_page: i64,
) -> Result<(Vec<Person>, i64), sqlx::Error> {
    search(db, Some(operator_user_id), query, page, per_page).await
}

/// Everyone matching `query` (DNI prefix or name), paginated: the administrator's search.
pub async fn search_all(
    db: &Db,
    query: &str,
    page: i64,
    per_page: i64,
) -> Result<(Vec<Person>, i64), sqlx::Error> {
    search(db, None, query, page, per_page).await
}

/// The search behind both: `operator_user_id` scopes it to their territory, `None` to no one.
async fn search(
    db: &Db,
    operator_user_id: Option<i64>,
    query: &str,
    page: i64,
    per_page: i64,
) -> Result<(Vec<Person>, i64), sqlx::Error> {
    let q = fold(&crate::web::text::search_input(query));
    // Both patterns escape `%` and `_`: `q=%` must not list the whole territory.
    let dni_prefix = crate::web::text::like_prefix(&q.replace(['.', ' '], ""));
    let name_like = crate::web::text::like_pattern(&q);
    let filter = "($2 = '' OR p.dni LIKE $3 ESCAPE '\\' OR p.search_name LIKE $4 ESCAPE '\\')";
    // `$1` is the operator; for everyone it is bound as NULL, so the scope holds for all rows.
    let scope = if operator_user_id.is_some() {
        IN_TERRITORY
    } else {
        "$1 IS NULL"
    };
    let list_sql = format!(
        "{PERSON_SELECT} WHERE {scope} AND {filter} ORDER BY p.last_name, p.first_name, p.id LIMIT $5 OFFSET $6"
    );
    let count_sql = format!("SELECT COUNT(*) FROM persons p WHERE {scope} AND {filter}");
    let offset = (page.max(1) - 1) * per_page;
    let people = with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(
        list_sql.clone()
    ))
    .bind(operator_user_id)
    .bind(&q)
    .bind(&dni_prefix)
    .bind(&name_like)
    .bind(per_page)
    .bind(offset)
    .fetch_all(p)
    .await)?;
    let total: i64 = with_db!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(
        count_sql.clone()
    ))
    .bind(operator_user_id)
    .bind(&q)
    .bind(&dni_prefix)
    .bind(&name_like)
    .fetch_one(p)
    .await)?;
    Ok((people, total))
}

/// The id and account status of the person with this DNI.
#[derive(sqlx::FromRow)]
pub struct DniMatch {
    pub id: i64,
    pub cuil: String,
    pub birth_date: NaiveDate,
    pub has_account: bool,
}

pub async fn find_by_dni(db: &Db, dni: &Dni) -> Result<Option<DniMatch>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT p.id, p.cuil, p.birth_date, (EXISTS (SELECT 1 FROM users u WHERE u.person_id = p.id)) AS has_account
         FROM persons p WHERE p.dni = $1"
    )
    .bind(dni.as_str())
    .fetch_optional(p)
    .await
    })
}

/// What a change of one's own contact details ended in.
pub enum ContactChange {
    Saved,
    /// Another account already logs in with that email.
    EmailTaken,
}

/// Sets a person's own email and phone: the Persona's contact and the account's login email
/// together, in one transaction (the last change wins, whoever made it).
pub async fn set_contact(
    db: &Db,
    person_id: i64,
    email: Option<&Email>,
    phone: Option<&Phone>,
) -> Result<ContactChange, sqlx::Error> {
    let email = email.map(|e| e.as_str().to_string());
    let phone = phone.map(|p| p.as_str().to_string());
    let res: Result<(), sqlx::Error> = async {
        let mut tx = db.begin().await?;
        // Reset links sent to the old address stop working when the address changes.
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE used_at IS NULL AND user_id IN
                (SELECT id FROM users WHERE person_id = $2 AND COALESCE(email, '') <> COALESCE($3, ''))",
        )
        .bind(now())
        .bind(person_id)
        .bind(&email)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        with_tx!(&mut tx, |c| sqlx::query("UPDATE users SET email = $1 WHERE person_id = $2")
            .bind(&email)
            .bind(person_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        // The person's own change: SIPE's older data no longer overwrites it.
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE persons SET email = $1, phone = $2, contact_self_at = $3 WHERE id = $4"
        )
        .bind(&email)
        .bind(&phone)
        .bind(now())
        .bind(person_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        record_event(&mut tx, "persona.actualizada", person_id).await?;
        tx.commit().await
    }
    .await;
    match res {
        Ok(()) => Ok(ContactChange::Saved),
        Err(e) if is_constraint(&e, "users_email_key") || is_constraint(&e, "users.email") => {
            Ok(ContactChange::EmailTaken)
        }
        Err(e) => Err(e),
    }
}

/// Records `kind` (`persona.registrada` or `persona.actualizada`) for a change Aula's own
/// pages made, with the person as they are now (docs/sipe-eventos.md).
pub async fn record_event(tx: &mut Tx, kind: &str, person_id: i64) -> Result<(), sqlx::Error> {
    let mut data = snapshots(tx, &[person_id])
        .await?
        .remove(&person_id)
        .ok_or(sqlx::Error::RowNotFound)?;
    data["origen"] = "aula".into();
    data["campos"] = serde_json::json!([]);
    outbox::record(
        tx,
        &Event {
            kind,
            person_id: Some(person_id),
            data,
        },
    )
    .await?;
    Ok(())
}

/// The people `ids` as a person event carries them (docs/sipe-eventos.md), read inside `tx` so
/// they are what the change left; at most 500 ids per statement.
pub async fn snapshots(
    tx: &mut Tx,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, serde_json::Value>, sqlx::Error> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("{PERSON_SELECT} WHERE p.id IN ({})", marks.join(", "));
        let rows: Vec<Person> = with_tx!(tx, |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(c).await
        })?;
        let at = now().to_rfc3339();
        for f in rows {
            out.insert(
                f.id,
                serde_json::json!({
                    "dni": f.dni,
                    "cuil": f.cuil,
                    "nombre": f.first_name,
                    "apellido": f.last_name,
                    "fecha_nacimiento": f.birth_date.format("%Y-%m-%d").to_string(),
                    "email": f.email,
                    "celular": f.phone,
                    "departamento": f.department,
                    "localidad": f.locality,
                    "persona_id": f.id,
                    "fecha": at,
                }),
            );
        }
    }
    Ok(out)
}
