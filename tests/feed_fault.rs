//! The feed's fault test (run by `.ci/run`): the real `aula` binary delivers to a receiver
//! outside our code (`tests/feed/receiver.py`, signatures checked with PyPI's
//! `standardwebhooks`) that is first down, then answers 500, then times out, then recovers,
//! while people register, enrol and withdraw over HTTP; `aula` is killed with SIGKILL once in
//! the middle of delivery and restarted. At the end the receiver must have every event of the
//! outbox, each accepted once after dedup by webhook-id, every signature valid, and each
//! person's events in the order the outbox recorded them.
//!
//! `FEED_RECEIVER_PYTHON` names a Python with `standardwebhooks` (default
//! `target/ci-venv/bin/python`). SQLite by default; `AULA_TEST_BACKEND=postgres` as elsewhere.
#![cfg(unix)]

#[path = "support/pg.rs"]
mod pg;

use std::{
    collections::HashMap,
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine;
use reqwest::{Client, cookie::Jar, redirect::Policy};
use serde_json::Value;

const PEOPLE: usize = 150;
const ROUNDS: usize = 3;

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("puerto libre")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

async fn wait_http(url: &str, what: &str, log: &Path, child: &mut Child) {
    let client = Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} terminó al arrancar ({status}):\n{}", log_tail(log));
        }
        if let Ok(r) = client.get(url).send().await
            && r.status().as_u16() < 500
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} no arrancó:\n{}",
            log_tail(log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Setup {
    dir: PathBuf,
    port: u16,
    database_url: Option<String>,
    hook_url: String,
    secret: String,
    log: PathBuf,
}

async fn start_aula(s: &Setup, demo: bool) -> Proc {
    let out = File::options()
        .create(true)
        .append(true)
        .open(&s.log)
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aula"));
    cmd.current_dir(&s.dir)
        .env_remove("AULA_CONFIG")
        .env_remove("DATABASE_URL")
        .env("AULA_DATA_DIR", s.dir.join("data"))
        .env("AULA_COURSES_DIR", root().join("courses"))
        .env("AULA_MEDIA_DIR", root().join("media"))
        .env("AULA_MEDIA_RENDITIONS", "0")
        .env("AULA_LIMIT_REGISTER_PER_ADDRESS", "100000")
        .env("AULA_FEED_WEBHOOK_URL", &s.hook_url)
        .env("AULA_FEED_WEBHOOK_SECRET", &s.secret)
        .env("AULA_FEED_TIMEOUT_SECONDS", "1")
        .env("AULA_FEED_RETRY_BASE_MS", "200")
        .env("AULA_FEED_RETRY_MAX_MS", "2000")
        .env("AULA_FEED_POLL_MS", "100")
        .env("RUST_LOG", "warn")
        .args(["serve", "--listen", &format!("127.0.0.1:{}", s.port)])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    if !demo {
        cmd.arg("--no-demo");
    }
    if let Some(url) = &s.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("aula arranca");
    wait_http(
        &format!("http://127.0.0.1:{}/readyz", s.port),
        "aula",
        &s.log,
        &mut child,
    )
    .await;
    Proc(child)
}

/// A logged-in learner: its client and CSRF token.
struct Learner {
    client: Client,
    csrf: String,
}

fn csrf_of(jar: &Jar, base: &str) -> String {
    use reqwest::cookie::CookieStore;
    let cookies = jar
        .cookies(&base.parse().unwrap())
        .map(|h| h.to_str().unwrap().to_string())
        .unwrap_or_default();
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("aula_csrf="))
        .unwrap_or_default()
        .to_string()
}

async fn register(base: String, dni: String, department: i64) -> Learner {
    let (base, dni) = (base.as_str(), dni.as_str());
    let jar = Arc::new(Jar::default());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(Policy::limited(5))
        .no_proxy()
        .build()
        .unwrap();
    client.get(format!("{base}/registro")).send().await.unwrap();
    let csrf = csrf_of(&jar, base);
    let d = aula::people::domain::Dni::parse(dni).unwrap();
    let cuil = aula::people::domain::Cuil::for_dni("20", &d)
        .unwrap()
        .formatted();
    let form = [
        ("csrf", csrf.clone()),
        ("dni", dni.to_string()),
        ("cuil", cuil),
        ("first_name", "Prueba".into()),
        ("last_name", "Feed".into()),
        ("birth_date", "1999-01-01".into()),
        ("email", format!("{dni}@feed.test")),
        ("phone", String::new()),
        ("department_id", department.to_string()),
        ("locality_id", String::new()),
        ("password", "clave-segura-123".into()),
        ("password2", "clave-segura-123".into()),
    ];
    let resp = client
        .post(format!("{base}/registro"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    if !status.is_success() {
        let html = resp.text().await.unwrap_or_default();
        let at = html.find("field-error").unwrap_or(0);
        panic!(
            "registro {dni}: {status}: {}",
            &html[at..(at + 300).min(html.len())]
        );
    }
    let csrf = csrf_of(&jar, base);
    Learner { client, csrf }
}

/// Enrols in and withdraws from each class: two events per class (the aula may be down; a
/// refused request is simply not counted: the outbox is the truth the check compares with).
async fn churn(base: &str, l: &Learner, classes: &[i64]) {
    for c in classes {
        for action in ["inscribirme", "baja"] {
            let _ = l
                .client
                .post(format!("{base}/comisiones/{c}/{action}"))
                .form(&[("csrf", l.csrf.clone())])
                .send()
                .await;
        }
    }
}

/// Every learner churns once, all at once.
async fn round(base: &str, learners: &[Learner], classes: &[i64]) {
    futures_util::future::join_all(learners.iter().map(|l| churn(base, l, classes))).await;
}

async fn set_mode(receiver: &str, mode: &str) {
    Client::new()
        .post(format!("{receiver}/_mode"))
        .body(mode.to_string())
        .send()
        .await
        .expect("modo del receptor");
}

async fn report(receiver: &str) -> Value {
    Client::new()
        .get(format!("{receiver}/_report"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prueba de fallas del feed: la corre .ci/run (necesita Python con standardwebhooks)"]
async fn feed_survives_a_receiver_down_500_timeouts_and_a_sigkill() {
    let python = std::env::var("FEED_RECEIVER_PYTHON").unwrap_or_else(|_| {
        root()
            .join("target/ci-venv/bin/python")
            .display()
            .to_string()
    });
    let tmp = tempfile::tempdir().unwrap();
    let pg_db = if pg::postgres() {
        Some(pg::fresh_database("aula_durab").await)
    } else {
        None
    };
    let database_url = pg_db
        .as_ref()
        .map(|(server, name)| format!("{server}/{name}"));
    let key: [u8; 32] = rand::random();
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    let hook_port = free_port();
    let setup = Setup {
        dir: tmp.path().to_path_buf(),
        port: free_port(),
        database_url: database_url.clone(),
        hook_url: format!("http://127.0.0.1:{hook_port}/hooks"),
        secret: secret.clone(),
        log: tmp.path().join("aula.log"),
    };
    let base = format!("http://127.0.0.1:{}", setup.port);
    let receiver = format!("http://127.0.0.1:{hook_port}");
    let started = Instant::now();

    // Phase 1: the receiver is down (nothing listens on its port).
    let mut aula = start_aula(&setup, true).await;
    let db = aula::db::Db::connect(database_url.as_deref(), &setup.dir.join("data"))
        .await
        .unwrap();
    let classes: Vec<i64> = aula::with_db!(&db, |p| sqlx::query_scalar(
        "SELECT id FROM classes ORDER BY id LIMIT 3"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let capital: i64 = aula::with_db!(&db, |p| sqlx::query_scalar(
        "SELECT id FROM departments WHERE name = 'Capital'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let mut learners = Vec::new();
    // DNIs whose CUIL with prefix 20 exists (the others need 23, which the form also checks).
    let dnis: Vec<String> = (40_000_000..)
        .map(|n: u32| n.to_string())
        .filter(|d| {
            aula::people::domain::Cuil::for_dni("20", &aula::people::domain::Dni::parse(d).unwrap())
                .is_some()
        })
        .take(PEOPLE)
        .collect();
    for chunk in dnis.chunks(10) {
        let regs = chunk
            .iter()
            .map(|d| register(base.clone(), d.clone(), capital));
        learners.extend(futures_util::future::join_all(regs).await);
    }
    let phase = |name: &str| println!("[{:5.1} s] {name}", started.elapsed().as_secs_f64());
    phase("personas registradas con el receptor caído");

    // Phase 2: the receiver answers 500, then times out.
    let rlog = tmp.path().join("receiver.log");
    let mut rchild = Command::new(&python)
        .arg(root().join("tests/feed/receiver.py"))
        .args([hook_port.to_string(), secret.clone(), "3".into()])
        .stdout(File::create(&rlog).unwrap())
        .stderr(File::create(tmp.path().join("receiver.err")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("no arranca {python}: {e}"));
    wait_http(
        &format!("{receiver}/_report"),
        "el receptor",
        &tmp.path().join("receiver.err"),
        &mut rchild,
    )
    .await;
    let _receiver_proc = Proc(rchild);
    set_mode(&receiver, "500").await;
    round(&base, &learners, &classes).await;
    phase("ronda 1 con respuestas 500");
    set_mode(&receiver, "timeout").await;
    round(&base, &learners, &classes).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    phase("ronda 2 con el receptor sin responder a tiempo");

    // Phase 3: recovery; SIGKILL in the middle of delivery, and a restart.
    set_mode(&receiver, "ok").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while report(&receiver).await["accepted"].as_u64().unwrap() < 300 {
        assert!(
            Instant::now() < deadline,
            "no se entregó nada tras recuperarse"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    aula.0.kill().expect("SIGKILL");
    let _ = aula.0.wait();
    let at_kill = report(&receiver).await["accepted"].as_u64().unwrap();
    phase(&format!("SIGKILL con {at_kill} eventos aceptados"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    aula = start_aula(&setup, false).await;
    phase("aula reiniciada");
    for _ in 0..(ROUNDS - 2) {
        round(&base, &learners, &classes).await;
    }

    // Everything recorded must arrive.
    let total: i64 = aula::with_db!(&db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(p)
        .await)
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut r = report(&receiver).await;
    while r["accepted"].as_i64().unwrap() < total {
        assert!(
            Instant::now() < deadline,
            "faltan eventos: {} de {total}\n{}",
            r["accepted"],
            log_tail(&setup.log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        r = report(&receiver).await;
    }
    phase("todo entregado");
    drop(aula);

    // Per-person order: the receiver's order equals the outbox's.
    let rows: Vec<(String, String)> = aula::with_db!(&db, |p| sqlx::query_as(
        "SELECT COALESCE(dni, ''), event_id FROM outbox ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let mut want: HashMap<String, Vec<String>> = HashMap::new();
    for (dni, id) in rows {
        want.entry(dni).or_default().push(id);
    }
    let got: HashMap<String, Vec<String>> = serde_json::from_value(r["by_dni"].clone()).unwrap();
    let out_of_order = want
        .iter()
        .filter(|(dni, ids)| dni.as_str() != "" && got.get(*dni) != Some(ids))
        .count();
    println!(
        "eventos en el outbox: {total}; pedidos recibidos: {}; aceptados (únicos): {}; \
         duplicados descartados por webhook-id: {}; respondidos 500: {}; sin respuesta a tiempo: {}; \
         firmas inválidas: {}; personas: {}; personas fuera de orden: {out_of_order}",
        r["requests"],
        r["unique"],
        r["duplicates"],
        r["answered_500"],
        r["timed_out"],
        r["bad_signatures"],
        want.len()
    );
    assert_eq!(r["unique"].as_i64().unwrap(), total, "cada evento, una vez");
    assert_eq!(r["accepted"].as_i64().unwrap(), total);
    assert_eq!(r["bad_signatures"].as_i64().unwrap(), 0);
    assert!(r["answered_500"].as_i64().unwrap() > 0, "hubo fase de 500");
    assert!(
        r["timed_out"].as_i64().unwrap() > 0,
        "hubo fase de timeouts"
    );
    assert!(total >= 2000, "unos miles de eventos: {total}");
    assert_eq!(out_of_order, 0, "orden por persona");
    db.close().await;
    if let Some((server, name)) = pg_db
        && let Ok(admin) = sqlx::PgPool::connect(&format!("{server}/postgres")).await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
    }
}
