//! Attendance from real presence: the signalling server records when each person's connection
//! joins and leaves (a dropped connection leaves too), and minutes are the union of those
//! intervals, so two tabs never count twice. Instructors may correct a learner's minutes with
//! a reason; every correction is kept and the latest one counts.

use chrono::{DateTime, Utc};

use crate::{db::Db, web::time::now, with_db};

/// Records a connection joining; returns the presence row id to close on leave.
pub async fn joined(db: &Db, session_id: i64, person_id: i64) -> Result<i64, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO live_presence (session_id, person_id, joined_at) VALUES ($1, $2, $3) RETURNING id"
    )
    .bind(session_id)
    .bind(person_id)
    .bind(now())
    .fetch_one(p)
    .await
    })
}

/// Records that connection leaving at `at` (idempotent): now, or its last sign of life when
/// it went silent (never before it joined).
pub async fn left(db: &Db, presence_id: i64, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE live_presence SET left_at = CASE WHEN $2 < joined_at THEN joined_at ELSE $2 END
         WHERE id = $1 AND left_at IS NULL"
    )
    .bind(presence_id)
    .bind(at)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// How often an open connection records that it is alive.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);
/// An open interval not refreshed for this long belongs to a connection (or a process) that
/// died without saying so: the sweep closes it at its last sign of life.
pub const STALE_AFTER_SECONDS: i64 = 120;

/// Records the last sign of life (`at`) of the connection of a presence interval.
pub async fn seen(db: &Db, presence_id: i64, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE live_presence SET seen_at = $2 WHERE id = $1 AND left_at IS NULL"
    )
    .bind(presence_id)
    .bind(at)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Closes open intervals whose last sign of life (heartbeat, or joining) is older than
/// [`STALE_AFTER_SECONDS`] at `at`, ending them at that last sign of life. Returns how many.
pub async fn close_stale(db: &Db, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let before = at - chrono::Duration::seconds(STALE_AFTER_SECONDS);
    with_db!(db, |p| sqlx::query(
        "UPDATE live_presence SET left_at = COALESCE(seen_at, joined_at)
         WHERE left_at IS NULL AND COALESCE(seen_at, joined_at) < $1"
    )
    .bind(before)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
}

/// Sweeps stale presence every minute until the process ends (the first sweep at start
/// closes what a crashed process left open). Safe with several processes: live connections
/// refresh their intervals every [`HEARTBEAT`].
pub async fn sweep(db: Db) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match close_stale(&db, now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cerradas = n, "presencias sin señal de vida cerradas"),
            Err(e) => tracing::warn!(error = %e, "no se pudieron cerrar presencias viejas"),
        }
    }
}

/// Minutes covered by a set of intervals, overlaps counted once; open intervals end at `until`.
pub fn union_minutes(
    mut spans: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    until: DateTime<Utc>,
) -> i64 {
    spans.sort_by_key(|s| s.0);
    let mut total = chrono::Duration::zero();
    let mut cur: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (a, b) in spans {
        let b = b.unwrap_or(until).max(a);
        cur = match cur {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                total += e - s;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((s, e)) = cur {
        total += e - s;
    }
    // Rounded to the nearest minute: 29 s is not a minute of class, 31 s nearly is.
    (total.num_seconds() + 30) / 60
}

/// One learner's line on the attendance sheet.
#[derive(Clone, Debug)]
pub struct SheetRow {
    pub person_id: i64,
    pub dni: String,
    pub last_name: String,
    pub first_name: String,
    /// Minutes measured from presence.
    pub measured: i64,
    /// Whether they connected at all, and whether they are in the room now: a few seconds
    /// round to 0 minutes, and the instructor still wants to tell them from an absence.
    pub presence: Presence,
    /// The latest correction, if any: minutes and reason.
    pub corrected: Option<(i64, String)>,
    /// Session length, for the percentage.
    pub session_minutes: i64,
}

/// A learner's presence in one session, as the sheet shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Absent,
    WasThere,
    InRoom,
}

impl Presence {
    pub fn label(self) -> &'static str {
        match self {
            Presence::Absent => "No se conectó",
            Presence::WasThere => "Se conectó",
            Presence::InRoom => "En la sala",
        }
    }
}

impl SheetRow {
    /// The minutes that count: the correction if there is one, else the measured ones.
    pub fn minutes(&self) -> i64 {
        self.corrected
            .as_ref()
            .map(|c| c.0)
            .unwrap_or(self.measured)
    }
    /// Share of the session attended, capped at 100.
    pub fn percent(&self) -> i64 {
        if self.session_minutes <= 0 {
            return 0;
        }
        (self.minutes() * 100 / self.session_minutes).min(100)
    }
}

#[derive(sqlx::FromRow)]
struct SpanRow {
    person_id: i64,
    joined_at: DateTime<Utc>,
    left_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct CorrectionRow {
    person_id: i64,
    minutes: i64,
    reason: String,
}

/// The attendance sheet: every enrolled learner of the class (present or not).
pub async fn sheet(
    db: &Db,
    session_id: i64,
    class_id: i64,
    session_minutes: i64,
    ended_at: Option<DateTime<Utc>>,
) -> Result<Vec<SheetRow>, sqlx::Error> {
    let learners = crate::enrolment::queries::class_learners(db, class_id).await?;
    let spans: Vec<SpanRow> = with_db!(db, |p| sqlx::query_as(
        "SELECT person_id, joined_at, left_at FROM live_presence WHERE session_id = $1"
    )
    .bind(session_id)
    .fetch_all(p)
    .await)?;
    let corrections: Vec<CorrectionRow> = with_db!(db, |p| sqlx::query_as(
        "SELECT person_id, minutes, reason FROM live_attendance_corrections
         WHERE session_id = $1 ORDER BY id"
    )
    .bind(session_id)
    .fetch_all(p)
    .await)?;
    let until = ended_at.unwrap_or_else(now);
    Ok(learners
        .into_iter()
        .map(|l| {
            let mine: Vec<_> = spans
                .iter()
                .filter(|s| s.person_id == l.person_id)
                .map(|s| (s.joined_at, s.left_at))
                .collect();
            let presence = if mine.is_empty() {
                Presence::Absent
            } else if ended_at.is_none() && mine.iter().any(|(_, left)| left.is_none()) {
                Presence::InRoom
            } else {
                Presence::WasThere
            };
            let corrected = corrections
                .iter()
                .rev()
                .find(|c| c.person_id == l.person_id)
                .map(|c| (c.minutes, c.reason.clone()));
            SheetRow {
                measured: union_minutes(mine, until),
                presence,
                person_id: l.person_id,
                dni: l.dni,
                last_name: l.last_name,
                first_name: l.first_name,
                corrected,
                session_minutes,
            }
        })
        .collect())
}

/// Stores a correction (kept with its reason and author).
pub async fn correct(
    db: &Db,
    session_id: i64,
    person_id: i64,
    minutes: i64,
    reason: &str,
    by_user: i64,
) -> Result<(), sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query(
        "INSERT INTO live_attendance_corrections (session_id, person_id, minutes, reason, corrected_by, corrected_at)
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(session_id)
    .bind(person_id)
    .bind(minutes)
    .bind(reason)
    .bind(by_user)
    .bind(now())
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    #[test]
    fn overlapping_connections_count_once_and_open_ones_run_until_the_end() {
        let spans = vec![
            (t(0), Some(t(30))),
            (t(10), Some(t(20))), // second tab, inside the first
            (t(25), Some(t(40))), // reconnect overlapping the end of the first
            (t(50), None),        // still connected
        ];
        assert_eq!(union_minutes(spans, t(60)), 40 + 10);
        assert_eq!(union_minutes(vec![], t(60)), 0);
    }
}
