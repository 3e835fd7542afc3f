//! Password reset by an emailed link. The answer never reveals whether an account exists.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::Duration;
use serde::Deserialize;

use crate::{
    accounts::{handlers::set_password, password::Password, session},
    people::domain::{Dni, Email},
    web::{
        client::{PeerAddr, client_ip},
        cookies::random_token,
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        ratelimit,
        state::AppState,
        time::now,
    },
    with_db,
};

#[derive(Template)]
#[template(path = "accounts/reset_request.html")]
pub struct RequestPage {
    page: Page,
    sent: bool,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RequestForm {
    identifier: String,
}

/// `GET /recuperar`
pub async fn request_form(ctx: Ctx) -> AppResult<Response> {
    render(&RequestPage {
        page: ctx.page("Recuperar la contraseña"),
        sent: false,
        error: None,
    })
}

#[derive(sqlx::FromRow)]
struct Target {
    id: i64,
    email: Option<String>,
}

/// `POST /recuperar`: emails a one-hour link if the account has an email.
pub async fn request(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    Form(form): Form<RequestForm>,
) -> AppResult<Response> {
    let ip = client_ip(&state, &headers, peer);
    let limits = &state.limits;
    if let Err(wait) = ratelimit::check(
        &state.db,
        &format!("reset:ip:{ip}"),
        limits.reset_per_address,
        ratelimit::HOUR,
    )
    .await?
    {
        let resp = render_status(
            StatusCode::TOO_MANY_REQUESTS,
            &RequestPage {
                page: ctx.page("Recuperar la contraseña"),
                sent: false,
                error: Some(format!(
                    "Pediste demasiados enlaces. Probá de nuevo {}, o acercate a tu oficina de empleo.",
                    ratelimit::retry_in(wait)
                )),
            },
        )?;
        return Ok(ratelimit::with_retry_after(resp, wait));
    }
    let ident = form.identifier.trim();
    let target: Option<Target> = if let Ok(d) = Dni::parse(ident) {
        with_db!(&state.db, |p| {
            sqlx::query_as(
            "SELECT u.id, COALESCE(u.email, p.email) AS email FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = $1"
        )
        .bind(d.as_str())
        .fetch_optional(p)
        .await
        })?
    } else if let Ok(e) = Email::parse(ident) {
        with_db!(&state.db, |p| sqlx::query_as(
            "SELECT id, email FROM users WHERE email = $1"
        )
        .bind(e.as_str())
        .fetch_optional(p)
        .await)?
    } else {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RequestPage {
                page: ctx.page("Recuperar la contraseña"),
                sent: false,
                error: Some("Ingresá tu DNI (solo números) o tu email.".into()),
            },
        );
    };
    // Beyond a few emails per account nothing more is sent (the page stays the same, so it
    // does not tell whether the account exists): nobody's inbox gets flooded.
    let mut within = false;
    if let Some(t) = &target {
        within = ratelimit::allow(
            &state.db,
            &format!("reset:user:{}", t.id),
            limits.reset_per_account,
            ratelimit::HOUR,
        )
        .await?;
    }
    if let (
        Some(Target {
            id,
            email: Some(email),
        }),
        true,
    ) = (target, within)
    {
        let token = random_token();
        with_db!(&state.db, |p| sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)"
        )
        .bind(session::token_hash(&token))
        .bind(id)
        .bind(now() + Duration::hours(1))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        let link = format!("{}/recuperar/{token}", state.settings.base_url);
        let body = format!(
            "Hola:\n\nPediste cambiar tu contraseña de Aula. Entrá a este enlace dentro de la próxima hora:\n\n{link}\n\n\
             Si no fuiste vos, ignorá este mensaje: tu contraseña sigue siendo la misma.\n\nAula — Tucumán Capacita"
        );
        // In the background: the answer takes the same time whether or not an email goes out.
        let mailer = state.mailer.clone();
        tokio::spawn(async move {
            if let Err(e) = mailer
                .send(&email, "Recuperá tu contraseña de Aula", body)
                .await
            {
                tracing::error!(error = %e, "no se pudo enviar el email de recuperación");
            }
        });
    }
    render(&RequestPage {
        page: ctx.page("Recuperar la contraseña"),
        sent: true,
        error: None,
    })
}

#[derive(Template)]
#[template(path = "accounts/reset_form.html")]
pub struct ResetPage {
    page: Page,
    token: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    password: String,
    password2: String,
}

/// `GET /recuperar/{token}`
pub async fn reset_form(ctx: Ctx, Path(token): Path<String>) -> AppResult<Response> {
    render(&ResetPage {
        page: ctx.page("Elegí una contraseña nueva"),
        token,
        errors: FieldErrors::default(),
    })
}

/// `POST /recuperar/{token}`: the token is spent by one conditional UPDATE (usable once),
/// which also spends every other unused link of the account: a link sent earlier (maybe to an
/// address the person no longer controls) must not work after the password was chosen.
pub async fn reset(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let pw = errors.check("password", Password::parse(&form.password));
    if form.password != form.password2 {
        errors.add("password2", "Las dos contraseñas no coinciden.");
    }
    let Some(pw) = pw.filter(|_| errors.is_empty()) else {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResetPage {
                page: ctx.page("Elegí una contraseña nueva"),
                token,
                errors,
            },
        );
    };
    let now = now();
    let spent: Vec<i64> = with_db!(&state.db, |p| {
        sqlx::query_scalar(
            "UPDATE password_resets SET used_at = $1
             WHERE used_at IS NULL AND user_id = (SELECT user_id FROM password_resets
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1)
             RETURNING user_id",
        )
        .bind(now)
        .bind(session::token_hash(&token))
        .fetch_all(p)
        .await
    })?;
    let Some(user_id) = spent.first().copied() else {
        return Err(AppError::Conflict(
            "El enlace ya se usó o venció. Pedí uno nuevo en «Recuperar la contraseña».".into(),
        ));
    };
    set_password(&state, user_id, &pw).await?;
    session::delete_all_for(&state.db, user_id, None).await?;
    Ok(redirect_with_notice(
        "/ingresar",
        "Tu contraseña se cambió. Ya podés ingresar.",
    ))
}
