use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    assert_eq!(b.get_text("/healthz").await, (StatusCode::OK, "ok".into()));
    assert_eq!(b.get_text("/readyz").await, (StatusCode::OK, "ok".into()));
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db.close().await;
    let (status, body) = app.browser().get_text("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("base de datos"));
}

#[tokio::test]
async fn unknown_pages_answer_404_in_the_layout() {
    let app = TestApp::spawn().await;
    let (status, html) = app.browser().get_text("/no-existe").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        html.contains("Página no encontrada")
            && html.contains(r#"<html lang="es-AR">"#)
            && html.contains("/static/app.")
    );
    let (status, _) = app.browser().get_text("/cursos/no-existe").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn public_addresses_are_spanish_and_stable() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    for path in [
        "/",
        "/cursos",
        "/cursos/atencion-al-cliente",
        "/registro",
        "/ingresar",
        "/recuperar",
        "/healthz",
        "/readyz",
    ] {
        assert_eq!(b.get(path).await.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_cache_busted_stylesheet() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let resp = b.get("/cursos").await;
    let h = resp.headers().clone();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = resp.text().await.unwrap();
    let start = html.find("/static/app.").unwrap();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let css = b.get(href).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        b.get("/static/app.0000000000.css").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pages_name_an_icon_that_is_served() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let html = b.get("/").await.text().await.unwrap();
    let start = html.find("/static/icon.").unwrap();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    assert!(html.contains(r#"<link rel="icon""#));
    for path in [href, "/favicon.ico"] {
        let resp = b.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["content-type"], "image/svg+xml", "{path}");
        assert!(resp.text().await.unwrap().starts_with("<svg"), "{path}");
    }
}

/// Compressed size of a page plus the stylesheet it loads.
async fn page_weight(b: &Browser, path: &str) -> usize {
    let gz = |url: String| {
        let client = b.client.clone();
        async move {
            let r = client
                .get(url)
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.bytes().await.unwrap().len()
        }
    };
    let html = b.get(path).await.text().await.unwrap();
    let start = html.find("/static/app.").unwrap();
    let css = &html[start..start + html[start..].find('"').unwrap()];
    gz(b.url(path)).await + gz(b.url(css)).await
}

#[tokio::test]
async fn learner_pages_weigh_under_60_kb_compressed_with_everything_they_load() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let class = app.class_of("herramientas-digitales-empleo").await;
    b.post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    for path in [
        "/cursos",
        "/cursos/herramientas-digitales-empleo",
        "/cursos/herramientas-digitales-empleo/lecciones/armar-tu-cv",
        "/mi-aula",
    ] {
        let w = page_weight(&b, path).await;
        assert!(w < 60 * 1024, "{path} weighs {w} bytes");
        // Images and the video are loaded lazily by the browser; they are media, budgeted apart.
    }
}

#[tokio::test]
async fn cli_help_lists_the_subcommands() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aula"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["serve", "migrate", "import-courses", "admin"] {
        assert!(text.contains(sub), "{text}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("--listen") && text.contains("AULA_LISTEN") && text.contains("--data-dir"),
        "{text}"
    );
}

#[tokio::test]
async fn cli_admin_create_reads_the_password_from_stdin_and_can_log_in() {
    use std::io::Write;
    // The command works on the same database as a running app (SQLite file or PostgreSQL).
    let app = TestApp::spawn().await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aula"));
    cmd.args([
        "admin",
        "create",
        "--dni",
        "25111222",
        "--email",
        "root@aula.test",
        "--data-dir",
    ])
    .arg(&app.config.data_dir)
    .env_remove("DATABASE_URL")
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped());
    if let Some(url) = &app.config.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"muy-secreta-123\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let b = app.browser();
    let resp = b.login("root@aula.test", "muy-secreta-123").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(b.get("/admin").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn migrations_and_demo_seeding_are_idempotent_across_restarts() {
    let app = TestApp::spawn().await;
    let courses = app.count("SELECT COUNT(*) FROM courses").await;
    let classes = app.count("SELECT COUNT(*) FROM classes").await;
    let offices = app.count("SELECT COUNT(*) FROM offices").await;
    assert_eq!(courses, 3);
    assert_eq!(classes, 3, "one open class per demo course");
    assert_eq!(offices, 17, "one office per department");
    assert_eq!(app.count("SELECT COUNT(*) FROM departments").await, 17);
    let mut again = app.config.clone();
    again.demo = true;
    let second = TestApp::spawn_with(|c| *c = again.clone()).await;
    assert_eq!(second.count("SELECT COUNT(*) FROM courses").await, 3);
    assert_eq!(second.count("SELECT COUNT(*) FROM classes").await, 3);
    assert_eq!(second.count("SELECT COUNT(*) FROM offices").await, 17);
    assert_eq!(
        second
            .count("SELECT COUNT(*) FROM role_grants WHERE role = 'admin'")
            .await,
        1
    );
}

#[tokio::test]
async fn assets_and_probes_carry_no_cookie_and_pages_do() {
    let app = TestApp::spawn().await;
    // A fresh client each time: no cookie sent, so a page would be given one.
    let fresh = || reqwest::Client::new();
    let page = fresh()
        .get(format!("{}/cursos", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        page.headers().contains_key("set-cookie"),
        "una página da la cookie CSRF"
    );
    let html = page.text().await.unwrap();
    let start = html.find("/static/app.").unwrap();
    let css = &html[start..start + html[start..].find('"').unwrap()];
    for path in [css, "/favicon.ico", "/healthz", "/readyz"] {
        let resp = fresh()
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(
            !resp.headers().contains_key("set-cookie"),
            "{path} no debe llevar Set-Cookie: {:?}",
            resp.headers().get("set-cookie")
        );
    }
}

#[tokio::test]
async fn an_internal_error_page_shows_the_request_id_the_response_carries() {
    let app = TestApp::spawn().await;
    // Break the catalogue's table so its query fails: a real internal error.
    aula::with_db!(&app.db, |p| sqlx::query("DROP TABLE competencies")
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
    let resp = app.browser().get("/cursos/atencion-al-cliente").await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 8, "{id}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Algo salió mal"), "{html}");
    assert!(
        html.contains(&format!(
            "Código del error: <strong class=\"code\">{id}</strong>"
        )),
        "{html}"
    );
    // Every answer carries an id, and each request gets its own.
    let a = app.browser().get("/cursos").await.headers()["x-request-id"].clone();
    let b = app.browser().get("/cursos").await.headers()["x-request-id"].clone();
    assert_ne!(a, b);
}
