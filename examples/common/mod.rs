//! What the load generators share (`loadgen`, `quizload`): the database they seed, the
//! learners they make, and the rule that they only talk to this machine.

use std::path::{Path, PathBuf};

use anyhow::bail;
use aula::{
    accounts::session,
    db::Db,
    people::{
        domain::{Cuil, Dni},
        persons::{self, NewPerson},
    },
    web::cookies::random_token,
    with_tx,
};
use clap::Args;

/// The server's database, which the generators seed and check.
#[derive(Args, Clone)]
pub struct DbArgs {
    /// PostgreSQL URL of the server's database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Path of the server's SQLite database (aula.db) when not on PostgreSQL.
    #[arg(long)]
    sqlite: Option<PathBuf>,
}

impl DbArgs {
    pub async fn connect(&self) -> anyhow::Result<Db> {
        match (&self.database_url, &self.sqlite) {
            (Some(url), _) if url.starts_with("postgres") => {
                Db::connect(Some(url), Path::new(".")).await
            }
            (_, Some(path)) => {
                if !path.exists() {
                    bail!("no existe la base SQLite {}", path.display());
                }
                Db::connect(Some(&format!("sqlite:{}", path.display())), Path::new(".")).await
            }
            _ => bail!("indicá DATABASE_URL=postgres://… o --sqlite RUTA/aula.db"),
        }
    }
}

/// Traffic only to this machine.
pub fn check_local(base: &str) -> anyhow::Result<()> {
    if !(base.starts_with("http://127.0.0.1:") || base.starts_with("http://localhost:")) {
        bail!("--base debe ser http://127.0.0.1:PUERTO (el generador solo habla con esta máquina)");
    }
    Ok(())
}

/// A valid CUIL for a made-up DNI (whichever prefix makes one).
pub fn cuil_for(dni: &Dni) -> Option<Cuil> {
    ["20", "27", "23", "24"]
        .iter()
        .find_map(|p| Cuil::for_dni(p, dni))
}

/// Creates each of `people` with a user and a session, as the tests' `quick_user` does, 500
/// to a transaction; returns (person, user, session token) in the same order.
pub async fn make_learners(
    db: &Db,
    people: &[NewPerson],
) -> anyhow::Result<Vec<(i64, i64, String)>> {
    let mut made = Vec::with_capacity(people.len());
    for chunk in people.chunks(500) {
        let mut tx = db.begin().await?;
        let now = chrono::Utc::now();
        for np in chunk {
            let person_id = persons::insert(&mut tx, np, None).await?;
            let user_id: i64 = with_tx!(&mut tx, |c| {
                sqlx::query_scalar(
                "INSERT INTO users (person_id, password_hash, created_at) VALUES ($1, 'x', $2) RETURNING id"
            )
            .bind(person_id)
            .bind(now)
            .fetch_one(c)
            .await
            })?;
            // The row `session::create` writes; here to stay inside the batch transaction.
            let token = random_token();
            with_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)"
            )
            .bind(session::token_hash(&token))
            .bind(user_id)
            .bind(now)
            .bind(now + chrono::Duration::days(session::LIFETIME_DAYS))
            .execute(c)
            .await
            .map(|_| ())
            })?;
            made.push((person_id, user_id, token));
        }
        tx.commit().await?;
    }
    Ok(made)
}
