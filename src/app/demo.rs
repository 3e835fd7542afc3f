//! Demo data on first start: one office per department, an instructor, and one open class
//! per demo course, so a newcomer can register and enrol at once.

use chrono::Duration;

use crate::{
    accounts::{
        admin,
        password::{self, Password},
    },
    catalog::classes::{ValidClass, insert},
    db::Db,
    people::domain::{Dni, Email},
    web::{cookies::random_token, time::now},
    with_db,
};

/// Seeds offices, the first admin and demo classes, once.
pub async fn seed(db: &Db) -> anyhow::Result<()> {
    let offices: i64 = with_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM offices")
        .fetch_one(p)
        .await)?;
    if offices == 0 {
        let deps = crate::people::territory::departments(db).await?;
        for d in deps {
            with_db!(db, |p| {
                async {
                    let mut tx = p.begin().await?;
                    let id: i64 = sqlx::query_scalar("INSERT INTO offices (name, address, created_at) VALUES ($1, '', $2) RETURNING id")
                        .bind(format!("Oficina de Empleo {}", d.name))
                        .bind(now())
                        .fetch_one(&mut *tx)
                        .await?;
                    sqlx::query("INSERT INTO office_departments (office_id, department_id) VALUES ($1, $2)")
                        .bind(id)
                        .bind(d.id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                }
                .await
            })?;
        }
    }
    let admins: i64 = with_db!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM role_grants WHERE role = 'admin'"
    )
    .fetch_one(p)
    .await)?;
    if admins == 0 {
        // A generated one-time password, shown once: the newcomer's way in.
        let pw_text = random_token()[..16].to_string();
        let pw = Password::parse(&pw_text).map_err(anyhow::Error::msg)?;
        let dni = Dni::parse("10000001").map_err(anyhow::Error::msg)?;
        let email = Email::parse("admin@aula.local").map_err(anyhow::Error::msg)?;
        // One hash for both demo accounts: they share the printed password.
        let hash = password::hash(&pw).await?;
        let admin_id =
            admin::ensure_user(db, &dni, &email, "Administración", "Aula", &hash).await?;
        admin::grant_admin(db, admin_id).await?;
        let teacher_dni = Dni::parse("10000002").map_err(anyhow::Error::msg)?;
        let teacher_email = Email::parse("docente@aula.local").map_err(anyhow::Error::msg)?;
        admin::ensure_user(db, &teacher_dni, &teacher_email, "Docente", "Demo", &hash).await?;
        let banner = format!(
            "\n==============================================================\n  \
             Aula está lista. Ingresá como administrador/a en /ingresar:\n    \
             usuario:    admin@aula.local   (o DNI 10000001)\n    \
             contraseña: {pw_text}\n  \
             La cuenta docente@aula.local (DNI 10000002) usa la misma\n  \
             contraseña y es docente de las comisiones de demostración.\n  \
             Se muestra una sola vez: cambiala en /cuenta/clave.\n\
             ==============================================================\n"
        );
        println!("{banner}");
        tracing::info!("administrador inicial creado (admin@aula.local)");
    }
    let classes: i64 = with_db!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM classes")
        .fetch_one(p)
        .await)?;
    if classes == 0 {
        let teacher: Option<i64> = with_db!(db, |p| {
            sqlx::query_scalar(
            "SELECT u.id FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = '10000002'"
        )
        .fetch_optional(p)
        .await
        })?;
        let courses: Vec<i64> = with_db!(db, |p| sqlx::query_scalar(
            "SELECT id FROM courses ORDER BY id"
        )
        .fetch_all(p)
        .await)?;
        let n = now();
        for course_id in courses {
            let class_id = insert(
                db,
                &ValidClass {
                    course_id,
                    name: "Comisión 1 — Virtual".into(),
                    starts_on: n.date_naive(),
                    ends_on: (n + Duration::days(60)).date_naive(),
                    enrol_opens_at: n - Duration::days(1),
                    enrol_closes_at: n + Duration::days(30),
                    seats: 40,
                    department_id: None,
                    institution_id: None,
                },
            )
            .await?;
            if let Some(t) = teacher {
                with_db!(db, |p| {
                    sqlx::query("INSERT INTO role_grants (user_id, role, class_id, created_at) VALUES ($1, 'instructor', $2, $3)")
                    .bind(t)
                    .bind(class_id)
                    .bind(now())
                    .execute(p)
                    .await.map(|r| r.rows_affected())
                })?;
            }
        }
    }
    Ok(())
}
