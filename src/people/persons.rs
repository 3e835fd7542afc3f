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

/// At most this many matches are counted (ten pages): past it the page says «más de 200» and
/// asks for a narrower search, so a common surname never makes the server count a whole
/// province.
pub const SEARCH_COUNT_CAP: i64 = 200;

/// On SQLite a name found in fewer than this many people (by the trigram index) is listed
/// from those candidates; a more common one walks the territory in name order instead.
const FEW_CANDIDATES: usize = 2000;

/// One page of a search and how many matched.
pub struct Found {
    pub people: Vec<Person>,
    /// Matches counted, at most [`SEARCH_COUNT_CAP`].
    pub total: i64,
    /// More than [`SEARCH_COUNT_CAP`] matched: the page asks for a narrower search.
    pub more: bool,
}

impl Found {
    /// Pages of `per_page` the counted matches fill (at least one).
    pub fn pages(&self, per_page: i64) -> i64 {
        ((self.total + per_page - 1) / per_page).max(1)
    }
}

/// The departments the offices of operator `user_id` serve: their territory.
pub async fn operator_departments(db: &Db, user_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_scalar(
        "SELECT od.department_id FROM office_departments od JOIN role_grants g ON g.office_id = od.office_id
         WHERE g.user_id = $1 AND g.role = 'operator'"
    )
    .bind(user_id)
    .fetch_all(p)
    .await
    })
}

/// People of the operator's territory matching `query` (DNI prefix or name), paginated.
pub async fn search_in_territory(
    db: &Db,
    operator_user_id: i64,
    query: &str,
    page: i64,
    per_page: i64,
) -> Result<Found, sqlx::Error> {
    let departments = operator_departments(db, operator_user_id).await?;
    if departments.is_empty() {
        return Ok(Found {
            people: vec![],
            total: 0,
            more: false,
        });
    }
    search(db, Some(&departments), query, page, per_page).await
}

/// Everyone matching `query` (DNI prefix or name), paginated: the administrator's search.
pub async fn search_all(
    db: &Db,
    query: &str,
    page: i64,
    per_page: i64,
) -> Result<Found, sqlx::Error> {
    search(db, None, query, page, per_page).await
}

/// What a search query asks for.
#[derive(Debug, PartialEq)]
enum Wanted {
    /// Nothing typed: everyone in scope, by name.
    Everyone,
    /// Digits (dots and spaces allowed): DNIs from `from` (inclusive) to `to` (exclusive, none
    /// when the prefix is all nines), which is the prefix as one range of the DNI index. With
    /// `name`, a name typed with at least four digits of the DNI («lucía 30123»): the range,
    /// and within it the people whose "apellido nombre" holds `name`.
    Dni {
        from: String,
        to: Option<String>,
        name: Option<String>,
    },
    /// Anything else: a piece of "apellido nombre dni", folded (`%` and `_` cannot occur in
    /// it: names hold letters, spaces, `'`, `-` and `.`).
    Name(String),
    /// Text that no person's name can hold (`%`, `_`, `\`): nothing matches.
    Nothing,
}

/// A DNI prefix as a range: "30129" → ["30129", "3013"), dropping trailing nines and bumping
/// the last digit; no end when the prefix is all nines.
fn dni_range(digits: &str) -> (String, Option<String>) {
    let kept = digits.trim_end_matches('9');
    let to = kept.chars().last().map(|last| {
        let mut to = kept[..kept.len() - 1].to_string();
        to.push(char::from(last as u8 + 1));
        to
    });
    (digits.to_string(), to)
}

impl Wanted {
    fn of(query: &str) -> Wanted {
        let q = fold(&crate::web::text::search_input(query));
        let digits: String = q.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
        let is_dni = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
        if q.is_empty() {
            Wanted::Everyone
        } else if is_dni(&digits) {
            let (from, to) = dni_range(&digits);
            Wanted::Dni {
                from,
                to,
                name: None,
            }
        } else if q.contains(['%', '_', '\\']) {
            Wanted::Nothing
        } else {
            let words: Vec<String> = q.split_whitespace().map(|w| w.replace('.', "")).collect();
            match words.iter().position(|w| is_dni(w) && w.len() >= 4) {
                Some(i) => {
                    let (from, to) = dni_range(&words[i]);
                    let name = q
                        .split_whitespace()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, w)| w)
                        .collect::<Vec<_>>()
                        .join(" ");
                    Wanted::Dni {
                        from,
                        to,
                        name: Some(name),
                    }
                }
                None => Wanted::Name(q),
            }
        }
    }
}

/// The search behind both: `departments` scopes it to an operator's territory (and to people
/// of a territory, not staff accounts), `None` to no one.
///
/// Each shape of query is written so that one index serves it whatever the planner knows
/// (SQLite has no statistics unless someone runs `ANALYZE`), measured at 350,000 people in
/// BENCHMARKS.md: a DNI prefix (alone or with a name) is a range of the DNI index, read in
/// DNI order; a name walks
/// `persons_department_name_idx` (or `persons_name_idx` for everyone) in name order and stops
/// after the page, and the count stops at [`SEARCH_COUNT_CAP`]. A name few people carry would
/// make that walk read the whole territory: PostgreSQL's planner takes the trigram index
/// (`persons_search_trgm_idx`) then, and on SQLite the trigram table `persons_fts` lists the
/// candidates first. A unary `+` keeps a department list from being taken as the index to use.
async fn search(
    db: &Db,
    departments: Option<&[i64]>,
    query: &str,
    page: i64,
    per_page: i64,
) -> Result<Found, sqlx::Error> {
    let wanted = Wanted::of(query);
    if wanted == Wanted::Nothing {
        return Ok(Found {
            people: vec![],
            total: 0,
            more: false,
        });
    }
    let offset = (page.max(1) - 1) * per_page;
    if let (Wanted::Name(name), Db::Sqlite(pool)) = (&wanted, db)
        && name.chars().count() >= 3
        && let Some(found) = search_few_names(pool, departments, name, offset, per_page).await?
    {
        return Ok(found);
    }
    // `$1..$n` are the departments; the match's values follow.
    let scope = |by_index: bool| match departments {
        Some(ids) => format!(
            "NOT p.staff_only AND {}p.department_id IN ({}) AND ",
            if by_index { "" } else { "+" },
            (1..=ids.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => String::new(),
    };
    let n = departments.map_or(0, <[i64]>::len);
    let (filter, order, values) = match &wanted {
        Wanted::Everyone => (
            format!("{}TRUE", scope(true)),
            "p.last_name, p.first_name, p.id",
            vec![],
        ),
        Wanted::Dni { from, to, name } => {
            let mut filter = format!("{}p.dni >= ${}", scope(false), n + 1);
            let mut values = vec![from.clone()];
            if let Some(to) = to {
                values.push(to.clone());
                filter += &format!(" AND p.dni < ${}", n + values.len());
            }
            if let Some(name) = name {
                values.push(format!("%{name}%"));
                filter += &format!(" AND p.search_name LIKE ${}", n + values.len());
            }
            (filter, "p.dni", values)
        }
        Wanted::Name(name) => (
            format!("{}p.search_name LIKE ${}", scope(true), n + 1),
            "p.last_name, p.first_name, p.id",
            vec![format!("%{name}%")],
        ),
        Wanted::Nothing => unreachable!("answered above"),
    };
    let (limit, off) = (values.len() + n + 1, values.len() + n + 2);
    let list_sql = format!(
        "WITH hits AS (SELECT p.id FROM persons p WHERE {filter} ORDER BY {order} LIMIT ${limit} OFFSET ${off})
         {PERSON_SELECT} JOIN hits h ON h.id = p.id ORDER BY {order}"
    );
    let count_sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM persons p WHERE {filter} LIMIT {}) c",
        SEARCH_COUNT_CAP + 1
    );
    let no_departments: &[i64] = &[];
    let ids = departments.unwrap_or(no_departments);
    // The page and the count are independent reads: both at once, on two connections.
    let list = async {
        with_db!(db, |p| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(list_sql.clone()));
            for id in ids {
                q = q.bind(*id);
            }
            for v in &values {
                q = q.bind(v);
            }
            q.bind(per_page).bind(offset).fetch_all(p).await
        })
    };
    let count = async {
        with_db!(db, |p| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone()));
            for id in ids {
                q = q.bind(*id);
            }
            for v in &values {
                q = q.bind(v);
            }
            q.fetch_one(p).await
        })
    };
    let (people, counted): (Vec<Person>, i64) = tokio::try_join!(list, count)?;
    Ok(Found {
        people,
        total: counted.min(SEARCH_COUNT_CAP),
        more: counted > SEARCH_COUNT_CAP,
    })
}

/// SQLite: a name that fewer than [`FEW_CANDIDATES`] people carry, listed from the trigram
/// table's candidates (then scoped, sorted and counted exactly); `None` when the name is
/// common, for the walk in name order.
async fn search_few_names(
    pool: &sqlx::SqlitePool,
    departments: Option<&[i64]>,
    name: &str,
    offset: i64,
    per_page: i64,
) -> Result<Option<Found>, sqlx::Error> {
    // No ESCAPE: it would keep FTS5 from using the trigram index (the name holds no wildcard).
    let pattern = format!("%{name}%");
    let candidates: Vec<i64> =
        sqlx::query_scalar("SELECT rowid FROM persons_fts WHERE search_name LIKE $1 LIMIT $2")
            .bind(&pattern)
            .bind(FEW_CANDIDATES as i64 + 1)
            .fetch_all(pool)
            .await?;
    if candidates.len() > FEW_CANDIDATES {
        return Ok(None);
    }
    let candidates = serde_json::to_string(&candidates).unwrap_or_else(|_| "[]".into());
    // `+`: the candidates' ids are the way in, not the department index.
    let scope = if departments.is_some() {
        "NOT p.staff_only AND +p.department_id IN (SELECT value FROM json_each($3)) AND"
    } else {
        ""
    };
    let sql = format!(
        "SELECT p.id FROM persons p
          WHERE {scope} p.id IN (SELECT value FROM json_each($1)) AND p.search_name LIKE $2
          ORDER BY p.last_name, p.first_name, p.id"
    );
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&candidates)
        .bind(&pattern);
    if let Some(ids) = departments {
        q = q.bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()));
    }
    let matching: Vec<i64> = q.fetch_all(pool).await?;
    let total = matching.len() as i64;
    let page: Vec<i64> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(0))
        .collect();
    let people = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PERSON_SELECT} WHERE p.id IN (SELECT value FROM json_each($1))
          ORDER BY p.last_name, p.first_name, p.id"
    )))
    .bind(serde_json::to_string(&page).unwrap_or_else(|_| "[]".into()))
    .fetch_all(pool)
    .await?;
    Ok(Some(Found {
        people,
        total: total.min(SEARCH_COUNT_CAP),
        more: total > SEARCH_COUNT_CAP,
    }))
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

#[cfg(test)]
mod tests {
    use super::Wanted;

    #[test]
    fn a_query_is_a_dni_range_a_name_or_nothing() {
        let dni = |from: &str, to: Option<&str>| Wanted::Dni {
            from: from.into(),
            to: to.map(Into::into),
            name: None,
        };
        assert_eq!(Wanted::of("  "), Wanted::Everyone);
        assert_eq!(Wanted::of("30.123"), dni("30123", Some("30124")));
        assert_eq!(Wanted::of("30129"), dni("30129", Some("3013")));
        assert_eq!(Wanted::of("3999"), dni("3999", Some("4")));
        assert_eq!(Wanted::of("99"), dni("99", None));
        assert_eq!(Wanted::of("PÉREZ"), Wanted::Name("perez".into()));
        assert_eq!(Wanted::of("ana 301"), Wanted::Name("ana 301".into()));
        assert_eq!(
            Wanted::of("Lucía  30.123"),
            Wanted::Dni {
                from: "30123".into(),
                to: Some("30124".into()),
                name: Some("lucia".into())
            }
        );
        assert_eq!(
            Wanted::of("perez ana 3999"),
            Wanted::Dni {
                from: "3999".into(),
                to: Some("4".into()),
                name: Some("perez ana".into())
            }
        );
        assert_eq!(Wanted::of("50%"), Wanted::Nothing);
        assert_eq!(Wanted::of("a_b"), Wanted::Nothing);
    }
}
