//! Building and running the application: state, router, middleware, graceful shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::get,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{CompressionLayer, CompressionLevel, Predicate, predicate::DefaultPredicate},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer},
};

use crate::{
    accounts, assessment, catalog, certification,
    db::Db,
    enrolment, learning, media, people,
    web::{assets, config::Config, csrf, error::AppError, mail::Mailer, state::AppState},
};

/// A built application, bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
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
        if config.demo {
            let parsed = catalog::import::load_dir(&config.courses_dir, &config.media_dir);
            for e in &parsed.errors {
                tracing::warn!("{e}");
            }
            let report = catalog::import::store(&db, &parsed.courses).await?;
            tracing::info!("{report}");
            crate::web::demo::seed(&db).await?;
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("no se pudo escuchar en {}", config.listen))?;
        let storage = media::storage::LocalStorage::new(config.media_dir.clone());
        let state = AppState {
            db,
            mailer: Mailer::new(
                config.smtp_url.as_deref(),
                config.mail_dir.as_ref(),
                &config.mail_from,
            )?,
            hashing: Arc::new(Semaphore::new(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
            )),
            storage: Arc::new(storage),
            live: crate::live::Rooms::new(
                crate::live::sfu::PcFactory::new(config.live.clone()),
                crate::live::nodes::node_url(
                    config.live.node_url.as_deref(),
                    listener.local_addr()?,
                ),
            ),
            config: Arc::new(config),
        };
        let router = build_router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
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
        let closer = tokio::spawn(crate::assessment::closer::run(
            self.state.db.clone(),
            self.state.config.quiz_sweep,
            chrono::Duration::from_std(self.state.config.quiz_grace)?,
        ));
        let presence = tokio::spawn(crate::live::attendance::sweep(self.state.db.clone()));
        let claims = tokio::spawn(self.state.live.clone().keep_claims(self.state.db.clone()));
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
        closer.abort();
        presence.abort();
        claims.abort();
        self.state.db.close().await;
        tracing::info!("Aula detenida");
        Ok(())
    }
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

/// The whole router with its middleware; public so tests and benchmarks can build it.
pub fn build_router(state: AppState) -> Router {
    const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; \
                       script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; \
                       form-action 'self'";
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/static/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .merge(catalog::routes())
        .merge(accounts::routes())
        .merge(people::routes())
        .merge(enrolment::routes())
        .merge(learning::routes())
        .merge(media::routes())
        .merge(certification::routes())
        .merge(assessment::routes())
        .merge(crate::live::routes())
        .fallback(|| async { AppError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(middleware::from_fn(
            crate::web::error::refuse_control_characters,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(
            CompressionLayer::new()
                // Fastest levels: most of the gain for a fraction of the CPU (brotli's default cost
                // ~30% of a lesson request).
                .quality(CompressionLevel::Fastest)
                // gzip only: brotli even at its fastest cost ~20% more CPU per page here for a
                // few bytes (see BENCHMARKS.md).
                .no_br()
                .compress_when(
                    // Media answers byte ranges; compressing would break their offsets.
                    DefaultPredicate::new().and(
                        |_: StatusCode,
                         _: axum::http::Version,
                         h: &axum::http::HeaderMap,
                         _: &axum::http::Extensions| {
                            !h.contains_key(header::ACCEPT_RANGES)
                        },
                    ),
                ),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "readyz: base de datos inaccesible");
            (StatusCode::SERVICE_UNAVAILABLE, "base de datos inaccesible")
        }
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
