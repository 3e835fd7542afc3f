//! Durability of quiz autosave: learners autosave through HTTP against the real `aula` binary,
//! the server is killed with SIGKILL in the middle of it and restarted on the same database, and
//! every answer that got a success response must still be there.
//!
//! SQLite in a temp folder by default; with `AULA_TEST_BACKEND=postgres`, a fresh PostgreSQL
//! database on `AULA_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`), dropped at the end.
//! The load, the acknowledgement log and the check are `examples/quizload.rs`, the same code the
//! benchmark (`bench/quiz.sh`) runs with 2,000 learners.
#![cfg(unix)]

#[path = "support/pg.rs"]
mod pg;
#[allow(dead_code)]
#[path = "../examples/quizload.rs"]
mod quizload;

use std::{
    fs::File,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use aula::db::Db;
use quizload::{AckLog, Load, seed, verify};

const LEARNERS: usize = 50;
/// Autosave phase; the kill comes at `KILL_AFTER`.
const LOAD: Duration = Duration::from_secs(9);
const KILL_AFTER: Duration = Duration::from_secs(3);
/// The server stays down at least this long.
const OUTAGE: Duration = Duration::from_millis(1500);
/// Each learner saves every 400 ms on average: about 125 saves a second in all.
const MEAN_INTERVAL: Duration = Duration::from_millis(400);

async fn drop_pg_database(server: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(&format!("{server}/postgres")).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
        admin.close().await;
    }
}

/// A free port on 127.0.0.1 (the server gets it on both starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("puerto libre")
}

/// The `aula` server as a child process; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Starts `aula serve` on `port` over the data folder (and PostgreSQL database) of `dir`; waits
/// until `/readyz` answers 200.
async fn start_server(dir: &Path, port: u16, database_url: Option<&str>, log: &Path) -> Server {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .expect("log del servidor");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aula"));
    cmd.current_dir(dir)
        .env_remove("AULA_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("AULA_LISTEN")
        .env("AULA_DATA_DIR", dir.join("data"))
        .env("AULA_COURSES_DIR", dir.join("seed").join("courses"))
        .env("AULA_MEDIA_DIR", dir.join("seed").join("media"))
        .env("RUST_LOG", "warn")
        .args([
            "serve",
            "--no-demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("no arranca {}: {e}", env!("CARGO_BIN_EXE_aula")));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("estado del servidor") {
            panic!(
                "el servidor terminó al arrancar ({status}):\n{}",
                log_tail(log)
            );
        }
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            return Server { child };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("el servidor no quedó listo en 60 s:\n{}", log_tail(log));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_answers_survive_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("seed").join("courses")).unwrap();
    std::fs::create_dir_all(dir.join("seed").join("media")).unwrap();
    let log = dir.join("aula.log");
    let pg_db = if pg::postgres() {
        Some(pg::fresh_database("aula_durab").await)
    } else {
        None
    };
    let database_url = pg_db.as_ref().map(|(s, n)| format!("{s}/{n}"));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    // The server migrates the database; the seed goes in next to it, as bench/quiz.sh does.
    let mut server = start_server(&dir, port, database_url.as_deref(), &log).await;
    let db_url = database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("data").join("aula.db").display()));
    let db = Db::connect(Some(&db_url), &dir.join("data"))
        .await
        .expect("conectar a la base del servidor");
    let seeded = seed(&db, LEARNERS, 42_000_000, 30, &dir.join("seed"))
        .await
        .expect("sembrar curso y personas");
    assert_eq!(seeded.tokens.len(), LEARNERS);

    let load = Load::new(&base, Duration::from_secs(10)).unwrap();
    let (takers, starts) = load.start_all(&seeded.tokens, 16).await;
    assert_eq!(
        (takers.len(), starts.failed()),
        (LEARNERS, 0),
        "todos comienzan el intento:\n{}",
        starts.summary("comenzar")
    );

    let acks_path: PathBuf = dir.join("acks.tsv");
    let acks = Arc::new(AckLog::create(&acks_path).unwrap());
    let phase = Instant::now();
    let running = {
        let (load, acks) = (load.clone(), acks.clone());
        tokio::spawn(async move {
            load.autosave_all(takers, LOAD, MEAN_INTERVAL, Some(acks))
                .await
        })
    };

    tokio::time::sleep(KILL_AFTER).await;
    server.child.kill().expect("SIGKILL al servidor");
    let status = server.child.wait().expect("esperar al servidor");
    let killed_at = phase.elapsed().as_secs_f64();
    assert_eq!(
        status.signal(),
        Some(9),
        "el servidor murió por SIGKILL ({status})"
    );
    drop(server);
    // With the server dead nothing can change the database: every save acknowledged so far
    // must be there now (a save in flight at the kill may or may not have been committed).
    acks.flush().unwrap();
    let at_kill = verify(&db, &acks_path)
        .await
        .expect("verificar tras el SIGKILL");
    println!("con el servidor muerto:\n{at_kill}");
    assert!(at_kill.passed(), "con el servidor muerto:\n{at_kill}");
    // Down for a while, so saves fail and are retried after the restart.
    tokio::time::sleep(OUTAGE.saturating_sub(phase.elapsed().saturating_sub(KILL_AFTER))).await;
    let _server = start_server(&dir, port, database_url.as_deref(), &log).await;
    let restarted_at = phase.elapsed().as_secs_f64();

    let report = running.await.expect("la carga terminó");
    acks.flush().unwrap();
    println!("{}", report.summary("guardar"));
    println!(
        "servidor matado en el segundo {killed_at:.1}, de nuevo listo en el {restarted_at:.1}"
    );

    assert!(
        report.failed() > 0,
        "con el servidor caído {:?} hubo guardados fallidos (reintentados después)",
        OUTAGE
    );
    let before = report.ok_at.iter().filter(|t| **t < killed_at).count();
    let after = report.ok_at.iter().filter(|t| **t > restarted_at).count();
    assert!(
        before >= 50 && after >= 50,
        "hubo guardados confirmados antes de matar al servidor ({before}) y después de reiniciarlo ({after})\n{}",
        report.summary("guardar")
    );
    // Errors only while the server was down (or in flight when it died).
    if let Some(last) = report.last_error {
        assert!(
            report.first_error.unwrap_or(0.0) >= killed_at - 1.0 && last <= restarted_at + 2.0,
            "errores fuera del corte:\n{}",
            report.summary("guardar")
        );
    }

    let verdict = verify(&db, &acks_path).await.expect("verificar");
    println!("tras reiniciar y terminar la carga:\n{verdict}");
    assert!(verdict.passed(), "{verdict}");
    assert!(verdict.acked_answers > 0, "{verdict}");

    db.close().await;
    if let Some((server, name)) = &pg_db {
        drop(_server);
        drop_pg_database(server, name).await;
    }
}
