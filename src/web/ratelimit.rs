//! Fixed-window rate limits kept in the database, so they survive restarts and are shared
//! by every `aula` process. One atomic upsert per attempt: no read-then-write race.

use axum::{
    http::{HeaderValue, header},
    response::Response,
};
use chrono::{DateTime, Duration, Utc};

use crate::{db::Db, web::time::now, with_db};

/// One hour: the window of every limit but the login one.
pub const HOUR: Duration = Duration::hours(1);

/// Counts one attempt under `key` and says whether it is still within `max` per `window`.
pub async fn allow(db: &Db, key: &str, max: i64, window: Duration) -> Result<bool, sqlx::Error> {
    Ok(check(db, key, max, window).await?.is_ok())
}

/// Counts one attempt under `key`: `Ok(())` while within `max` per `window`, else `Err` with
/// how long until the window ends (and the attempts are allowed again).
pub async fn check(
    db: &Db,
    key: &str,
    max: i64,
    window: Duration,
) -> Result<Result<(), Duration>, sqlx::Error> {
    let now = now();
    let cutoff = now - window;
    let (count, start): (i64, DateTime<Utc>) = with_db!(db, |p| {
        sqlx::query_as(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
               count = CASE WHEN rate_limits.window_start < $3 THEN 1 ELSE rate_limits.count + 1 END,
               window_start = CASE WHEN rate_limits.window_start < $3 THEN $2 ELSE rate_limits.window_start END
             RETURNING count, window_start",
        )
        .bind(key)
        .bind(now)
        .bind(cutoff)
        .fetch_one(p)
        .await
    })?;
    if count <= max {
        Ok(Ok(()))
    } else {
        Ok(Err((start + window - now).max(Duration::seconds(1))))
    }
}

/// Forgets the attempts under `key` (after a successful login).
pub async fn reset(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "DELETE FROM rate_limits WHERE key = $1"
    )
    .bind(key)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// "en 12 minutos": when the attempts are allowed again, for the 429 messages.
pub fn retry_in(wait: Duration) -> String {
    let minutes = (wait.num_seconds() + 59) / 60;
    match minutes {
        ..=1 => "en 1 minuto".to_string(),
        2..=90 => format!("en {minutes} minutos"),
        _ => format!("en {} horas", (minutes + 59) / 60),
    }
}

/// Adds `Retry-After` (seconds) to a 429 answer.
pub fn with_retry_after(mut resp: Response, wait: Duration) -> Response {
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.num_seconds().max(1)),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_in_rounds_up_to_minutes() {
        assert_eq!(retry_in(Duration::seconds(5)), "en 1 minuto");
        assert_eq!(retry_in(Duration::seconds(61)), "en 2 minutos");
        assert_eq!(retry_in(Duration::minutes(15)), "en 15 minutos");
        assert_eq!(retry_in(Duration::hours(3)), "en 3 horas");
    }
}
