//! Who is asking: the logged-in user and their roles, as extractors that handlers cannot forget
//! to apply. The kernel only *reads* the user: `accounts` resolves the session once per request
//! (a middleware over the page routes) and leaves a [`Viewer`] in the request's extensions.
//! Scoping of data is still done in each query.

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::web::error::AppError;

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
    pub fn is_certifier(&self) -> bool {
        self.grants
            .iter()
            .any(|g| matches!(g, Grant::Certifier { .. }))
    }
    /// Whether this user teaches the class.
    pub fn teaches(&self, class_id: i64) -> bool {
        self.grants.contains(&Grant::Instructor { class_id })
    }
    /// Whether this user may run the class as its instructor: they teach it, or are an admin.
    pub fn runs_class(&self, class_id: i64) -> bool {
        self.is_admin() || self.teaches(class_id)
    }
}

/// What the session resolver found for this request: `Some` user, or `None` (anonymous).
/// A request that never went through the resolver has no `Viewer` and counts as anonymous.
#[derive(Clone, Debug)]
pub struct Viewer(pub Option<CurrentUser>);

/// The user if logged in.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(
            parts.extensions.get::<Viewer>().and_then(|v| v.0.clone()),
        ))
    }
}

/// Requires a logged-in user; otherwise redirects to the login page and back.
#[derive(Clone, Debug)]
pub struct User(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = AppError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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
role_extractor!(
    /// Requires a certifier (of at least one institution).
    Certifier,
    is_certifier
);
