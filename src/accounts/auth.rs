//! Who is asking: the session's user with their roles, as extractors that handlers cannot
//! forget to apply. Scoping of data is still done in each query.

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{
    accounts::session,
    web::{csrf::cookie, error::AppError, state::AppState, time::now},
    with_db,
};

/// A role held by a user, with its scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    Admin,
    Operator { office_id: i64 },
    Instructor { class_id: i64 },
    Certifier { institution_id: i64 },
}

/// The logged-in user.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub user_id: i64,
    pub person_id: i64,
    pub first_name: String,
    pub grants: Vec<Grant>,
    /// The raw session token (to keep this session on password change).
    pub token: String,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.grants.contains(&Grant::Admin)
    }
    pub fn is_operator(&self) -> bool {
        self.grants
            .iter()
            .any(|g| matches!(g, Grant::Operator { .. }))
    }
    pub fn is_instructor(&self) -> bool {
        self.grants
            .iter()
            .any(|g| matches!(g, Grant::Instructor { .. }))
    }
    /// Whether this user teaches the class.
    pub fn teaches(&self, class_id: i64) -> bool {
        self.grants.contains(&Grant::Instructor { class_id })
    }
}

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

async fn load(state: &AppState, token: &str) -> Result<Option<CurrentUser>, AppError> {
    let hash = session::token_hash(token);
    // One round trip per request: the user and all their grants (one row per grant, or one
    // row with NULL grant columns for a plain learner).
    let rows: Vec<SessionRow> = with_db!(&state.db, |p| sqlx::query_as(
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

/// The user if logged in; looked up once per request and cached in the request.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(cached) = parts.extensions.get::<MaybeUser>() {
            return Ok(cached.clone());
        }
        let user = match cookie(&parts.headers, session::COOKIE) {
            Some(t) if !t.is_empty() => load(state, t).await?,
            _ => None,
        };
        let found = MaybeUser(user);
        parts.extensions.insert(found.clone());
        Ok(found)
    }
}

/// Requires a logged-in user; otherwise redirects to the login page and back.
#[derive(Clone, Debug)]
pub struct User(pub CurrentUser);

impl FromRequestParts<AppState> for User {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await?.0 {
            Some(u) => Ok(User(u)),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                Err(AppError::LoginRequired(next.to_string()))
            }
        }
    }
}

/// Defines an extractor that requires a logged-in user holding a role; anyone else gets 404
/// (for them, that area does not exist).
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $check:ident) => {
        $(#[$doc])*
        pub struct $name(pub CurrentUser);

        impl FromRequestParts<AppState> for $name {
            type Rejection = AppError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                let User(u) = User::from_request_parts(parts, state).await?;
                if u.$check() { Ok($name(u)) } else { Err(AppError::NotFound) }
            }
        }
    };
}

role_extractor!(
    /// Requires an administrator.
    Admin,
    is_admin
);
role_extractor!(
    /// Requires an office operator (of at least one office).
    Operator,
    is_operator
);
