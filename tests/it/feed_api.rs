//! The API for SIPE and the training record: tokens (shown once, stored hashed, scopes,
//! revocation, rate limit), the record as JSON, page and CSV with its access rules, the event
//! log paged by cursor, and people created or updated one by one and in batches.

use crate::helpers::*;

use aula::{
    people::domain::{Cuil, Dni},
    with_db,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SLUG: &str = "herramientas-digitales-empleo";
const COURSE_TITLE: &str = "Herramientas digitales para la búsqueda de empleo";

/// Creates a token through the admin page and returns its secret (read off the page).
async fn token(admin: &Browser, name: &str, read: bool, write: bool) -> String {
    let mut fields = vec![("name", name.to_string())];
    if read {
        fields.push(("lectura", "1".into()));
    }
    if write {
        fields.push(("escritura", "1".into()));
    }
    let resp = admin.post("/admin/api/tokens", &fields).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["cache-control"].to_str().unwrap(),
        "private, no-store"
    );
    let html = resp.text().await.unwrap();
    let start = html.find("value=\"aula_").expect("el token se muestra") + 7;
    html[start..].split('"').next().unwrap().to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn api_get(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = client().get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
    (status, headers, body)
}

async fn api_put(app: &TestApp, token: &str, dni: &str, body: &Value) -> (StatusCode, Value) {
    let resp = client()
        .put(format!("{}/api/v1/personas/{dni}", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn api_bulk(app: &TestApp, token: &str, body: String, ndjson: bool) -> (StatusCode, Value) {
    let resp = client()
        .post(format!("{}/api/v1/personas/lote", app.base))
        .bearer_auth(token)
        .header(
            "content-type",
            if ndjson {
                "application/x-ndjson"
            } else {
                "application/json"
            },
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

fn cuil(dni: &str) -> String {
    let d = Dni::parse(dni).unwrap();
    Cuil::for_dni("20", &d)
        .or_else(|| Cuil::for_dni("27", &d))
        .unwrap()
        .as_str()
        .to_string()
}

fn person(dni: &str, first: &str) -> Value {
    json!({
        "cuil": cuil(dni),
        "nombre": first,
        "apellido": "Sosa",
        "fecha_nacimiento": "1990-03-04",
        "email": format!("{dni}@sipe.test"),
        "telefono": "3815550000",
        "departamento": "capital",
        "localidad": null,
    })
}

fn assert_json_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["mensaje"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_missing_wrong_or_revoked_ones_get_401() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let secret = token(&admin, "SIPE pruebas", true, false).await;

    // Stored as its SHA-256 only; the list never shows it again.
    let stored: String = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT token_hash FROM api_tokens WHERE name = 'SIPE pruebas'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(stored, hex::encode(Sha256::digest(secret.as_bytes())));
    let (_, list) = admin.get_text("/admin/api/tokens").await;
    assert!(list.contains("SIPE pruebas"));
    assert!(list.contains("Nunca"), "sin uso todavía");
    assert!(!list.contains(&secret), "el token no se vuelve a mostrar");

    // Missing and wrong tokens: 401 JSON with WWW-Authenticate.
    for t in [None, Some("aula_no-existe"), Some("")] {
        let (status, headers, body) = api_get(&app, t, "/api/v1/eventos").await;
        assert_json_error(status, &body, StatusCode::UNAUTHORIZED, "no_autorizado");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    let (status, _, _) = api_get(&app, Some(&secret), "/api/v1/eventos").await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = admin.get_text("/admin/api/tokens").await;
    assert!(!list.contains("Nunca"), "el último uso se muestra");

    // Revoked: 401 from then on.
    let id = app.count("SELECT id FROM api_tokens").await;
    let resp = admin
        .post(&format!("/admin/api/tokens/{id}/revocar"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Revocado"));
    let (status, _, body) = api_get(&app, Some(&secret), "/api/v1/eventos").await;
    assert_json_error(status, &body, StatusCode::UNAUTHORIZED, "no_autorizado");

    // Only admins manage tokens.
    let learner = app.learner("30111222").await;
    assert_eq!(
        learner.get("/admin/api/tokens").await.status(),
        StatusCode::NOT_FOUND
    );
    let resp = learner
        .post(
            "/admin/api/tokens",
            &[("name", "x".into()), ("lectura", "1".into())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_tokens").await, 1);
}

#[tokio::test]
async fn scopes_are_enforced_with_403_and_requests_are_limited_per_token() {
    let app = TestApp::spawn_with(|c| c.limits.api_per_token_minute = 3).await;
    let admin = app.admin().await;
    let reader = token(&admin, "lector", true, false).await;
    let writer = token(&admin, "escritor", false, true).await;

    let (status, body) = api_put(&app, &reader, "30500600", &person("30500600", "Ana")).await;
    assert_json_error(status, &body, StatusCode::FORBIDDEN, "sin_permiso");
    assert_eq!(person_of(&app, "30500600").await, None);
    let (status, _, body) = api_get(&app, Some(&writer), "/api/v1/eventos").await;
    assert_json_error(status, &body, StatusCode::FORBIDDEN, "sin_permiso");

    // The reader has made one request; two more pass, the fourth is refused with Retry-After.
    for _ in 0..2 {
        let (status, _, _) = api_get(&app, Some(&reader), "/api/v1/eventos").await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = api_get(&app, Some(&reader), "/api/v1/eventos").await;
    assert_json_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "demasiadas_solicitudes",
    );
    let retry: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Each token has its own count.
    let (status, _) = api_put(&app, &writer, "30500600", &person("30500600", "Ana")).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn put_creates_updates_and_never_overwrites_what_the_person_changed_more_recently() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let writer = token(&admin, "SIPE", true, true).await;

    // Created, then the same data is unchanged, then a change is an update of that field.
    let (status, body) = api_put(&app, &writer, "30500601", &person("30500601", "Ana")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["resultado"], "creada");
    let (status, body) = api_put(&app, &writer, "30500601", &person("30500601", "Ana")).await;
    assert_eq!(
        (status, &body["resultado"]),
        (StatusCode::OK, &json!("sin_cambios"))
    );
    let (status, body) = api_put(&app, &writer, "30500601", &person("30500601", "Ana María")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["resultado"], "actualizada");
    assert_eq!(body["campos"], json!(["nombre"]));
    let id = person_of(&app, "30500601").await.unwrap();
    assert_eq!(
        scalar_text(&app, "SELECT first_name FROM persons WHERE id = $1", id).await,
        "Ana María"
    );
    // Each change recorded its event in its transaction; "unchanged" recorded none.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'persona.registrada' AND dni = '30500601'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'persona.actualizada' AND dni = '30500601'"
        )
        .await,
        1
    );

    // Refusals change nothing: bad fields (422, field by field), a CUIL of another person (409).
    let mut bad = person("30500602", "Beto");
    bad["cuil"] = json!("20-30500602-0");
    bad["departamento"] = json!("Atlántida");
    bad["fecha_nacimiento"] = json!("2024-01-01");
    let (status, body) = api_put(&app, &writer, "30500602", &bad).await;
    assert_json_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "datos_invalidos",
    );
    let fields: Vec<&str> = body["campos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["campo"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"departamento") && fields.contains(&"fecha_nacimiento"),
        "{body}"
    );
    // A CUIL already stored for another DNI (data from before the DNI-CUIL check).
    let capital = department(&app, "Capital").await;
    with_db!(&app.db, |p| sqlx::query(
        "INSERT INTO persons (dni, cuil, first_name, last_name, birth_date, department_id, search_name, created_at)
         VALUES ('30500699', $1, 'Vieja', 'Carga', '1980-01-01', $2, 'carga vieja', $3)"
    )
    .bind(cuil("30500603"))
    .bind(capital)
    .bind(chrono::Utc::now())
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    let other = person("30500603", "Caro");
    let (status, body) = api_put(&app, &writer, "30500603", &other).await;
    assert_json_error(status, &body, StatusCode::CONFLICT, "conflicto");
    assert_eq!(person_of(&app, "30500602").await, None);
    assert_eq!(person_of(&app, "30500603").await, None);

    // A person with an account changed their phone themselves at «Mis datos».
    let learner = app.learner("30500604").await;
    let pid = person_of(&app, "30500604").await.unwrap();
    let hash_before = scalar_text(
        &app,
        "SELECT u.password_hash FROM users u WHERE u.person_id = $1",
        pid,
    )
    .await;
    let resp = learner
        .post(
            "/mi-aula/datos",
            &[
                ("email", "30500604@correo.test".into()),
                ("phone", "3816667777".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // SIPE's older data (changed at SIPE an hour ago) does not overwrite the contact; its
    // identity data is written.
    let mut sipe = person("30500604", "Lucía Inés");
    sipe["apellido"] = json!("Medina");
    sipe["fecha_nacimiento"] = json!("2001-04-15");
    sipe["telefono"] = json!("3810000000");
    sipe["actualizado_en"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    let (status, body) = api_put(&app, &writer, "30500604", &sipe).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["campos"], json!(["nombre"]));
    assert_eq!(
        scalar_text(&app, "SELECT phone FROM persons WHERE id = $1", pid).await,
        "3816667777"
    );
    // Newer data at SIPE wins the contact too; the password is never touched.
    sipe["actualizado_en"] = json!(chrono::Utc::now().to_rfc3339());
    let (_, body) = api_put(&app, &writer, "30500604", &sipe).await;
    assert_eq!(body["resultado"], "actualizada", "{body}");
    assert_eq!(
        scalar_text(&app, "SELECT phone FROM persons WHERE id = $1", pid).await,
        "3810000000"
    );
    assert_eq!(
        scalar_text(
            &app,
            "SELECT u.password_hash FROM users u WHERE u.person_id = $1",
            pid
        )
        .await,
        hash_before
    );
    // The person still logs in with their own password.
    let b = app.browser();
    assert_eq!(b.login("30500604", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bulk_stores_good_lines_and_refuses_bad_ones_with_a_reason_per_line() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let writer = token(&admin, "SIPE", false, true).await;
    // One already there, to be updated.
    api_put(&app, &writer, "30600001", &person("30600001", "Ana")).await;

    let line = |dni: &str, first: &str| {
        let mut v = person(dni, first);
        v["dni"] = json!(dni);
        v.to_string()
    };
    let mut bad_cuil = person("30600004", "Dora");
    bad_cuil["dni"] = json!("30600004");
    bad_cuil["cuil"] = json!("20306000040");
    let body = [
        line("30600001", "Ana Laura"),     // 1 updated
        line("30600002", "Beto"),          // 2 created
        line("30600003", "Carla"),         // 3 created
        bad_cuil.to_string(),              // 4 refused: CUIL
        "{esto no es json".to_string(),    // 5 refused: JSON
        String::new(),                     // (blank lines are skipped)
        line("30600002", "Beto otra vez"), // 7 refused: repeated DNI
        line("30600001", "Ana Laura"),     // 8 refused: repeated DNI
    ]
    .join("\n");
    let (status, report) = api_bulk(&app, &writer, body, true).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["creadas"], 2, "{report}");
    assert_eq!(report["actualizadas"], 1, "{report}");
    assert_eq!(report["rechazadas"], 4, "{report}");
    let lines = report["lineas"].as_array().unwrap();
    let at = |n: u64| lines.iter().find(|l| l["linea"] == n).unwrap();
    assert_eq!(at(1)["resultado"], "actualizada");
    assert_eq!(at(2)["resultado"], "creada");
    assert_eq!(at(4)["resultado"], "rechazada");
    assert!(
        at(4)["motivo"].as_str().unwrap().contains("cuil"),
        "{report}"
    );
    assert_eq!(at(5)["resultado"], "rechazada");
    assert!(at(5)["motivo"].as_str().unwrap().contains("JSON"));
    assert!(at(7)["motivo"].as_str().unwrap().contains("DNI"));
    assert!(person_of(&app, "30600003").await.is_some());
    assert!(person_of(&app, "30600004").await.is_none());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE dni IN ('30600002', '30600003') AND kind = 'persona.registrada'").await,
        2
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE dni = '30600001' AND kind = 'persona.actualizada'"
        )
        .await,
        1
    );
    // The same batch as a JSON array: now nothing changes.
    let array = format!(
        "[{},{}]",
        line("30600002", "Beto"),
        line("30600003", "Carla")
    );
    let (status, report) = api_bulk(&app, &writer, array, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["sin_cambios"], 2, "{report}");
    // Not JSON at all: 400 and nothing stored.
    let (status, body) = api_bulk(&app, &writer, "no".into(), false).await;
    assert_json_error(status, &body, StatusCode::BAD_REQUEST, "solicitud_invalida");
}

#[tokio::test]
async fn events_are_paged_by_cursor_and_filtered_by_kind() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let t = token(&admin, "SIPE", true, true).await;
    let before = app.count("SELECT COUNT(*) FROM outbox").await;
    for dni in ["30700001", "30700002", "30700003"] {
        api_put(&app, &t, dni, &person(dni, "Eva")).await;
    }
    api_put(&app, &t, "30700002", &person("30700002", "Eva Luz")).await;

    // Walk everything two at a time.
    let mut seen = vec![];
    let mut cursor = String::new();
    loop {
        let (status, _, page) = api_get(
            &app,
            Some(&t),
            &format!("/api/v1/eventos?limite=2&desde={cursor}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["eventos"].as_array().unwrap();
        assert!(events.len() <= 2);
        seen.extend(events.iter().cloned());
        cursor = page["siguiente"].as_str().unwrap().to_string();
        if !page["hay_mas"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(seen.len() as i64, before + 4);
    let ids: std::collections::HashSet<&str> =
        seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), seen.len(), "cada evento una vez");
    // An empty page keeps the cursor, so a poller asks again later.
    let (_, _, page) = api_get(&app, Some(&t), &format!("/api/v1/eventos?desde={cursor}")).await;
    assert_eq!(page["eventos"], json!([]));
    assert_eq!(page["siguiente"], cursor);

    let (_, _, page) = api_get(&app, Some(&t), "/api/v1/eventos?tipo=persona.actualizada").await;
    let events = page["eventos"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["dni"], "30700002");
    assert_eq!(events[0]["datos"]["campos"], json!(["nombre"]));
    // The same fields as a change made in Aula (docs/sipe-eventos.md), saying who made it.
    assert_eq!(events[0]["datos"]["origen"], "sipe");
    assert_eq!(events[0]["datos"]["dni"], "30700002");
    assert!(
        events[0]["datos"]["cuil"].is_string() && events[0]["datos"]["departamento"].is_string()
    );

    let (status, _, body) = api_get(&app, Some(&t), "/api/v1/eventos?desde=xyz").await;
    assert_json_error(status, &body, StatusCode::BAD_REQUEST, "solicitud_invalida");
    let (status, _, _) = api_get(&app, Some(&t), "/api/v1/eventos?limite=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A learner of Capital enrolled in the digital-tools class, with a lesson done and the
/// self-assessment handed in.
async fn learner_with_history(app: &TestApp, dni: &str) -> Browser {
    let b = app.learner(dni).await;
    let class = app.class_of(SLUG).await;
    let resp = b
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = b
        .post(
            &format!("/cursos/{SLUG}/lecciones/tu-celular-y-tu-correo/completar"),
            &[],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = b
        .post(
            &format!("/cursos/{SLUG}/evaluaciones/autoevaluacion/comenzar"),
            &[],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let attempt: i64 = resp
        .url()
        .path()
        .strip_prefix("/intentos/")
        .unwrap()
        .parse()
        .unwrap();
    let resp = b.post(&format!("/intentos/{attempt}/entregar"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    b
}

#[tokio::test]
async fn the_record_as_json_has_classes_progress_grades_and_attendance() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    learner_with_history(&app, "30800001").await;
    let t = token(&admin, "SIPE", true, false).await;

    let (status, _, rec) = api_get(&app, Some(&t), "/api/v1/personas/30800001/formacion").await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    assert_eq!(rec["persona"]["dni"], "30800001");
    let classes = rec["clases"].as_array().unwrap();
    assert_eq!(classes.len(), 1, "{rec}");
    let c = &classes[0];
    assert_eq!(c["curso"], SLUG);
    assert_eq!(c["curso_titulo"], COURSE_TITLE);
    assert_eq!(c["estado"], "confirmada");
    assert_eq!(c["lecciones_total"], 5);
    assert_eq!(c["lecciones_completadas"], 1);
    assert!(c["inicio"].as_str().unwrap().len() == 10);
    let quizzes = c["evaluaciones"].as_array().unwrap();
    assert_eq!(quizzes.len(), 1, "{rec}");
    assert_eq!(quizzes[0]["clave"], "autoevaluacion");
    assert_eq!(quizzes[0]["intentos"], 1);
    assert_eq!(quizzes[0]["porcentaje"], 0.0);
    assert_eq!(quizzes[0]["aprobada"], false);
    assert_eq!(c["asistencia"]["sesiones_programadas"], 0);
    assert_eq!(rec["certificados"], json!([]));

    let (status, _, body) = api_get(&app, Some(&t), "/api/v1/personas/39999999/formacion").await;
    assert_json_error(status, &body, StatusCode::NOT_FOUND, "no_encontrado");
    let (status, _, body) = api_get(&app, Some(&t), "/api/v1/no-existe").await;
    assert_json_error(status, &body, StatusCode::NOT_FOUND, "no_encontrado");
}

#[tokio::test]
async fn the_record_page_is_for_the_person_operators_of_their_territory_and_admins_with_csv() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let learner = learner_with_history(&app, "30800002").await;
    let id = person_of(&app, "30800002").await.unwrap();
    let page = format!("/personas/{id}/formacion");

    // The person, from /mi-aula.
    let (_, mine) = learner.get_text("/mi-aula").await;
    assert!(
        mine.contains("href=\"/mi-aula/formacion\""),
        "enlace desde Mi aula"
    );
    let (status, html) = learner.get_text("/mi-aula/formacion").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Historia formativa"));
    assert!(html.contains(COURSE_TITLE));
    assert!(html.contains("1 de 5"));
    assert!(html.contains("no-print"), "imprimible");
    // Another person's record is not theirs to see.
    assert_eq!(learner.get(&page).await.status(), StatusCode::NOT_FOUND);

    // Operators: of the person's territory yes, of another 404.
    let op = app.learner("32000001").await;
    let capital = office(&app, "Oficina de Empleo Capital").await;
    admin
        .grant("32000001", "operator", &format!("office:{capital}"))
        .await;
    let other = app.learner("32000002").await;
    let monteros = office(&app, "Oficina de Empleo Monteros").await;
    admin
        .grant("32000002", "operator", &format!("office:{monteros}"))
        .await;
    let (status, html) = op.get_text(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(COURSE_TITLE));
    let (_, person_page) = op.get_text(&format!("/oficina/personas/{id}")).await;
    assert!(
        person_page.contains(&format!("href=\"{page}\"")),
        "enlace desde la ficha"
    );
    assert_eq!(other.get(&page).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        other.get(&format!("{page}.csv")).await.status(),
        StatusCode::NOT_FOUND
    );
    // Admins see everyone's.
    assert_eq!(admin.get(&page).await.status(), StatusCode::OK);
    // Anonymous: to the login page.
    let anon = app.browser();
    let (_, html) = anon.get_text(&page).await;
    assert!(html.contains("Ingresar") || html.contains("ingresar"));

    // CSV: never cached, one row per class.
    for (b, path) in [
        (&op, format!("{page}.csv")),
        (&learner, "/mi-aula/formacion.csv".to_string()),
    ] {
        let resp = b.get(&path).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert_eq!(resp.headers()["cache-control"], "private, no-store");
        let text = resp.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[1].contains(COURSE_TITLE) && lines[1].contains("30800002"));
        assert!(lines[1].contains("1 de 5"));
    }
}

#[tokio::test]
async fn the_served_openapi_is_3_1_and_lists_every_api_route_and_the_page_shows_them() {
    let app = TestApp::spawn().await;
    let (status, _, spec) = api_get(&app, None, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3.1."),
        "{spec}"
    );
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/personas/{dni}/formacion", "get"),
        ("/api/v1/eventos", "get"),
        ("/api/v1/personas/{dni}", "put"),
        ("/api/v1/personas/lote", "post"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} en openapi.json"
        );
    }
    // Every /api/v1 route the source declares (but the description and its page) is described.
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/feed/api/mod.rs"))
            .unwrap();
    for chunk in source.split(".route(\"").skip(1) {
        let route = chunk.split('"').next().unwrap();
        if route.starts_with("/api/v1/")
            && !["/api/v1/openapi.json", "/api/v1/docs", "/api/v1/{*rest}"].contains(&route)
        {
            assert!(paths.contains_key(route), "{route} falta en openapi.json");
        }
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    let (status, html) = app.browser().get_text("/api/v1/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("PUT /api/v1/personas/{dni}"));
    assert!(html.contains("POST /api/v1/personas/lote"));
}
