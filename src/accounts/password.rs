//! Passwords: argon2id with OWASP's parameters, hashed off the async runtime on a fixed set of
//! threads that reuse their working memory (each hash takes ~19 MiB and most of a core for a
//! few milliseconds).

use argon2::Params;

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

fn params() -> Params {
    // OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
    Params::new(19 * 1024, 2, 1, None).expect("constant, valid argon2 parameters")
}

/// Hashes on the pool (see [`pool`]): argon2id with a fresh salt, as a PHC string.
pub async fn hash(password: &Password) -> anyhow::Result<String> {
    pool::run(pool::Work::Hash(password.0.clone()))
        .await
        .and_then(|o| {
            o.hash
                .ok_or_else(|| anyhow::anyhow!("argon2: sin resultado"))
        })
}

/// Verifies on the pool. With no stored hash, burns the same time and fails (so response
/// time does not reveal whether an account exists).
pub async fn verify(password: &str, stored: Option<String>) -> anyhow::Result<bool> {
    let dummy = stored.is_none();
    let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
    let ok = pool::run(pool::Work::Verify {
        password: password.to_string(),
        stored,
    })
    .await?
    .matched;
    Ok(ok && !dummy)
}

/// Password hashing on a fixed set of threads, one per core, each keeping argon2's 19 MiB of
/// working memory between hashes and giving it back after a quiet minute. Hashing on tokio's
/// blocking pool allocated those 19 MiB per hash on whatever thread ran it, and the allocator
/// kept them per thread: 100 registrations left the process at 632 MB for good. Here memory is
/// bounded by the number of cores, and the threads run at a lower priority than the web
/// workers so that a burst of logins queues behind pages instead of slowing them.
mod pool {
    use std::{
        sync::{Arc, LazyLock, Mutex, mpsc},
        time::Duration,
    };

    use argon2::{
        Argon2, Block, Params, PasswordHash,
        password_hash::{Output, ParamsString, SaltString, rand_core::OsRng},
    };
    use subtle::ConstantTimeEq;
    use tokio::sync::oneshot;

    /// How long a thread keeps its working memory without work.
    const KEEP_MEMORY: Duration = Duration::from_secs(60);

    pub enum Work {
        Hash(String),
        Verify { password: String, stored: String },
    }

    #[derive(Default)]
    pub struct Outcome {
        pub hash: Option<String>,
        pub matched: bool,
    }

    struct Job {
        work: Work,
        reply: oneshot::Sender<anyhow::Result<Outcome>>,
    }

    static JOBS: LazyLock<Mutex<mpsc::Sender<Job>>> = LazyLock::new(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        for i in 0..threads {
            let rx = rx.clone();
            // A thread that cannot start leaves the others; with none, `run` reports it.
            let _ = std::thread::Builder::new()
                .name(format!("aula-argon2-{i}"))
                .spawn(move || worker(rx));
        }
        Mutex::new(tx)
    });

    /// Queues `work` and waits for its result.
    pub async fn run(work: Work) -> anyhow::Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        JOBS.lock()
            .map_err(|_| anyhow::anyhow!("argon2: cola envenenada"))?
            .send(Job { work, reply })
            .map_err(|_| anyhow::anyhow!("argon2: no hay hilos para calcular"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("argon2: el hilo terminó sin responder"))?
    }

    fn worker(rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
        lower_priority();
        let mut memory: Vec<Block> = Vec::new();
        loop {
            let next = match rx.lock() {
                Ok(rx) => rx.recv_timeout(KEEP_MEMORY),
                Err(_) => return,
            };
            match next {
                Ok(job) => {
                    let _ = job.reply.send(work(job.work, &mut memory));
                }
                // Quiet: give the working memory back (a block this size is its own mapping,
                // see `app::tune_allocator`, so freeing returns it to the system).
                Err(mpsc::RecvTimeoutError::Timeout) => memory = Vec::new(),
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn work(work: Work, memory: &mut Vec<Block>) -> anyhow::Result<Outcome> {
        match work {
            Work::Hash(password) => {
                let params = super::params();
                let salt = SaltString::generate(&mut OsRng);
                let mut salt_bytes = [0u8; 64];
                let raw_salt = salt
                    .decode_b64(&mut salt_bytes)
                    .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
                let mut out = [0u8; 32];
                compute(&params, password.as_bytes(), raw_salt, &mut out, memory)?;
                let phc = PasswordHash {
                    algorithm: argon2::Algorithm::Argon2id.ident(),
                    version: Some(argon2::Version::V0x13.into()),
                    params: ParamsString::try_from(&params)
                        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?,
                    salt: Some(salt.as_salt()),
                    hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2: {e}"))?),
                };
                Ok(Outcome {
                    hash: Some(phc.to_string()),
                    matched: false,
                })
            }
            Work::Verify { password, stored } => {
                let parsed = PasswordHash::new(&stored)
                    .map_err(|e| anyhow::anyhow!("hash guardado inválido: {e}"))?;
                let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                    anyhow::bail!("hash guardado inválido: sin sal o sin resultado");
                };
                let params =
                    Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
                let mut salt_bytes = [0u8; 64];
                let raw_salt = salt
                    .decode_b64(&mut salt_bytes)
                    .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
                let mut out = vec![0u8; expected.len()];
                compute(&params, password.as_bytes(), raw_salt, &mut out, memory)?;
                Ok(Outcome {
                    hash: None,
                    matched: out.ct_eq(expected.as_bytes()).into(),
                })
            }
        }
    }

    /// argon2id into `out`, reusing `memory` when it has the size these parameters need.
    fn compute(
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
        memory: &mut Vec<Block>,
    ) -> anyhow::Result<()> {
        if memory.len() != params.block_count() {
            *memory = vec![Block::default(); params.block_count()];
        }
        Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params.clone(),
        )
        .hash_password_into_with_memory(password, salt, out, memory.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    }

    /// Hashing yields to the web workers: nice +10 for this thread (Linux), so a login storm
    /// waits for idle CPU instead of slowing every page.
    fn lower_priority() {
        #[cfg(target_os = "linux")]
        // SAFETY: plain syscalls on the calling thread's own id; no memory is shared.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, 10);
        }
    }
}

/// argon2id hash of a random string nobody knows, with our parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J8vTFuMJ4C3J0HTVW0nEHOR0mxTUqT/9cIoukzwS0Gk";

#[cfg(test)]
mod tests {
    use argon2::{
        Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString,
    };

    use super::*;

    fn pw(s: &str) -> Password {
        Password::parse(s).unwrap()
    }

    #[tokio::test]
    async fn the_pool_hashes_and_verifies_and_refuses_a_wrong_password() {
        let h = hash(&pw("clave-segura-123")).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("clave-segura-123", Some(h.clone())).await.unwrap());
        assert!(!verify("clave-segura-124", Some(h.clone())).await.unwrap());
        assert!(!verify("clave-segura-123", None).await.unwrap());
        // Two hashes of one password differ (fresh salt each time).
        assert_ne!(h, hash(&pw("clave-segura-123")).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_the_stock_argon2_phc_strings_both_ways() {
        let stock = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params(),
        );
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let theirs = stock
            .hash_password(b"otra-clave-99", &salt)
            .unwrap()
            .to_string();
        assert!(verify("otra-clave-99", Some(theirs)).await.unwrap());
        let ours = hash(&pw("otra-clave-99")).await.unwrap();
        assert!(
            stock
                .verify_password(b"otra-clave-99", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_hash_with_other_parameters_still_verifies() {
        // Hashes stored under other parameters (older settings) need other working memory.
        let small = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let old = small
            .hash_password(b"vieja-clave-1", &salt)
            .unwrap()
            .to_string();
        assert!(verify("vieja-clave-1", Some(old.clone())).await.unwrap());
        assert!(!verify("vieja-clave-2", Some(old)).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_has_our_parameters() {
        let parsed = Params::try_from(&PasswordHash::new(DUMMY_HASH).unwrap()).unwrap();
        let ours = params();
        assert_eq!(
            (parsed.m_cost(), parsed.t_cost(), parsed.p_cost()),
            (ours.m_cost(), ours.t_cost(), ours.p_cost())
        );
    }
}
