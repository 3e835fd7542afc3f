//! Configuration: one mechanism (figment) layers the TOML file, the environment and the
//! command-line flags over the defaults.
//!
//! Precedence: flag > environment variable > config file > default. The file is `aula.toml`
//! in the working directory, or the one named by `--config` / `AULA_CONFIG`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::web::config_de::{opt_bool, opt_text};

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
    pub quiz_grace: Duration,
    /// How often overdue quiz attempts are looked for, closed and graded.
    pub quiz_sweep: Duration,
    /// Live rooms: UDP ports, public IP, ICE servers (`[live]` table).
    pub live: crate::live::config::LiveConfig,
    /// Media store (local folder or S3), uploads and renditions (`[media]` table).
    pub media: crate::media::config::MediaConfig,
    /// Rate limits of logins, registrations, claims, resets (`[limits]` table).
    pub limits: crate::web::limits::Limits,
    pub feed: crate::feed::delivery::config::Settings,
    /// The master key that seals the institutions' signing keys (64 hex digits or base64 of
    /// 32 bytes); `None`: the key file `master.key` in the data folder, created on first start.
    pub master_key: Option<String>,
}

/// The configuration as the layers give it: every key optional, with the same name in
/// `aula.toml`, as an environment variable `AULA_<KEY>` (`DATABASE_URL` for `database_url`,
/// `AULA_LIVE_<KEY>` for `[live]`) and, for some, as a flag. [`load`] merges them.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_text")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub courses_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_text")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_bool")]
    pub secure_cookies: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_bool")]
    pub trust_proxy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_text")]
    pub smtp_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_text")]
    pub mail_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_bool")]
    pub demo: Option<bool>,
    /// `AULA_NO_DEMO=1` / `--no-demo`: the negative form of `demo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "opt_bool")]
    pub no_demo: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiz_grace_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiz_sweep_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<crate::live::config::LiveConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<crate::media::config::MediaConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::web::limits::Limits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<crate::feed::delivery::config::FeedConfig>,
    /// `AULA_MASTER_KEY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key: Option<String>,
}

/// Top-level keys taken from `AULA_*` variables (the others, like `AULA_CONFIG` or
/// `AULA_LOG_JSON`, are not configuration keys); `AULA_LIVE_*` go to `[live]`.
const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "courses_dir",
    "media_dir",
    "base_url",
    "secure_cookies",
    "trust_proxy",
    "smtp_url",
    "mail_dir",
    "mail_from",
    "demo",
    "no_demo",
    "quiz_grace_seconds",
    "quiz_sweep_seconds",
    "master_key",
];

/// The configuration key of variable `AULA_<name>`, if it is one: top-level keys, `[live]`
/// (`AULA_LIVE_*`) and `[media]` (`AULA_S3_*`, `AULA_MEDIA_STORE_DIR`, `AULA_MEDIA_RENDITIONS`,
/// `AULA_FFMPEG`, `AULA_FFPROBE`) and `[limits]` (`AULA_LIMIT_*`).
fn env_key(name: &str) -> Option<String> {
    let k = name.to_ascii_lowercase();
    if ENV_KEYS.contains(&k.as_str()) {
        return Some(k);
    }
    if let Some(rest) = k.strip_prefix("live_") {
        return Some(format!("live.{rest}"));
    }
    if let Some(rest) = k.strip_prefix("feed_") {
        return Some(format!("feed.{rest}"));
    }
    if let Some(rest) = k.strip_prefix("limit_") {
        return Some(format!("limits.{rest}"));
    }
    let media = match k.as_str() {
        "media_store_dir" => "store_dir",
        "media_renditions" => "renditions",
        "ffmpeg" => "ffmpeg",
        "ffprobe" => "ffprobe",
        "s3_presign_seconds" => "presign_seconds",
        other => {
            return other
                .strip_prefix("s3_")
                .map(|rest| format!("media.s3.{rest}"));
        }
    };
    Some(format!("media.{media}"))
}

/// Merges, from lowest to highest precedence: the file (`path` if given, which must exist,
/// else `./aula.toml` if present), the environment, then `flags` (a flag not given is absent).
pub fn load(path: Option<&PathBuf>, flags: &RawConfig) -> anyhow::Result<Config> {
    let file = match path {
        Some(p) if !p.is_file() => {
            anyhow::bail!(
                "no se pudo leer el archivo de configuración {}",
                p.display()
            )
        }
        Some(p) => p.clone(),
        None => PathBuf::from("aula.toml"),
    };
    let raw: RawConfig = Figment::new()
        .merge(Toml::file(&file))
        .merge(
            // Keys arrive with the prefix stripped, in the variable's (upper) case.
            Env::prefixed("AULA_").filter_map(|k| env_key(k.as_str()).map(Into::into)),
        )
        .merge(Env::raw().only(&["DATABASE_URL"]))
        .merge(Serialized::defaults(flags))
        .extract()
        .map_err(|e| anyhow::anyhow!("configuración inválida ({}): {e}", file.display()))?;
    Config::from_raw(raw)
}

impl Config {
    /// The runtime configuration from the merged layers, with the defaults filled in.
    pub fn from_raw(raw: RawConfig) -> anyhow::Result<Config> {
        let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_text
            .parse()
            .map_err(|_| anyhow::anyhow!("dirección para escuchar inválida: {listen_text}"))?;
        let base_url = raw
            .base_url
            .unwrap_or_else(|| format!("http://{listen_text}"))
            .trim_end_matches('/')
            .to_string();
        let mut limits = raw.limits.unwrap_or_default();
        limits.validate()?;
        let media = raw.media.unwrap_or_default();
        media.validate()?;
        let mut live = raw.live.unwrap_or_default();
        live.apply_port_range()?;
        live.validate()?;
        let feed = raw.feed.unwrap_or_default().settings()?;
        Ok(Config {
            listen,
            data_dir: raw.data_dir.unwrap_or_else(|| "data".into()),
            database_url: raw.database_url,
            courses_dir: raw.courses_dir.unwrap_or_else(|| "courses".into()),
            media_dir: raw.media_dir.unwrap_or_else(|| "media".into()),
            // Served over HTTPS (per the public address): Secure cookies unless told otherwise.
            secure_cookies: raw
                .secure_cookies
                .unwrap_or(base_url.starts_with("https://")),
            base_url,
            trust_proxy: raw.trust_proxy.unwrap_or(false),
            smtp_url: raw.smtp_url,
            mail_dir: raw.mail_dir,
            mail_from: raw
                .mail_from
                .unwrap_or_else(|| "Aula Tucumán Capacita <no-responder@aula.local>".into()),
            demo: raw.demo != Some(false) && raw.no_demo != Some(true),
            quiz_grace: Duration::from_secs(
                raw.quiz_grace_seconds.unwrap_or(DEFAULT_QUIZ_GRACE_SECONDS),
            ),
            quiz_sweep: Duration::from_secs(
                raw.quiz_sweep_seconds
                    .unwrap_or(DEFAULT_QUIZ_SWEEP_SECONDS)
                    .max(1),
            ),
            live,
            media,
            limits,
            feed,
            master_key: raw.master_key,
        })
    }

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
            quiz_grace: Duration::from_secs(DEFAULT_QUIZ_GRACE_SECONDS),
            quiz_sweep: Duration::from_secs(DEFAULT_QUIZ_SWEEP_SECONDS),
            live: Default::default(),
            // No background ffmpeg work unless a test asks for it (each app imports 3 videos).
            media: crate::media::config::MediaConfig {
                renditions: Some(false),
                ..Default::default()
            },
            limits: Default::default(),
            feed: crate::feed::delivery::config::FeedConfig::default()
                .settings()
                .expect("no endpoints: valid"),
            master_key: None,
        }
    }
}

#[cfg(test)]
// figment's Jail closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn flags() -> RawConfig {
        RawConfig::default()
    }

    #[test]
    fn flags_win_over_environment_which_wins_over_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "aula.toml",
                "listen = \"127.0.0.1:7001\"\nbase_url = \"https://aula.test\"\nmedia_dir = \"m-file\"\n",
            )?;
            jail.set_env("AULA_LISTEN", "127.0.0.1:7002");
            jail.set_env("AULA_MEDIA_DIR", "m-env");
            let c = load(None, &flags()).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 7002, "el entorno gana al archivo");
            assert_eq!(c.media_dir, PathBuf::from("m-env"));
            assert_eq!(c.base_url, "https://aula.test");
            assert!(c.secure_cookies, "https implica cookies Secure");
            let with_flag = RawConfig {
                listen: Some("127.0.0.1:7003".into()),
                ..flags()
            };
            let c = load(None, &with_flag).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 7003, "la opción gana al entorno");
            Ok(())
        });
    }

    #[test]
    fn environment_values_are_read_as_people_write_them() {
        Jail::expect_with(|jail| {
            jail.set_env("AULA_NO_DEMO", "1");
            jail.set_env("AULA_TRUST_PROXY", "yes");
            jail.set_env("AULA_SECURE_COOKIES", "0");
            jail.set_env("AULA_QUIZ_GRACE_SECONDS", "45");
            jail.set_env("AULA_LIVE_UDP_PORTS", "40000-40999");
            jail.set_env("AULA_LIVE_TURN_URLS", "turn:a:3478, turns:a:443");
            jail.set_env("AULA_LIVE_TURN_SECRET", "123456");
            jail.set_env("AULA_LOG_JSON", "1");
            jail.set_env("AULA_TEST_BACKEND", "postgres");
            jail.set_env("DATABASE_URL", "postgres://aula@db/aula");
            let c = load(None, &flags()).map_err(|e| e.to_string())?;
            assert!(!c.demo);
            assert!(c.trust_proxy);
            assert!(!c.secure_cookies);
            assert_eq!(c.quiz_grace, Duration::from_secs(45));
            assert_eq!(c.live.udp_port_min, Some(40000));
            assert_eq!(c.live.udp_port_max, Some(40999));
            assert_eq!(c.live.turn_urls, ["turn:a:3478", "turns:a:443"]);
            assert_eq!(c.live.turn_secret.as_deref(), Some("123456"));
            assert_eq!(c.database_url.as_deref(), Some("postgres://aula@db/aula"));
            Ok(())
        });
    }

    #[test]
    fn feed_endpoints_come_from_the_environment_and_the_file_and_bad_secrets_are_refused() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "aula.toml",
                "[feed]\nretry_max_ms = 5000\n[[feed.endpoints]]\nname = \"pruebas\"\n\
                 url = \"https://pruebas.test/h\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
            )?;
            jail.set_env("AULA_FEED_WEBHOOK_URL", "https://sipe.test/hooks");
            jail.set_env(
                "AULA_FEED_WEBHOOK_SECRET",
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            );
            jail.set_env("AULA_FEED_TIMEOUT_SECONDS", "5");
            let c = load(None, &flags()).map_err(|e| e.to_string())?;
            let names: Vec<&str> = c.feed.endpoints.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, ["sipe", "pruebas"]);
            assert_eq!(c.feed.endpoints[0].url, "https://sipe.test/hooks");
            assert_eq!(c.feed.timeout, Duration::from_secs(5));
            assert_eq!(c.feed.retry_max, Duration::from_millis(5000));
            assert_eq!(c.feed.retry_base, Duration::from_secs(30));
            assert_eq!(c.feed.give_up_after, Duration::from_secs(3 * 24 * 3600));
            jail.set_env("AULA_FEED_WEBHOOK_SECRET", "no-es-un-secreto");
            let e = load(None, &flags()).unwrap_err().to_string();
            assert!(e.contains("whsec_"), "{e}");
            jail.set_env("AULA_FEED_WEBHOOK_SECRET", "");
            let e = load(None, &flags()).unwrap_err().to_string();
            assert!(e.contains("van juntas"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn bad_values_and_unknown_file_keys_are_refused_with_a_message() {
        Jail::expect_with(|jail| {
            jail.create_file("aula.toml", "listn = \"x\"\n")?;
            let e = load(None, &flags()).unwrap_err().to_string();
            assert!(e.contains("listn"), "{e}");
            jail.create_file("aula.toml", "")?;
            jail.set_env("AULA_TRUST_PROXY", "quizás");
            let e = load(None, &flags()).unwrap_err().to_string();
            assert!(e.contains("quizás"), "{e}");
            let missing = PathBuf::from("no-existe.toml");
            assert!(load(Some(&missing), &flags()).is_err());
            Ok(())
        });
    }
}
