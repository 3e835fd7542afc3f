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
