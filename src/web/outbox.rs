//! The outbox: every change that the employment system (SIPE) must know is recorded here in
//! the **same transaction** as the change, so there is no event without the change and no
//! change without its event. The modules that change things (people, enrolment, completion,
//! certification) record; the `feed` module delivers (webhooks) and serves (pull API).
//!
//! An event's `event_id` is chosen here, once, so every delivery and retry of it carries the
//! same id and receivers can deduplicate.

use serde_json::Value;

use crate::{
    db::Tx,
    web::{cookies::random_token, time::now},
    with_tx,
};

/// One change, as its module describes it.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// What happened, e.g. `inscripcion.confirmada` (the feed documents every kind).
    pub kind: &'a str,
    /// The person it is about (its DNI is recorded with it), if any.
    pub person_id: Option<i64>,
    /// The facts, as JSON.
    pub data: Value,
}

/// Records `event` in the change's transaction; returns its stable event id.
pub async fn record(tx: &mut Tx, event: &Event<'_>) -> Result<String, sqlx::Error> {
    let event_id = format!("evt_{}", &random_token()[..26]);
    let payload = event.data.to_string();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO outbox (event_id, kind, person_id, dni, payload, created_at)
         VALUES ($1, $2, $3, (SELECT dni FROM persons WHERE id = $3), $4, $5)"
    )
    .bind(&event_id)
    .bind(event.kind)
    .bind(event.person_id)
    .bind(&payload)
    .bind(now())
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(event_id)
}

/// Records many events in the change's transaction with multi-row inserts (500 a statement),
/// in order: a batch of thousands of changes costs a few statements, not one per event.
pub async fn record_many(tx: &mut Tx, events: &[Event<'_>]) -> Result<Vec<String>, sqlx::Error> {
    let mut ids = Vec::with_capacity(events.len());
    let at = now();
    for chunk in events.chunks(500) {
        let values = (0..chunk.len())
            .map(|r| {
                let b = r * 5;
                format!(
                    "(${}, ${}, ${}, (SELECT dni FROM persons WHERE id = ${}), ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 3,
                    b + 4,
                    b + 5
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO outbox (event_id, kind, person_id, dni, payload, created_at) VALUES {values}"
        );
        let chunk_ids: Vec<String> = chunk
            .iter()
            .map(|_| format!("evt_{}", &random_token()[..26]))
            .collect();
        with_tx!(tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (e, id) in chunk.iter().zip(&chunk_ids) {
                q = q
                    .bind(id)
                    .bind(e.kind)
                    .bind(e.person_id)
                    .bind(e.data.to_string())
                    .bind(at);
            }
            q.execute(c).await.map(|_| ())
        })?;
        ids.extend(chunk_ids);
    }
    Ok(ids)
}
