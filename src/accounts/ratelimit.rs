//! Fixed-window rate limits kept in the database, so they survive restarts and are shared
//! by every `aula` process. One atomic upsert per attempt: no read-then-write race.

use chrono::Duration;

use crate::{db::Db, web::time::now, with_db};

/// Counts one attempt under `key` and says whether it is still within `max` per `window`.
pub async fn allow(db: &Db, key: &str, max: i64, window: Duration) -> Result<bool, sqlx::Error> {
    let now = now();
    let cutoff = now - window;
    let count: i64 = with_db!(db, |p| {
        sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
               count = CASE WHEN rate_limits.window_start < $3 THEN 1 ELSE rate_limits.count + 1 END,
               window_start = CASE WHEN rate_limits.window_start < $3 THEN $2 ELSE rate_limits.window_start END
             RETURNING count",
        )
        .bind(key)
        .bind(now)
        .bind(cutoff)
        .fetch_one(p)
        .await
    })?;
    Ok(count <= max)
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
