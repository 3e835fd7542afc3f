//! The router: each module's routes, grouped by the middleware they need.
//!
//! - **Assets and probes** (`/static`, `/favicon.ico`, `/healthz`, `/readyz`): no session, no
//!   CSRF cookie, so an immutable, publicly cached stylesheet never carries `Set-Cookie`.
//! - **Pages and forms** (everything else): the CSRF check and cookie, the one-time notice,
//!   the session's user resolved once by `accounts`, and a 30 s timeout.
//! - **Self-resolving hot paths** (the quiz autosave, the lesson page): the page group's layers
//!   but the session middleware; they check the session inside their own query.
//! - **Uploads**: the session's user, but no timeout (a file streams as long as it takes) and
//!   their own CSRF check before reading the file.
//!
//! Around all: a request id (outermost, so every log line and error page carries it), the
//! request span, panics caught as 500s, compression and the security headers.

use std::time::Duration;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::IntoResponse,
    routing::get,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{CompressionLayer, CompressionLevel, Predicate, predicate::DefaultPredicate},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::{
    accounts,
    app::Parts,
    assessment, catalog, certification, courses, enrolment, feed, learning, live, media, pages,
    people,
    web::{
        assets, csrf,
        error::{self, AppError},
        notice,
        request_id::{self, RequestId},
        state::AppState,
    },
};

const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; \
                   script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; \
                   form-action 'self'";

/// The whole router with its middleware; public so tests and benchmarks can build it.
pub fn build_router(parts: &Parts) -> Router {
    let state = parts.state.clone();
    let quiz_state = assessment::QuizState {
        app: state.clone(),
        quiz: parts.quiz,
        frozen: Default::default(),
        banks: Default::default(),
    };
    let media_state = media::MediaState {
        app: state.clone(),
        media: parts.media.clone(),
    };
    let cert_state = certification::CertState {
        app: state.clone(),
        master: parts.master.clone(),
    };
    let assets_and_probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/static/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon));
    let pages = Router::new()
        .merge(pages::routes())
        .merge(catalog::routes())
        .merge(courses::routes(
            state.clone(),
            parts.course_files.clone(),
            parts.media.clone(),
        ))
        .merge(accounts::routes())
        .merge(people::routes())
        .merge(enrolment::routes())
        .merge(learning::routes())
        .merge(media::routes(media_state.clone()))
        .merge(certification::routes(cert_state.clone()))
        .merge(feed::routes())
        .merge(assessment::routes(quiz_state.clone()))
        .merge(live::routes(live::LiveState {
            app: state.clone(),
            rooms: parts.rooms.clone(),
        }))
        // Innermost first: the user is resolved only for requests that passed the CSRF check.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            accounts::auth::resolve,
        ))
        .layer(middleware::from_fn(notice::clear_shown))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ));
    // Hot paths that check the session inside their own query (one round trip): the page
    // group's layers but the session middleware.
    let learning_state = learning::LearningState {
        app: state.clone(),
        contents: Default::default(),
        videos: Default::default(),
    };
    let self_resolving = assessment::autosave_routes(quiz_state)
        .merge(learning::self_resolving_routes(learning_state))
        .layer(middleware::from_fn(notice::clear_shown))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ));
    // Uploads stream for as long as they take (no page timeout) and check CSRF themselves
    // before reading the file (the page group's check would buffer the whole body).
    let uploads = media::upload_routes(media_state)
        .merge(certification::upload_routes(cert_state.clone()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            accounts::auth::resolve,
        ));
    // The machine API: bearer tokens, JSON errors; no session and no CSRF cookie.
    let api = feed::api_routes().layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(30),
    ));
    // Checking a pasted or uploaded credential changes nothing: no session, no CSRF check.
    let verify = certification::verify_routes(cert_state).layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(30),
    ));
    Router::new()
        .merge(assets_and_probes)
        .merge(api)
        .merge(verify)
        .merge(pages)
        .merge(self_resolving)
        .merge(uploads)
        .fallback(|| async { AppError::NotFound })
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
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .extensions()
                        .get::<RequestId>()
                        .map(|r| r.0.as_str())
                        .unwrap_or("-");
                    tracing::info_span!("request", id, method = %req.method(), uri = %req.uri())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        // A path with a control character (`%00`, `%0a`) names nothing that exists.
        .layer(middleware::from_fn(error::refuse_control_characters))
        .layer(middleware::from_fn(request_id::assign))
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
