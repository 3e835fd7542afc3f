//! Classes (comisiones) as data: a run of a course with dates, enrolment window, seats,
//! department and certifying institution. The admin's pages for them are among the pages
//! that gather several modules (`pages`).

use axum::{
    extract::{FromRef, FromRequestParts, RawPathParams},
    http::request::Parts,
};
use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    catalog::queries::{self, ClassInfo},
    db::Db,
    web::{auth::User, error::AppError, state::AppState, time::now},
    with_db,
};

/// A validated class.
pub struct ValidClass {
    pub course_id: i64,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub enrol_opens_at: DateTime<Utc>,
    pub enrol_closes_at: DateTime<Utc>,
    pub seats: i64,
    pub department_id: Option<i64>,
    pub institution_id: Option<i64>,
}

/// Binds a class's nine columns, in the order `$1..$9` of the INSERT and the UPDATE below:
/// one list, so the two statements cannot disagree on it.
fn bind_class<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    c: &ValidClass,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(c.course_id)
        .bind(c.name.clone())
        .bind(c.starts_on)
        .bind(c.ends_on)
        .bind(c.enrol_opens_at)
        .bind(c.enrol_closes_at)
        .bind(c.seats)
        .bind(c.department_id)
        .bind(c.institution_id)
}

/// Inserts a class and returns its id.
pub async fn insert(db: &Db, c: &ValidClass) -> Result<i64, sqlx::Error> {
    use sqlx::Row;
    with_db!(db, |p| {
        bind_class(
        sqlx::query(
            "INSERT INTO classes (course_id, name, starts_on, ends_on, enrol_opens_at, enrol_closes_at, seats,
                                  seats_taken, department_id, institution_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10) RETURNING id"
        ),
        c
    )
    .bind(now())
    .fetch_one(p)
    .await?
    .try_get("id")
    })
}

/// Updates a class; returns how many rows changed (0: no such class). Seats below the seats
/// taken are refused by the database (`classes_seats_taken_check`).
pub async fn update(db: &Db, id: i64, c: &ValidClass) -> Result<u64, sqlx::Error> {
    with_db!(db, |p| {
        bind_class(
        sqlx::query(
            "UPDATE classes SET course_id = $1, name = $2, starts_on = $3, ends_on = $4, enrol_opens_at = $5,
                    enrol_closes_at = $6, seats = $7, department_id = $8, institution_id = $9
             WHERE id = $10"
        ),
        c
    )
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })
}

/// The class named by the route's `{id}`, for its instructor or an administrator; anyone else
/// gets 404 (for them the class's instructor pages do not exist). "Instructor of this class
/// (or admin)" is written here once, for every instructor page.
pub struct TaughtClass(pub ClassInfo);

impl<S> FromRequestParts<S> for TaughtClass
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let User(user) = User::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        let class_id: i64 = params
            .iter()
            .find(|(k, _)| *k == "id")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or(AppError::NotFound)?;
        if !user.runs_class(class_id) {
            return Err(AppError::NotFound);
        }
        let db = AppState::from_ref(state).db;
        let class = queries::class(&db, class_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(TaughtClass(class))
    }
}
