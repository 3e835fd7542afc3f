//! Load and durability check for quiz autosave (`bench/quiz.sh`, results in BENCHMARKS.md;
//! `tests/durability.rs` runs the same code at small scale under `cargo test`).
//!
//! ```text
//! quizload seed   --sqlite data/aula.db --learners 2000 --out bench/out/quiz/sqlite
//! quizload run    --base http://127.0.0.1:18090 --seed-dir bench/out/quiz/sqlite --duration 120 --acks acks.tsv
//! quizload verify --sqlite data/aula.db --acks acks.tsv
//! ```
//!
//! `seed` writes a course with one timed quiz of ten short-answer questions (all on one page)
//! under `OUT/courses`, imports it through the library (as `aula import-courses` does), and
//! creates N learners with sessions, enrolled (confirmed) in one class of that course.
//!
//! `run` has every learner start the attempt over HTTP, then autosave (`POST
//! /intentos/{id}/guardar`) as the page's script (`static/quiz.js`) does: each change of an
//! answer is saved at once, sending the whole page's fields plus `slot` for each question changed
//! since the last successful save (the server saves only those); a failed save is retried after
//! 2 s, doubling up to 30 s. Changes come at exponentially distributed intervals (mean
//! `--mean-interval-ms`, 15 s by default) until `--duration` is over; each sets one answer to
//! `v{seq}` (`seq` counts that learner's requests), so every value names the request that first
//! carried it. It prints p50/p90/p99/max of the autosave and counts errors (non-200, timeouts,
//! connection errors). With `--acks FILE` it writes every question a save carries twice: when
//! sent and when acknowledged (a 200 with `guardado`).
//!
//! `verify` reads that file and the database. A learner's saves are sequential and a save writes
//! only the questions it names, so for every (attempt, slot) the stored answer must be the value
//! of the last acknowledged save of that question, or of a later save of it that was sent but
//! whose answer never arrived (the server was killed with it in flight). Anything else is an
//! acknowledged answer lost, and `verify` exits non-zero.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use aula::{
    accounts::session,
    assessment::grading::Response,
    catalog::classes::{ValidClass, insert},
    courses::{load_dir, store},
    db::Db,
    enrolment::queries::{Outcome, enrol},
    people::{
        domain::{Dni, PersonName},
        persons::NewPerson,
    },
    web::cookies::random_token,
    with_db,
};
use clap::{Parser, Subcommand};
use common::{DbArgs, check_local, cuil_for, make_learners};

mod common;
use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::{Client, StatusCode, header, redirect::Policy};
use tokio::{sync::Semaphore, task::JoinSet};

/// Slug of the fixture course.
pub const SLUG: &str = "carga-evaluaciones";
/// Key of its timed quiz.
pub const QUIZ: &str = "cronometrada";
/// Questions in the quiz, all on page 1.
pub const SLOTS: usize = 10;

#[derive(Parser)]
#[command(
    name = "quizload",
    about = "Carga y durabilidad del guardado automático de evaluaciones"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Imports the quiz course and creates N enrolled learners with sessions.
    Seed {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value_t = 2000)]
        learners: usize,
        /// First DNI to use (DNIs are consecutive).
        #[arg(long, default_value_t = 41_000_000)]
        dni_base: u64,
        /// Time limit of the quiz, in minutes (at most 600).
        #[arg(long, default_value_t = 180)]
        minutes: i64,
        /// Folder for the course files, cookies.txt and seed.env.
        #[arg(long)]
        out: PathBuf,
    },
    /// Starts every learner's attempt, then autosaves until the duration is over.
    Run {
        #[arg(long, default_value = "http://127.0.0.1:18090")]
        base: String,
        /// Folder `seed` wrote (cookies.txt).
        #[arg(long)]
        seed_dir: PathBuf,
        /// Seconds of autosaving after every attempt started.
        #[arg(long, default_value_t = 120)]
        duration: u64,
        /// Mean time between a learner's saves (exponentially distributed).
        #[arg(long, default_value_t = 15_000)]
        mean_interval_ms: u64,
        /// A request not answered in this many seconds counts as an error (timeout).
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Attempts started at once in the start phase.
        #[arg(long, default_value_t = 64)]
        start_concurrency: usize,
        /// Synchronized start (exam day): every learner presses «Comenzar» at a random moment
        /// within this many seconds, whatever the server's pace (open loop; latency counted from
        /// the moment of pressing). 0: a closed loop of `start_concurrency` instead.
        #[arg(long, default_value_t = 0)]
        start_within: u64,
        /// Write every save (sent and acknowledged) here, for `verify`. Must be new or empty.
        #[arg(long)]
        acks: Option<PathBuf>,
        /// Created when every attempt has started and the autosave phase begins.
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Exit non-zero if any request failed.
        #[arg(long)]
        strict: bool,
    },
    /// Checks that every acknowledged answer is in the database.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        acks: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.cmd {
            Cmd::Seed {
                db,
                learners,
                dni_base,
                minutes,
                out,
            } => {
                let started = Instant::now();
                let s = seed(&db.connect().await?, learners, dni_base, minutes, &out).await?;
                println!(
                    "seed: curso «{}», evaluación «{}», comisión {}, {} personas inscriptas con sesión ({:.1} s)",
                    s.slug,
                    s.quiz,
                    s.class_id,
                    s.tokens.len(),
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Cmd::Run {
                base,
                seed_dir,
                duration,
                mean_interval_ms,
                timeout,
                start_concurrency,
                start_within,
                acks,
                ready_file,
                strict,
            } => {
                check_local(&base)?;
                let tokens = read_tokens(&seed_dir.join("cookies.txt"))?;
                let log = match &acks {
                    Some(p) => Some(Arc::new(AckLog::create(p)?)),
                    None => None,
                };
                let load = Load::new(&base, Duration::from_secs(timeout))?;
                let started = Instant::now();
                let (takers, starts) = if start_within > 0 {
                    load.start_within(&tokens, Duration::from_secs(start_within))
                        .await
                } else {
                    load.start_all(&tokens, start_concurrency).await
                };
                println!("{}", starts.summary("comenzar"));
                println!(
                    "arranque: {} intentos en curso de {} personas ({:.1} s)",
                    takers.len(),
                    tokens.len(),
                    started.elapsed().as_secs_f64()
                );
                if takers.is_empty() {
                    bail!("ningún intento pudo comenzar");
                }
                if let Some(f) = &ready_file {
                    std::fs::write(f, b"ok\n")?;
                }
                let report = load
                    .autosave_all(
                        takers,
                        Duration::from_secs(duration),
                        Duration::from_millis(mean_interval_ms),
                        log.clone(),
                    )
                    .await;
                if let Some(log) = &log {
                    log.flush()?;
                }
                println!("{}", report.summary("guardar"));
                println!("{}", report.machine_line("QUIZ"));
                println!("{}", starts.machine_line("QUIZSTART"));
                if strict && (report.failed() > 0 || starts.failed() > 0) {
                    eprintln!("hubo errores (--strict)");
                    std::process::exit(1);
                }
                Ok(())
            }
            Cmd::Verify { db, acks } => {
                let v = verify(&db.connect().await?, &acks).await?;
                println!("{v}");
                if !v.passed() {
                    std::process::exit(1);
                }
                Ok(())
            }
        }
    })
}

pub fn read_tokens(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("leer {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// seed

const COURSE: &str = r#"slug = "carga-evaluaciones"
title = "Curso para la prueba de carga de evaluaciones"
summary = "Un curso con una evaluación cronometrada para medir el guardado automático."
category = "Pruebas"
hours = 1
modality = "virtual"
audience = "El generador de carga."

[[competencies]]
code = "CE-01"
name = "Responde evaluaciones"

[completion]
min_lessons_percent = 100
"#;

const LESSON: &str =
    "+++\nid = \"unica\"\ntitle = \"Única lección\"\norder = 1\nminutes = 5\n+++\nTexto.\n";

/// The bank: ten short-answer questions (a free text answer carries the sequence number).
fn bank() -> String {
    let mut s = String::from("category = \"Carga\"\n");
    for i in 1..=SLOTS {
        s.push_str(&format!(
            "\n[[question]]\nid = \"p{i}\"\ntype = \"short_answer\"\ntext = \"Pregunta {i}: escribí la palabra clave.\"\nanswers = [\"clave{i}\"]\n"
        ));
    }
    s
}

fn quiz(minutes: i64) -> String {
    let mut s = format!(
        "title = \"Evaluación cronometrada (carga)\"\ntime_limit_minutes = {minutes}\nattempts = 1\nper_page = {SLOTS}\n"
    );
    for i in 1..=SLOTS {
        s.push_str(&format!("\n[[slot]]\nquestion = \"carga/p{i}\"\n"));
    }
    s
}

/// Writes the fixture course under `root` (a folder of course folders).
pub fn write_course(root: &Path, minutes: i64) -> anyhow::Result<()> {
    let c = root.join(SLUG);
    for (path, text) in [
        ("course.toml", COURSE.to_string()),
        ("lessons/01-unica.md", LESSON.to_string()),
        ("banks/carga.toml", bank()),
        ("quizzes/cronometrada.toml", quiz(minutes)),
    ] {
        let p = c.join(path);
        std::fs::create_dir_all(p.parent().context("ruta")?)?;
        std::fs::write(&p, text).with_context(|| format!("escribir {}", p.display()))?;
    }
    Ok(())
}

/// What `seed` made.
pub struct Seeded {
    pub slug: String,
    pub quiz: String,
    pub class_id: i64,
    /// Session tokens, one per learner.
    pub tokens: Vec<String>,
}

/// Imports the fixture course, creates `learners` learners with sessions enrolled (confirmed)
/// in a new class of it; writes `OUT/cookies.txt` (one session token a line) and `OUT/seed.env`.
pub async fn seed(
    db: &Db,
    learners: usize,
    dni_base: u64,
    minutes: i64,
    out: &Path,
) -> anyhow::Result<Seeded> {
    std::fs::create_dir_all(out)?;
    let courses = out.join("courses");
    let media = out.join("media");
    std::fs::create_dir_all(&media)?;
    write_course(&courses, minutes)?;
    let parsed = load_dir(&courses, &media);
    if !parsed.errors.is_empty() {
        let errs: Vec<String> = parsed.errors.iter().map(|e| e.to_string()).collect();
        bail!("el curso de prueba no valida:\n{}", errs.join("\n"));
    }
    let store_dir = aula::media::config::MediaConfig {
        store_dir: Some(out.join("store")),
        ..Default::default()
    };
    store(
        db,
        &aula::media::Media::new(&store_dir, out)?,
        &parsed.courses,
    )
    .await?;
    let course_id: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM courses WHERE slug = $1"
    )
    .bind(SLUG)
    .fetch_one(p)
    .await)?;
    let department_id: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM departments ORDER BY id LIMIT 1"
    )
    .fetch_optional(p)
    .await)?
    .context("no hay departamentos: ¿arrancó el servidor sobre esta base?")?;

    let mut people = Vec::with_capacity(learners);
    let mut dni_n = dni_base;
    while people.len() < learners {
        let dni = Dni::parse(&dni_n.to_string()).map_err(anyhow::Error::msg)?;
        dni_n += 1;
        let Some(cuil) = cuil_for(&dni) else { continue };
        people.push(NewPerson {
            dni,
            cuil,
            first_name: PersonName::parse("Carga", "nombre").map_err(anyhow::Error::msg)?,
            last_name: PersonName::parse("Evaluación", "apellido").map_err(anyhow::Error::msg)?,
            birth_date: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).context("fecha")?,
            email: None,
            phone: None,
            department_id,
            locality_id: None,
        });
    }
    let made = make_learners(db, &people).await?;

    let now = chrono::Utc::now();
    let class_id = insert(
        db,
        &ValidClass {
            course_id,
            name: format!("Comisión de carga de evaluaciones ({learners})"),
            starts_on: now.date_naive(),
            ends_on: (now + chrono::Duration::days(60)).date_naive(),
            enrol_opens_at: now - chrono::Duration::days(1),
            enrol_closes_at: now + chrono::Duration::days(30),
            seats: learners as i64 + 10,
            department_id: None,
            institution_id: None,
        },
    )
    .await?;
    // Enrolments through the library, a few at a time.
    let mut set = JoinSet::new();
    for part in made.chunks(made.len().div_ceil(8).max(1)) {
        let db = db.clone();
        let part: Vec<(i64, i64)> = part.iter().map(|(p, u, _)| (*p, *u)).collect();
        set.spawn(async move {
            for (person, user) in part {
                match enrol(&db, class_id, person, Some(user)).await? {
                    Ok(Outcome::Confirmed) => {}
                    other => bail!("no se pudo inscribir a la persona {person}: {other:?}"),
                }
            }
            Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }

    let tokens: Vec<String> = made.into_iter().map(|(_, _, t)| t).collect();
    std::fs::write(out.join("cookies.txt"), tokens.join("\n") + "\n")?;
    std::fs::write(
        out.join("seed.env"),
        format!(
            "SLUG='{SLUG}'\nQUIZ='{QUIZ}'\nCLASS_ID='{class_id}'\nLEARNERS='{}'\nCOURSES_DIR='{}'\n",
            tokens.len(),
            courses.display()
        ),
    )?;
    Ok(Seeded {
        slug: SLUG.into(),
        quiz: QUIZ.into(),
        class_id,
        tokens,
    })
}

// ---------------------------------------------------------------------------------------------
// run

/// Every save, sent and acknowledged, one line each:
/// `sent|ack <TAB> attempt <TAB> seq <TAB> slot <TAB> value <TAB> unix_ms`.
pub struct AckLog {
    out: Mutex<BufWriter<File>>,
}

impl AckLog {
    pub fn create(path: &Path) -> anyhow::Result<AckLog> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            bail!(
                "{} ya tiene datos: usá un archivo nuevo por corrida (los números de guardado empiezan en 1)",
                path.display()
            );
        }
        let mut f = BufWriter::new(
            File::create(path).with_context(|| format!("crear {}", path.display()))?,
        );
        writeln!(f, "# quizload v1: kind\tattempt\tseq\tslot\tvalue\tunix_ms")?;
        Ok(AckLog { out: Mutex::new(f) })
    }

    fn record(&self, kind: &str, attempt: i64, seq: u64, slot: usize, value: &str) {
        let mut f = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // Flushed line by line, so `verify` may read the file while the load still runs (after
        // killing the server); a failed write surfaces at the final flush.
        let _ = writeln!(
            f,
            "{kind}\t{attempt}\t{seq}\t{slot}\t{value}\t{}",
            unix_ms()
        )
        .and_then(|()| f.flush());
    }

    pub fn flush(&self) -> anyhow::Result<()> {
        let mut f = self.out.lock().unwrap_or_else(|e| e.into_inner());
        f.flush()?;
        f.get_ref().sync_all()?;
        Ok(())
    }
}

/// A learner with an attempt in progress.
pub struct Taker {
    pub attempt: i64,
    pub cookie: String,
    pub csrf: String,
}

/// Latencies and errors of one kind of request.
#[derive(Default)]
pub struct Report {
    pub latencies: Vec<Duration>,
    pub errors: BTreeMap<String, usize>,
    /// Seconds since the phase began of the first and last error, and of each success.
    pub first_error: Option<f64>,
    pub last_error: Option<f64>,
    pub ok_at: Vec<f64>,
    pub elapsed: Duration,
}

impl Report {
    fn merge(&mut self, o: Report) {
        self.latencies.extend(o.latencies);
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.first_error = match (self.first_error, o.first_error) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_error = match (self.last_error, o.last_error) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.ok_at.extend(o.ok_at);
    }
    fn error(&mut self, kind: String, at: f64) {
        *self.errors.entry(kind).or_default() += 1;
        self.first_error = Some(self.first_error.map_or(at, |f| f.min(at)));
        self.last_error = Some(self.last_error.map_or(at, |l| l.max(at)));
    }
    pub fn failed(&self) -> usize {
        self.errors.values().sum()
    }
    pub fn ok(&self) -> usize {
        self.ok_at.len()
    }
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        v
    }
    /// Milliseconds at percentile `p` (nearest rank) of the successful requests.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let sorted = self.sorted();
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
    }
    pub fn max_ms(&self) -> f64 {
        self.latencies
            .iter()
            .max()
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
    pub fn summary(&self, name: &str) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "{name}: {} correctas, {} errores en {:.1} s ({:.1} req/s) — p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, máx {:.2} ms",
            self.ok(),
            self.failed(),
            secs,
            (self.ok() + self.failed()) as f64 / secs,
            self.percentile_ms(50.0),
            self.percentile_ms(90.0),
            self.percentile_ms(99.0),
            self.max_ms()
        );
        for (k, v) in &self.errors {
            s.push_str(&format!("\n  error {k}: {v}"));
        }
        if let (Some(f), Some(l)) = (self.first_error, self.last_error) {
            s.push_str(&format!(
                "\n  errores entre el segundo {f:.1} y el {l:.1} de la fase"
            ));
        }
        s
    }
    pub fn machine_line(&self, tag: &str) -> String {
        format!(
            "{tag} ok={} errors={} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2} secs={:.1}",
            self.ok(),
            self.failed(),
            self.percentile_ms(50.0),
            self.percentile_ms(90.0),
            self.percentile_ms(99.0),
            self.max_ms(),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Talks to one server.
#[derive(Clone)]
pub struct Load {
    client: Client,
    base: String,
}

fn kind_of(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "conexión rechazada".into()
    } else if e.is_request() || e.is_body() {
        "conexión cortada".into()
    } else {
        format!("otro: {e}")
    }
}

impl Load {
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Load> {
        let client = Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(512)
            .build()?;
        Ok(Load {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// Starts (or resumes) one learner's attempt; `Err` is the error kind.
    async fn start(&self, token: &str) -> Result<Taker, String> {
        let csrf = random_token();
        let cookie = format!("{}={token}; aula_csrf={csrf}", session::COOKIE);
        let resp = self
            .client
            .post(format!(
                "{}/cursos/{SLUG}/evaluaciones/{QUIZ}/comenzar",
                self.base
            ))
            .header(header::COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .map_err(|e| kind_of(&e))?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let attempt = location
            .strip_prefix("/intentos/")
            .and_then(|s| s.parse::<i64>().ok());
        match attempt {
            Some(attempt) if status.is_redirection() => Ok(Taker {
                attempt,
                cookie,
                csrf,
            }),
            _ => Err(format!("HTTP {} → «{location}»", status.as_u16())),
        }
    }

    /// Starts every learner's attempt, `concurrency` at a time.
    pub async fn start_all(&self, tokens: &[String], concurrency: usize) -> (Vec<Taker>, Report) {
        let began = Instant::now();
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut set = JoinSet::new();
        for (i, t) in tokens.iter().enumerate() {
            let (load, t, gate) = (self.clone(), t.clone(), gate.clone());
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let t0 = Instant::now();
                let r = load.start(&t).await;
                (i, r, t0.elapsed(), began.elapsed().as_secs_f64())
            });
        }
        let mut takers = Vec::with_capacity(tokens.len());
        let mut report = Report::default();
        while let Some(j) = set.join_next().await {
            let Ok((i, r, latency, at)) = j else {
                report.error("tarea caída".into(), began.elapsed().as_secs_f64());
                continue;
            };
            match r {
                Ok(t) => {
                    report.latencies.push(latency);
                    report.ok_at.push(at);
                    takers.push((i, t));
                }
                Err(kind) => report.error(kind, at),
            }
        }
        takers.sort_by_key(|(i, _)| *i);
        report.elapsed = began.elapsed();
        (takers.into_iter().map(|(_, t)| t).collect(), report)
    }

    /// Open loop: each learner starts at a uniformly random moment within `window`; latency runs
    /// from that moment (a request the server is slow to accept still counts from the press).
    pub async fn start_within(&self, tokens: &[String], window: Duration) -> (Vec<Taker>, Report) {
        let began = Instant::now();
        let mut set = JoinSet::new();
        for (i, t) in tokens.iter().enumerate() {
            let (load, t) = (self.clone(), t.clone());
            let at = window.mul_f64(rand::random::<f64>());
            set.spawn(async move {
                tokio::time::sleep_until((began + at).into()).await;
                let pressed = Instant::now();
                let r = load.start(&t).await;
                (i, r, pressed.elapsed(), began.elapsed().as_secs_f64())
            });
        }
        let mut takers = Vec::with_capacity(tokens.len());
        let mut report = Report::default();
        while let Some(j) = set.join_next().await {
            let Ok((i, r, latency, at)) = j else {
                report.error("tarea caída".into(), began.elapsed().as_secs_f64());
                continue;
            };
            match r {
                Ok(t) => {
                    report.latencies.push(latency);
                    report.ok_at.push(at);
                    takers.push((i, t));
                }
                Err(kind) => report.error(kind, at),
            }
        }
        takers.sort_by_key(|(i, _)| *i);
        report.elapsed = began.elapsed();
        (takers.into_iter().map(|(_, t)| t).collect(), report)
    }

    /// Every taker autosaves until `duration` is over; waits for the last requests.
    pub async fn autosave_all(
        &self,
        takers: Vec<Taker>,
        duration: Duration,
        mean_interval: Duration,
        log: Option<Arc<AckLog>>,
    ) -> Report {
        let began = Instant::now();
        let mut set = JoinSet::new();
        for (i, t) in takers.into_iter().enumerate() {
            let (load, log) = (self.clone(), log.clone());
            set.spawn(async move {
                load.autosave_loop(t, i as u64, began, duration, mean_interval, log)
                    .await
            });
        }
        let mut report = Report::default();
        while let Some(j) = set.join_next().await {
            match j {
                Ok(r) => report.merge(r),
                Err(_) => report.error("tarea caída".into(), began.elapsed().as_secs_f64()),
            }
        }
        report.elapsed = began.elapsed();
        report
    }

    /// One learner, as `static/quiz.js` behaves: every change is saved at once, naming the
    /// changed question (`slot`) next to the whole page's fields; the server saves only the
    /// named questions. A failed save keeps its questions pending: they go with the next save,
    /// which comes after 2 s (doubling up to 30 s) if the learner changes nothing meanwhile.
    async fn autosave_loop(
        &self,
        t: Taker,
        n: u64,
        began: Instant,
        duration: Duration,
        mean_interval: Duration,
        log: Option<Arc<AckLog>>,
    ) -> Report {
        let mut rng = StdRng::seed_from_u64(0x5eed_0000 + n * 7919 + t.attempt as u64);
        // Exponential: the saves of all learners together arrive as a Poisson process.
        let think = |rng: &mut StdRng| {
            let u: f64 = rng.random();
            mean_interval.mul_f64(-(1.0 - u).ln())
        };
        let mut answers: Vec<String> = vec![String::new(); SLOTS];
        let mut pending: BTreeSet<usize> = BTreeSet::new();
        let url = format!("{}/intentos/{}/guardar", self.base, t.attempt);
        let mut report = Report::default();
        let mut seq = 0u64;
        let mut next_change = think(&mut rng);
        let mut retry: Option<Duration> = None;
        let mut retry_delay = Duration::from_secs(2);
        loop {
            let next = retry.map_or(next_change, |r| r.min(next_change));
            if next >= duration {
                break;
            }
            tokio::time::sleep(next.saturating_sub(began.elapsed())).await;
            seq += 1;
            if next == next_change {
                let slot = rng.random_range(0..SLOTS);
                answers[slot] = format!("v{seq}");
                pending.insert(slot);
                next_change = began.elapsed() + think(&mut rng);
            }
            retry = None;
            let slots: Vec<usize> = pending.iter().copied().collect();
            let mut fields: Vec<(String, String)> = Vec::with_capacity(2 * SLOTS + 1);
            fields.push(("pagina".into(), "1".into()));
            for (i, a) in answers.iter().enumerate() {
                fields.push((format!("r{i}"), a.clone()));
            }
            for s in &slots {
                fields.push(("slot".into(), s.to_string()));
            }
            if let Some(log) = &log {
                for s in &slots {
                    log.record("sent", t.attempt, seq, *s, &answers[*s]);
                }
            }
            let t0 = Instant::now();
            let outcome = async {
                let resp = self
                    .client
                    .post(&url)
                    .header(header::COOKIE, &t.cookie)
                    .header("x-csrf-token", &t.csrf)
                    .form(&fields)
                    .send()
                    .await
                    .map_err(|e| kind_of(&e))?;
                let status = resp.status();
                let body = resp.bytes().await.map_err(|e| kind_of(&e))?;
                if status != StatusCode::OK {
                    return Err(format!("HTTP {}", status.as_u16()));
                }
                let json: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|_| "respuesta 200 que no es JSON".to_string())?;
                if json.get("guardado").and_then(|g| g.as_str()).is_none() {
                    return Err("respuesta 200 sin «guardado»".into());
                }
                Ok(())
            }
            .await;
            let latency = t0.elapsed();
            let at = began.elapsed();
            match outcome {
                Ok(()) => {
                    if let Some(log) = &log {
                        for s in &slots {
                            log.record("ack", t.attempt, seq, *s, &answers[*s]);
                        }
                    }
                    pending.clear();
                    retry_delay = Duration::from_secs(2);
                    report.latencies.push(latency);
                    report.ok_at.push(at.as_secs_f64());
                }
                Err(kind) => {
                    let closed = kind == "HTTP 409";
                    report.error(kind, at.as_secs_f64());
                    if closed {
                        // The attempt is closed: the page goes to the result, nothing more to save.
                        break;
                    }
                    retry = Some(at + retry_delay);
                    retry_delay = (retry_delay * 2).min(Duration::from_secs(30));
                }
            }
        }
        report
    }
}

// ---------------------------------------------------------------------------------------------
// verify

/// What `verify` found.
#[derive(Default)]
pub struct Verdict {
    pub attempts: usize,
    pub sent: usize,
    pub acked: usize,
    /// (attempt, slot) pairs checked.
    pub slots: usize,
    /// Of those, how many had an acknowledged answer.
    pub acked_answers: usize,
    /// Stored value equal to the one of the last acknowledged save.
    pub exact: usize,
    /// Stored value from a save sent after the last acknowledged one (its answer was lost).
    pub later: usize,
    pub failures: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.acked > 0
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "verify: {} intentos, {} guardados enviados, {} confirmados (200)",
            self.attempts, self.sent, self.acked
        )?;
        writeln!(
            f,
            "verify: {} respuestas (intento, pregunta) revisadas, {} con un valor confirmado; \
             {} iguales al último guardado confirmado, {} de un guardado posterior enviado sin respuesta",
            self.slots, self.acked_answers, self.exact, self.later
        )?;
        for x in self.failures.iter().take(20) {
            writeln!(f, "  PERDIDA: {x}")?;
        }
        if self.failures.len() > 20 {
            writeln!(f, "  … y {} más", self.failures.len() - 20)?;
        }
        if self.acked == 0 {
            writeln!(
                f,
                "verify: FALLA — no hay ningún guardado confirmado que revisar"
            )
        } else if self.failures.is_empty() {
            write!(
                f,
                "verify: OK — todas las respuestas confirmadas están en la base"
            )
        } else {
            write!(
                f,
                "verify: FALLA — {} respuestas confirmadas no están en la base",
                self.failures.len()
            )
        }
    }
}

/// The saves of one attempt that wrote each question: slot → seq → (value, acknowledged).
type Writes = BTreeMap<usize, BTreeMap<u64, (String, bool)>>;

/// Checks the database against an acks file written by `run`.
///
/// A save writes only the questions it names. So for each (attempt, slot), the stored answer
/// must be the value of the last acknowledged save that named it (nothing if none was), or
/// the value of a later save that named it and was sent but not acknowledged (it may have been
/// committed before the server died). Anything else is an acknowledged answer lost.
pub async fn verify(db: &Db, acks: &Path) -> anyhow::Result<Verdict> {
    let text = std::fs::read_to_string(acks).with_context(|| format!("leer {}", acks.display()))?;
    // While `run` is still writing, the last line may be incomplete: it is not counted.
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let mut logs: BTreeMap<i64, Writes> = BTreeMap::new();
    let mut v = Verdict::default();
    let mut sent = HashSet::new();
    for (n, line) in complete.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let bad = || format!("{}:{}: línea ilegible: {line}", acks.display(), n + 1);
        if cols.len() != 6 {
            bail!(bad());
        }
        let attempt: i64 = cols[1].parse().with_context(bad)?;
        let seq: u64 = cols[2].parse().with_context(bad)?;
        let slot: usize = cols[3].parse().with_context(bad)?;
        if slot >= SLOTS {
            bail!(bad());
        }
        let writes = logs.entry(attempt).or_default().entry(slot).or_default();
        match cols[0] {
            "sent" => {
                sent.insert((attempt, seq));
                writes.insert(seq, (cols[4].to_string(), false));
            }
            "ack" => match writes.get_mut(&seq) {
                Some((value, ok)) if value == cols[4] => *ok = true,
                _ => bail!("{}: confirmación sin envío", bad()),
            },
            _ => bail!(bad()),
        }
    }
    v.attempts = logs.len();
    v.sent = sent.len();
    let acked_saves: HashSet<(i64, u64)> = logs
        .iter()
        .flat_map(|(a, w)| {
            w.values().flat_map(move |m| {
                m.iter()
                    .filter(|(_, (_, ok))| *ok)
                    .map(move |(s, _)| (*a, *s))
            })
        })
        .collect();
    v.acked = acked_saves.len();
    let rows: Vec<(i64, i64, Option<String>)> = with_db!(db, |p| sqlx::query_as(
        "SELECT attempt_id, slot, response FROM attempt_answers ORDER BY attempt_id, slot"
    )
    .fetch_all(p)
    .await)?;
    let mut stored: HashMap<(i64, usize), Option<String>> = HashMap::with_capacity(rows.len());
    for (attempt, slot, response) in rows {
        if !logs.contains_key(&attempt) {
            continue;
        }
        let value = match response {
            None => None,
            Some(r) => match serde_json::from_str::<Response>(&r) {
                Ok(Response::Text(t)) => Some(t),
                _ => Some(format!("(otra respuesta: {r})")),
            },
        };
        stored.insert((attempt, slot as usize), value);
    }
    let none = BTreeMap::new();
    for (attempt, writes) in &logs {
        for slot in 0..SLOTS {
            v.slots += 1;
            let w = writes.get(&slot).unwrap_or(&none);
            let last_ack = w
                .iter()
                .rev()
                .find(|(_, (_, ok))| *ok)
                .map(|(seq, (val, _))| (*seq, val.clone()));
            if last_ack.is_some() {
                v.acked_answers += 1;
            }
            let Some(got) = stored.get(&(*attempt, slot)) else {
                v.failures.push(format!(
                    "intento {attempt}, pregunta {slot}: no está en la base"
                ));
                continue;
            };
            let acked_value = last_ack.as_ref().map(|(_, val)| val);
            if got.as_ref() == acked_value {
                v.exact += 1;
                continue;
            }
            let after = last_ack.as_ref().map_or(0, |(seq, _)| seq + 1);
            if w.range(after..)
                .any(|(_, (val, _))| Some(val) == got.as_ref())
            {
                v.later += 1;
            } else {
                v.failures.push(format!(
                    "intento {attempt}, pregunta {slot}: confirmado {:?} (guardado {}), en la base {:?}",
                    acked_value,
                    last_ack.as_ref().map_or(0, |(seq, _)| *seq),
                    got
                ));
            }
        }
    }
    Ok(v)
}
