//! Registration (including claiming a Persona created by an office), login, logout and
//! password change.

use askama::Template;
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Duration;
use serde::Deserialize;

use crate::{
    accounts::{
        password::{self, Password},
        session,
    },
    db::{Tx, is_constraint},
    people::{
        claim::{self, ClaimCode},
        domain::{Dni, Email},
        persons::{self, PersonInput},
        territory::{self, DepartmentGroup},
    },
    web::{
        auth::{MaybeUser, User},
        client::{PeerAddr, client_ip},
        cookies::cookie,
        error::AppResult,
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        ratelimit::{self, HOUR},
        state::AppState,
        text::safe_next,
        time::now,
    },
    with_db, with_tx,
};

#[derive(Template)]
#[template(path = "accounts/register.html")]
pub struct RegisterPage {
    page: Page,
    input: PersonInput,
    claim_code: String,
    errors: FieldErrors,
    groups: Vec<DepartmentGroup>,
    next: String,
    /// The form came back with errors after a password was typed: passwords are never sent
    /// back, so the page says to type it again.
    retype_password: bool,
    /// Too many registrations or claims: when to try again.
    limited: Option<String>,
}

impl RegisterPage {
    /// The DNI is the account's user name: password managers may save it.
    pub fn dni_autocomplete(&self) -> &'static str {
        "username"
    }

    /// `aria-describedby` of a password field: its hint, the retype note, its error.
    pub fn password_described_by(&self, field: &str) -> String {
        let mut ids = Vec::new();
        if field == "password" {
            ids.push("password-hint".to_string());
        }
        if self.retype_password {
            ids.push(format!("{field}-retype"));
        }
        if self.errors.get(field).is_some() {
            ids.push(format!("{field}-error"));
        }
        ids.join(" ")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    #[serde(flatten)]
    person: PersonInput,
    claim_code: String,
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
        claim_code: String::new(),
        errors: FieldErrors::default(),
        groups: territory::grouped(&state.db).await?,
        next: next_field(&q.siguiente),
        retype_password: false,
        limited: None,
    })
}

/// What a registration ended in.
enum Registered {
    Created(i64),
    Refused,
    /// Too many attempts: how long to wait, and the message saying so.
    Limited(Duration, String),
}

/// `POST /registro`: creates Persona and account; or, with the code the office gave, claims
/// the Persona an office registered (CUIL and birth date must match too). Any other existing
/// DNI gets one message that does not say whether an office registered it.
pub async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    PeerAddr(peer): PeerAddr,
    Form(form): Form<RegisterForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let parsed = form.person.parse(&state.db, &mut errors).await?;
    let pw = errors.check("password", Password::parse(&form.password));
    if form.password != form.password2 {
        errors.add("password2", "Las dos contraseñas no coinciden.");
    }
    let code = if form.claim_code.trim().is_empty() {
        None
    } else {
        errors.check("claim_code", ClaimCode::parse(&form.claim_code))
    };
    let mut outcome = Registered::Refused;
    if let (Some(np), Some(pw)) = (parsed, pw)
        && errors.is_empty()
    {
        let ip = client_ip(&state, &headers, peer);
        // Only forms that pass validation count: typos cost nothing, and a registration is
        // what costs a password hash and a new account.
        outcome = match ratelimit::check(
            &state.db,
            &format!("register:ip:{ip}"),
            state.limits.register_per_address,
            HOUR,
        )
        .await?
        {
            Err(wait) => {
                tracing::warn!(%ip, "registros bloqueados por demasiados intentos");
                Registered::Limited(
                    wait,
                    format!(
                        "Hubo demasiados intentos de crear cuentas desde esta conexión. Probá de nuevo {}. \
                         Si estás en una oficina, escuela o cibercafé, pedí ayuda a quien atiende.",
                        ratelimit::retry_in(wait)
                    ),
                )
            }
            Ok(()) => create_or_claim(&state, &np, code, &pw, &ip, &mut errors).await?,
        };
    }
    let (status, limited) = match outcome {
        Registered::Created(id) => return signed_in(&state, id, &form.next).await,
        Registered::Refused => (StatusCode::UNPROCESSABLE_ENTITY, None),
        Registered::Limited(wait, msg) => (StatusCode::TOO_MANY_REQUESTS, Some((wait, msg))),
    };
    let resp = render_status(
        status,
        &RegisterPage {
            page: ctx.page("Crear tu cuenta"),
            retype_password: !form.password.is_empty() || !form.password2.is_empty(),
            input: form.person,
            claim_code: form.claim_code,
            errors,
            groups: territory::grouped(&state.db).await?,
            next: next_field(&form.next),
            limited: limited.as_ref().map(|(_, m)| m.clone()),
        },
    )?;
    Ok(match limited {
        Some((wait, _)) => ratelimit::with_retry_after(resp, wait),
        None => resp,
    })
}

/// The answer to a new account: its session, and on to where the person was going.
async fn signed_in(state: &AppState, user_id: i64, next: &str) -> AppResult<Response> {
    tracing::info!(user_id, "cuenta creada");
    let cookie = session::create(&state.db, user_id, state.settings.secure_cookies).await?;
    let mut resp = redirect_with_notice(&safe_next(Some(next)), "¡Listo! Tu cuenta está creada.");
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// The one answer for a DNI that already exists without a valid code: the same whether the
/// DNI has an account or an office registered it (that is nobody else's business).
pub const DNI_TAKEN: &str = "No pudimos crear una cuenta con este DNI. Si ya tenés cuenta, ingresá o recuperá tu contraseña. \
     Si tu oficina de empleo te registró, escribí el código que te dieron.";

/// The hidden `next` field as a page sends it back: only a local path, else nothing.
fn next_field(next: &str) -> String {
    if next.is_empty() {
        return String::new();
    }
    safe_next(Some(next))
}

async fn create_or_claim(
    state: &AppState,
    np: &persons::NewPerson,
    code: Option<ClaimCode>,
    pw: &Password,
    ip: &str,
    errors: &mut FieldErrors,
) -> AppResult<Registered> {
    let email = np.email.as_ref().map(|e| e.as_str().to_string());
    let phone = np.phone.as_ref().map(|p| p.as_str().to_string());
    let Some(existing) = persons::find_by_dni(&state.db, &np.dni).await? else {
        let hash = password::hash(pw).await?;
        let res: Result<i64, sqlx::Error> = async {
            let mut tx = state.db.begin().await?;
            let person_id = persons::insert(&mut tx, np, None).await?;
            let user_id = insert_user(&mut tx, person_id, email.as_deref(), &hash).await?;
            tx.commit().await?;
            Ok(user_id)
        }
        .await;
        return match res {
            Ok(id) => Ok(Registered::Created(id)),
            Err(e) => registration_conflict(e, errors),
        };
    };
    let Some(code) = code else {
        errors.add("dni", DNI_TAKEN);
        return Ok(Registered::Refused);
    };
    // A claim: limited per address and per DNI, whatever the DNI's state, so the limit does
    // not tell an account from a registration either.
    let limits = &state.limits;
    for (key, max) in [
        (format!("claim:ip:{ip}"), limits.claim_per_address),
        (
            format!("claim:dni:{}", np.dni.as_str()),
            limits.claim_per_dni,
        ),
    ] {
        if let Err(wait) = ratelimit::check(&state.db, &key, max, HOUR).await? {
            tracing::warn!(%ip, "reclamos de cuenta bloqueados por demasiados intentos");
            return Ok(Registered::Limited(
                wait,
                format!(
                    "Hubo demasiados intentos con este DNI o desde esta conexión. Probá de nuevo {}, \
                     o acercate a tu oficina de empleo.",
                    ratelimit::retry_in(wait)
                ),
            ));
        }
    }
    // Checked before hashing the password, so a wrong code answers as fast as an account.
    if existing.has_account
        || existing.cuil != np.cuil.as_str()
        || existing.birth_date != np.birth_date
        || !claim::is_live(&state.db, existing.id, &code).await?
    {
        errors.add("dni", DNI_TAKEN);
        return Ok(Registered::Refused);
    }
    let hash = password::hash(pw).await?;
    let spend = claim::spend_hash(&code, existing.id);
    // Spend the code and attach the account in one transaction: a failure keeps the code.
    let res: Result<Option<i64>, sqlx::Error> = async {
        let mut tx = state.db.begin().await?;
        let spent: Option<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(claim::SPEND_SQL)
            .bind(existing.id)
            .bind(&spend)
            .bind(now())
            .fetch_optional(c)
            .await)?;
        if spent.is_none() {
            return Ok(None);
        }
        let user_id: i64 = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "INSERT INTO users (person_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(existing.id)
        .bind(&email)
        .bind(&hash)
        .bind(now())
        .fetch_one(c)
        .await)?;
        // The contact the person just gave is the newest: it replaces the office's.
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE persons SET email = COALESCE($1, email), phone = COALESCE($2, phone) WHERE id = $3",
        )
        .bind(&email)
        .bind(&phone)
        .bind(existing.id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        persons::record_event(&mut tx, "persona.actualizada", existing.id).await?;
        tx.commit().await?;
        Ok(Some(user_id))
    }
    .await;
    match res {
        Ok(Some(id)) => {
            tracing::info!(
                person = existing.id,
                "cuenta reclamada con el código de la oficina"
            );
            Ok(Registered::Created(id))
        }
        Ok(None) => {
            errors.add("dni", DNI_TAKEN);
            Ok(Registered::Refused)
        }
        Err(e) => registration_conflict(e, errors),
    }
}

/// A unique violation while registering, as the message at its field; the DNI (a person
/// registered meanwhile, or an account) gets the one generic message.
fn registration_conflict(e: sqlx::Error, errors: &mut FieldErrors) -> AppResult<Registered> {
    if is_constraint(&e, "users_email_key") || is_constraint(&e, "users.email") {
        errors.add(
            "email",
            "Ya hay una cuenta con este email. Ingresá o recuperá tu contraseña.",
        );
        return Ok(Registered::Refused);
    }
    if crate::db::is_unique_violation(&e) {
        errors.add("dni", DNI_TAKEN);
        return Ok(Registered::Refused);
    }
    Err(e.into())
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
        next: next_field(&q.siguiente),
    })
}

#[derive(sqlx::FromRow)]
struct Credentials {
    id: i64,
    password_hash: String,
}

/// The rate-limit key of an account's password guesses (login and password change share it).
fn account_key(user_id: i64) -> String {
    format!("login:user:{user_id}")
}

/// `POST /ingresar`: by DNI or email; rate-limited per address, then per account. A request
/// the address limit refuses does not count against the account (one address cannot lock
/// anyone out), and the DNI and the email of an account share one counter.
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
                next: next_field(&form.next),
            },
        )
    };
    let limited = |wait: Duration| {
        let msg = format!(
            "Hubo demasiados intentos de ingreso. Probá de nuevo {}, o recuperá tu contraseña.",
            ratelimit::retry_in(wait)
        );
        fail(&msg, StatusCode::TOO_MANY_REQUESTS).map(|r| ratelimit::with_retry_after(r, wait))
    };
    let ident = form.identifier.trim();
    let by_dni = Dni::parse(ident).ok();
    let by_email = if by_dni.is_none() {
        Email::parse(ident).ok()
    } else {
        None
    };
    // Unknown identifiers get a counter of their own, so a refusal looks the same for them.
    let unknown_key = match (&by_dni, &by_email) {
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
    let limits = &state.limits;
    let window = limits.login_window();
    let ip_key = format!("login:ip:{ip}");
    if let Err(wait) =
        ratelimit::check(&state.db, &ip_key, limits.login_per_address, window).await?
    {
        tracing::warn!(%ip, "login bloqueado por demasiados intentos desde la dirección");
        return limited(wait);
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
    let key = creds.as_ref().map_or(unknown_key, |c| account_key(c.id));
    if let Err(wait) = ratelimit::check(&state.db, &key, limits.login_per_account, window).await? {
        tracing::warn!(%ip, "login bloqueado por demasiados intentos a la cuenta");
        return limited(wait);
    }
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
    ratelimit::reset(&state.db, &key).await?;
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
    // Guesses of the current password count with the login's, per account.
    let limits = &state.limits;
    let key = account_key(user.user_id);
    if let Err(wait) = ratelimit::check(
        &state.db,
        &key,
        limits.login_per_account,
        limits.login_window(),
    )
    .await?
    {
        errors.add(
            "current",
            format!(
                "Hubo demasiados intentos con una contraseña equivocada. Probá de nuevo {}.",
                ratelimit::retry_in(wait)
            ),
        );
        let resp = render_status(
            StatusCode::TOO_MANY_REQUESTS,
            &PasswordPage {
                page: ctx.page("Cambiar la contraseña"),
                errors,
            },
        )?;
        return Ok(ratelimit::with_retry_after(resp, wait));
    }
    let stored: String = with_db!(&state.db, |p| sqlx::query_scalar(
        "SELECT password_hash FROM users WHERE id = $1"
    )
    .bind(user.user_id)
    .fetch_one(p)
    .await)?;
    if password::verify(&form.current, Some(stored)).await? {
        ratelimit::reset(&state.db, &key).await?;
    } else {
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

/// Stores a new password hash for a user, and spends the user's unused reset links: a link
/// asked for before the password was chosen must not change it again.
pub async fn set_password(state: &AppState, user_id: i64, pw: &Password) -> AppResult<()> {
    let hash = password::hash(pw).await?;
    with_db!(&state.db, |p| {
        async {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(&hash)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL",
            )
            .bind(now())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await
    })?;
    Ok(())
}

/// Creates the account of person `person_id` in `tx`; returns the user id.
pub async fn insert_user(
    tx: &mut Tx,
    person_id: i64,
    email: Option<&str>,
    password_hash: &str,
) -> Result<i64, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO users (person_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id"
    )
    .bind(person_id)
    .bind(email)
    .bind(password_hash)
    .bind(now())
    .fetch_one(c)
    .await
    })
}
