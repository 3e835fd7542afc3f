//! Tucumán's departments and localities, and the offices that cover them.

use serde::Deserialize;

use crate::{db::Db, with_db};

const TUCUMAN: &str = include_str!("tucuman.toml");

#[derive(Deserialize)]
struct Province {
    departamentos: Vec<DepartmentFile>,
}

#[derive(Deserialize)]
struct DepartmentFile {
    nombre: String,
    localidades: Vec<String>,
}

/// A department of the province.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Department {
    pub id: i64,
    pub name: String,
}

/// A locality within a department.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Locality {
    pub id: i64,
    pub department_id: i64,
    pub name: String,
}

/// Inserts the 17 departments and their localities (idempotent).
pub async fn seed(db: &Db) -> anyhow::Result<()> {
    let province: Province = toml::from_str(TUCUMAN)?;
    let existing: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM localities"
    )
    .fetch_one(p)
    .await)?;
    let wanted: usize = province
        .departamentos
        .iter()
        .map(|d| d.localidades.len())
        .sum();
    if existing as usize >= wanted {
        return Ok(());
    }
    for d in &province.departamentos {
        with_db!(db, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO departments (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind(&d.nombre)
                .execute(&mut *tx)
                .await?;
            let id: i64 = sqlx::query_scalar("SELECT id FROM departments WHERE name = $1")
                .bind(&d.nombre)
                .fetch_one(&mut *tx)
                .await?;
            for l in &d.localidades {
                sqlx::query("INSERT INTO localities (department_id, name) VALUES ($1, $2) ON CONFLICT (department_id, name) DO NOTHING")
                    .bind(id)
                    .bind(l)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
    }
    Ok(())
}

/// All departments, by name.
pub async fn departments(db: &Db) -> Result<Vec<Department>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_as(
        "SELECT id, name FROM departments ORDER BY name"
    )
    .fetch_all(p)
    .await)
}

/// All localities, by department and name.
pub async fn localities(db: &Db) -> Result<Vec<Locality>, sqlx::Error> {
    with_db!(db, |p| {
        sqlx::query_as(
        "SELECT l.id, l.department_id, l.name FROM localities l JOIN departments d ON d.id = l.department_id ORDER BY d.name, l.name"
    )
    .fetch_all(p)
    .await
    })
}

/// Departments with their localities, for `<optgroup>` selects.
pub struct DepartmentGroup {
    pub department: Department,
    pub localities: Vec<Locality>,
}

/// Departments grouped with their localities.
pub async fn grouped(db: &Db) -> Result<Vec<DepartmentGroup>, sqlx::Error> {
    let deps = departments(db).await?;
    let locs = localities(db).await?;
    Ok(deps
        .into_iter()
        .map(|d| {
            let localities = locs
                .iter()
                .filter(|l| l.department_id == d.id)
                .cloned()
                .collect();
            DepartmentGroup {
                department: d,
                localities,
            }
        })
        .collect())
}

/// Whether a locality belongs to a department.
pub async fn locality_in_department(
    db: &Db,
    locality_id: i64,
    department_id: i64,
) -> Result<bool, sqlx::Error> {
    let n: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM localities WHERE id = $1 AND department_id = $2"
    )
    .bind(locality_id)
    .bind(department_id)
    .fetch_one(p)
    .await)?;
    Ok(n > 0)
}
