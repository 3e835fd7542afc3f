//! The delivery worker: per endpoint, queue new events, claim due ones with a lease, send them
//! as Standard Webhooks, and record the outcome (delivered, retry later, or dead letter).

use std::{sync::Arc, time::Duration};

use futures_util::{StreamExt, stream};
use rand::Rng;

use super::{
    config::{Endpoint, Settings},
    queue::{self, Claimed},
};
use crate::{
    db::Db,
    web::{cookies::random_token, time::now},
};

/// How often a full pass looks for events a late transaction committed below the window.
const FULL_PASS: Duration = Duration::from_secs(300);

/// Runs the worker of this process until the task is aborted.
pub async fn run(db: Db, settings: Settings) {
    if settings.endpoints.is_empty() {
        return;
    }
    let client = match reqwest012::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest012::redirect::Policy::none())
        .user_agent("Aula-Webhooks/1")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "feed: no se pudo crear el cliente HTTP");
            return;
        }
    };
    // Unique per process: a lease names its holder, so only the holder records a failure.
    let owner = format!("w_{}", &random_token()[..16]);
    let settings = Arc::new(settings);
    let mut handles = Vec::new();
    for endpoint in settings.endpoints.clone() {
        handles.push(tokio::spawn(run_endpoint(
            db.clone(),
            settings.clone(),
            client.clone(),
            endpoint,
            owner.clone(),
        )));
    }
    for h in handles {
        let _ = h.await;
    }
}

async fn run_endpoint(
    db: Db,
    settings: Arc<Settings>,
    client: reqwest012::Client,
    endpoint: Endpoint,
    owner: String,
) {
    let webhook = match standardwebhooks::Webhook::new(&endpoint.secret) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(endpoint = %endpoint.name, error = %e, "feed: secreto inválido");
            return;
        }
    };
    let mut last_full: Option<tokio::time::Instant> = None;
    let mut last_queued: Option<tokio::time::Instant> = None;
    loop {
        let full = last_full.is_none_or(|t| t.elapsed() >= FULL_PASS);
        // New events are looked for once per poll interval, not on every round of a busy
        // queue: the look reads the recent outbox, and a queue being emptied has work already.
        let look = if full {
            Queue::All
        } else if last_queued.is_none_or(|t| t.elapsed() >= settings.poll) {
            Queue::Recent
        } else {
            Queue::No
        };
        let busy = match pass(&db, &settings, &client, &endpoint, &webhook, &owner, look).await {
            Ok(n) => {
                if full {
                    last_full = Some(tokio::time::Instant::now());
                }
                if look != Queue::No {
                    last_queued = Some(tokio::time::Instant::now());
                }
                // Anything claimed: go again at once, so a person's next event (due only once
                // this one is delivered) does not wait for the poll.
                n > 0
            }
            Err(e) => {
                tracing::warn!(endpoint = %endpoint.name, error = %e, "feed: error de base de datos");
                false
            }
        };
        if !busy {
            tokio::time::sleep(settings.poll).await;
        }
    }
}

/// Which outbox events a round queues before claiming.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Queue {
    /// Every event not yet queued (at start and every [`FULL_PASS`]).
    All,
    /// The recent ones ([`queue::enqueue_recent`]).
    Recent,
    /// None: the round only claims and sends.
    No,
}

/// One round: queue, claim, send. Returns how many deliveries it claimed.
async fn pass(
    db: &Db,
    settings: &Settings,
    client: &reqwest012::Client,
    endpoint: &Endpoint,
    webhook: &standardwebhooks::Webhook,
    owner: &str,
    look: Queue,
) -> Result<usize, sqlx::Error> {
    match look {
        Queue::All => queue::enqueue_all(db, &endpoint.name).await?,
        Queue::Recent => queue::enqueue_recent(db, &endpoint.name).await?,
        Queue::No => 0,
    };
    // The lease outlives the request's timeout by a margin, so a live holder never loses it.
    let lease = chrono::Duration::from_std(settings.timeout * 2 + Duration::from_secs(10))
        .unwrap_or(chrono::Duration::seconds(60));
    let claimed = queue::claim(
        db,
        &endpoint.name,
        owner,
        now() + lease,
        settings.concurrency as i64,
    )
    .await?;
    let n = claimed.len();
    stream::iter(claimed)
        .for_each_concurrent(settings.concurrency, |c| async move {
            let outcome = send(client, endpoint, webhook, &c).await;
            let saved = match outcome {
                Ok(()) => queue::delivered(db, c.id).await,
                Err(error) => {
                    let (next, dead) = next_attempt(settings, &c);
                    if dead {
                        tracing::warn!(endpoint = %endpoint.name, event = %c.event_id, %error,
                            "feed: evento descartado tras agotar los reintentos");
                    }
                    queue::failed(db, c.id, owner, &error, next, dead).await
                }
            };
            if let Err(e) = saved {
                // The lease expires and the event goes again, with the same id.
                tracing::warn!(error = %e, event = %c.event_id, "feed: no se pudo guardar el resultado");
            }
        })
        .await;
    Ok(n)
}

/// The body SIPE receives (docs/sipe-eventos.md, "El sobre").
pub fn body(c: &Claimed) -> String {
    let data: serde_json::Value =
        serde_json::from_str(&c.payload).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "id": c.event_id,
        "type": c.kind,
        "timestamp": c.occurred_at.to_rfc3339(),
        "dni": c.dni,
        "data": data,
    })
    .to_string()
}

async fn send(
    client: &reqwest012::Client,
    endpoint: &Endpoint,
    webhook: &standardwebhooks::Webhook,
    c: &Claimed,
) -> Result<(), String> {
    let body = body(c);
    let ts = now().timestamp();
    let signature = webhook
        .sign(&c.event_id, ts, body.as_bytes())
        .map_err(|e| format!("firma: {e}"))?;
    let resp = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &c.event_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "sin respuesta a tiempo".to_string()
            } else if e.is_connect() {
                format!("no se pudo conectar: {e}")
            } else {
                format!("error de red: {e}")
            }
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Err(format!("HTTP {}: {}", status.as_u16(), text.trim()))
}

/// The retry schedule: `base · 2^(attempt−1)`, at most `max`, times a jitter in [0.8, 1.2);
/// once the delivery's first failure is older than `give_up_after`, the event is dead-lettered
/// (the clock starts at the first failure, not when the event was queued: an event that waited
/// behind a person's failing earlier one still gets its own days of retries).
pub fn next_attempt(settings: &Settings, c: &Claimed) -> (chrono::DateTime<chrono::Utc>, bool) {
    let now = now();
    let exp = (c.attempts.max(1) - 1).min(30) as u32;
    let raw = settings
        .retry_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(settings.retry_max);
    let jitter: f64 = rand::rng().random_range(0.8..1.2);
    let delay = raw.mul_f64(jitter);
    let give_up =
        chrono::Duration::from_std(settings.give_up_after).unwrap_or(chrono::Duration::days(3));
    let dead = c
        .first_failed_at
        .is_some_and(|first| now - first >= give_up);
    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
    (now + delay, dead)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(attempts: i64, first_failed_at: Option<chrono::DateTime<chrono::Utc>>) -> Claimed {
        Claimed {
            id: 1,
            attempts,
            first_failed_at,
            event_id: "evt".into(),
            kind: "persona.registrada".into(),
            dni: None,
            payload: "{}".into(),
            occurred_at: now(),
        }
    }

    #[test]
    fn retries_give_up_three_days_after_the_first_failure() {
        let settings = Settings {
            endpoints: vec![],
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
            poll: Duration::from_secs(1),
            concurrency: 8,
        };
        // A first failure is never the last, however long the event waited in the queue.
        let (next, dead) = next_attempt(&settings, &claimed(1, None));
        assert!(!dead);
        let wait = next - now();
        assert!(wait >= chrono::Duration::seconds(23) && wait <= chrono::Duration::seconds(37));
        // Failing for less than three days: retried, at most an hour apart.
        let first = now() - chrono::Duration::hours(71);
        let (next, dead) = next_attempt(&settings, &claimed(40, Some(first)));
        assert!(!dead && next - now() <= chrono::Duration::minutes(73));
        // Failing for three days: dead-lettered.
        let first = now() - chrono::Duration::hours(72);
        assert!(next_attempt(&settings, &claimed(41, Some(first))).1);
    }
}
