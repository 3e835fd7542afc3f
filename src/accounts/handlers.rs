//! Registration (including claiming a Persona created by an office), login, logout and
//! password change.

use std::net::SocketAddr;

use askama::Template;
use axum::{
    Form,
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Duration;
use serde::Deserialize;

use crate::{
    accounts::{
        password::{self, Password},
        ratelimit, session,
    },
    people::{
        domain::{Dni, Email},
        persons::{self, PersonInput, unique_error},
        territory::{self, DepartmentGroup},
    },
    person_insert,
    web::{
        auth::{MaybeUser, User},
        cookies::cookie,
        error::AppResult,
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        state::AppState,
        text::safe_next,
        time::now,
    },
    with_db,
};

#[derive(Template)]
#[template(path = "accounts/register.html")]
pub struct RegisterPage {
    page: Page,
    input: PersonInput,
    errors: FieldErrors,
    groups: Vec<DepartmentGroup>,
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    #[serde(flatten)]
    person: PersonInput,
    password: String,
    password2: String,
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    siguiente: String,
}

/// `GET /registro`
pub async fn register_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    if ctx.is_logged_in() {
        return Ok(Redirect::to("/mi-aula").into_response());
    }
    render(&RegisterPage {
        page: ctx.page("Crear tu cuenta"),
        input: PersonInput::default(),
        errors: FieldErrors::default(),
        groups: territory::grouped(&state.db).await?,
        next: q.siguiente,
    })
}

/// `POST /registro`: creates Persona and account, or claims an existing Persona without
/// account when DNI, CUIL and birth date match what the office registered.
pub async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<RegisterForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let parsed = form.person.parse(&state.db, &mut errors).await?;
    let pw = errors.check("password", Password::parse(&form.password));
    if form.password != form.password2 {
        errors.add("password2", "Las dos contraseñas no coinciden.");
    }
    let mut user_id = None;
    if let (Some(np), Some(pw)) = (parsed, pw)
        && errors.is_empty()
    {
        let hash = password::hash(&pw).await?;
        if let Some(id) = create_or_claim(&state, &np, &hash, &mut errors).await? {
            user_id = Some(id)
        }
    }
    let Some(user_id) = user_id else {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RegisterPage {
                page: ctx.page("Crear tu cuenta"),
                input: form.person,
                errors,
                groups: territory::grouped(&state.db).await?,
                next: form.next,
            },
        );
    };
    tracing::info!(user_id, "cuenta creada");
    let cookie = session::create(&state.db, user_id, state.settings.secure_cookies).await?;
    let mut resp = redirect_with_notice(
        &safe_next(Some(&form.next)),
        "¡Listo! Tu cuenta está creada.",
    );
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

async fn create_or_claim(
    state: &AppState,
    np: &persons::NewPerson,
    hash: &str,
    errors: &mut FieldErrors,
) -> AppResult<Option<i64>> {
    let email = np.email.as_ref().map(|e| e.as_str().to_string());
    if let Some(existing) = persons::find_by_dni(&state.db, &np.dni).await? {
        if existing.has_account {
            errors.add(
                "dni",
                "Ya existe una cuenta con este DNI. Ingresá o recuperá tu contraseña.",
            );
            return Ok(None);
        }
        if existing.cuil != np.cuil.as_str() || existing.birth_date != np.birth_date {
            errors.add(
                "dni",
                "Tu oficina de empleo ya te registró, pero el CUIL o la fecha de nacimiento no coinciden. \
                 Revisalos o consultá en tu oficina.",
            );
            return Ok(None);
        }
        // Claim: attach the account to the Persona the office created.
        let res: Result<i64, sqlx::Error> = with_db!(&state.db, |p| {
            sqlx::query_scalar(
            "INSERT INTO users (person_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id"
        )
        .bind(existing.id)
        .bind(&email)
        .bind(hash)
        .bind(now())
        .fetch_one(p)
        .await
        });
        return match res {
            Ok(id) => Ok(Some(id)),
            Err(e) if unique_error(&e, errors) => Ok(None),
            Err(e) if crate::db::is_unique_violation(&e) => {
                errors.add(
                    "dni",
                    "Ya existe una cuenta con este DNI. Ingresá o recuperá tu contraseña.",
                );
                Ok(None)
            }
            Err(e) => Err(e.into()),
        };
    }
    let res: Result<i64, sqlx::Error> = with_db!(&state.db, |p| {
        async {
            let mut tx = p.begin().await?;
            let person_id = person_insert!(np, None::<i64>).fetch_one(&mut *tx).await?;
            let user_id: i64 = sqlx::query_scalar(
                "INSERT INTO users (person_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(person_id)
            .bind(&email)
            .bind(hash)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(user_id)
        }
        .await
    });
    match res {
        Ok(id) => Ok(Some(id)),
        Err(e) if unique_error(&e, errors) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "accounts/login.html")]
pub struct LoginPage {
    page: Page,
    identifier: String,
    error: Option<String>,
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    identifier: String,
    password: String,
    next: String,
}

/// `GET /ingresar`
pub async fn login_form(ctx: Ctx, Query(q): Query<NextQuery>) -> AppResult<Response> {
    if ctx.is_logged_in() {
        return Ok(Redirect::to(&safe_next(Some(&q.siguiente))).into_response());
    }
    render(&LoginPage {
        page: ctx.page("Ingresar"),
        identifier: String::new(),
        error: None,
        next: q.siguiente,
    })
}

/// The peer socket address, when the server was started with connect info.
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// The client address, from the socket or (behind a trusted proxy) `X-Forwarded-For`.
pub fn client_ip(state: &AppState, headers: &HeaderMap, addr: Option<SocketAddr>) -> String {
    if state.settings.trust_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
    {
        return ip.trim().to_string();
    }
    addr.map(|a| a.ip().to_string())
        .unwrap_or_else(|| "desconocida".into())
}

/// At most this many attempts per account, and per IP, in the window.
const MAX_PER_ACCOUNT: i64 = 5;
const MAX_PER_IP: i64 = 30;
const WINDOW_MINUTES: i64 = 15;

#[derive(sqlx::FromRow)]
struct Credentials {
    id: i64,
    password_hash: String,
}

/// `POST /ingresar`: by DNI or email; rate-limited per account and per IP.
pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let fail = |msg: &str, status: StatusCode| {
        render_status(
            status,
            &LoginPage {
                page: ctx.page("Ingresar"),
                identifier: form.identifier.clone(),
                error: Some(msg.to_string()),
                next: form.next.clone(),
            },
        )
    };
    let ident = form.identifier.trim();
    let by_dni = Dni::parse(ident).ok();
    let by_email = if by_dni.is_none() {
        Email::parse(ident).ok()
    } else {
        None
    };
    let account_key = match (&by_dni, &by_email) {
        (Some(d), _) => format!("login:dni:{}", d.as_str()),
        (_, Some(e)) => format!("login:email:{}", e.as_str()),
        _ => {
            return fail(
                "Ingresá tu DNI (solo números) o tu email.",
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let ip = client_ip(&state, &headers, peer);
    let window = Duration::minutes(WINDOW_MINUTES);
    let ip_ok = ratelimit::allow(&state.db, &format!("login:ip:{ip}"), MAX_PER_IP, window).await?;
    let account_ok = ratelimit::allow(&state.db, &account_key, MAX_PER_ACCOUNT, window).await?;
    if !ip_ok || !account_ok {
        tracing::warn!(%ip, "login bloqueado por demasiados intentos");
        return fail(
            "Hubo demasiados intentos de ingreso. Esperá 15 minutos y volvé a probar, o recuperá tu contraseña.",
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let creds: Option<Credentials> = match (&by_dni, &by_email) {
        (Some(d), _) => with_db!(&state.db, |p| {
            sqlx::query_as(
            "SELECT u.id, u.password_hash FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = $1"
        )
        .bind(d.as_str())
        .fetch_optional(p)
        .await
        })?,
        (_, Some(e)) => with_db!(&state.db, |p| sqlx::query_as(
            "SELECT id, password_hash FROM users WHERE email = $1"
        )
        .bind(e.as_str())
        .fetch_optional(p)
        .await)?,
        _ => None,
    };
    let ok = password::verify(
        &form.password,
        creds.as_ref().map(|c| c.password_hash.clone()),
    )
    .await?;
    let Some(creds) = creds.filter(|_| ok) else {
        return fail(
            "El DNI o email y la contraseña no coinciden. Revisalos e intentá de nuevo.",
            StatusCode::UNAUTHORIZED,
        );
    };
    ratelimit::reset(&state.db, &account_key).await?;
    let cookie = session::create(&state.db, creds.id, state.settings.secure_cookies).await?;
    let mut resp = Redirect::to(&safe_next(Some(&form.next))).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// `POST /salir`
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _user: MaybeUser,
) -> AppResult<Response> {
    if let Some(token) = cookie(&headers, session::COOKIE) {
        session::delete(&state.db, token).await?;
    }
    let mut resp = redirect_with_notice("/", "Cerraste tu sesión.");
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::clear_cookie(state.settings.secure_cookies),
    );
    Ok(resp)
}

#[derive(Template)]
#[template(path = "accounts/password.html")]
pub struct PasswordPage {
    page: Page,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current: String,
    password: String,
    password2: String,
}

/// `GET /cuenta/clave`
pub async fn password_form(ctx: Ctx, _user: User) -> AppResult<Response> {
    render(&PasswordPage {
        page: ctx.page("Cambiar la contraseña"),
        errors: FieldErrors::default(),
    })
}

/// `POST /cuenta/clave`: needs the current password; closes the user's other sessions.
pub async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let stored: String = with_db!(&state.db, |p| sqlx::query_scalar(
        "SELECT password_hash FROM users WHERE id = $1"
    )
    .bind(user.user_id)
    .fetch_one(p)
    .await)?;
    if !password::verify(&form.current, Some(stored)).await? {
        errors.add("current", "La contraseña actual no es correcta.");
    }
    let pw = errors.check("password", Password::parse(&form.password));
    if form.password != form.password2 {
        errors.add("password2", "Las dos contraseñas no coinciden.");
    }
    let (Some(pw), true) = (pw, errors.is_empty()) else {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                page: ctx.page("Cambiar la contraseña"),
                errors,
            },
        );
    };
    set_password(&state, user.user_id, &pw).await?;
    session::delete_all_for(&state.db, user.user_id, Some(&user.token)).await?;
    Ok(redirect_with_notice("/mi-aula", "Tu contraseña se cambió."))
}

/// Stores a new password hash for a user.
pub async fn set_password(state: &AppState, user_id: i64, pw: &Password) -> AppResult<()> {
    let hash = password::hash(pw).await?;
    with_db!(&state.db, |p| sqlx::query(
        "UPDATE users SET password_hash = $1 WHERE id = $2"
    )
    .bind(hash)
    .bind(user_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
