//! Passwords: argon2id with OWASP's parameters, hashed off the async runtime with bounded
//! concurrency (each hash takes ~19 MiB and most of a core for a few milliseconds).

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use std::sync::LazyLock;

use tokio::sync::Semaphore;

/// A password that meets our minimum rules. Never logged (no Debug of the content).
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(input: &str) -> Result<Password, String> {
        let n = input.chars().count();
        if n < 8 {
            return Err("La contraseña necesita al menos 8 caracteres.".into());
        }
        if n > 128 {
            return Err("La contraseña puede tener hasta 128 caracteres.".into());
        }
        if input.chars().all(|c| c.is_ascii_digit()) && n <= 8 {
            return Err("Elegí una contraseña que no sea solo tu DNI u otro número corto.".into());
        }
        Ok(Password(input.to_string()))
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant, valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// At most one hash per core at a time, for the whole process: a burst of logins waits its turn
/// instead of taking all the memory and every core.
static LIMIT: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    )
});

/// Hashes on the blocking pool, waiting for its turn.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    let _permit = LIMIT.acquire().await?;
    let pw = password.0.clone();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(pw.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

/// Verifies on the blocking pool. With no stored hash, burns the same time and fails
/// (so response time does not reveal whether an account exists).
pub async fn verify(password: &str, stored: Option<String>) -> anyhow::Result<bool> {
    let _permit = LIMIT.acquire().await?;
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("hash guardado inválido: {e}"))?;
        let ok = argon2().verify_password(pw.as_bytes(), &parsed).is_ok();
        Ok(ok && stored != DUMMY_HASH)
    })
    .await?
}

/// argon2id hash of a random string nobody knows, with our parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J8vTFuMJ4C3J0HTVW0nEHOR0mxTUqT/9cIoukzwS0Gk";
