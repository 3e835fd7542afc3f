//! The background closer: attempts that pass their deadline are closed and graded by the
//! server even if the learner never comes back.

use std::time::Duration;

use std::sync::Arc;

use crate::{
    assessment::attempts,
    db::Db,
    web::{state::Progress, time::now},
};

/// Sweeps overdue attempts every `every` until the process ends. Several processes may run it
/// at once: closing is a conditional update, so each attempt is closed (and graded) once.
pub async fn run(db: Db, progress: Arc<dyn Progress>, every: Duration, grace: chrono::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match attempts::close_overdue(&db, &*progress, now(), grace).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cerrados = n, "intentos vencidos cerrados y calificados"),
            Err(e) => tracing::warn!(error = %e, "no se pudieron cerrar los intentos vencidos"),
        }
    }
}
