//! The page frame every template extends, and how pages become responses.

use askama::Template;
use axum::{
    extract::FromRequestParts,
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};

use crate::web::{assets, csrf::CsrfToken, error::AppError, notice::read_notice};

/// What the base layout needs: title, who is logged in, the CSRF token, a one-time notice.
#[derive(Clone, Debug)]
pub struct Page {
    pub title: String,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub notice: Option<String>,
    pub css: &'static str,
    pub icon: &'static str,
}

/// The logged-in user as the navigation shows them.
#[derive(Clone, Debug)]
pub struct NavUser {
    pub first_name: String,
    pub is_admin: bool,
    pub is_operator: bool,
    pub is_instructor: bool,
    pub is_certifier: bool,
}

impl Page {
    /// A page with no user context (error pages).
    pub fn anonymous(title: &str) -> Page {
        Page {
            title: title.into(),
            user: None,
            csrf: String::new(),
            notice: None,
            css: assets::css_href(),
            icon: assets::icon_href(),
        }
    }
}

/// Extractor for the page frame: who is logged in (as `accounts` resolved it for this
/// request), the CSRF token and the pending notice.
pub struct Ctx {
    nav: Option<NavUser>,
    csrf: String,
    notice: Option<String>,
}

impl Ctx {
    /// Whether someone is logged in.
    pub fn is_logged_in(&self) -> bool {
        self.nav.is_some()
    }

    /// This frame for `nav`'s user: for a page that resolved the session inside its own query
    /// (outside the session middleware, so the request carried no user).
    pub fn with_nav(mut self, nav: NavUser) -> Ctx {
        self.nav = Some(nav);
        self
    }

    /// The frame for a page titled `title`.
    pub fn page(&self, title: impl Into<String>) -> Page {
        Page {
            title: title.into(),
            user: self.nav.clone(),
            csrf: self.csrf.clone(),
            notice: self.notice.clone(),
            css: assets::css_href(),
            icon: assets::icon_href(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            nav: parts.extensions.get::<NavUser>().cloned(),
            csrf: parts
                .extensions
                .get::<CsrfToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
            notice: read_notice(&parts.headers),
        })
    }
}

/// An HTML body with the right content type and no caching of personal pages.
pub struct Html(pub String);

impl IntoResponse for Html {
    fn into_response(self) -> Response {
        let mut resp = self.0.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        resp
    }
}

/// Renders a template into a 200 response.
pub fn render<T: Template>(t: &T) -> Result<Response, AppError> {
    Ok(Html(t.render()?).into_response())
}

/// Renders a template with a status (422 for a form with errors).
pub fn render_status<T: Template>(status: StatusCode, t: &T) -> Result<Response, AppError> {
    Ok((status, Html(t.render()?)).into_response())
}

/// The 404/409/500 page, in the same layout.
#[derive(Template)]
#[template(path = "web/error.html")]
pub struct ErrorPage {
    pub page: Page,
    pub message: String,
    /// Shown on 500 pages so the person can report the failure by its code.
    pub request_id: Option<String>,
}

impl ErrorPage {
    pub fn new(title: &str, message: &str) -> ErrorPage {
        ErrorPage {
            page: Page::anonymous(title),
            message: message.into(),
            request_id: None,
        }
    }

    /// Renders, falling back to plain text if the template itself fails.
    pub fn render_string(&self) -> String {
        self.render().unwrap_or_else(|_| self.message.clone())
    }
}
