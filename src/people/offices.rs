//! Employment offices and the departments (territory) each one covers.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use crate::{
    db::{Db, is_unique_violation},
    people::territory::{self, Department},
    web::auth::Admin,
    web::{
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        state::AppState,
        text::has_control,
        time::now,
    },
    with_db,
};

#[derive(Clone, Debug)]
pub struct Office {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub departments: Option<String>,
}

/// Every office with the names of the departments it covers.
pub async fn all(db: &Db) -> Result<Vec<Office>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
        address: String,
    }
    let rows: Vec<Row> = with_db!(db, |p| sqlx::query_as(
        "SELECT id, name, address FROM offices ORDER BY name"
    )
    .fetch_all(p)
    .await)?;
    let covered: Vec<(i64, String)> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT od.office_id, d.name FROM office_departments od JOIN departments d ON d.id = od.department_id ORDER BY d.name"
    )
    .fetch_all(p)
    .await
    })?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let names: Vec<&str> = covered
                .iter()
                .filter(|(o, _)| *o == r.id)
                .map(|(_, n)| n.as_str())
                .collect();
            Office {
                id: r.id,
                name: r.name,
                address: r.address,
                departments: (!names.is_empty()).then(|| names.join(", ")),
            }
        })
        .collect())
}

/// Department ids an office covers.
pub async fn department_ids(db: &Db, office_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_scalar(
        "SELECT department_id FROM office_departments WHERE office_id = $1"
    )
    .bind(office_id)
    .fetch_all(p)
    .await)
}

#[derive(Template)]
#[template(path = "admin/offices.html")]
pub struct OfficesPage {
    page: Page,
    offices: Vec<Office>,
}

#[derive(Template)]
#[template(path = "admin/office_form.html")]
pub struct OfficeFormPage {
    page: Page,
    office_id: Option<i64>,
    office_name: String,
    address: String,
    selected: Vec<i64>,
    departments: Vec<Department>,
    errors: FieldErrors,
}

/// The office form as sent: repeated `department` fields become a list.
#[derive(Debug, Default)]
pub struct OfficeForm {
    name: String,
    address: String,
    departments: Vec<i64>,
}

impl<'de> Deserialize<'de> for OfficeForm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs: Vec<(String, String)> = Vec::deserialize(d)?;
        let mut f = OfficeForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "address" => f.address = v,
                "department" => f.departments.extend(v.parse::<i64>().ok()),
                _ => {}
            }
        }
        Ok(f)
    }
}

/// `GET /admin/oficinas`: the list and an empty form for a new office.
pub async fn list(State(state): State<AppState>, ctx: Ctx, _a: Admin) -> AppResult<Response> {
    render(&OfficesPage {
        page: ctx.page("Oficinas de empleo"),
        offices: all(&state.db).await?,
    })
}

/// `GET /admin/oficinas/{id}` (`nueva` for a new one).
pub async fn edit_form(
    State(state): State<AppState>,
    ctx: Ctx,
    _a: Admin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let departments = territory::departments(&state.db).await?;
    if id == "nueva" {
        return render(&OfficeFormPage {
            page: ctx.page("Nueva oficina"),
            office_id: None,
            office_name: String::new(),
            address: String::new(),
            selected: vec![],
            departments,
            errors: FieldErrors::default(),
        });
    }
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let (name, address): (String, String) = with_db!(&state.db, |p| sqlx::query_as(
        "SELECT name, address FROM offices WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?
    .ok_or(AppError::NotFound)?;
    render(&OfficeFormPage {
        page: ctx.page(format!("Oficina {name}")),
        office_id: Some(id),
        selected: department_ids(&state.db, id).await?,
        office_name: name,
        address,
        departments,
        errors: FieldErrors::default(),
    })
}

async fn save(
    state: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    form: OfficeForm,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let name = form.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 120 || has_control(&name) {
        errors.add(
            "name",
            "Escribí el nombre de la oficina (hasta 120 caracteres, sin símbolos de control).",
        );
    }
    let address = form
        .address
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if address.chars().count() > 200 || has_control(&address) {
        errors.add(
            "address",
            "Escribí la dirección en una línea (hasta 200 caracteres, sin símbolos de control).",
        );
    }
    let departments = territory::departments(&state.db).await?;
    if form.departments.is_empty()
        || !form
            .departments
            .iter()
            .all(|d| departments.iter().any(|x| x.id == *d))
    {
        errors.add(
            "department",
            "Marcá al menos un departamento que atiende la oficina.",
        );
    }
    if errors.is_empty() {
        let res: Result<i64, sqlx::Error> = with_db!(&state.db, |p| {
            async {
                let mut tx = p.begin().await?;
                let office_id: i64 = match id {
                    Some(id) => sqlx::query_scalar("UPDATE offices SET name = $1, address = $2 WHERE id = $3 RETURNING id")
                        .bind(&name)
                        .bind(&address)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?,
                    None => sqlx::query_scalar("INSERT INTO offices (name, address, created_at) VALUES ($1, $2, $3) RETURNING id")
                        .bind(&name)
                        .bind(&address)
                        .bind(now())
                        .fetch_one(&mut *tx)
                        .await?,
                };
                sqlx::query("DELETE FROM office_departments WHERE office_id = $1").bind(office_id).execute(&mut *tx).await?;
                for d in &form.departments {
                    sqlx::query("INSERT INTO office_departments (office_id, department_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(office_id)
                        .bind(d)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(office_id)
            }
            .await
        });
        match res {
            Ok(_) => return Ok(redirect_with_notice("/admin/oficinas", "Oficina guardada.")),
            Err(sqlx::Error::RowNotFound) => return Err(AppError::NotFound),
            Err(e) if is_unique_violation(&e) => {
                errors.add("name", "Ya existe una oficina con ese nombre.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &OfficeFormPage {
            page: ctx.page("Oficina"),
            office_id: id,
            office_name: form.name,
            address: form.address,
            selected: form.departments,
            departments,
            errors,
        },
    )
}

/// `POST /admin/oficinas`
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    _a: Admin,
    Form(form): Form<OfficeForm>,
) -> AppResult<Response> {
    save(&state, &ctx, None, form).await
}

/// `POST /admin/oficinas/{id}`
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    _a: Admin,
    Path(id): Path<i64>,
    Form(form): Form<OfficeForm>,
) -> AppResult<Response> {
    save(&state, &ctx, Some(id), form).await
}
