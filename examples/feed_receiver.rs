//! The SIPE feed's receiving end for `bench/feed.sh` (issue 11): accepts Aula's Standard
//! Webhooks on loopback, verifies every signature, counts distinct events by `webhook-id`
//! (a redelivery counts as a duplicate), counts bad signatures, and when it has seen
//! `--expect N` distinct events prints one line to standard output:
//!
//! ```text
//! FEED_RECEIVER distinct=N duplicates=D bad_signatures=B first_at=<unix ms> last_at=<unix ms>
//! ```
//!
//! It then **keeps serving** (so a late redelivery still counts) until SIGTERM/Ctrl-C; the
//! script reads the counters at any time from `GET /stats`, which answers the same line.
//!
//! ```text
//! feed_receiver --secret whsec_… --expect 20001 --listen 127.0.0.1:18096
//! ```
//!
//! A valid event is answered `204` at once (duplicates too: the sender may stop); a bad or
//! missing signature `401`, which Aula retries later, so it shows up in the counts instead of
//! passing unnoticed. Only a loopback address may be listened on.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use clap::Parser;
use standardwebhooks::Webhook;

#[derive(Parser)]
struct Cli {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:18096")]
    listen: SocketAddr,
    /// The endpoint's `whsec_…` secret, as Aula is given it.
    #[arg(long)]
    secret: String,
    /// Distinct events to wait for before printing the result line.
    #[arg(long)]
    expect: usize,
}

/// What has arrived so far.
#[derive(Default)]
struct Counts {
    ids: HashSet<String>,
    duplicates: u64,
    bad_signatures: u64,
    first_at: Option<u128>,
    last_at: Option<u128>,
    reported: bool,
}

impl Counts {
    fn line(&self) -> String {
        format!(
            "FEED_RECEIVER distinct={} duplicates={} bad_signatures={} first_at={} last_at={}",
            self.ids.len(),
            self.duplicates,
            self.bad_signatures,
            self.first_at.unwrap_or(0),
            self.last_at.unwrap_or(0),
        )
    }
}

#[derive(Clone)]
struct Receiver {
    webhook: Arc<Webhook>,
    expect: usize,
    counts: Arc<Mutex<Counts>>,
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // Verified outside the lock: the HMAC is the only real work per request.
    let valid = r.webhook.verify(&body, &headers).is_ok();
    let id = headers
        .get(standardwebhooks::HEADER_WEBHOOK_ID)
        .and_then(|v| v.to_str().ok());
    // A poisoned lock only means another request panicked mid-count; the counts stay usable.
    let mut c = r.counts.lock().unwrap_or_else(|e| e.into_inner());
    let Some(id) = id.filter(|_| valid) else {
        c.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    };
    if c.ids.contains(id) {
        c.duplicates += 1;
        return StatusCode::NO_CONTENT;
    }
    c.ids.insert(id.to_owned());
    let now = unix_ms();
    c.first_at.get_or_insert(now);
    c.last_at = Some(now);
    if !c.reported && c.ids.len() >= r.expect {
        c.reported = true;
        println!("{}", c.line());
    }
    StatusCode::NO_CONTENT
}

async fn stats(State(r): State<Receiver>) -> String {
    let c = r.counts.lock().unwrap_or_else(|e| e.into_inner());
    c.line() + "\n"
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.listen.ip().is_loopback() {
        bail!("--listen debe ser una dirección de loopback (127.0.0.1:PUERTO)");
    }
    if !cli.secret.starts_with("whsec_") {
        bail!("--secret debe ser whsec_ seguido de base64");
    }
    let webhook = Webhook::new(&cli.secret).map_err(|e| anyhow::anyhow!("--secret: {e}"))?;
    let state = Receiver {
        webhook: Arc::new(webhook),
        expect: cli.expect,
        counts: Arc::default(),
    };
    // Any path: the receiver is the whole endpoint, whatever URL the script gives Aula.
    let app = Router::new()
        .route("/stats", get(stats))
        .fallback(post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("no se pudo escuchar en {}", cli.listen))?;
    eprintln!(
        "feed_receiver escuchando en http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
