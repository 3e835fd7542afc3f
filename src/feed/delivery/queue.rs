//! The delivery queue: one `feed_deliveries` row per (event, endpoint). Every state change is
//! one conditional statement, so several processes on one database share the queue safely.

use chrono::{DateTime, Utc};

use crate::{db::Db, web::time::now, with_db};

/// How far back (in outbox ids) each pass looks for events not yet queued. On PostgreSQL an
/// event's id is taken when its transaction writes it, not when it commits, so a slow
/// transaction can commit an id below ones already queued; a full pass also runs at start and
/// every few minutes ([`enqueue_all`]).
const RECENT_WINDOW: i64 = 20_000;

/// Queues the outbox events this endpoint has not seen, among the recent ones.
pub async fn enqueue_recent(db: &Db, endpoint: &str) -> Result<u64, sqlx::Error> {
    enqueue(db, endpoint, true).await
}

/// Queues every outbox event this endpoint has not seen (a full pass).
pub async fn enqueue_all(db: &Db, endpoint: &str) -> Result<u64, sqlx::Error> {
    enqueue(db, endpoint, false).await
}

async fn enqueue(db: &Db, endpoint: &str, recent: bool) -> Result<u64, sqlx::Error> {
    let floor: i64 = if recent {
        with_db!(db, |p| sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MAX(outbox_id) FROM feed_deliveries WHERE endpoint = $1"
        )
        .bind(endpoint)
        .fetch_one(p)
        .await)?
        .unwrap_or(0)
            - RECENT_WINDOW
    } else {
        0
    };
    let (mut floor, mut total) = (floor, 0);
    loop {
        // The 2000 smallest ids not yet queued: once they are, no smaller one is missing, so
        // the next chunk starts above the largest (a full pass reads the outbox once).
        let queued: Vec<i64> = with_db!(db, |p| {
            sqlx::query_scalar(
            "INSERT INTO feed_deliveries (outbox_id, endpoint, person_id, next_attempt_at, created_at)
             SELECT o.id, $1, o.person_id, o.created_at, $2 FROM outbox o
             WHERE o.id > $3 AND NOT EXISTS (
                 SELECT 1 FROM feed_deliveries d WHERE d.endpoint = $1 AND d.outbox_id = o.id)
             ORDER BY o.id LIMIT 2000
             ON CONFLICT (endpoint, outbox_id) DO NOTHING
             RETURNING outbox_id"
        )
        .bind(endpoint)
        .bind(now())
        .bind(floor)
        .fetch_all(p)
        .await
        })?;
        total += queued.len() as u64;
        match queued.iter().max() {
            Some(&max) if queued.len() == 2000 => floor = max,
            _ => return Ok(total),
        }
    }
}

/// A delivery this process holds the lease of, with its event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub attempts: i64,
    /// When this delivery first failed (`None` before any failure): the retries' clock.
    pub first_failed_at: Option<DateTime<Utc>>,
    pub event_id: String,
    pub kind: String,
    pub dni: Option<String>,
    pub payload: String,
    pub occurred_at: DateTime<Utc>,
}

/// Takes up to `limit` due deliveries for `endpoint` with a lease until `lease_until`, in ONE
/// statement: a row is due when it is neither delivered nor dead, its next attempt has come,
/// nobody holds a live lease on it, and no earlier event of the same person to this endpoint
/// is still pending (so each person's events go out one at a time, in order). The outer
/// conditions are checked again against the row as it is when the UPDATE locks it, so two
/// processes racing for a row cannot both get it (PostgreSQL re-evaluates them after the lock
/// wait; SQLite has one writer).
pub async fn claim(
    db: &Db,
    endpoint: &str,
    owner: &str,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let now = now();
    // The candidates are picked once (a materialized CTE: PostgreSQL would otherwise re-run
    // the pick for each row, and on a fresh table's statistics it did, for seconds), and "no
    // earlier pending event of this person" is "this is the person's smallest pending one",
    // which the (endpoint, person_id, outbox_id) index answers with one probe.
    let ids: Vec<i64> = with_db!(db, |p| {
        sqlx::query_scalar(
            "WITH picked AS MATERIALIZED (
             SELECT d.id FROM feed_deliveries d
             WHERE d.endpoint = $4 AND d.delivered_at IS NULL AND d.dead_at IS NULL
               AND d.next_attempt_at <= $3 AND (d.lease_until IS NULL OR d.lease_until < $3)
               AND (d.person_id IS NULL OR d.outbox_id = (
                   SELECT MIN(e.outbox_id) FROM feed_deliveries e
                   WHERE e.endpoint = $4 AND e.person_id = d.person_id
                     AND e.delivered_at IS NULL AND e.dead_at IS NULL))
             ORDER BY d.outbox_id LIMIT $5)
         UPDATE feed_deliveries SET lease_owner = $1, lease_until = $2, attempts = attempts + 1,
                last_attempt_at = $3
         WHERE id IN (SELECT id FROM picked)
           AND delivered_at IS NULL AND dead_at IS NULL
           AND (lease_until IS NULL OR lease_until < $3)
         RETURNING id",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(endpoint)
        .bind(limit)
        .fetch_all(p)
        .await
    })?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    // The claimed rows with their events, in one query.
    let marks = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT d.id, d.attempts, d.first_failed_at, o.event_id, o.kind, o.dni, o.payload,
                o.created_at AS occurred_at
         FROM feed_deliveries d JOIN outbox o ON o.id = d.outbox_id
         WHERE d.id IN ({marks}) ORDER BY d.outbox_id"
    );
    with_db!(db, |p| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await
    })
}

/// The receiver confirmed: delivered for good (whoever holds the lease now).
pub async fn delivered(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE feed_deliveries SET delivered_at = $1, lease_owner = NULL, lease_until = NULL,
                last_error = NULL
         WHERE id = $2 AND delivered_at IS NULL AND dead_at IS NULL"
    )
    .bind(now())
    .bind(id)
    .execute(p)
    .await
    .map(|_| ()))
}

/// The attempt failed: the next one at `next`, or dead-lettered when `dead`. Only while this
/// process still holds the lease (else another process already took the event over).
pub async fn failed(
    db: &Db,
    id: i64,
    owner: &str,
    error: &str,
    next: DateTime<Utc>,
    dead: bool,
) -> Result<(), sqlx::Error> {
    let error: String = error.chars().take(500).collect();
    let now = now();
    with_db!(db, |p| sqlx::query(
        "UPDATE feed_deliveries SET lease_owner = NULL, lease_until = NULL, last_error = $1,
                next_attempt_at = $2, dead_at = $3, first_failed_at = COALESCE(first_failed_at, $6)
         WHERE id = $4 AND lease_owner = $5 AND delivered_at IS NULL"
    )
    .bind(&error)
    .bind(next)
    .bind(dead.then_some(now))
    .bind(id)
    .bind(owner)
    .bind(now)
    .execute(p)
    .await
    .map(|_| ()))
}

/// «Reintentar»: a dead or failing delivery is due again now, with a fresh allowance of
/// retries (counted from now). Returns whether it was there to retry.
pub async fn retry(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let now = now();
    with_db!(db, |p| {
        sqlx::query(
        "UPDATE feed_deliveries SET dead_at = NULL, next_attempt_at = $1, created_at = $1, first_failed_at = NULL
         WHERE id = $2 AND delivered_at IS NULL"
    )
    .bind(now)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected() == 1)
    })
}

/// «Reintentar todos»: every dead letter of every endpoint is due again now.
pub async fn retry_all_dead(db: &Db) -> Result<u64, sqlx::Error> {
    let now = now();
    with_db!(db, |p| {
        sqlx::query(
        "UPDATE feed_deliveries SET dead_at = NULL, next_attempt_at = $1, created_at = $1, first_failed_at = NULL
         WHERE dead_at IS NOT NULL"
    )
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })
}

/// Counts per endpoint for the admin page.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EndpointCounts {
    pub endpoint: String,
    pub pending: i64,
    pub failing: i64,
    pub delivered: i64,
    pub dead: i64,
}

pub async fn counts(db: &Db) -> Result<Vec<EndpointCounts>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT endpoint,
                COALESCE(SUM(CASE WHEN delivered_at IS NULL AND dead_at IS NULL THEN 1 ELSE 0 END), 0) AS pending,
                COALESCE(SUM(CASE WHEN delivered_at IS NULL AND dead_at IS NULL AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0) AS failing,
                COALESCE(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS delivered,
                COALESCE(SUM(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS dead
         FROM feed_deliveries GROUP BY endpoint ORDER BY endpoint"
    )
    .fetch_all(p)
    .await
    })
}

/// A pending or dead delivery, as the admin page lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Problem {
    pub id: i64,
    pub endpoint: String,
    pub event_id: String,
    pub kind: String,
    pub dni: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub dead_at: Option<DateTime<Utc>>,
}

/// Deliveries that failed at least once and are still pending (`dead = false`), or the dead
/// letters (`dead = true`), most recent first.
pub async fn problems(db: &Db, dead: bool, limit: i64) -> Result<Vec<Problem>, sqlx::Error> {
    let filter = if dead {
        "d.dead_at IS NOT NULL"
    } else {
        "d.dead_at IS NULL AND d.delivered_at IS NULL AND d.last_error IS NOT NULL"
    };
    let sql = format!(
        "SELECT d.id, d.endpoint, o.event_id, o.kind, o.dni, d.attempts, d.last_error,
                d.last_attempt_at, d.next_attempt_at, d.dead_at
         FROM feed_deliveries d JOIN outbox o ON o.id = d.outbox_id
         WHERE {filter} ORDER BY d.id DESC LIMIT $1"
    );
    with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(limit)
        .fetch_all(p)
        .await)
}
