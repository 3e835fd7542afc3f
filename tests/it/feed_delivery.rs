//! Delivery of the outbox as Standard Webhooks, to a real HTTP receiver (an axum server in
//! the test): signatures, the retry schedule, dead letters and «Reintentar», order per person,
//! and two workers on one database.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aula::{
    feed::delivery::config::{EndpointConfig, FeedConfig},
    with_db,
};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode as AxStatus},
    routing::post,
};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Hit {
    id: String,
    kind: String,
    dni: Option<String>,
    body: Value,
    signed_ok: bool,
    answered: u16,
    at: Instant,
}

/// What the receiver answers: given the event kind and how many times this id came before,
/// a status and a delay.
type Decide = dyn Fn(&str, usize) -> (u16, Duration) + Send + Sync;

#[derive(Clone)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Requests per id, counted on arrival.
    seen: Arc<Mutex<HashMap<String, usize>>>,
    decide: Arc<Mutex<Arc<Decide>>>,
    secret: String,
    url: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let key: [u8; 24] = rand::random();
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let r = Receiver {
            hits: Arc::default(),
            seen: Arc::default(),
            decide: Arc::new(Mutex::new(Arc::new(|_: &str, _| (200, Duration::ZERO)))),
            secret,
            url,
        };
        let app = axum::Router::new()
            .route("/webhooks", post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    fn answer(&self, f: impl Fn(&str, usize) -> (u16, Duration) + Send + Sync + 'static) {
        *self.decide.lock().unwrap() = Arc::new(f);
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// The hits answered 2xx.
    fn accepted(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| (200..300).contains(&h.answered))
            .collect()
    }

    fn feed(&self) -> FeedConfig {
        FeedConfig {
            endpoints: vec![EndpointConfig {
                name: "sipe".into(),
                url: self.url.clone(),
                secret: self.secret.clone(),
            }],
            retry_base_ms: Some(200),
            retry_max_ms: Some(2000),
            poll_ms: Some(50),
            timeout_seconds: Some(2),
            ..Default::default()
        }
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> AxStatus {
    let signed_ok = standardwebhooks::Webhook::new(&r.secret)
        .unwrap()
        .verify(&body, &headers)
        .is_ok();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let kind = json["type"].as_str().unwrap_or_default().to_string();
    let before = {
        let mut seen = r.seen.lock().unwrap();
        let n = seen.entry(id.clone()).or_default();
        *n += 1;
        *n - 1
    };
    let decide = r.decide.lock().unwrap().clone();
    let (status, delay) = decide(&kind, before);
    let at = Instant::now();
    // Recorded on arrival: a request the client gives up on is dropped mid-sleep.
    r.hits.lock().unwrap().push(Hit {
        id,
        kind,
        dni: json["dni"].as_str().map(String::from),
        body: json,
        signed_ok,
        answered: status,
        at,
    });
    tokio::time::sleep(delay).await;
    AxStatus::from_u16(status).unwrap()
}

/// The app without demo courses (so the only events are the test's), delivering to `r`.
async fn app_for(r: &Receiver, adjust: impl FnOnce(&mut FeedConfig)) -> TestApp {
    let mut feed = r.feed();
    adjust(&mut feed);
    TestApp::spawn_with(|c| {
        c.demo = false;
        c.feed = feed.settings().unwrap();
    })
    .await
}

/// Waits (up to 20 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "esperando: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn db_until(app: &TestApp, what: &str, sql: &'static str, want: i64) {
    let start = Instant::now();
    loop {
        if app.count(sql).await == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "esperando: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn events_arrive_signed_with_their_stable_id_and_envelope() {
    let r = Receiver::start().await;
    let app = app_for(&r, |_| {}).await;
    app.learner("30600001").await;
    until("el registro llega", || {
        r.accepted()
            .iter()
            .any(|h| h.dni.as_deref() == Some("30600001"))
    })
    .await;
    let hit = r
        .accepted()
        .into_iter()
        .find(|h| h.dni.as_deref() == Some("30600001"))
        .unwrap();
    assert!(hit.signed_ok, "la firma verifica con standardwebhooks");
    assert_eq!(hit.kind, "persona.registrada");
    let event_id: String = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT event_id FROM outbox WHERE dni = $1"
    )
    .bind("30600001")
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(hit.id, event_id);
    assert_eq!(hit.body["id"], event_id);
    assert_eq!(hit.body["data"]["dni"], "30600001");
    assert!(hit.body["timestamp"].as_str().unwrap().starts_with("20"));
    db_until(
        &app,
        "entregado en la base",
        "SELECT COUNT(*) FROM feed_deliveries WHERE delivered_at IS NULL",
        0,
    )
    .await;

    // A wrong secret does not verify: the check above can fail.
    let other = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = serde_json::to_vec(&hit.body).unwrap();
    let sig = other
        .sign(&hit.id, chrono::Utc::now().timestamp(), &body)
        .unwrap();
    let mut h = HeaderMap::new();
    h.insert("webhook-id", hit.id.parse().unwrap());
    h.insert(
        "webhook-timestamp",
        chrono::Utc::now().timestamp().to_string().parse().unwrap(),
    );
    h.insert("webhook-signature", sig.parse().unwrap());
    assert!(
        standardwebhooks::Webhook::new(&r.secret)
            .unwrap()
            .verify(&body, &h)
            .is_err()
    );
}

#[tokio::test]
async fn failures_are_retried_with_growing_delays_and_the_same_id() {
    let r = Receiver::start().await;
    // 500, 500, a timeout (the client waits 2 s), then 200.
    r.answer(|_, n| match n {
        0 | 1 => (500, Duration::ZERO),
        2 => (200, Duration::from_secs(3)),
        _ => (200, Duration::ZERO),
    });
    let app = app_for(&r, |_| {}).await;
    app.learner("30700001").await;
    until("entregado tras los reintentos", || {
        r.accepted()
            .iter()
            .filter(|h| h.at.elapsed().as_secs() < 60)
            .count()
            >= 1
            && r.hits().len() >= 4
    })
    .await;
    db_until(
        &app,
        "entregado",
        "SELECT COUNT(*) FROM feed_deliveries WHERE delivered_at IS NOT NULL",
        1,
    )
    .await;
    let hits = r.hits();
    let mine: Vec<&Hit> = hits.iter().collect();
    assert!(
        mine.iter().all(|h| h.id == mine[0].id),
        "el mismo webhook-id"
    );
    assert_eq!(
        app.count("SELECT attempts FROM feed_deliveries").await,
        4,
        "dos 500, un tiempo agotado, un 200"
    );
    // Exponential backoff with jitter in [0.8, 1.2): 200 ms, 400 ms, 800 ms (+ the 2 s
    // timeout before the third wait).
    let gaps: Vec<u128> = mine
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect();
    assert!(gaps[0] >= 160 && gaps[0] < 1000, "{gaps:?}");
    assert!(gaps[1] >= 320 && gaps[1] < 1500, "{gaps:?}");
    assert!(gaps[2] >= 2000 + 640, "{gaps:?}");
    assert!(gaps[1] > gaps[0], "{gaps:?}");
}

#[tokio::test]
async fn dead_letters_show_on_the_admin_page_and_retry_delivers_them() {
    let r = Receiver::start().await;
    r.answer(|_, _| (503, Duration::ZERO));
    let app = app_for(&r, |f| f.give_up_after_seconds = Some(1)).await;
    let admin = app.admin().await;
    app.learner("30800001").await;
    db_until(
        &app,
        "los dos eventos descartados",
        "SELECT COUNT(*) FROM feed_deliveries WHERE dead_at IS NOT NULL",
        2,
    )
    .await;
    let tries = r.hits().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(r.hits().len(), tries, "un descartado no se reintenta solo");

    let (status, html) = admin.get_text("/admin/sipe").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Descartados"));
    assert!(html.contains("HTTP 503"), "{html}");
    assert!(html.contains("30800001"));
    assert!(html.contains("Reintentar"));

    // Retried from the page once the receiver is back.
    r.answer(|_, _| (200, Duration::ZERO));
    let id: i64 = with_db!(&app.db, |p| {
        sqlx::query_scalar(
        "SELECT d.id FROM feed_deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE o.dni = $1"
    )
    .bind("30800001")
    .fetch_one(p)
    .await
    })
    .unwrap();
    let resp = admin
        .post(&format!("/admin/sipe/{id}/reintentar"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("se vuelve a enviar"));
    until("el reintento llega", || {
        r.accepted()
            .iter()
            .any(|h| h.dni.as_deref() == Some("30800001"))
    })
    .await;
    let resp = admin.post("/admin/sipe/reintentar-descartados", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    db_until(
        &app,
        "todo entregado",
        "SELECT COUNT(*) FROM feed_deliveries WHERE delivered_at IS NOT NULL",
        2,
    )
    .await;
    // Not for learners.
    let learner = app.learner("30800002").await;
    let (status, _) = learner.get_text("/admin/sipe").await;
    assert_ne!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_person_s_later_event_waits_until_the_earlier_one_is_delivered() {
    let r = Receiver::start().await;
    // The registration fails three times; everything else is accepted at once.
    r.answer(|kind, n| {
        if kind == "persona.registrada" && n < 3 {
            (500, Duration::ZERO)
        } else {
            (200, Duration::ZERO)
        }
    });
    let app = app_for(&r, |_| {}).await;
    let ana = app.learner("30900001").await;
    let resp = ana
        .post(
            "/mi-aula/datos",
            &[
                ("email", "ana@correo.test".into()),
                ("phone", "3815000000".into()),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("se guardaron"));
    until("los dos eventos", || r.accepted().len() >= 2).await;
    let hits = r.hits();
    let first_update = hits
        .iter()
        .position(|h| h.kind == "persona.actualizada")
        .unwrap();
    let accepted_reg = hits
        .iter()
        .position(|h| h.kind == "persona.registrada" && h.answered == 200)
        .unwrap();
    assert!(
        accepted_reg < first_update,
        "la actualización salió antes que el registro: {:?}",
        hits.iter()
            .map(|h| (&h.kind, h.answered))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        hits.iter()
            .filter(|h| h.kind == "persona.registrada")
            .count(),
        4
    );
}

#[tokio::test]
async fn two_workers_on_one_database_deliver_each_event_once() {
    let r = Receiver::start().await;
    // Slow answers keep deliveries in flight while the other worker claims.
    r.answer(|_, _| (200, Duration::from_millis(30)));
    let app = app_for(&r, |f| f.concurrency = Some(4)).await;
    let second = app.second_instance().await;
    for i in 0..60 {
        app.quick_user(&format!("{}", 31_000_000 + i), "Capital")
            .await;
    }
    until("los 60 eventos", || r.accepted().len() >= 60).await;
    db_until(
        &app,
        "todo entregado",
        "SELECT COUNT(*) FROM feed_deliveries WHERE delivered_at IS NULL",
        0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for h in r.hits() {
        *per_id.entry(h.id).or_default() += 1;
    }
    assert_eq!(per_id.len(), 60);
    assert!(
        per_id.values().all(|&n| n == 1),
        "un evento se envió dos veces: {per_id:?}"
    );
    assert!(r.hits().iter().all(|h| h.signed_ok));
    drop(second);
}
