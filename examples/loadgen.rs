//! Load generator for Aula's benchmark (`bench/run.sh`, results in BENCHMARKS.md).
//!
//! Talks to a running `aula serve` on 127.0.0.1 and to its database (the same one the server
//! uses: `DATABASE_URL=postgres://…` or `--sqlite path/to/aula.db`).
//!
//! ```text
//! loadgen seed        --sqlite data/aula.db --learners 2000 --seats 300 --out bench/out/sqlite
//! loadgen burst       --sqlite data/aula.db --base http://127.0.0.1:18080 --cookies …/cookies.txt --class 4
//! loadgen page-weight --base http://127.0.0.1:18080 --cookie TOKEN --csrf TOKEN --slug SLUG --lessons a,b,c
//! ```
//!
//! `seed` writes learners, sessions and a class straight through the library (as the tests'
//! `quick_user` does); `burst` fires one enrolment POST per learner at that class, all at once
//! (bounded concurrency), then checks the database: no seat oversold, no request lost, no 5xx.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use aula::{
    catalog::classes::{ValidClass, insert},
    db::Db,
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
use reqwest::{Client, StatusCode, header, redirect::Policy};
use tokio::{sync::Semaphore, task::JoinSet};

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Generador de carga para el benchmark de Aula"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates N learners with sessions, one class with S seats, and an enrolled reader.
    Seed {
        #[command(flatten)]
        db: DbArgs,
        /// Learners to create (each gets a session; tokens go to OUT/cookies.txt).
        #[arg(long, default_value_t = 2000)]
        learners: usize,
        /// Seats of the class the burst targets.
        #[arg(long, default_value_t = 300)]
        seats: i64,
        /// Course slug (default: the course with the most lessons).
        #[arg(long)]
        course: Option<String>,
        /// First DNI to use (DNIs are consecutive).
        #[arg(long, default_value_t = 40_000_000)]
        dni_base: u64,
        /// Folder for cookies.txt and seed.env.
        #[arg(long)]
        out: PathBuf,
    },
    /// Fires one enrolment POST per learner at the class, concurrently, then checks the DB.
    Burst {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value = "http://127.0.0.1:18080")]
        base: String,
        /// File with one session token per line (from `seed`).
        #[arg(long)]
        cookies: PathBuf,
        /// Class id to enrol in.
        #[arg(long)]
        class: i64,
        /// Requests to send (default: one per token in the file); each uses a distinct learner.
        #[arg(long)]
        requests: Option<usize>,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Give up (and count as lost) whatever is unanswered after this many seconds.
        #[arg(long, default_value_t = 120)]
        deadline_secs: u64,
    },
    /// Compressed weight of the learner pages plus everything they link (CSS, images).
    PageWeight {
        #[arg(long, default_value = "http://127.0.0.1:18080")]
        base: String,
        /// Session token of a learner who may study the course (for lesson pages).
        #[arg(long)]
        cookie: String,
        /// A CSRF token to send as cookie (so the server does not mint one).
        #[arg(long)]
        csrf: String,
        #[arg(long)]
        slug: String,
        /// Lesson keys, comma-separated.
        #[arg(long, value_delimiter = ',')]
        lessons: Vec<String>,
        /// Budget per page, in bytes.
        #[arg(long, default_value_t = 60 * 1024)]
        budget: u64,
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
                seats,
                course,
                dni_base,
                out,
            } => {
                seed(
                    &db.connect().await?,
                    learners,
                    seats,
                    course,
                    dni_base,
                    &out,
                )
                .await
            }
            Cmd::Burst {
                db,
                base,
                cookies,
                class,
                requests,
                concurrency,
                deadline_secs,
            } => {
                check_local(&base)?;
                let db = db.connect().await?;
                burst(
                    &db,
                    &base,
                    &cookies,
                    class,
                    requests,
                    concurrency,
                    Duration::from_secs(deadline_secs),
                )
                .await
            }
            Cmd::PageWeight {
                base,
                cookie,
                csrf,
                slug,
                lessons,
                budget,
            } => {
                check_local(&base)?;
                page_weight(&base, &cookie, &csrf, &slug, &lessons, budget).await
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// seed

async fn seed(
    db: &Db,
    learners: usize,
    seats: i64,
    course: Option<String>,
    dni_base: u64,
    out: &PathBuf,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let started = Instant::now();
    let department_id: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM departments ORDER BY id LIMIT 1"
    )
    .fetch_optional(p)
    .await)?
    .context("no hay departamentos: ¿arrancó el servidor sobre esta base?")?;
    let (course_id, slug): (i64, String) = match &course {
        Some(s) => with_db!(db, |p| sqlx::query_as("SELECT id, slug FROM courses WHERE slug = $1").bind(s).fetch_optional(p).await)?
            .with_context(|| format!("no existe el curso {s}"))?,
        None => with_db!(db, |p| sqlx::query_as(
            "SELECT c.id, c.slug FROM courses c
             ORDER BY (SELECT COUNT(*) FROM lessons l WHERE l.course_id = c.id AND NOT l.retired) DESC, c.slug LIMIT 1"
        )
        .fetch_optional(p)
        .await)?
        .context("no hay cursos: arrancá el servidor sin AULA_NO_DEMO para importar los de ejemplo")?,
    };
    let lessons: Vec<(String, i64)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT key, CAST(LENGTH(body_html) AS BIGINT) FROM lessons WHERE course_id = $1 AND NOT retired ORDER BY position, id"
    )
    .bind(course_id)
    .fetch_all(p)
    .await
    })?;
    let heaviest = lessons
        .iter()
        .max_by_key(|(_, len)| *len)
        .map(|(k, _)| k.clone())
        .context("el curso no tiene lecciones")?;

    // Learners in batches, one transaction each (thousands of single commits would dominate).
    let mut tokens = Vec::with_capacity(learners + 1);
    let mut dni_n = dni_base;
    let mut next_person = || -> anyhow::Result<NewPerson> {
        loop {
            let dni = Dni::parse(&dni_n.to_string()).map_err(anyhow::Error::msg)?;
            dni_n += 1;
            if let Some(cuil) = cuil_for(&dni) {
                return Ok(NewPerson {
                    dni,
                    cuil,
                    first_name: PersonName::parse("Carga", "nombre").map_err(anyhow::Error::msg)?,
                    last_name: PersonName::parse("Prueba", "apellido")
                        .map_err(anyhow::Error::msg)?,
                    birth_date: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                    email: None,
                    phone: None,
                    department_id,
                    locality_id: None,
                });
            }
        }
    };
    let mut people = Vec::with_capacity(learners + 1);
    for _ in 0..=learners {
        people.push(next_person()?);
    }
    let mut made = make_learners(db, &people).await?;
    // The last one is the reader: enrolled (confirmed) in the course's demo class.
    let (reader_person, reader_user, reader_token) = made.pop().context("sin lectores")?;
    for (_, _, t) in &made {
        tokens.push(t.clone());
    }

    let now = chrono::Utc::now();
    let demo_class: Option<i64> = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM classes WHERE course_id = $1 ORDER BY id LIMIT 1"
    )
    .bind(course_id)
    .fetch_optional(p)
    .await)?;
    let reading_class = match demo_class {
        Some(id) => id,
        None => {
            insert(
                db,
                &open_class(course_id, "Comisión de lectura (benchmark)", 40, now),
            )
            .await?
        }
    };
    let outcome =
        aula::enrolment::queries::enrol(db, reading_class, reader_person, Some(reader_user))
            .await?;
    match outcome {
        Ok(aula::enrolment::queries::Outcome::Confirmed)
        | Ok(aula::enrolment::queries::Outcome::Already(_)) => {}
        other => bail!("no se pudo inscribir al lector en la comisión {reading_class}: {other:?}"),
    }

    let class_id = insert(
        db,
        &open_class(course_id, "Comisión de carga (benchmark)", seats, now),
    )
    .await?;

    std::fs::write(out.join("cookies.txt"), tokens.join("\n") + "\n")?;
    let csrf = random_token();
    let keys: Vec<&str> = lessons.iter().map(|(k, _)| k.as_str()).collect();
    let env = format!(
        "SLUG='{slug}'\nLESSON='{heaviest}'\nLESSONS='{}'\nCLASS_ID='{class_id}'\nSEATS='{seats}'\nLEARNERS='{}'\nREADER_COOKIE='{reader_token}'\nCSRF='{csrf}'\n",
        keys.join(","),
        tokens.len()
    );
    std::fs::write(out.join("seed.env"), env)?;
    println!(
        "seed: {} lectores con sesión, comisión {class_id} ({seats} cupos) del curso «{slug}», lector inscripto en la comisión {reading_class}, lección más pesada «{heaviest}» ({:.1} s)",
        tokens.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn open_class(
    course_id: i64,
    name: &str,
    seats: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> ValidClass {
    ValidClass {
        course_id,
        name: name.into(),
        starts_on: now.date_naive(),
        ends_on: (now + chrono::Duration::days(60)).date_naive(),
        enrol_opens_at: now - chrono::Duration::days(1),
        enrol_closes_at: now + chrono::Duration::days(30),
        seats,
        department_id: None,
        institution_id: None,
    }
}

// ---------------------------------------------------------------------------------------------
// burst

/// What one enrolment request came back with.
enum Answer {
    Status {
        code: u16,
        notice: Option<String>,
        latency: Duration,
    },
    Lost(String),
}

fn notice_of(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("aula_aviso="))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .and_then(|raw| {
            form_urlencoded::parse(format!("m={raw}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn burst(
    db: &Db,
    base: &str,
    cookies: &PathBuf,
    class: i64,
    requests: Option<usize>,
    concurrency: usize,
    deadline: Duration,
) -> anyhow::Result<()> {
    let tokens: Vec<String> = std::fs::read_to_string(cookies)
        .with_context(|| format!("leer {}", cookies.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    let r = requests.unwrap_or(tokens.len());
    if r > tokens.len() {
        bail!(
            "pediste {r} solicitudes pero hay {} lectores: cada solicitud usa un lector distinto",
            tokens.len()
        );
    }
    let (seats, taken_before): (i64, i64) = with_db!(db, |p| sqlx::query_as(
        "SELECT seats, seats_taken FROM classes WHERE id = $1"
    )
    .bind(class)
    .fetch_optional(p)
    .await)?
    .with_context(|| format!("no existe la comisión {class}"))?;
    if taken_before != 0 {
        bail!(
            "la comisión {class} ya tiene {taken_before} cupos tomados: usá una comisión nueva (seed)"
        );
    }

    let client = Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .timeout(deadline)
        .build()?;
    let url = format!("{base}/comisiones/{class}/inscribirme");
    let csrf = random_token();
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut set = JoinSet::new();
    let started = Instant::now();
    for token in tokens.into_iter().take(r) {
        let client = client.clone();
        let url = url.clone();
        let csrf = csrf.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semáforo");
            let t0 = Instant::now();
            let sent = client
                .post(&url)
                .header(
                    header::COOKIE,
                    format!("aula_sesion={token}; aula_csrf={csrf}"),
                )
                .header("x-csrf-token", &csrf)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("")
                .send()
                .await;
            match sent {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    let notice = notice_of(&resp);
                    // Read the body so the connection is reusable and the answer complete.
                    match resp.bytes().await {
                        Ok(_) => Answer::Status {
                            code,
                            notice,
                            latency: t0.elapsed(),
                        },
                        Err(e) => Answer::Lost(format!("cuerpo: {e}")),
                    }
                }
                Err(e) => Answer::Lost(e.to_string()),
            }
        });
    }
    let mut by_code: BTreeMap<u16, usize> = BTreeMap::new();
    let mut by_notice: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(r);
    let mut lost = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Answer::Status {
                code,
                notice,
                latency,
            }) => {
                *by_code.entry(code).or_default() += 1;
                latencies.push(latency);
                let kind = match notice.as_deref() {
                    Some(n) if n.starts_with("¡Listo!") => "confirmada",
                    Some(n) if n.starts_with("La comisión está completa") => "lista de espera",
                    Some(n) if n.starts_with("Ya estabas") => "ya anotado/a",
                    Some(_) => "otro aviso",
                    None => "sin aviso",
                };
                *by_notice.entry(kind).or_default() += 1;
            }
            Ok(Answer::Lost(e)) => lost.push(e),
            Err(e) => lost.push(format!("tarea: {e}")),
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();

    #[derive(sqlx::FromRow)]
    struct Count {
        status: String,
        n: i64,
    }
    let counts: Vec<Count> = with_db!(db, |p| sqlx::query_as(
        "SELECT status, COUNT(*) AS n FROM enrolments WHERE class_id = $1 GROUP BY status"
    )
    .bind(class)
    .fetch_all(p)
    .await)?;
    let db_count = |s: &str| {
        counts
            .iter()
            .find(|c| c.status == s)
            .map(|c| c.n)
            .unwrap_or(0)
    };
    let confirmed = db_count("confirmed");
    let waitlisted = db_count("waitlisted");
    let taken: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT seats_taken FROM classes WHERE id = $1"
    )
    .bind(class)
    .fetch_one(p)
    .await)?;

    let answered = latencies.len();
    let five_xx: usize = by_code
        .iter()
        .filter(|(c, _)| **c >= 500)
        .map(|(_, n)| n)
        .sum();
    let expect_confirmed = seats.min(r as i64);
    let client_confirmed = by_notice.get("confirmada").copied().unwrap_or(0) as i64;
    let checks = [
        (
            "confirmadas == min(cupos, solicitudes)",
            confirmed == expect_confirmed,
            format!("{confirmed} == {expect_confirmed}"),
        ),
        (
            "cupos tomados == confirmadas",
            taken == confirmed,
            format!("{taken} == {confirmed}"),
        ),
        (
            "cupos tomados <= cupos (sin sobreventa)",
            taken <= seats,
            format!("{taken} <= {seats}"),
        ),
        (
            "lista de espera == solicitudes - confirmadas",
            waitlisted == r as i64 - confirmed,
            format!("{waitlisted} == {}", r as i64 - confirmed),
        ),
        ("cero respuestas 5xx", five_xx == 0, format!("{five_xx}")),
        (
            "cero solicitudes perdidas (todas respondidas)",
            lost.is_empty() && answered == r,
            format!("{} perdidas, {answered}/{r} respondidas", lost.len()),
        ),
        (
            "todas 303 (redirección al curso)",
            by_code.get(&303).copied().unwrap_or(0) == r,
            format!("{by_code:?}"),
        ),
        (
            "avisos «¡Listo!» == confirmadas en la base",
            client_confirmed == confirmed,
            format!("{client_confirmed} == {confirmed}"),
        ),
    ];

    println!(
        "burst: {r} inscripciones de {r} lectores distintos, concurrencia {concurrency}, comisión {class} con {seats} cupos"
    );
    println!("  duración        {:.2} s", elapsed.as_secs_f64());
    println!(
        "  solicitudes/s   {:.1}",
        answered as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latencia        p50 {}  p90 {}  p99 {}  máx {}",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "  por código      {}",
        by_code
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  por aviso       {}",
        by_notice
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  en la base      confirmadas {confirmed}, lista de espera {waitlisted}, cupos tomados {taken}/{seats}"
    );
    let mut ok = true;
    for (what, pass, detail) in &checks {
        println!(
            "  [{}] {what} ({detail})",
            if *pass { "ok" } else { "FALLA" }
        );
        ok &= pass;
    }
    for e in lost.iter().take(5) {
        println!("  perdida: {e}");
    }
    // One machine-readable line for bench/run.sh.
    println!(
        "BURST rps={:.1} p50_ms={:.1} p99_ms={:.1} requests={r} answered={answered} lost={} confirmed={confirmed} waitlisted={waitlisted} seats_taken={taken} seats={seats} five_xx={five_xx} ok={ok}",
        answered as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0).as_secs_f64() * 1000.0,
        percentile(&latencies, 99.0).as_secs_f64() * 1000.0,
        lost.len()
    );
    if !ok {
        bail!("la ráfaga de inscripciones no pasó los controles");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// page weight

/// Same-origin resources a page pulls in when it loads: stylesheets, images, scripts, icons.
/// `<video>`/`<audio>` sources (their `src` and the `<source>`s inside them) are listed apart:
/// the player fetches them only when the learner presses play (`preload="none"`).
fn subresources(html: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut loads = BTreeSet::new();
    let mut on_demand = BTreeSet::new();
    let mut in_media = false;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let attr = |a: &str| -> Option<String> {
            let needle = format!(" {a}=\"");
            let i = tag.find(&needle)? + needle.len();
            Some(tag[i..].split('"').next()?.replace("&amp;", "&"))
        };
        if tag.starts_with("/video") || tag.starts_with("/audio") {
            in_media = false;
        }
        match name.as_str() {
            "source" if in_media => {
                if let Some(s) = attr("src") {
                    on_demand.insert(s);
                }
            }
            "link" => {
                let rel = attr("rel").unwrap_or_default();
                if (rel.contains("stylesheet") || rel.contains("icon") || rel.contains("preload"))
                    && let Some(h) = attr("href")
                {
                    loads.insert(h);
                }
            }
            "img" | "script" | "source" | "iframe" => {
                if let Some(s) = attr("src") {
                    loads.insert(s);
                }
            }
            "video" | "audio" => {
                in_media = !tag.ends_with('/');
                if let Some(s) = attr("src") {
                    on_demand.insert(s);
                }
                if let Some(s) = attr("poster") {
                    loads.insert(s);
                }
            }
            _ => {}
        }
        rest = &rest[end.min(rest.len())..];
    }
    let local = |s: &String| s.starts_with('/') && !s.starts_with("//");
    (
        loads.into_iter().filter(local).collect(),
        on_demand.into_iter().filter(local).collect(),
    )
}

/// Body bytes as sent on the wire for this Accept-Encoding (reqwest here does not decompress).
async fn wire_bytes(
    client: &Client,
    url: &str,
    cookie: &str,
    encoding: &str,
) -> anyhow::Result<(StatusCode, Option<String>, Vec<u8>)> {
    let resp = client
        .get(url)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_ENCODING, encoding)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let enc = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, enc, resp.bytes().await?.to_vec()))
}

async fn page_weight(
    base: &str,
    session: &str,
    csrf: &str,
    slug: &str,
    lessons: &[String],
    budget: u64,
) -> anyhow::Result<()> {
    let client = Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let cookie = format!("aula_sesion={session}; aula_csrf={csrf}");
    let mut pages: Vec<(String, String)> = vec![
        ("catálogo".into(), "/cursos".into()),
        ("curso".into(), format!("/cursos/{slug}")),
    ];
    for k in lessons {
        pages.push((
            format!("lección {k}"),
            format!("/cursos/{slug}/lecciones/{k}"),
        ));
    }
    println!(
        "{:<52} {:>9} {:>9} {:>9} {:>11} {:>11} {:>8}",
        "página (con sesión)", "html", "html gz", "html br", "total gz", "total br", "≤ 60 KB"
    );
    let mut all_ok = true;
    let mut worst = 0u64;
    for (name, path) in &pages {
        let url = format!("{base}{path}");
        let (status, _, plain) = wire_bytes(&client, &url, &cookie, "identity").await?;
        if status != StatusCode::OK {
            bail!("GET {path} respondió {status}");
        }
        let html = String::from_utf8_lossy(&plain).to_string();
        let (_, enc_gz, gz) = wire_bytes(&client, &url, &cookie, "gzip").await?;
        let (_, enc_br, br) = wire_bytes(&client, &url, &cookie, "br").await?;
        if enc_gz.as_deref() != Some("gzip") || enc_br.as_deref() != Some("br") {
            println!("  aviso: {path} no vino comprimida (gzip: {enc_gz:?}, br: {enc_br:?})");
        }
        let (loads, on_demand) = subresources(&html);
        let mut sub_gz = 0u64;
        let mut sub_br = 0u64;
        let mut detail = Vec::new();
        for s in &loads {
            let u = format!("{base}{s}");
            let (st, _, g) = wire_bytes(&client, &u, &cookie, "gzip").await?;
            let (_, _, b) = wire_bytes(&client, &u, &cookie, "br").await?;
            if st != StatusCode::OK {
                println!("  aviso: {s} respondió {st}");
            }
            sub_gz += g.len() as u64;
            sub_br += b.len() as u64;
            detail.push(format!("{s} ({} B gz, {} B br)", g.len(), b.len()));
        }
        let total_gz = gz.len() as u64 + sub_gz;
        let total_br = br.len() as u64 + sub_br;
        let ok = total_gz <= budget;
        all_ok &= ok;
        worst = worst.max(total_gz);
        println!(
            "{:<52} {:>9} {:>9} {:>9} {:>11} {:>11} {:>8}",
            name,
            plain.len(),
            gz.len(),
            br.len(),
            total_gz,
            total_br,
            if ok { "sí" } else { "NO" }
        );
        for d in detail {
            println!("    + {d}");
        }
        for v in on_demand {
            println!("    (a pedido, no contado: {v})");
        }
    }
    println!("WEIGHT worst_total_gzip_bytes={worst} budget_bytes={budget} ok={all_ok}");
    if !all_ok {
        bail!("alguna página supera el presupuesto de {budget} bytes comprimidos");
    }
    Ok(())
}
