//! The command line: `aula serve`, `aula migrate`, `aula import-courses`, `aula admin create`,
//! `aula loadtest-room`.

use std::{io::Read, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{
    Application, Config,
    accounts::{self, password::Password},
    catalog::import,
    db::Db,
    people::domain::{Dni, Email},
    web::config::{DEFAULT_QUIZ_GRACE_SECONDS, DEFAULT_QUIZ_SWEEP_SECONDS, FileConfig},
};

/// Aula: el aula virtual de Tucumán Capacita.
#[derive(Debug, Parser)]
#[command(name = "aula", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand understands.
#[derive(Debug, Args)]
pub struct Common {
    /// Config file (TOML). Default: ./aula.toml if it exists.
    #[arg(long, env = "AULA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data folder for the SQLite database and uploads [default: ./data]
    #[arg(long, env = "AULA_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://...). Without it, Aula uses SQLite in the data folder.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Folder of course folders [default: ./courses]
    #[arg(long, env = "AULA_COURSES_DIR", global = true)]
    pub courses_dir: Option<PathBuf>,
    /// Folder of media referenced by courses [default: ./media]
    #[arg(long, env = "AULA_MEDIA_DIR", global = true)]
    pub media_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server (the default command).
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Validate and import the course folders.
    ImportCourses {
        /// Only validate and report; exit status 1 on any error.
        #[arg(long)]
        check: bool,
        /// Folder of course folders [default: the configured courses folder]
        dir: Option<PathBuf>,
    },
    /// Administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Simulate a live class on loopback (load test, or --soak leak check); by hand, release build.
    LoadtestRoom(crate::live::loadtest::LoadArgs),
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "AULA_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL for links in emails [default: http://<listen>]
    #[arg(long, env = "AULA_BASE_URL")]
    pub base_url: Option<String>,
    /// Do not import courses nor seed demo data on start.
    #[arg(long, env = "AULA_NO_DEMO")]
    pub no_demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator (password read from standard input).
    Create {
        /// DNI of the administrator (7 or 8 digits).
        #[arg(long)]
        dni: String,
        /// Email of the administrator.
        #[arg(long)]
        email: String,
    },
}

/// Builds the configuration from flags, environment and file.
pub fn config(common: &Common, serve: &ServeArgs) -> anyhow::Result<Config> {
    let file = FileConfig::load(common.config.as_ref())?;
    let env_bool = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
    };
    let listen_text = serve
        .listen
        .clone()
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_text
        .parse()
        .map_err(|_| anyhow::anyhow!("dirección para escuchar inválida: {listen_text}"))?;
    let demo_off = serve.no_demo || file.demo == Some(false);
    let base_url = serve
        .base_url
        .clone()
        .or(file.base_url)
        .unwrap_or_else(|| format!("http://{listen_text}"))
        .trim_end_matches('/')
        .to_string();
    Ok(Config {
        listen,
        data_dir: common
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| "data".into()),
        database_url: common
            .database_url
            .clone()
            .or(file.database_url)
            .filter(|u| !u.is_empty()),
        courses_dir: common
            .courses_dir
            .clone()
            .or(file.courses_dir)
            .unwrap_or_else(|| "courses".into()),
        media_dir: common
            .media_dir
            .clone()
            .or(file.media_dir)
            .unwrap_or_else(|| "media".into()),
        // Served over HTTPS (per the public address) means Secure cookies unless told otherwise.
        secure_cookies: env_bool("AULA_SECURE_COOKIES")
            .or(file.secure_cookies)
            .unwrap_or(base_url.starts_with("https://")),
        base_url,
        trust_proxy: env_bool("AULA_TRUST_PROXY")
            .or(file.trust_proxy)
            .unwrap_or(false),
        smtp_url: std::env::var("AULA_SMTP_URL")
            .ok()
            .or(file.smtp_url)
            .filter(|s| !s.is_empty()),
        mail_dir: std::env::var("AULA_MAIL_DIR")
            .ok()
            .map(PathBuf::from)
            .or(file.mail_dir),
        mail_from: std::env::var("AULA_MAIL_FROM")
            .ok()
            .or(file.mail_from)
            .unwrap_or_else(|| "Aula Tucumán Capacita <no-responder@aula.local>".into()),
        demo: !demo_off,
        quiz_grace: Duration::from_secs(
            env_u64("AULA_QUIZ_GRACE_SECONDS")?
                .or(file.quiz_grace_seconds)
                .unwrap_or(DEFAULT_QUIZ_GRACE_SECONDS),
        ),
        quiz_sweep: Duration::from_secs(
            env_u64("AULA_QUIZ_SWEEP_SECONDS")?
                .or(file.quiz_sweep_seconds)
                .unwrap_or(DEFAULT_QUIZ_SWEEP_SECONDS)
                .max(1),
        ),
        live: crate::live::config::LiveConfig::resolve(file.live)?,
        limits: crate::accounts::limits::Limits::resolve(file.limits)?,
    })
}

fn env_u64(name: &str) -> anyhow::Result<Option<u64>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{name} debe ser un número entero de segundos: {v}"))
        })
        .transpose()
}

/// Runs the chosen subcommand and maps failure to exit status 1.
pub fn run(cli: Cli) -> ExitCode {
    crate::web::app::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let default_serve = ServeArgs::default();
    let serve_args = match &cli.command {
        Some(Command::Serve(a)) => a,
        _ => &default_serve,
    };
    let config = config(&cli.common, serve_args)?;
    match cli.command {
        None | Some(Command::Serve(_)) => {
            let app = Application::build(config).await?;
            app.run_until_stopped().await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::LoadtestRoom(args)) => {
            crate::live::loadtest::run(config, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Migrate) => {
            let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
            db.migrate().await?;
            println!("Base de datos ({}) actualizada.", db.backend());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::ImportCourses { check, dir }) => {
            let dir = dir.unwrap_or(config.courses_dir.clone());
            let parsed = import::load_dir(&dir, &config.media_dir);
            for err in &parsed.errors {
                eprintln!("{err}");
            }
            if check {
                println!(
                    "{} curso(s) válidos, {} error(es).",
                    parsed.courses.len(),
                    parsed.errors.len()
                );
                return Ok(if parsed.errors.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
            db.migrate().await?;
            let report = import::store(&db, &parsed.courses).await?;
            println!("{report}");
            Ok(if parsed.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Some(Command::Admin(AdminCommand::Create { dni, email })) => {
            let dni = Dni::parse(&dni).map_err(|m| anyhow::anyhow!("DNI: {m}"))?;
            let email = Email::parse(&email).map_err(|m| anyhow::anyhow!("email: {m}"))?;
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            let password = Password::parse(text.trim_end_matches(['\n', '\r']))
                .map_err(|m| anyhow::anyhow!("contraseña: {m}"))?;
            let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
            db.migrate().await?;
            crate::people::territory::seed(&db).await?;
            accounts::admin::create_admin(&db, &dni, &email, &password).await?;
            println!(
                "Administrador con DNI {} listo. Ingresá en /ingresar.",
                dni.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
