//! `GET /api/v1/eventos`: the outbox for a system that prefers to pull, paged by an opaque
//! cursor (the position after the last event of the page), filterable by kind.

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    feed::api::{
        auth::ReadToken,
        error::{ApiError, ApiResult},
    },
    web::state::AppState,
    with_db,
};

/// The most events one page holds (and the default).
pub const MAX_PAGE: i64 = 500;

/// The query of `GET /api/v1/eventos`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The cursor of the previous page's `siguiente`; absent: from the first event.
    pub desde: Option<String>,
    /// Only events of this kind (e.g. `persona.registrada`).
    pub tipo: Option<String>,
    /// Events per page, 1 to 500 (default 100).
    pub limite: Option<i64>,
}

/// One event, as webhooks also carry it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventOut {
    /// Stable id: the same in every delivery and page, for deduplication.
    pub id: String,
    pub tipo: String,
    /// The person's DNI, when the event is about a person.
    pub dni: Option<String>,
    pub creado_en: DateTime<Utc>,
    /// The event's facts.
    #[schema(value_type = Object)]
    pub datos: serde_json::Value,
}

/// A page of events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    pub eventos: Vec<EventOut>,
    /// Pass it as `desde` for the next page. It is returned even on an empty page (it then
    /// equals the one sent), so a poller keeps it and asks again later.
    pub siguiente: String,
    /// Whether more events were already waiting after this page.
    pub hay_mas: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    event_id: String,
    kind: String,
    dni: Option<String>,
    payload: String,
    created_at: DateTime<Utc>,
}

/// The cursor is the outbox position, kept opaque (`c` + base-36) so clients do not build it.
fn encode_cursor(id: i64) -> String {
    let mut n = id.max(0) as u64;
    let mut digits = vec![];
    loop {
        digits.push(std::char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
        if n == 0 {
            break;
        }
    }
    format!("c{}", digits.into_iter().rev().collect::<String>())
}

fn decode_cursor(s: &str) -> Option<i64> {
    let body = s.strip_prefix('c')?;
    if body.is_empty() || body.len() > 12 {
        return None;
    }
    i64::from_str_radix(body, 36).ok()
}

/// `GET /api/v1/eventos?desde=&tipo=&limite=` (scope `lectura`).
#[utoipa::path(
    get,
    path = "/api/v1/eventos",
    tag = "eventos",
    params(EventsQuery),
    responses(
        (status = 200, description = "Una página de eventos, en orden", body = EventsPage),
        (status = 400, description = "Cursor o límite inválidos", body = super::error::ErrorBody),
        (status = 401, description = "Falta el token o no es válido", body = super::error::ErrorBody),
        (status = 403, description = "El token no tiene el permiso `lectura`", body = super::error::ErrorBody),
        (status = 429, description = "Demasiadas solicitudes de este token", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _t: ReadToken,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    let after = match q.desde.as_deref() {
        None | Some("") => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| {
            ApiError::BadRequest(
                "El cursor «desde» no es válido: usá el valor «siguiente» de la página anterior."
                    .into(),
            )
        })?,
    };
    let limit = q.limite.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "«limite» va de 1 a {MAX_PAGE}."
        )));
    }
    let kind = q.tipo.filter(|t| !t.is_empty());
    // One more than asked: whether there is a next page without a second query.
    let rows: Vec<Row> = with_db!(&state.db, |p| sqlx::query_as(
        "SELECT id, event_id, kind, dni, payload, created_at FROM outbox
         WHERE id > $1 AND ($2 IS NULL OR kind = $2) ORDER BY id LIMIT $3"
    )
    .bind(after)
    .bind(&kind)
    .bind(limit + 1)
    .fetch_all(p)
    .await)?;
    let hay_mas = rows.len() as i64 > limit;
    let rows: Vec<Row> = rows.into_iter().take(limit as usize).collect();
    let last = rows.last().map(|r| r.id).unwrap_or(after);
    let eventos = rows
        .into_iter()
        .map(|r| {
            // The outbox only holds JSON written by `outbox::record`; anything else is a bug
            // to report, not to paper over.
            let datos = serde_json::from_str(&r.payload).map_err(|e| {
                ApiError::Internal(anyhow::anyhow!("evento {} ilegible: {e}", r.id))
            })?;
            Ok(EventOut {
                id: r.event_id,
                tipo: r.kind,
                dni: r.dni,
                creado_en: r.created_at,
                datos,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(EventsPage {
        eventos,
        siguiente: encode_cursor(last),
        hay_mas,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        for id in [0, 1, 35, 36, 123_456_789] {
            assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }
        assert_eq!(decode_cursor("123"), None);
        assert_eq!(decode_cursor("c"), None);
        assert_eq!(decode_cursor("c!!"), None);
    }
}
