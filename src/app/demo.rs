//! Demo data on first start: one office per department, an instructor, a partner institution
//! with competency standards mapped to the demo courses and its certifier, and one open class
//! per demo course (certified by that institution), so a newcomer can register, enrol, study,
//! get certified and verify the certificate at once.

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
    let institution = demo_institution(db).await?;
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
        let certifier_dni = Dni::parse("10000003").map_err(anyhow::Error::msg)?;
        let certifier_email =
            Email::parse("certificador@aula.local").map_err(anyhow::Error::msg)?;
        let certifier = admin::ensure_user(
            db,
            &certifier_dni,
            &certifier_email,
            "Certificación",
            "Demo",
            &hash,
        )
        .await?;
        with_db!(db, |p| {
            sqlx::query(
            "INSERT INTO role_grants (user_id, role, institution_id, created_at) VALUES ($1, 'certifier', $2, $3)"
        )
        .bind(certifier)
        .bind(institution)
        .bind(now())
        .execute(p)
        .await
        .map(|_| ())
        })?;
        let banner = format!(
            "\n==============================================================\n  \
             Aula está lista. Ingresá como administrador/a en /ingresar:\n    \
             usuario:    admin@aula.local   (o DNI 10000001)\n    \
             contraseña: {pw_text}\n  \
             La cuenta docente@aula.local (DNI 10000002) usa la misma\n  \
             contraseña y es docente de las comisiones de demostración;\n  \
             certificador@aula.local (DNI 10000003), también, y certifica\n  \
             por la institución de demostración (/certificacion).\n  \
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
                    institution_id: Some(institution),
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

/// The demo partner institution.
pub const DEMO_INSTITUTION: &str = "Instituto de Formación Profesional Tucumán (demostración)";

/// The demo institution's logo, so the demo certificate's PDF and issuer profile show one.
const DEMO_LOGO: &[u8] = include_bytes!("demo-ifp-logo.png");

/// The demo partner institution, created once with one competency standard per competency of
/// the demo courses (mapped to it); returns its id.
async fn demo_institution(db: &Db) -> anyhow::Result<i64> {
    let existing: Option<i64> = with_db!(db, |p| sqlx::query_scalar(
        "SELECT id FROM institutions WHERE name = $1"
    )
    .bind(DEMO_INSTITUTION)
    .fetch_optional(p)
    .await)?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id: i64 = with_db!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO institutions (name, cuit, address, created_at, logo) VALUES ($1, '30712345671', 'Av. Sarmiento 800, San Miguel de Tucumán', $2, $3) RETURNING id"
    )
    .bind(DEMO_INSTITUTION)
    .bind(now())
    .bind(DEMO_LOGO)
    .fetch_one(p)
    .await
    })?;
    let competencies: Vec<(i64, String, String, i64, i64)> = with_db!(db, |p| sqlx::query_as(
        "SELECT c.id, cp.code, cp.name, c.hours,
                (SELECT COUNT(*) FROM competencies x WHERE x.course_id = c.id)
         FROM competencies cp JOIN courses c ON c.id = cp.course_id ORDER BY c.id, cp.position"
    )
    .fetch_all(p)
    .await)?;
    for (course_id, code, name, hours, count) in competencies {
        let standard = format!("NC-{code}");
        let standard_id: i64 = with_db!(db, |p| {
            sqlx::query_scalar(
            "INSERT INTO competency_standards (institution_id, code, title, description, units, hours, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
        )
        .bind(id)
        .bind(&standard)
        .bind(&name)
        .bind("Norma de competencia de demostración.")
        .bind("Unidad 1")
        .bind((hours / count.max(1)).max(1))
        .bind(now())
        .fetch_one(p)
        .await
        })?;
        with_db!(db, |p| {
            sqlx::query(
            "INSERT INTO competency_standard_links (course_id, competency_code, standard_id) VALUES ($1, $2, $3)"
        )
        .bind(course_id)
        .bind(&code)
        .bind(standard_id)
        .execute(p)
        .await
        .map(|_| ())
        })?;
    }
    Ok(id)
}
