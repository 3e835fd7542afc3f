//! `/admin/sipe`: the delivery queue per endpoint, the failing deliveries with their last
//! error, the dead letters, and «Reintentar».

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};

use super::queue::{self, EndpointCounts, Problem};
use crate::web::{
    auth::Admin,
    error::{AppError, AppResult},
    layout::{Ctx, Page, render},
    notice::redirect_with_notice,
    state::AppState,
    time::local,
};

/// A problem row as the page shows it.
pub struct Row {
    pub id: i64,
    pub endpoint: String,
    pub event_id: String,
    pub kind: String,
    pub dni: String,
    pub attempts: i64,
    pub last_error: String,
    pub last_attempt: String,
    pub next_attempt: String,
    pub dead: String,
}

impl From<Problem> for Row {
    fn from(p: Problem) -> Row {
        Row {
            id: p.id,
            endpoint: p.endpoint,
            event_id: p.event_id,
            kind: p.kind,
            dni: p.dni.unwrap_or_else(|| "—".into()),
            attempts: p.attempts,
            last_error: p.last_error.unwrap_or_default(),
            last_attempt: p.last_attempt_at.as_ref().map(local).unwrap_or_default(),
            next_attempt: local(&p.next_attempt_at),
            dead: p.dead_at.as_ref().map(local).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "feed/delivery.html")]
pub struct DeliveryPage {
    page: Page,
    counts: Vec<EndpointCounts>,
    failing: Vec<Row>,
    dead: Vec<Row>,
}

/// `GET /admin/sipe`
pub async fn page(State(state): State<AppState>, ctx: Ctx, Admin(_): Admin) -> AppResult<Response> {
    let counts = queue::counts(&state.db).await?;
    let failing = queue::problems(&state.db, false, 100).await?;
    let dead = queue::problems(&state.db, true, 100).await?;
    render(&DeliveryPage {
        page: ctx.page("Envíos a SIPE"),
        counts,
        failing: failing.into_iter().map(Row::from).collect(),
        dead: dead.into_iter().map(Row::from).collect(),
    })
}

/// `POST /admin/sipe/{id}/reintentar`
pub async fn retry(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    if !queue::retry(&state.db, id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(
        admin = admin.user_id,
        delivery = id,
        "feed: reintento pedido"
    );
    Ok(redirect_with_notice(
        "/admin/sipe",
        "Listo: el evento se vuelve a enviar ahora.",
    ))
}

/// `POST /admin/sipe/reintentar-descartados`
pub async fn retry_dead(State(state): State<AppState>, Admin(admin): Admin) -> AppResult<Response> {
    let n = queue::retry_all_dead(&state.db).await?;
    tracing::info!(admin = admin.user_id, n, "feed: reintento de descartados");
    Ok(redirect_with_notice(
        "/admin/sipe",
        &format!("Listo: {n} eventos descartados se vuelven a enviar."),
    ))
}
