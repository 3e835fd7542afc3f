//! The database: one code path, two backends (SQLite embedded, PostgreSQL in production).
//!
//! sqlx's `Any` driver cannot decode booleans and timestamps natively on SQLite, so we hold
//! either pool in an enum and let [`with_db!`] expand each query once per backend: the same
//! SQL text (`$1` placeholders, `RETURNING`, `ON CONFLICT`) serves both.

use std::{path::Path, str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// Either database pool. Cloning is cheap (pools are reference-counted).
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Expands `$body` once for each backend with `$p` bound to the concrete pool.
#[macro_export]
macro_rules! with_db {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($p) => $body,
            $crate::db::Db::Postgres($p) => $body,
        }
    };
}

/// A transaction on either backend, so that a multi-statement change is an ordinary function
/// taking `&mut Tx` instead of a macro pasting SQL into each arm of [`with_db!`].
#[derive(Debug)]
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Expands `$body` once for each backend with `$c` bound to the transaction's connection
/// (`&mut SqliteConnection` or `&mut PgConnection`): `with_tx!(tx, |c| q.execute(c).await)`.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

impl Tx {
    /// Makes every statement of the transaction durable at once.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    /// Undoes the transaction (dropping it does too; this says so where it matters).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
    }
}

/// A stored text that names no known state (an enrolment status, a grading method...): reading
/// one back is an error, never a silent default.
#[derive(Debug, thiserror::Error)]
#[error("valor desconocido en la base de datos para {what}: {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// Implements `TryFrom<String>` (for `#[sqlx(try_from = "String")]`) and `as_str` for an enum
/// stored as text, from one table of `Variant => "text"` pairs.
#[macro_export]
macro_rules! stored_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
            /// The variant stored as `s`, if any.
            pub fn from_code(s: &str) -> Option<$ty> {
                match s { $($text => Some($ty::$variant),)+ _ => None }
            }
        }
        impl TryFrom<String> for $ty {
            type Error = $crate::db::UnknownValue;
            fn try_from(s: String) -> Result<$ty, Self::Error> {
                $ty::from_code(&s).ok_or($crate::db::UnknownValue { what: $what, value: s })
            }
        }
    };
}

/// Whether a database error is the violation of the named constraint (unique, check, FK).
pub fn is_constraint(err: &sqlx::Error, name: &str) -> bool {
    match err {
        sqlx::Error::Database(e) => e.constraint() == Some(name) || e.message().contains(name),
        _ => false,
    }
}

/// Whether a database error is a unique violation of any kind.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

impl Db {
    /// Connects to `database_url` when given (PostgreSQL), else to `aula.db` in `data_dir`.
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Db> {
        match database_url {
            Some(url) if url.starts_with("postgres") => {
                let pool = PgPoolOptions::new()
                    .max_connections(20)
                    // Under a burst, waiting for a connection beats answering 500; the request
                    // timeout (30 s) still bounds it.
                    .acquire_timeout(Duration::from_secs(25))
                    .connect(url)
                    .await
                    .context("no se pudo conectar a PostgreSQL (DATABASE_URL)")?;
                Ok(Db::Postgres(pool))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let opts = SqliteConnectOptions::from_str(url)?;
                Self::sqlite(opts).await
            }
            Some(other) => anyhow::bail!(
                "DATABASE_URL debe empezar con postgres:// o sqlite: (se recibió {:?})",
                other.split(':').next().unwrap_or("")
            ),
            None => {
                std::fs::create_dir_all(data_dir).with_context(|| {
                    format!(
                        "no se pudo crear la carpeta de datos {}",
                        data_dir.display()
                    )
                })?;
                let opts = SqliteConnectOptions::new().filename(data_dir.join("aula.db"));
                Self::sqlite(opts).await
            }
        }
    }

    async fn sqlite(opts: SqliteConnectOptions) -> anyhow::Result<Db> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Writers queue on SQLite's lock; a generous timeout turns bursts into waits, not errors.
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .context("no se pudo abrir la base SQLite")?;
        Ok(Db::Sqlite(pool))
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(p) => sqlx::migrate!("migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`,
    /// waiting up to the busy timeout): a transaction that read first and wrote later would
    /// otherwise fail with "database is locked", without waiting, whenever another connection
    /// committed a write in between (WAL's stale snapshot), as registrations did while the
    /// feed worker was queueing events.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Cheap round trip used by `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_db!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))
    }

    /// Name of the backend, for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        }
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        with_db!(self, |p| p.close().await)
    }
}
