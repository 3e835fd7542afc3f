//! The command line: `aula serve`, `aula migrate`, `aula import-courses`, `aula admin create`.
//! (The live load test is `examples/liveload.rs`: test tooling stays out of this binary.)

use std::{io::Read, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};

use crate::{
    accounts::{self, password::Password},
    app::{
        Application, Config,
        config::{self, RawConfig},
    },
    courses,
    db::Db,
    people::domain::{Dni, Email},
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
    /// Data folder for the SQLite database and uploads (AULA_DATA_DIR) [default: ./data]
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL, postgres://... (DATABASE_URL). Without it, SQLite in the data folder.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Folder of course folders (AULA_COURSES_DIR) [default: ./courses]
    #[arg(long, global = true)]
    pub courses_dir: Option<PathBuf>,
    /// Folder of media referenced by courses (AULA_MEDIA_DIR) [default: ./media]
    #[arg(long, global = true)]
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
    /// Media store.
    #[command(subcommand)]
    Media(MediaCommand),
}

#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Check that the media store (local folder or S3) is reachable and writable; exit 1 if not.
    Check,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on (AULA_LISTEN) [default: 127.0.0.1:8080]
    #[arg(long)]
    pub listen: Option<String>,
    /// Public base URL for links in emails (AULA_BASE_URL) [default: http://<listen>]
    #[arg(long)]
    pub base_url: Option<String>,
    /// Do not import courses nor seed demo data on start (AULA_NO_DEMO=1).
    #[arg(long)]
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

/// Builds the configuration: the flags given here over the environment over the file.
pub fn config(common: &Common, serve: &ServeArgs) -> anyhow::Result<Config> {
    let flags = RawConfig {
        listen: serve.listen.clone(),
        base_url: serve.base_url.clone(),
        no_demo: serve.no_demo.then_some(true),
        data_dir: common.data_dir.clone(),
        database_url: common.database_url.clone(),
        courses_dir: common.courses_dir.clone(),
        media_dir: common.media_dir.clone(),
        ..RawConfig::default()
    };
    config::load(common.config.as_ref(), &flags)
}

/// Runs the chosen subcommand and maps failure to exit status 1.
pub fn run(cli: Cli) -> ExitCode {
    crate::app::tune_allocator();
    crate::app::init_tracing();
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
        Some(Command::Media(MediaCommand::Check)) => {
            let media = crate::media::Media::new(&config.media, &config.data_dir)?;
            Ok(match crate::media::check::run(&media).await {
                Ok(msg) => {
                    println!("{msg}");
                    ExitCode::SUCCESS
                }
                Err(msg) => {
                    eprintln!("error: {msg}");
                    ExitCode::FAILURE
                }
            })
        }
        Some(Command::Migrate) => {
            let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
            db.migrate().await?;
            println!("Base de datos ({}) actualizada.", db.backend());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::ImportCourses { check, dir }) => {
            let dir = dir.unwrap_or(config.courses_dir.clone());
            let parsed = courses::load_dir(&dir, &config.media_dir);
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
            let media = crate::media::Media::new(&config.media, &config.data_dir)?;
            let report = courses::store(&db, &media, &parsed.courses).await?;
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
