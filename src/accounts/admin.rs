//! Administrators: creating the first one, and granting/revoking roles.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use crate::{
    accounts::{
        handlers::insert_user,
        password::{self, Password},
    },
    db::{Db, is_unique_violation},
    people::{
        domain::{Cuil, Dni, Email, PersonName},
        persons::{self, NewPerson},
    },
    web::{
        auth::Admin,
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        state::AppState,
        time::now,
    },
    with_db, with_tx,
};

/// Creates (or promotes) the administrator with this DNI and email, setting its password.
pub async fn create_admin(db: &Db, dni: &Dni, email: &Email, pw: &Password) -> anyhow::Result<i64> {
    let hash = password::hash(pw).await?;
    let user_id = ensure_user(db, dni, email, "Administración", "Aula", &hash).await?;
    grant_admin(db, user_id).await?;
    Ok(user_id)
}

/// Grants the admin role to a user (idempotent).
pub async fn grant_admin(db: &Db, user_id: i64) -> Result<(), sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query(
        "INSERT INTO role_grants (user_id, role, created_at) VALUES ($1, 'admin', $2) ON CONFLICT DO NOTHING"
    )
    .bind(user_id)
    .bind(now())
    .execute(p)
    .await
    .map(|_| ())
    })
}

/// Finds the user of the Persona with this DNI, or creates Persona and user (Capital).
pub async fn ensure_user(
    db: &Db,
    dni: &Dni,
    email: &Email,
    first: &str,
    last: &str,
    hash: &str,
) -> anyhow::Result<i64> {
    let existing: Option<i64> = with_db!(db, |p| sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = $1"
    )
    .bind(dni.as_str())
    .fetch_optional(p)
    .await)?;
    if let Some(id) = existing {
        with_db!(db, |p| sqlx::query(
            "UPDATE users SET password_hash = $1, email = $2 WHERE id = $3"
        )
        .bind(hash)
        .bind(email.as_str())
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        return Ok(id);
    }
    let department_id: i64 = with_db!(db, |p| {
        sqlx::query_scalar(
        "SELECT id FROM departments ORDER BY CASE WHEN name = 'Capital' THEN 0 ELSE 1 END, name LIMIT 1"
    )
    .fetch_one(p)
    .await
    })?;
    let np = NewPerson {
        dni: dni.clone(),
        cuil: Cuil::for_dni("20", dni)
            .or_else(|| Cuil::for_dni("27", dni))
            .ok_or_else(|| anyhow::anyhow!("CUIL"))?,
        first_name: PersonName::parse(first, "nombre").map_err(anyhow::Error::msg)?,
        last_name: PersonName::parse(last, "apellido").map_err(anyhow::Error::msg)?,
        birth_date: chrono::NaiveDate::from_ymd_opt(1990, 1, 1).expect("valid literal date"),
        email: Some(email.clone()),
        phone: None,
        department_id,
        locality_id: None,
    };
    let mut tx = db.begin().await?;
    let person_id = persons::insert(&mut tx, &np, None).await?;
    // A staff account, not a person of Capital's office: offices never list it.
    with_tx!(&mut tx, |c| sqlx::query(
        "UPDATE persons SET staff_only = TRUE WHERE id = $1"
    )
    .bind(person_id)
    .execute(c)
    .await
    .map(|_| ()))?;
    let id = insert_user(&mut tx, person_id, Some(email.as_str()), hash).await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage {
    page: Page,
    counts: Counts,
}

#[derive(sqlx::FromRow)]
pub struct Counts {
    courses: i64,
    classes: i64,
    persons: i64,
    enrolments: i64,
    offices: i64,
    institutions: i64,
}

/// `GET /admin`
pub async fn dashboard(
    State(state): State<AppState>,
    ctx: Ctx,
    _admin: Admin,
) -> AppResult<Response> {
    let counts: Counts = with_db!(&state.db, |p| {
        sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM courses) AS courses, (SELECT COUNT(*) FROM classes) AS classes,
                (SELECT COUNT(*) FROM persons) AS persons,
                (SELECT COUNT(*) FROM enrolments WHERE status IN ('confirmed', 'waitlisted', 'completed')) AS enrolments,
                (SELECT COUNT(*) FROM offices) AS offices, (SELECT COUNT(*) FROM institutions) AS institutions"
    )
    .fetch_one(p)
    .await
    })?;
    render(&DashboardPage {
        page: ctx.page("Administración"),
        counts,
    })
}

#[derive(Template)]
#[template(path = "admin/roles.html")]
pub struct RolesPage {
    page: Page,
    grants: Vec<GrantRow>,
    scopes: Vec<ScopeOption>,
    errors: FieldErrors,
    input: GrantForm,
}

#[derive(sqlx::FromRow)]
pub struct GrantRow {
    id: i64,
    dni: String,
    name: String,
    role: String,
    scope: Option<String>,
}

impl GrantRow {
    pub fn role_label(&self) -> &'static str {
        role_label(&self.role)
    }
}

fn role_label(role: &str) -> &'static str {
    match role {
        "admin" => "Administración",
        "operator" => "Operador/a de oficina",
        "instructor" => "Docente",
        "certifier" => "Certificador/a",
        _ => "?",
    }
}

pub struct ScopeOption {
    value: String,
    label: String,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct GrantForm {
    dni: String,
    role: String,
    scope: String,
}

async fn roles_page(
    state: &AppState,
    ctx: &Ctx,
    errors: FieldErrors,
    input: GrantForm,
) -> AppResult<RolesPage> {
    let grants: Vec<GrantRow> = with_db!(&state.db, |p| sqlx::query_as(
        "SELECT g.id, p.dni, p.last_name || ', ' || p.first_name AS name, g.role,
                COALESCE(o.name, c.name || ' (' || co.title || ')', i.name) AS scope
         FROM role_grants g JOIN users u ON u.id = g.user_id JOIN persons p ON p.id = u.person_id
         LEFT JOIN offices o ON o.id = g.office_id
         LEFT JOIN classes c ON c.id = g.class_id LEFT JOIN courses co ON co.id = c.course_id
         LEFT JOIN institutions i ON i.id = g.institution_id
         ORDER BY g.role, p.last_name, g.id"
    )
    .fetch_all(p)
    .await)?;
    #[derive(sqlx::FromRow)]
    struct Opt {
        kind: String,
        id: i64,
        label: String,
    }
    let opts: Vec<Opt> = with_db!(&state.db, |p| {
        sqlx::query_as(
        "SELECT 'office' AS kind, id, name AS label FROM offices
         UNION ALL SELECT 'class', c.id, co.title || ' — ' || c.name FROM classes c JOIN courses co ON co.id = c.course_id
         UNION ALL SELECT 'institution', id, name FROM institutions
         ORDER BY 1, 3"
    )
    .fetch_all(p)
    .await
    })?;
    let scopes = opts
        .into_iter()
        .map(|o| ScopeOption {
            value: format!("{}:{}", o.kind, o.id),
            label: format!(
                "{}: {}",
                match o.kind.as_str() {
                    "office" => "Oficina",
                    "class" => "Comisión",
                    _ => "Institución",
                },
                o.label
            ),
        })
        .collect();
    Ok(RolesPage {
        page: ctx.page("Roles"),
        grants,
        scopes,
        errors,
        input,
    })
}

/// `GET /admin/roles`
pub async fn roles(State(state): State<AppState>, ctx: Ctx, _admin: Admin) -> AppResult<Response> {
    render(&roles_page(&state, &ctx, FieldErrors::default(), GrantForm::default()).await?)
}

/// `POST /admin/roles`: grants a role with its scope to the account of a DNI.
pub async fn grant(
    State(state): State<AppState>,
    ctx: Ctx,
    Admin(admin): Admin,
    Form(form): Form<GrantForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let dni = errors.check("dni", Dni::parse(&form.dni));
    let mut user_id = None;
    if let Some(d) = &dni {
        user_id = with_db!(&state.db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT u.id FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = $1"
        )
        .bind(d.as_str())
        .fetch_optional(p)
        .await)?;
        if user_id.is_none() {
            errors.add(
                "dni",
                "No hay una cuenta con ese DNI. La persona tiene que registrarse primero.",
            );
        }
    }
    let (kind, scope_id) = match form.scope.split_once(':') {
        Some((k, id)) => (k, id.parse::<i64>().ok()),
        None => ("", None),
    };
    let (office, class, institution) = match (form.role.as_str(), kind, scope_id) {
        ("admin", _, _) => (None, None, None),
        ("operator", "office", Some(id)) => (Some(id), None, None),
        ("instructor", "class", Some(id)) => (None, Some(id), None),
        ("certifier", "institution", Some(id)) => (None, None, Some(id)),
        ("operator" | "instructor" | "certifier", _, _) => {
            errors.add("scope", "Elegí el alcance que corresponde al rol: oficina para operador/a, comisión para docente, institución para certificador/a.");
            (None, None, None)
        }
        _ => {
            errors.add("role", "Elegí un rol.");
            (None, None, None)
        }
    };
    if let (Some(uid), true) = (user_id, errors.is_empty()) {
        let res = with_db!(&state.db, |p| {
            sqlx::query(
            "INSERT INTO role_grants (user_id, role, office_id, class_id, institution_id, granted_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(uid)
        .bind(&form.role)
        .bind(office)
        .bind(class)
        .bind(institution)
        .bind(admin.user_id)
        .bind(now())
        .execute(p)
        .await
        .map(|_| ())
        });
        match res {
            Ok(()) => return Ok(redirect_with_notice("/admin/roles", "Rol asignado.")),
            Err(e) if is_unique_violation(&e) => {
                errors.add("role", "Esa persona ya tiene ese rol.")
            }
            Err(e) if matches!(&e, sqlx::Error::Database(d) if d.is_foreign_key_violation()) => {
                errors.add("scope", "El alcance elegido ya no existe.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let page = roles_page(&state, &ctx, errors, form).await?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// `POST /admin/roles/{id}/revocar`
pub async fn revoke(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let n = with_db!(&state.db, |p| sqlx::query(
        "DELETE FROM role_grants WHERE id = $1 AND NOT (user_id = $2 AND role = 'admin')"
    )
    .bind(id)
    .bind(admin.user_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(AppError::Conflict(
            "No se puede quitar ese rol (¿es tu propio rol de administración?).".into(),
        ));
    }
    Ok(redirect_with_notice("/admin/roles", "Rol quitado."))
}
