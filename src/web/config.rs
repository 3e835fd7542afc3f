//! Configuration: command-line flags, environment variables and an optional TOML file.
//!
//! Precedence: flag > environment variable > config file > default. The file is `aula.toml`
//! in the working directory, or the one named by `--config` / `AULA_CONFIG`.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Default slack after a quiz deadline, in seconds.
pub const DEFAULT_QUIZ_GRACE_SECONDS: u64 = 30;
/// Default interval of the overdue-attempt sweep, in seconds.
pub const DEFAULT_QUIZ_SWEEP_SECONDS: u64 = 15;

/// Everything `aula serve` needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Folder for the SQLite database and local media uploads.
    pub data_dir: PathBuf,
    /// `postgres://...` selects PostgreSQL; none means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Folder with course folders (`course.toml` + lessons).
    pub courses_dir: PathBuf,
    /// Folder with the media that courses reference.
    pub media_dir: PathBuf,
    /// Public base URL, used in emailed links (e.g. `https://aula.tucuman.gob.ar`).
    pub base_url: String,
    /// Mark cookies `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Trust the last `X-Forwarded-For` hop for the client address (behind a proxy).
    pub trust_proxy: bool,
    /// SMTP server URL (`smtps://user:pass@host`); none logs emails instead of sending them.
    pub smtp_url: Option<String>,
    /// Without SMTP, write emails as `.eml` files in this folder (development, tests).
    pub mail_dir: Option<PathBuf>,
    /// Sender address of emails.
    pub mail_from: String,
    /// Import `courses_dir` and seed the demo data on start.
    pub demo: bool,
    /// Slack after a quiz deadline for answers already on their way (slow phone networks).
    pub quiz_grace: std::time::Duration,
    /// How often overdue quiz attempts are looked for, closed and graded.
    pub quiz_sweep: std::time::Duration,
    /// Live rooms: UDP ports, public IP, ICE servers (`[live]` table).
    pub live: crate::live::config::LiveConfig,
    /// Rate limits of logins, registrations, claims, resets (`[limits]` table).
    pub limits: crate::accounts::limits::Limits,
}

/// The optional config file; every key is optional and mirrors an environment variable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub courses_dir: Option<PathBuf>,
    pub media_dir: Option<PathBuf>,
    pub base_url: Option<String>,
    pub secure_cookies: Option<bool>,
    pub trust_proxy: Option<bool>,
    pub smtp_url: Option<String>,
    pub mail_dir: Option<PathBuf>,
    pub mail_from: Option<String>,
    pub demo: Option<bool>,
    pub quiz_grace_seconds: Option<u64>,
    pub quiz_sweep_seconds: Option<u64>,
    pub live: Option<crate::live::config::LiveConfig>,
    pub limits: Option<crate::accounts::limits::Limits>,
}

impl FileConfig {
    /// Reads the file named explicitly (must exist) or `aula.toml` if present.
    pub fn load(path: Option<&PathBuf>) -> anyhow::Result<FileConfig> {
        let (path, required) = match path {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from("aula.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("archivo de configuración {} inválido", path.display())),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("no se pudo leer {}", path.display())),
        }
    }
}

impl Config {
    /// A configuration for tests and embedding: SQLite in `data_dir`, repo's courses and media.
    pub fn for_data_dir(data_dir: PathBuf) -> Config {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Config {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            data_dir,
            database_url: None,
            courses_dir: root.join("courses"),
            media_dir: root.join("media"),
            base_url: "http://127.0.0.1:8080".into(),
            secure_cookies: false,
            trust_proxy: false,
            smtp_url: None,
            mail_dir: None,
            mail_from: "Aula Tucumán Capacita <no-responder@aula.local>".into(),
            demo: true,
            quiz_grace: std::time::Duration::from_secs(DEFAULT_QUIZ_GRACE_SECONDS),
            quiz_sweep: std::time::Duration::from_secs(DEFAULT_QUIZ_SWEEP_SECONDS),
            live: Default::default(),
            limits: Default::default(),
        }
    }
}
