//! SIPE's bulk load (issue 11): N valid people (valid CUILs, real departments) posted to
//! `POST /api/v1/personas/lote` in batches, the total time measured; then the operator's
//! search (`/oficina?q=`) by DNI prefix and by name at that size, p50/p99. Run by
//! `bench/sipe_bulk.sh`; results go in BENCHMARKS.md by hand.
//!
//!   sipe_bulk seed --sqlite data/aula.db          # prints TOKEN=… and OPERATOR_COOKIE=…
//!   sipe_bulk run --base http://127.0.0.1:18093 --token T --operator-cookie C --people 350000
//!
//! Only 127.0.0.1 is contacted.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aula::{
    db::Db,
    feed::api::tokens::{Scope, create_token},
    people::{
        domain::{Dni, PersonName},
        persons::NewPerson,
    },
    with_db,
};
use clap::{Parser, Subcommand};
use common::{DbArgs, check_local, cuil_for, make_learners};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creates a read+write API token and an operator of the Capital office with a session.
    Seed {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Posts the people in batches, then measures the operator's search.
    Run {
        #[arg(long, default_value = "http://127.0.0.1:18093")]
        base: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        operator_cookie: String,
        #[arg(long, default_value_t = 350_000)]
        people: usize,
        #[arg(long, default_value_t = 5000)]
        batch: usize,
        /// First DNI (DNIs are consecutive).
        #[arg(long, default_value_t = 20_000_000)]
        dni_base: u64,
        /// Searches of each kind (DNI prefix, surname, first name with a DNI prefix) for the
        /// percentiles.
        #[arg(long, default_value_t = 200)]
        searches: usize,
        /// Only the searches (the people were loaded by an earlier run with the same
        /// `--people` and `--dni-base`).
        #[arg(long)]
        search_only: bool,
    },
}

const DEPARTMENTS: [&str; 17] = [
    "Capital",
    "Capital",
    "Capital",
    "Cruz Alta",
    "Tafí Viejo",
    "Yerba Buena",
    "Lules",
    "Famaillá",
    "Monteros",
    "Chicligasta",
    "Río Chico",
    "Simoca",
    "Leales",
    "Burruyacú",
    "Trancas",
    "Tafí del Valle",
    "Graneros",
];
const FIRST: [&str; 12] = [
    "Lucía",
    "Juan",
    "María",
    "José",
    "Ana",
    "Carlos",
    "Sofía",
    "Diego",
    "Valentina",
    "Martín",
    "Camila",
    "Nicolás",
];
const LAST: [&str; 12] = [
    "González",
    "Rodríguez",
    "Gómez",
    "Fernández",
    "López",
    "Díaz",
    "Martínez",
    "Pérez",
    "Romero",
    "Sosa",
    "Medina",
    "Herrera",
];

/// The person number `i` as one NDJSON line (deterministic, so a rerun is "unchanged").
fn line(dni_base: u64, i: usize) -> Option<String> {
    let dni = (dni_base + i as u64).to_string();
    let cuil = cuil_for(&Dni::parse(&dni).ok()?)?;
    Some(
        serde_json::json!({
            "dni": dni,
            "cuil": cuil.as_str(),
            "nombre": FIRST[i % FIRST.len()],
            "apellido": format!("{} {}", LAST[(i / 12) % LAST.len()], LAST[(i / 144) % LAST.len()]),
            "fecha_nacimiento": format!("{}-{:02}-{:02}", 1960 + i % 45, 1 + i % 12, 1 + i % 28),
            "telefono": format!("381{:07}", i % 10_000_000),
            "departamento": DEPARTMENTS[i % DEPARTMENTS.len()],
        })
        .to_string(),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

async fn seed(db: &Db) -> anyhow::Result<()> {
    let token = create_token(
        db,
        "bench sipe_bulk",
        &[Scope::Read, Scope::WritePersons],
        None,
    )
    .await?;
    let dni = Dni::parse("19999001").map_err(anyhow::Error::msg)?;
    let department_id: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM departments WHERE name = 'Capital'"
    )
    .fetch_one(p)
    .await)?;
    let np = NewPerson {
        cuil: cuil_for(&dni).context("CUIL")?,
        dni,
        first_name: PersonName::parse("Operadora", "nombre").map_err(anyhow::Error::msg)?,
        last_name: PersonName::parse("Banco", "apellido").map_err(anyhow::Error::msg)?,
        birth_date: chrono::NaiveDate::from_ymd_opt(1980, 1, 1).context("fecha")?,
        email: None,
        phone: None,
        department_id,
        locality_id: None,
    };
    let (_, user_id, cookie) = make_learners(db, &[np]).await?.remove(0);
    with_db!(db, |p| sqlx::query(
        "INSERT INTO role_grants (user_id, role, office_id, created_at)
         SELECT $1, 'operator', id, $2 FROM offices WHERE name = 'Oficina de Empleo Capital'"
    )
    .bind(user_id)
    .bind(chrono::Utc::now())
    .execute(p)
    .await
    .map(|_| ()))?;
    println!("TOKEN={token}");
    println!("OPERATOR_COOKIE={cookie}");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    base: &str,
    token: &str,
    cookie: &str,
    people: usize,
    batch: usize,
    dni_base: u64,
    searches: usize,
    search_only: bool,
) -> anyhow::Result<()> {
    check_local(base)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let started = Instant::now();
    let (mut created, mut updated, mut unchanged, mut refused) = (0u64, 0u64, 0u64, 0u64);
    let mut batch_times = vec![];
    let mut i = if search_only { people } else { 0 };
    while i < people {
        let end = (i + batch).min(people);
        let body: String = (i..end)
            .filter_map(|n| line(dni_base, n))
            .collect::<Vec<_>>()
            .join("\n");
        let t = Instant::now();
        let resp = client
            .post(format!("{base}/api/v1/personas/lote"))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("lote {i}..{end}: {status}: {text}");
        }
        batch_times.push(t.elapsed());
        let report: serde_json::Value = serde_json::from_str(&text)?;
        let n = |k: &str| report[k].as_u64().unwrap_or(0);
        created += n("creadas");
        updated += n("actualizadas");
        unchanged += n("sin_cambios");
        refused += n("rechazadas");
        i = end;
        if (i / batch).is_multiple_of(10) {
            eprintln!("{i} personas en {:.1} s", started.elapsed().as_secs_f64());
        }
    }
    let total = started.elapsed();
    batch_times.sort();
    // The operator's search over the Capital territory: DNI prefixes (5 digits), surnames
    // (each carried by a sixth of the people) and a first name with a DNI prefix (a few dozen
    // people: the rare kind, which the trigram indexes serve).
    let mut by_dni = vec![];
    let mut by_name = vec![];
    let mut by_rare = vec![];
    for k in 0..searches {
        let n = (k * 7919) % people.max(1);
        let prefix = &(dni_base + n as u64).to_string()[..5];
        let name = LAST[k % LAST.len()];
        let rare = format!("{} {prefix}", FIRST[k % FIRST.len()]);
        for (q, into) in [
            (prefix.to_string(), &mut by_dni),
            (name.to_string(), &mut by_name),
            (rare, &mut by_rare),
        ] {
            let t = Instant::now();
            let resp = client
                .get(format!(
                    "{base}/oficina?q={}",
                    aula::web::text::url_encode(&q)
                ))
                .header(
                    "cookie",
                    format!("{}={cookie}", aula::accounts::session::COOKIE),
                )
                .send()
                .await?;
            let status = resp.status();
            let _ = resp.bytes().await?;
            if !status.is_success() {
                bail!("búsqueda {q}: {status}");
            }
            into.push(t.elapsed());
        }
    }
    by_dni.sort();
    by_name.sort();
    by_rare.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if search_only {
        println!(
            "SIPE_SEARCH people={people} search_dni_p50_ms={:.1} search_dni_p99_ms={:.1} search_name_p50_ms={:.1} search_name_p99_ms={:.1} search_rare_p50_ms={:.1} search_rare_p99_ms={:.1}",
            ms(percentile(&by_dni, 0.5)),
            ms(percentile(&by_dni, 0.99)),
            ms(percentile(&by_name, 0.5)),
            ms(percentile(&by_name, 0.99)),
            ms(percentile(&by_rare, 0.5)),
            ms(percentile(&by_rare, 0.99)),
        );
        return Ok(());
    }
    println!(
        "SIPE_BULK people={people} batch={batch} total_s={:.1} per_s={:.0} created={created} updated={updated} unchanged={unchanged} refused={refused} batch_p50_ms={:.0} batch_p99_ms={:.0} search_dni_p50_ms={:.1} search_dni_p99_ms={:.1} search_name_p50_ms={:.1} search_name_p99_ms={:.1} search_rare_p50_ms={:.1} search_rare_p99_ms={:.1}",
        total.as_secs_f64(),
        people as f64 / total.as_secs_f64(),
        ms(percentile(&batch_times, 0.5)),
        ms(percentile(&batch_times, 0.99)),
        ms(percentile(&by_dni, 0.5)),
        ms(percentile(&by_dni, 0.99)),
        ms(percentile(&by_name, 0.5)),
        ms(percentile(&by_name, 0.99)),
        ms(percentile(&by_rare, 0.5)),
        ms(percentile(&by_rare, 0.99)),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Seed { db } => seed(&db.connect().await?).await,
        Cmd::Run {
            base,
            token,
            operator_cookie,
            people,
            batch,
            dni_base,
            searches,
            search_only,
        } => {
            run(
                &base,
                &token,
                &operator_cookie,
                people,
                batch,
                dni_base,
                searches,
                search_only,
            )
            .await
        }
    }
}
