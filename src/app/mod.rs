//! The composition root: configuration, state, the router made of each module's routes,
//! background jobs and demo data. The only module that knows every other one.

pub mod cli;
pub mod config;
pub mod demo;
pub mod router;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

pub use config::Config;
pub use router::build_router;

use crate::{
    assessment::QuizSettings,
    completion, courses,
    db::Db,
    live::{self, Rooms},
    media::Media,
    people,
    web::{
        mail::Mailer,
        state::{AppState, Settings},
    },
};

/// Everything the router and the background jobs are built from.
#[derive(Clone)]
pub struct Parts {
    pub state: AppState,
    pub rooms: Rooms,
    pub media: Media,
    pub quiz: QuizSettings,
    pub course_files: courses::CourseFiles,
    pub feed: crate::feed::delivery::config::Settings,
    /// Seals the institutions' signing keys (certification).
    pub master: Arc<crate::certification::keys::MasterKey>,
}

/// A built application, bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pub parts: Parts,
}

impl Application {
    /// Connects and migrates the database, imports courses and demo data, binds the port.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let db = Db::connect(config.database_url.as_deref(), &config.data_dir).await?;
        db.migrate()
            .await
            .context("no se pudo migrar la base de datos")?;
        tracing::info!(backend = db.backend(), "base de datos lista");
        people::territory::seed(&db).await?;
        let media = Media::new(&config.media, &config.data_dir)?;
        tracing::info!(
            store = media.storage.backend(),
            renditions = media.renditions_enabled(),
            "medios"
        );
        if config.demo {
            let parsed = courses::load_dir(&config.courses_dir, &config.media_dir);
            for e in &parsed.errors {
                tracing::warn!("{e}");
            }
            let report = courses::store(&db, &media, &parsed.courses).await?;
            tracing::info!("{report}");
            demo::seed(&db).await?;
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("no se pudo escuchar en {}", config.listen))?;
        let progress: Arc<dyn crate::web::state::Progress> = Arc::new(completion::Rules);
        let state = AppState {
            db,
            settings: Arc::new(Settings {
                base_url: config.base_url.clone(),
                secure_cookies: config.secure_cookies,
                trust_proxy: config.trust_proxy,
            }),
            mailer: Mailer::new(
                config.smtp_url.as_deref(),
                config.mail_dir.as_ref(),
                &config.mail_from,
            )?,
            limits: Arc::new(config.limits.clone()),
            progress: progress.clone(),
        };
        let master = Arc::new(
            crate::certification::keys::MasterKey::from_config(
                config.master_key.as_deref(),
                &config.data_dir,
            )
            .context("clave maestra de los certificados")?,
        );
        let parts = Parts {
            master,
            rooms: Rooms::new(
                live::sfu::PcFactory::new(config.live.clone()),
                live::nodes::node_url(config.live.node_url.as_deref(), listener.local_addr()?),
                progress,
            ),
            media,
            quiz: QuizSettings {
                grace: chrono::Duration::from_std(config.quiz_grace)?,
                sweep: config.quiz_sweep,
            },
            course_files: courses::CourseFiles {
                courses_dir: config.courses_dir.clone(),
                media_dir: config.media_dir.clone(),
            },
            feed: config.feed.clone(),
            state,
        };
        let router = build_router(&parts);
        Ok(Application {
            listener,
            router,
            parts,
        })
    }

    /// The port actually bound (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests and closes the pool.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!("Aula escuchando en http://{addr}");
        let jobs = spawn_jobs(&self.parts);
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
        for job in jobs {
            job.abort();
        }
        self.parts.state.db.close().await;
        tracing::info!("Aula detenida");
        Ok(())
    }
}

/// The background jobs of a serving process: the quiz closer, the sweep of presence left open
/// by a crashed process, the renewal of this process's live-room claims, and video renditions.
fn spawn_jobs(parts: &Parts) -> Vec<tokio::task::JoinHandle<()>> {
    let db = parts.state.db.clone();
    vec![
        tokio::spawn(crate::assessment::closer::run(
            db.clone(),
            parts.state.progress.clone(),
            parts.quiz.sweep,
            parts.quiz.grace,
        )),
        tokio::spawn(crate::live::attendance::sweep(db.clone())),
        tokio::spawn(parts.rooms.clone().keep_claims(db.clone())),
        tokio::spawn(crate::completion::run_not_completed(
            db.clone(),
            std::time::Duration::from_secs(300),
        )),
        tokio::spawn(crate::feed::delivery::worker::run(
            db.clone(),
            parts.feed.clone(),
        )),
        tokio::spawn(crate::media::renditions::run(db, parts.media.clone())),
    ]
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Big allocations (argon2's 19 MiB of working memory, media buffers) get a mapping of their
/// own, returned to the system when freed. glibc's default raises that threshold after the first
/// such free, so later 19 MiB blocks came from per-thread arenas and stayed there: a fixed
/// threshold keeps the process's memory coming back after a burst (see BENCHMARKS.md).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; called before the runtime starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// webrtc-rs logs every state change of every connection at info, and routine ICE/DTLS
/// situations (no candidate pair yet, no server name) at warn: keep only what matters.
const WEBRTC_QUIET: &str = "webrtc=warn,rtc=warn,rtc_ice=error,rtc_dtls=error,rtc_sctp=warn,rtc_srtp=warn,\
                            rtc_interceptor=warn,rtc_datachannel=warn,rtc_mdns=warn,rtc_turn=warn,rtc_stun=warn";

/// Structured logs; `RUST_LOG` overrides the default level, `AULA_LOG_JSON=1` for JSON lines.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("info,tower_http=warn,sqlx=warn,{WEBRTC_QUIET}"))
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    let _ = if std::env::var("AULA_LOG_JSON").is_ok_and(|v| v == "1") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
