//! Login storm (issue 13): while a learner keeps browsing lesson pages at a steady rate, N
//! people log in per second for a while; the page latency is compared with the same browsing
//! before the storm, and the server's memory (RSS, from /proc) is sampled every second before,
//! during and after it. Run by `bench/login.sh` against a release build; results in
//! BENCHMARKS.md.
//!
//!   loginstorm seed --sqlite data/aula.db --accounts 4000 --out bench/out/login
//!   loginstorm run --base http://127.0.0.1:18092 --seed-dir bench/out/login --pid 1234 \
//!       --reader-cookie TOKEN --page /cursos/x/lecciones/y
//!
//! Only 127.0.0.1 is contacted.

#[path = "common/mod.rs"]
mod common;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use aula::{
    accounts::password::{self, Password},
    db::Db,
    people::{domain::Dni, domain::PersonName, persons::NewPerson},
    with_db,
};
use clap::{Parser, Subcommand};
use common::{DbArgs, check_local, cuil_for, make_learners};

/// The password every storm account uses.
const PASSWORD: &str = "tormenta-de-ingresos-1";

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates the accounts that log in (one real password hash, shared by all).
    Seed {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value_t = 4000)]
        accounts: usize,
        /// First DNI to use (DNIs are consecutive).
        #[arg(long, default_value_t = 45_000_000)]
        dni_base: u64,
        /// Folder for dnis.txt.
        #[arg(long)]
        out: PathBuf,
    },
    /// Browsing before, during and after a storm of logins; RSS of `--pid` sampled meanwhile.
    Run {
        #[arg(long, default_value = "http://127.0.0.1:18092")]
        base: String,
        #[arg(long)]
        seed_dir: PathBuf,
        /// The server's process id (its RSS is read from /proc).
        #[arg(long)]
        pid: u32,
        /// Session token of a learner who may read `--page`.
        #[arg(long)]
        reader_cookie: String,
        /// The page the learner keeps reading (e.g. a lesson).
        #[arg(long)]
        page: String,
        /// Pages per second, steady (open loop).
        #[arg(long, default_value_t = 20)]
        pages_per_sec: u64,
        /// Logins per second during the storm.
        #[arg(long, default_value_t = 50)]
        logins_per_sec: u64,
        /// Seconds of browsing before the storm, of the storm, and after it.
        #[arg(long, default_value_t = 30)]
        quiet: u64,
        #[arg(long, default_value_t = 60)]
        storm: u64,
        #[arg(long, default_value_t = 90)]
        after: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.cmd {
            Cmd::Seed {
                db,
                accounts,
                dni_base,
                out,
            } => seed(&db.connect().await?, accounts, dni_base, &out).await,
            Cmd::Run {
                base,
                seed_dir,
                pid,
                reader_cookie,
                page,
                pages_per_sec,
                logins_per_sec,
                quiet,
                storm,
                after,
            } => {
                check_local(&base)?;
                let dnis: Vec<String> = std::fs::read_to_string(seed_dir.join("dnis.txt"))
                    .context("dnis.txt: corré seed primero")?
                    .lines()
                    .map(str::to_string)
                    .collect();
                run(Run {
                    base,
                    pid,
                    reader_cookie,
                    page,
                    pages_per_sec,
                    logins_per_sec,
                    phases: [quiet, storm, after].map(Duration::from_secs),
                    dnis,
                })
                .await
            }
        }
    })
}

async fn seed(db: &Db, accounts: usize, dni_base: u64, out: &PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let department_id: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM departments ORDER BY id LIMIT 1"
    )
    .fetch_one(p)
    .await)?;
    let mut people = Vec::with_capacity(accounts);
    let mut n = dni_base;
    while people.len() < accounts {
        let dni = Dni::parse(&n.to_string()).map_err(anyhow::Error::msg)?;
        n += 1;
        let Some(cuil) = cuil_for(&dni) else { continue };
        people.push(NewPerson {
            dni,
            cuil,
            first_name: PersonName::parse("Tormenta", "nombre").map_err(anyhow::Error::msg)?,
            last_name: PersonName::parse("Prueba", "apellido").map_err(anyhow::Error::msg)?,
            birth_date: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).context("fecha")?,
            email: None,
            phone: None,
            department_id,
            locality_id: None,
        });
    }
    let made = make_learners(db, &people).await?;
    // One real hash for everyone: logging in costs the server a full argon2 each time.
    let hash = password::hash(&Password::parse(PASSWORD).map_err(anyhow::Error::msg)?).await?;
    let ids: Vec<i64> = made.iter().map(|(_, u, _)| *u).collect();
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        with_db!(db, |p| sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET password_hash = $1 WHERE id IN ({list})"
        )))
        .bind(&hash)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    }
    let dnis: Vec<&str> = people.iter().map(|p| p.dni.as_str()).collect();
    std::fs::write(out.join("dnis.txt"), dnis.join("\n") + "\n")?;
    println!(
        "seed: {} cuentas con la contraseña de la tormenta",
        dnis.len()
    );
    Ok(())
}

struct Run {
    base: String,
    pid: u32,
    reader_cookie: String,
    page: String,
    pages_per_sec: u64,
    logins_per_sec: u64,
    phases: [Duration; 3],
    dnis: Vec<String>,
}

#[derive(Default)]
struct Samples {
    pages: [Vec<Duration>; 3],
    page_errors: [usize; 3],
    logins: Vec<Duration>,
    login_errors: usize,
    rss_mb: Vec<(f64, f64)>,
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn phase_of(at: Duration, phases: &[Duration; 3]) -> usize {
    if at < phases[0] {
        0
    } else if at < phases[0] + phases[1] {
        1
    } else {
        2
    }
}

async fn run(r: Run) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()?;
    let total = r.phases.iter().sum::<Duration>();
    let began = Instant::now();
    let samples = Arc::new(Mutex::new(Samples::default()));
    let mut tasks = tokio::task::JoinSet::new();

    // Memory, every second.
    {
        let samples = samples.clone();
        let pid = r.pid;
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while began.elapsed() < total {
                tick.tick().await;
                if let Some(mb) = rss_mb(pid) {
                    let at = began.elapsed().as_secs_f64();
                    samples
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .rss_mb
                        .push((at, mb));
                }
            }
        });
    }
    // Pages, open loop for the whole run.
    let page_every = Duration::from_secs_f64(1.0 / r.pages_per_sec.max(1) as f64);
    let n_pages = (total.as_secs_f64() / page_every.as_secs_f64()) as u64;
    for i in 0..n_pages {
        let (client, samples) = (client.clone(), samples.clone());
        let url = format!("{}{}", r.base, r.page);
        let cookie = format!("aula_sesion={}", r.reader_cookie);
        let at = page_every * i as u32;
        let phases = r.phases;
        tasks.spawn(async move {
            tokio::time::sleep_until((began + at).into()).await;
            let t0 = Instant::now();
            let ok = client
                .get(&url)
                .header("cookie", cookie)
                .header("accept-encoding", "gzip")
                .send()
                .await
                .ok()
                .filter(|resp| resp.status().is_success());
            let ok = match ok {
                Some(resp) => resp.bytes().await.is_ok(),
                None => false,
            };
            let phase = phase_of(at, &phases);
            let mut s = samples.lock().unwrap_or_else(|e| e.into_inner());
            if ok {
                s.pages[phase].push(t0.elapsed());
            } else {
                s.page_errors[phase] += 1;
            }
        });
    }
    // Logins, open loop during the storm.
    let login_every = Duration::from_secs_f64(1.0 / r.logins_per_sec.max(1) as f64);
    let n_logins = (r.phases[1].as_secs_f64() / login_every.as_secs_f64()) as usize;
    anyhow::ensure!(
        r.dnis.len() >= n_logins,
        "hacen falta {n_logins} cuentas y el seed tiene {}",
        r.dnis.len()
    );
    for (i, dni) in r.dnis.iter().take(n_logins).enumerate() {
        let (client, samples) = (client.clone(), samples.clone());
        let url = format!("{}/ingresar", r.base);
        let dni = dni.clone();
        let at = r.phases[0] + login_every * i as u32;
        tasks.spawn(async move {
            tokio::time::sleep_until((began + at).into()).await;
            let t0 = Instant::now();
            // The CSRF check wants a cookie and the same value in the form.
            let token = "tormentatormentatormentatormentatormentator";
            let resp = client
                .post(&url)
                .header("cookie", format!("aula_csrf={token}"))
                .form(&[
                    ("csrf", token),
                    ("identifier", dni.as_str()),
                    ("password", PASSWORD),
                    ("next", "/mi-aula"),
                ])
                .send()
                .await;
            // A successful login answers a redirect that sets the session cookie.
            let ok = resp.is_ok_and(|r| {
                r.status().is_redirection()
                    && r.headers()
                        .get_all("set-cookie")
                        .iter()
                        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("aula_sesion=")))
            });
            let mut s = samples.lock().unwrap_or_else(|e| e.into_inner());
            if ok {
                s.logins.push(t0.elapsed());
            } else {
                s.login_errors += 1;
            }
        });
    }
    while tasks.join_next().await.is_some() {}

    let s = samples.lock().unwrap_or_else(|e| e.into_inner());
    let pct = |v: &[Duration], p: f64| -> f64 {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.get(((v.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let names = ["antes", "tormenta", "después"];
    for (i, name) in names.iter().enumerate() {
        println!(
            "páginas {name}: {} ok, {} errores, p50 {:.1} ms, p99 {:.1} ms",
            s.pages[i].len(),
            s.page_errors[i],
            pct(&s.pages[i], 0.50),
            pct(&s.pages[i], 0.99)
        );
    }
    println!(
        "ingresos: {} ok, {} errores, p50 {:.0} ms, p99 {:.0} ms",
        s.logins.len(),
        s.login_errors,
        pct(&s.logins, 0.50),
        pct(&s.logins, 0.99)
    );
    let in_phase = |p: usize| {
        s.rss_mb
            .iter()
            .filter(move |(at, _)| phase_of(Duration::from_secs_f64(*at), &r.phases) == p)
            .map(|(_, mb)| *mb)
    };
    let idle = in_phase(0).fold(f64::NAN, f64::min);
    let peak = in_phase(1).chain(in_phase(2)).fold(f64::NAN, f64::max);
    let last = s.rss_mb.last().map_or(f64::NAN, |(_, mb)| *mb);
    println!("RSS: antes {idle:.1} MB, máximo {peak:.1} MB, al final {last:.1} MB");
    println!(
        "LOGINSTORM quiet_p99_ms={:.1} storm_p99_ms={:.1} after_p99_ms={:.1} login_p99_ms={:.0} login_errors={} page_errors={} rss_idle_mb={idle:.1} rss_peak_mb={peak:.1} rss_end_mb={last:.1}",
        pct(&s.pages[0], 0.99),
        pct(&s.pages[1], 0.99),
        pct(&s.pages[2], 0.99),
        pct(&s.logins, 0.99),
        s.login_errors,
        s.page_errors.iter().sum::<usize>()
    );
    Ok(())
}
