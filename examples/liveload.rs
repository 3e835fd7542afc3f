//! Live class load test and soak (results in BENCHMARKS.md). Simulates a live class against a
//! real `aula serve` on loopback: one instructor publishes simulcast VP8 (three layers, from an
//! IVF file) and Opus; N learners subscribe (a third each on alta/media/baja) and K of them
//! publish audio. Reports per-subscriber bitrate, loss and one-way audio latency, and the
//! server process's CPU and memory. `--soak N` instead runs N join/leave cycles against an
//! in-process server and checks that rooms, tasks and memory return to their baseline.
//!
//! ```text
//! cargo run --release --example liveload -- --learners 100 --audio-publishers 10 --duration 20 --video-scale 6
//! cargo run --release --example liveload -- --soak 500
//! ```
//!
//! The server under test is a child process of this same program running the library's
//! `aula serve` (the code of the `aula` binary, built with the same profile), so its CPU and
//! memory are measured apart from the load generator's. The scripted participants are
//! `tests/support/live_client.rs`, which the integration tests use too. By hand, release build;
//! never part of the `aula` binary.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use aula::{
    Config,
    app::cli::{Common, ServeArgs},
    db::Db,
    live::protocol::{ClientMsg, Quality, ServerMsg},
    people::{
        domain::{Dni, PersonName},
        persons::NewPerson,
    },
    web::time::now,
    with_db,
};
use clap::Parser;
use live_client::{ClientPeer, Ivf, TrackCounters};

// Only the seeding helpers: this generator starts its own server and database.
#[allow(dead_code)]
mod common;
#[path = "../tests/support/live_client.rs"]
mod live_client;

/// First argument of the child process that runs the server under test.
const SERVE: &str = "--servidor-bajo-prueba";

/// Options of `liveload`.
#[derive(Debug, Parser)]
#[command(
    name = "liveload",
    about = "Carga de una clase en vivo (SFU) en esta máquina, o --soak para buscar fugas"
)]
pub struct LoadArgs {
    #[command(flatten)]
    common: Common,
    /// Number of learners (subscribers).
    #[arg(long, default_value_t = 25)]
    pub learners: usize,
    /// How many learners also publish audio.
    #[arg(long, default_value_t = 2)]
    pub audio_publishers: usize,
    /// Seconds of measurement after everyone joined.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// VP8 IVF file the instructor loops [default: tests/fixtures/vp8_176x144_30f.ivf]
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// Pads every video frame to this many times its size (the SFU does not decode), to reach
    /// realistic bitrates and packet rates with the small test clip: 6 gives the full layer
    /// about 1 Mbit/s.
    #[arg(long, default_value_t = 1)]
    pub video_scale: usize,
    /// Instead of a class: this many join/leave cycles of one learner (leak check).
    #[arg(long)]
    pub soak: Option<usize>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(SERVE) {
        // The child: exactly `aula serve` with the arguments that follow.
        let argv = std::iter::once("aula".to_string()).chain(args[2..].iter().cloned());
        return aula::app::cli::run(aula::app::cli::Cli::parse_from(argv));
    }
    let args = LoadArgs::parse();
    aula::app::init_tracing();
    let run = async {
        let config = aula::app::cli::config(&args.common, &ServeArgs::default())?;
        run(config, args).await
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the load test or the soak and prints the report.
pub async fn run(config: Config, args: LoadArgs) -> anyhow::Result<()> {
    let video = args.video.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vp8_176x144_30f.ivf")
    });
    let mut ivf = Ivf::parse(
        &std::fs::read(&video).with_context(|| format!("no se pudo leer {}", video.display()))?,
    )?;
    if args.video_scale > 1 {
        for f in &mut ivf.frames {
            let mut padded = f.to_vec();
            padded.resize(f.len() * args.video_scale, 0);
            *f = bytes::Bytes::from(padded);
        }
    }
    match args.soak {
        Some(cycles) => soak(config, ivf, cycles).await,
        None => class(config, ivf, &args).await,
    }
}

/// A seeded class: session id, instructor cookie and learner cookies.
struct Seeded {
    session: i64,
    instructor: String,
    learners: Vec<String>,
}

fn new_person(dni: u32, department_id: i64) -> anyhow::Result<NewPerson> {
    let dni = Dni::parse(&dni.to_string()).map_err(anyhow::Error::msg)?;
    Ok(NewPerson {
        cuil: common::cuil_for(&dni).context("CUIL")?,
        dni,
        first_name: PersonName::parse("Carga", "nombre").map_err(anyhow::Error::msg)?,
        last_name: PersonName::parse("Prueba", "apellido").map_err(anyhow::Error::msg)?,
        birth_date: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).context("fecha")?,
        email: None,
        phone: None,
        department_id,
        locality_id: None,
    })
}

/// Creates an instructor, `learners` enrolled learners and an open session of a demo class.
async fn seed(db: &Db, learners: usize) -> anyhow::Result<Seeded> {
    let department_id: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT MIN(id) FROM departments"
    )
    .fetch_one(p)
    .await)?;
    let class_id: i64 = with_db!(db, |p| sqlx::query_scalar("SELECT MIN(id) FROM classes")
        .fetch_one(p)
        .await)?;
    let base: u32 = 40_000_000 + (rand::random::<u32>() % 1000) * 1000;
    let people = (0..=learners as u32)
        .map(|i| new_person(base + i, department_id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // (person, user, session token); the first one teaches.
    let made = common::make_learners(db, &people).await?;
    let (_, teacher, teacher_token) = &made[0];
    with_db!(db, |p| {
        sqlx::query(
        "INSERT INTO role_grants (user_id, role, class_id, created_at) VALUES ($1, 'instructor', $2, $3)"
    )
    .bind(teacher)
    .bind(class_id)
    .bind(now())
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })?;
    for (person_id, _, _) in &made[1..] {
        let t = now();
        with_db!(db, |p| {
            sqlx::query(
            "INSERT INTO enrolments (class_id, person_id, status, queued_at, created_at, updated_at)
             VALUES ($1, $2, 'confirmed', $3, $3, $3)"
        )
        .bind(class_id)
        .bind(person_id)
        .bind(t)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    let session = aula::live::sessions::schedule(
        db,
        class_id,
        &aula::live::sessions::NewSession {
            title: "Clase de carga".into(),
            starts_at: now(),
            duration_minutes: 120,
        },
        *teacher,
    )
    .await?;
    aula::live::sessions::open(db, session).await?;
    Ok(Seeded {
        session,
        instructor: format!("aula_sesion={teacher_token}"),
        learners: made[1..]
            .iter()
            .map(|(_, _, token)| format!("aula_sesion={token}"))
            .collect(),
    })
}

async fn joined(url: &str, cookie: &str) -> anyhow::Result<ClientPeer> {
    let mut p = ClientPeer::connect(url, cookie, "127.0.0.1").await?;
    p.wait_for(Duration::from_secs(10), |m| {
        matches!(m, ServerMsg::Welcome { .. }).then_some(())
    })
    .await?;
    Ok(p)
}

/// CPU seconds (user + system) and resident memory (bytes) of a process, from /proc.
fn proc_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    // USER_HZ is 100 on Linux.
    Some((ticks / 100.0, rss_kb * 1024))
}

async fn wait_ready(addr: SocketAddr) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..300 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
            let _ = s
                .write_all(b"GET /readyz HTTP/1.0\r\nHost: x\r\n\r\n")
                .await;
            let mut buf = vec![0; 64];
            if let Ok(n) = s.read(&mut buf).await
                && String::from_utf8_lossy(&buf[..n]).contains(" 200 ")
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("el servidor no respondió /readyz")
}

/// Per-subscriber rates between two snapshots.
#[derive(Debug, Default, Clone)]
struct SubReport {
    video_kbps: f64,
    audio_kbps: f64,
    lost: u64,
    latency_avg_ms: f64,
    latency_max_ms: f64,
}

fn delta(before: &[TrackCounters], after: &[TrackCounters], secs: f64) -> SubReport {
    let sum = |v: &[TrackCounters], kind: &str| -> (u64, u64, f64, u64, f64) {
        v.iter()
            .filter(|t| t.kind == kind)
            .fold((0, 0, 0.0, 0, 0.0f64), |a, t| {
                (
                    a.0 + t.bytes,
                    a.1 + t.lost,
                    a.2 + t.latency_sum_ms,
                    a.3 + t.latency_count,
                    a.4.max(t.latency_max_ms),
                )
            })
    };
    let (vb0, vl0, ..) = sum(before, "video");
    let (vb1, vl1, ..) = sum(after, "video");
    let (ab0, al0, ls0, lc0, _) = sum(before, "audio");
    let (ab1, al1, ls1, lc1, lmax) = sum(after, "audio");
    let n = (lc1 - lc0).max(1) as f64;
    SubReport {
        video_kbps: (vb1 - vb0) as f64 * 8.0 / 1000.0 / secs,
        audio_kbps: (ab1 - ab0) as f64 * 8.0 / 1000.0 / secs,
        lost: (vl1 - vl0) + (al1 - al0),
        latency_avg_ms: (ls1 - ls0) / n,
        latency_max_ms: lmax,
    }
}

fn stats(xs: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let v: Vec<f64> = xs.collect();
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let min = v.iter().cloned().fold(f64::MAX, f64::min);
    let max = v.iter().cloned().fold(f64::MIN, f64::max);
    (min, v.iter().sum::<f64>() / v.len() as f64, max)
}

async fn class(config: Config, ivf: Ivf, args: &LoadArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("aula-carga-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let abs = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([SERVE, "serve", "--listen", &addr.to_string()])
        .env("AULA_DATA_DIR", &dir)
        .env("AULA_COURSES_DIR", abs(&config.courses_dir))
        .env("AULA_MEDIA_DIR", abs(&config.media_dir))
        .env("AULA_LIVE_BIND_IP", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("no se pudo arrancar el servidor")?;
    let pid = child.id();
    let result = async {
        wait_ready(addr).await?;
        let db = Db::connect(None, &dir).await?;
        let seeded = seed(&db, args.learners).await?;
        let url = format!("ws://{addr}/en-vivo/{}/ws", seeded.session);
        let (_, idle_rss) = proc_usage(pid).context("/proc del servidor")?;
        let t0 = Instant::now();
        let mut teacher = joined(&url, &seeded.instructor).await?;
        teacher.publish_with(Some(ivf.clone()), true, true).await?;
        let mut learners = Vec::with_capacity(args.learners);
        for (i, c) in seeded.learners.iter().enumerate() {
            let mut p = joined(&url, c).await?;
            let q = match i % 3 {
                0 => Quality::Alta,
                1 => Quality::Media,
                _ => Quality::Baja,
            };
            p.send(ClientMsg::Quality { quality: q });
            if i < args.audio_publishers {
                // One learner talks; the other open microphones are silent.
                if i == 0 {
                    p.loudness.store(30, std::sync::atomic::Ordering::Relaxed);
                }
                p.publish(None, true).await?;
                p.send(ClientMsg::Media { audio: true, video: false, screen: false });
            }
            learners.push((q, p));
        }
        let setup = t0.elapsed();
        tokio::time::sleep(Duration::from_secs(4)).await;
        let snap = |ps: &Vec<(Quality, ClientPeer)>| -> Vec<Vec<TrackCounters>> {
            ps.iter().map(|(_, p)| p.received.snapshot().into_values().collect()).collect()
        };
        let before = snap(&learners);
        let teacher_before: Vec<TrackCounters> = teacher.received.snapshot().into_values().collect();
        let (cpu0, _) = proc_usage(pid).context("/proc")?;
        let (gen0, _) = proc_usage(std::process::id()).context("/proc")?;
        let m0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.duration)).await;
        let secs = m0.elapsed().as_secs_f64();
        let (cpu1, rss) = proc_usage(pid).context("/proc")?;
        let (gen1, _) = proc_usage(std::process::id()).context("/proc")?;
        let after = snap(&learners);
        let teacher_after: Vec<TrackCounters> = teacher.received.snapshot().into_values().collect();
        let reports: Vec<(Quality, SubReport)> = learners
            .iter()
            .zip(before.iter().zip(after.iter()))
            .map(|((q, _), (b, a))| (*q, delta(b, a, secs)))
            .collect();
        let t = delta(&teacher_before, &teacher_after, secs);
        println!(
            "# liveload: {} learners ({} publishing audio), video frames x{}, {:.0} s measured",
            args.learners, args.audio_publishers, args.video_scale, secs
        );
        println!("setup (instructor + all learners joined): {:.1} s", setup.as_secs_f64());
        for q in [Quality::Alta, Quality::Media, Quality::Baja] {
            let of_q: Vec<&SubReport> = reports.iter().filter(|(x, _)| *x == q).map(|(_, r)| r).collect();
            if of_q.is_empty() {
                continue;
            }
            let (vmin, vavg, vmax) = stats(of_q.iter().map(|r| r.video_kbps));
            println!("  {q:?}: {} learners, video kbit/s min {vmin:.0} avg {vavg:.0} max {vmax:.0}", of_q.len());
        }
        let (amin, aavg, amax) = stats(reports.iter().map(|(_, r)| r.audio_kbps));
        let lost: u64 = reports.iter().map(|(_, r)| r.lost).sum();
        let (_, lat_avg, _) = stats(reports.iter().map(|(_, r)| r.latency_avg_ms));
        let lat_max = reports.iter().map(|(_, r)| r.latency_max_ms).fold(0.0, f64::max);
        println!("  audio kbit/s per learner (instructor + {} learners): min {amin:.0} avg {aavg:.0} max {amax:.0}", args.audio_publishers);
        println!("  packets lost (all learners): {lost}");
        println!("  one-way audio latency publisher→SFU→learner: avg {lat_avg:.1} ms, max {lat_max:.1} ms");
        println!("  instructor receives learners' audio: {:.0} kbit/s", t.audio_kbps);
        println!("server: CPU {:.1}% of one core, RSS {:.1} MB (idle before the class: {:.1} MB)", (cpu1 - cpu0) / secs * 100.0, rss as f64 / 1e6, idle_rss as f64 / 1e6);
        println!(
            "load generator (instructor + learners' peer connections): CPU {:.1}% of one core",
            (gen1 - gen0) / secs * 100.0
        );
        teacher.leave().await;
        for (_, p) in learners {
            p.leave().await;
        }
        anyhow::Ok(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn soak(mut config: Config, ivf: Ivf, cycles: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("aula-soak-{}", std::process::id()));
    config.data_dir = dir.clone();
    config.database_url = None;
    config.listen = "127.0.0.1:0".parse()?;
    config.live.bind_ip = "127.0.0.1".parse()?;
    let app = aula::Application::build(config).await?;
    let port = app.port();
    let db = app.parts.state.db.clone();
    let rooms = app.parts.rooms.clone();
    tokio::spawn(app.run_until_stopped());
    let seeded = seed(&db, 1).await?;
    let url = format!("ws://127.0.0.1:{port}/en-vivo/{}/ws", seeded.session);
    let pid = std::process::id();
    let metrics = tokio::runtime::Handle::current().metrics();

    // The instructor stays for the whole soak; the learner comes and goes.
    let mut teacher = joined(&url, &seeded.instructor).await?;
    teacher.publish_with(Some(ivf), true, true).await?;
    let cycle = |cookie: String| {
        let url = url.clone();
        async move {
            let p = joined(&url, &cookie).await?;
            // Until media flows: the full path (offer, answer, ICE, DTLS, forwarders) ran.
            for _ in 0..100 {
                if p.received
                    .snapshot()
                    .values()
                    .any(|t| t.kind == "video" && t.packets > 0)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            p.leave().await;
            anyhow::Ok(())
        }
    };
    let warmup = 20.min(cycles);
    for _ in 0..warmup {
        cycle(seeded.learners[0].clone()).await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, rss0) = proc_usage(pid).context("/proc")?;
    let tasks0 = metrics.num_alive_tasks();
    let t0 = Instant::now();
    for i in 0..cycles {
        cycle(seeded.learners[0].clone()).await?;
        if (i + 1) % 100 == 0 {
            let (_, rss) = proc_usage(pid).context("/proc")?;
            println!(
                "  {} ciclos: RSS {:.1} MB, tareas vivas {}",
                i + 1,
                rss as f64 / 1e6,
                metrics.num_alive_tasks()
            );
        }
    }
    let took = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, rss1) = proc_usage(pid).context("/proc")?;
    let tasks1 = metrics.num_alive_tasks();
    println!(
        "# liveload --soak {cycles}: join, receive media, leave (plus {warmup} warm-up cycles)"
    );
    println!(
        "time: {:.1} s ({:.0} ms per cycle)",
        took.as_secs_f64(),
        took.as_millis() as f64 / cycles as f64
    );
    println!("alive tokio tasks: baseline {tasks0}, after {tasks1}");
    println!(
        "RSS (whole process: server + scripted peers): baseline {:.1} MB, after {:.1} MB ({:+.1}%)",
        rss0 as f64 / 1e6,
        rss1 as f64 / 1e6,
        (rss1 as f64 / rss0 as f64 - 1.0) * 100.0
    );
    println!(
        "rooms alive: {}, participants in the room: {:?}",
        rooms.count(),
        rooms.stats(seeded.session).await
    );
    teacher.leave().await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    println!(
        "after the instructor left too (room linger 10 s): rooms alive {}, tokio tasks {}",
        rooms.count(),
        metrics.num_alive_tasks()
    );
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(
        tasks1 <= tasks0 + 2,
        "las tareas no volvieron a la línea de base: {tasks0} → {tasks1}"
    );
    Ok(())
}
