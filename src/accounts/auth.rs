//! Who is asking: resolves the session cookie to the user and their roles, once per request,
//! and leaves the result in the request's extensions for the kernel's extractors
//! ([`crate::web::auth`]) and the page frame to read.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    accounts::session,
    db::Db,
    web::{
        auth::{CurrentUser, Grant, Viewer},
        cookies::cookie,
        error::AppError,
        layout::NavUser,
        state::AppState,
        time::now,
    },
    with_db,
};

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: i64,
    person_id: i64,
    first_name: String,
    role: Option<String>,
    office_id: Option<i64>,
    class_id: Option<i64>,
    institution_id: Option<i64>,
}

/// The user holding the session `token`, with all their grants, in one round trip.
pub async fn load(db: &Db, token: &str) -> Result<Option<CurrentUser>, sqlx::Error> {
    let hash = session::token_hash(token);
    // One row per grant, or one row with NULL grant columns for a plain learner.
    let rows: Vec<SessionRow> = with_db!(db, |p| sqlx::query_as(
        "SELECT u.id AS user_id, u.person_id, p.first_name,
                g.role, g.office_id, g.class_id, g.institution_id
         FROM sessions s JOIN users u ON u.id = s.user_id JOIN persons p ON p.id = u.person_id
         LEFT JOIN role_grants g ON g.user_id = u.id
         WHERE s.token_hash = $1 AND s.expires_at > $2"
    )
    .bind(&hash)
    .bind(now())
    .fetch_all(p)
    .await)?;
    let grants = rows
        .iter()
        .filter_map(
            |g| match (g.role.as_deref(), g.office_id, g.class_id, g.institution_id) {
                (Some("admin"), ..) => Some(Grant::Admin),
                (Some("operator"), Some(o), ..) => Some(Grant::Operator { office_id: o }),
                (Some("instructor"), _, Some(c), _) => Some(Grant::Instructor { class_id: c }),
                (Some("certifier"), _, _, Some(i)) => Some(Grant::Certifier { institution_id: i }),
                _ => None,
            },
        )
        .collect();
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(CurrentUser {
        user_id: row.user_id,
        person_id: row.person_id,
        first_name: row.first_name,
        grants,
        token: token.to_string(),
    }))
}

/// The navigation's summary of a user (what the page frame shows).
pub fn nav_user(u: &CurrentUser) -> NavUser {
    NavUser {
        first_name: u.first_name.clone(),
        is_admin: u.is_admin(),
        is_operator: u.is_operator(),
        is_instructor: u.is_instructor(),
        is_certifier: u.is_certifier(),
    }
}

/// Middleware over the page routes: resolves the session once and stores the [`Viewer`] (and
/// the navigation summary) in the request, so no handler loads the user twice.
pub async fn resolve(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let user = match cookie(req.headers(), session::COOKIE) {
        Some(t) if !t.is_empty() => match load(&state.db, t).await {
            Ok(u) => u,
            Err(e) => return AppError::from(e).into_response(),
        },
        _ => None,
    };
    if let Some(u) = &user {
        req.extensions_mut().insert(nav_user(u));
    }
    req.extensions_mut().insert(Viewer(user));
    next.run(req).await
}
