//! An attempt's frozen questions as autosave needs them (each slot's page, shape and option
//! order), read once per attempt and kept in memory: they never change once drawn, so every
//! process may keep its own copy without ever showing anything stale.

use std::sync::Arc;

use quick_cache::sync::Cache;

use crate::{
    assessment::{draw::Shape, question::Question},
    db::Db,
    with_db,
};

/// One slot of an attempt, as reading a response needs it.
#[derive(Clone, Debug)]
pub struct FrozenSlot {
    pub slot: i64,
    pub page: i64,
    pub shape: Shape,
    /// Display position → the question's own index (options, rows or items).
    pub order: Box<[usize]>,
}

/// The attempts' slots this process has read, by attempt id (one per database: the
/// application holds it). About 1 KB an attempt: 20,000 attempts (an exam day and then some)
/// in ~20 MB.
#[derive(Clone)]
pub struct Frozen(Arc<Cache<i64, Arc<[FrozenSlot]>>>);

impl Default for Frozen {
    fn default() -> Frozen {
        Frozen(Arc::new(Cache::new(20_000)))
    }
}

impl Frozen {
    /// The attempt's slots in order; empty for an attempt that does not exist. Not a
    /// permission: whoever asks must still prove the attempt is theirs when writing.
    pub async fn slots(&self, db: &Db, attempt_id: i64) -> Result<Arc<[FrozenSlot]>, sqlx::Error> {
        if let Some(hit) = self.0.get(&attempt_id) {
            return Ok(hit);
        }
        let slots = load(db, attempt_id).await?;
        // An attempt always has slots; an empty answer is not worth remembering (it may be an
        // attempt being created right now).
        if !slots.is_empty() {
            self.0.insert(attempt_id, slots.clone());
        }
        Ok(slots)
    }
}

async fn load(db: &Db, attempt_id: i64) -> Result<Arc<[FrozenSlot]>, sqlx::Error> {
    let rows: Vec<(i64, i64, String, String)> = with_db!(db, |p| sqlx::query_as(
        "SELECT slot, page, question, option_order FROM attempt_answers
         WHERE attempt_id = $1 ORDER BY slot"
    )
    .bind(attempt_id)
    .fetch_all(p)
    .await)?;
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let slots: Arc<[FrozenSlot]> = rows
        .into_iter()
        .map(|(slot, page, question, order)| {
            let q: Question = serde_json::from_str(&question).map_err(decode)?;
            let order: Vec<usize> = serde_json::from_str(&order).map_err(decode)?;
            Ok(FrozenSlot {
                slot,
                page,
                shape: Shape::of(&q.kind),
                order: order.into_boxed_slice(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(slots)
}
