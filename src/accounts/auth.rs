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

/// The columns that resolve the session's user inside a query: with [`VIEWER_FROM`] and
/// [`VIEWER_WHERE`] (`$1` the token's hash, `$2` now: [`viewer_binds`]) another module's page
/// reads the user together with its own data, in one round trip; [`ViewerRow`] reads them.
/// The grants come as one text, `role:office:class:institution` joined by commas.
pub const VIEWER_COLUMNS: &str = "u.id AS viewer_user_id, u.person_id AS viewer_person_id,
        vp.first_name AS viewer_first_name,
        (SELECT string_agg(g.role || ':' || COALESCE(CAST(g.office_id AS TEXT), '') || ':'
                || COALESCE(CAST(g.class_id AS TEXT), '') || ':' || COALESCE(CAST(g.institution_id AS TEXT), ''), ',')
           FROM role_grants g WHERE g.user_id = u.id) AS viewer_grants";

/// The tables behind [`VIEWER_COLUMNS`].
pub const VIEWER_FROM: &str =
    "sessions s JOIN users u ON u.id = s.user_id JOIN persons vp ON vp.id = u.person_id";

/// The live session with this token: binds `$1` and `$2` ([`viewer_binds`]).
pub const VIEWER_WHERE: &str = "s.token_hash = $1 AND s.expires_at > $2";

/// What `$1` and `$2` of [`VIEWER_WHERE`] are bound to for `token`.
pub fn viewer_binds(token: &str) -> (String, chrono::DateTime<chrono::Utc>) {
    (session::token_hash(token), now())
}

/// The user as [`VIEWER_COLUMNS`] read them (flatten it into a page's row).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ViewerRow {
    viewer_user_id: i64,
    viewer_person_id: i64,
    viewer_first_name: String,
    viewer_grants: Option<String>,
}

impl ViewerRow {
    /// The logged-in user holding `token`.
    pub fn into_user(self, token: &str) -> CurrentUser {
        let grants = self
            .viewer_grants
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|g| {
                let mut f = g.split(':');
                let role = f.next()?;
                let mut id = || f.next().and_then(|v| v.parse::<i64>().ok());
                let (office, class, institution) = (id(), id(), id());
                match (role, office, class, institution) {
                    ("admin", ..) => Some(Grant::Admin),
                    ("operator", Some(o), ..) => Some(Grant::Operator { office_id: o }),
                    ("instructor", _, Some(c), _) => Some(Grant::Instructor { class_id: c }),
                    ("certifier", _, _, Some(i)) => Some(Grant::Certifier { institution_id: i }),
                    _ => None,
                }
            })
            .collect();
        CurrentUser {
            user_id: self.viewer_user_id,
            person_id: self.viewer_person_id,
            first_name: self.viewer_first_name,
            grants,
            token: token.to_string(),
        }
    }
}

/// The user holding the session `token`, with all their grants, in one round trip.
pub async fn load(db: &Db, token: &str) -> Result<Option<CurrentUser>, sqlx::Error> {
    let (hash, at) = viewer_binds(token);
    let sql = format!("SELECT {VIEWER_COLUMNS} FROM {VIEWER_FROM} WHERE {VIEWER_WHERE}");
    let row: Option<ViewerRow> =
        with_db!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&hash)
            .bind(at)
            .fetch_optional(p)
            .await)?;
    Ok(row.map(|r| r.into_user(token)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_back_from_their_text() {
        let row = |grants: Option<&str>| ViewerRow {
            viewer_user_id: 7,
            viewer_person_id: 9,
            viewer_first_name: "Ana".into(),
            viewer_grants: grants.map(Into::into),
        };
        let u = row(None).into_user("t");
        assert_eq!((u.user_id, u.person_id, u.grants.len()), (7, 9, 0));
        let u = row(Some(
            "admin:::,operator:3::,instructor::12:,certifier:::4,instructor:::",
        ))
        .into_user("t");
        assert_eq!(
            u.grants,
            vec![
                Grant::Admin,
                Grant::Operator { office_id: 3 },
                Grant::Instructor { class_id: 12 },
                Grant::Certifier { institution_id: 4 },
            ]
        );
        assert_eq!(u.token, "t");
    }
}
