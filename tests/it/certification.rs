//! Certification by partner institutions, end to end over HTTP: eligibility, the certifier's
//! pages (only the institution's certifiers), batch certification, the double-certify race,
//! rejection, revocation (page and status list), the audit log, key rotation, outbox events
//! and the public verification.

use crate::helpers::*;

use aula::certification::{
    credential::verify_vc_jwt,
    keys::{Jwks, KeySet},
    status_list::{StatusList, list_of_credential},
};
use aula::with_db;
use reqwest::StatusCode;

/// No quiz, no attendance rule: every lesson done makes a learner eligible.
const SLUG: &str = "desarrollo-economico-territorial";

struct Setup {
    app: TestApp,
    admin: Browser,
    class: i64,
    institution: i64,
    certifier: Browser,
}

async fn create_institution(app: &TestApp, admin: &Browser, name: &str) -> i64 {
    let resp = admin
        .post(
            "/admin/instituciones",
            &[
                ("name", name.into()),
                ("cuit", "30-71234567-1".into()),
                ("address", "Av. Mate de Luna 1500".into()),
            ],
        )
        .await;
    let body = resp.text().await.unwrap();
    assert!(body.contains("Institución creada."), "{body}");
    with_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM institutions WHERE name = $1"
    )
    .bind(name)
    .fetch_one(p)
    .await)
    .unwrap()
}

async fn set_institution(app: &TestApp, class: i64, institution: i64) {
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET institution_id = $1 WHERE id = $2"
    )
    .bind(institution)
    .bind(class)
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let class = app.class_of(SLUG).await;
    let institution =
        create_institution(&app, &admin, "Centro de Formación Profesional N.º 5").await;
    set_institution(&app, class, institution).await;
    let certifier = app.learner("27111222").await;
    admin
        .grant(
            "27111222",
            "certifier",
            &format!("institution:{institution}"),
        )
        .await;
    Setup {
        app,
        admin,
        class,
        institution,
        certifier,
    }
}

async fn lesson_keys(app: &TestApp, slug: &str) -> Vec<String> {
    with_db!(&app.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT l.key FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = $1 AND NOT l.retired ORDER BY l.position"
    )
    .bind(slug)
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn enrol(b: &Browser, class: i64) {
    let resp = b
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// A learner enrolled in the class who completed `done` lessons of `slug`.
async fn learner_with(app: &TestApp, dni: &str, class: i64, slug: &str, done: usize) -> Browser {
    let b = app.learner(dni).await;
    enrol(&b, class).await;
    for key in lesson_keys(app, slug).await.iter().take(done) {
        let resp = b
            .post(&format!("/cursos/{slug}/lecciones/{key}/completar"), &[])
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "lección {key}");
    }
    b
}

async fn certify(b: &Browser, class: i64, people: &[i64]) -> reqwest::Response {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for p in people {
        fields.push(("persona", p.to_string()));
    }
    b.post(
        &format!("/certificacion/comisiones/{class}/certificar"),
        &fields,
    )
    .await
}

async fn code_of(app: &TestApp, person: i64) -> String {
    scalar_text(
        app,
        "SELECT code FROM certificates WHERE person_id = $1",
        person,
    )
    .await
}

async fn get_json<T: serde::de::DeserializeOwned>(b: &Browser, path: &str) -> T {
    let (status, text) = b.get_text(path).await;
    assert_eq!(status, StatusCode::OK, "{path}");
    serde_json::from_str(&text).unwrap()
}

async fn count_for(app: &TestApp, sql: &'static str, person: i64) -> i64 {
    app.scalar_i64(sql, person).await
}

#[tokio::test]
async fn eligibility_checklist_is_shown_and_only_eligible_learners_are_certified() {
    let s = setup().await;
    let total = lesson_keys(&s.app, SLUG).await.len();
    let partial = learner_with(&s.app, "31000011", s.class, SLUG, total - 1).await;
    let partial_id = person_of(&s.app, "31000011").await.unwrap();
    // The learner sees the checklist on /mi-aula.
    let (_, html) = partial.get_text("/mi-aula").await;
    assert!(html.contains("Para certificar"), "{html}");
    assert!(
        html.contains(&format!("Lecciones: {} de {total}", total - 1)),
        "{html}"
    );
    // The certifier sees the same evidence.
    let (status, html) = s
        .certifier
        .get_text(&format!("/certificacion/comisiones/{}", s.class))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("Lecciones: {} de {total}", total - 1)));
    assert!(html.contains("No cumple los requisitos todavía"));
    // Not eligible: a clear reason, nothing written.
    let resp = certify(&s.certifier, s.class, &[partial_id]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("no se certificó: No cumple: Lecciones"),
        "{html}"
    );
    assert_eq!(s.app.count("SELECT COUNT(*) FROM certificates").await, 0);
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM certification_audit")
            .await,
        0
    );
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM outbox WHERE kind LIKE 'certificado.%'")
            .await,
        0
    );
    // Not enrolled at all: also refused.
    let outsider = s.app.learner("31000012").await;
    let outsider_id = person_of(&s.app, "31000012").await.unwrap();
    drop(outsider);
    let resp = certify(&s.certifier, s.class, &[outsider_id]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("No está inscripto/a"));
    // The last lesson makes them eligible.
    let key = lesson_keys(&s.app, SLUG).await.pop().unwrap();
    partial
        .post(&format!("/cursos/{SLUG}/lecciones/{key}/completar"), &[])
        .await;
    let (_, html) = partial.get_text("/mi-aula").await;
    assert!(html.contains(&format!("Lecciones: {total} de {total}")));
    assert!(html.contains("Cumplís los requisitos"));
    let resp = certify(&s.certifier, s.class, &[partial_id]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Certificado emitido."));
    assert_eq!(s.app.count("SELECT COUNT(*) FROM certificates").await, 1);
}

#[tokio::test]
async fn quiz_grade_and_attendance_paths_of_the_checklist() {
    let app = TestApp::spawn().await;
    // atencion-al-cliente: 80 % of lessons and the final quiz with 60 %.
    let slug = "atencion-al-cliente";
    let class = app.class_of(slug).await;
    let total = lesson_keys(&app, slug).await.len();
    let _b = learner_with(&app, "31000021", class, slug, total).await;
    let person = person_of(&app, "31000021").await.unwrap();
    let list = aula::completion::checklist(&app.db, class, person)
        .await
        .unwrap();
    assert!(!list.eligible());
    assert!(
        list.items
            .iter()
            .any(|i| !i.met && i.detail.starts_with("sin rendir")),
        "{list:?}"
    );
    let quiz: i64 = with_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT q.id FROM quizzes q JOIN courses c ON c.id = q.course_id WHERE c.slug = $1 AND q.completion_percent IS NOT NULL"
    )
    .bind(slug)
    .fetch_one(p)
    .await)
    .unwrap();
    for (percent, passes, text) in [
        (50.0, false, "no aprobada 5/10 (se aprueba con 6/10)"),
        (70.0, true, "aprobada 7/10"),
    ] {
        with_db!(&app.db, |p| sqlx::query(
            "INSERT INTO quiz_grades (quiz_id, class_id, person_id, percent, passed, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (quiz_id, class_id, person_id) DO UPDATE SET percent = excluded.percent, passed = excluded.passed"
        )
        .bind(quiz)
        .bind(class)
        .bind(person)
        .bind(percent)
        .bind(passes)
        .bind(chrono::Utc::now())
        .execute(p)
        .await
        .map(|_| ()))
        .unwrap();
        let list = aula::completion::checklist(&app.db, class, person)
            .await
            .unwrap();
        assert_eq!(list.eligible(), passes, "{list:?}");
        assert!(list.items.iter().any(|i| i.detail == text), "{list:?}");
    }
    // herramientas-digitales-empleo asks for 75 % attendance: without live sessions it is met
    // and says so.
    let slug = "herramientas-digitales-empleo";
    let class = app.class_of(slug).await;
    let _b = learner_with(&app, "31000022", class, slug, 1).await;
    let person = person_of(&app, "31000022").await.unwrap();
    let list = aula::completion::checklist(&app.db, class, person)
        .await
        .unwrap();
    let attendance = list.items.iter().find(|i| i.label == "Asistencia").unwrap();
    assert!(
        attendance.met && attendance.detail.contains("75 %"),
        "{attendance:?}"
    );
    assert!(!list.eligible(), "faltan lecciones");
}

#[tokio::test]
async fn only_certifiers_of_the_institution_reach_the_pages() {
    let s = setup().await;
    let total = lesson_keys(&s.app, SLUG).await.len();
    let _l = learner_with(&s.app, "31000031", s.class, SLUG, total).await;
    let person = person_of(&s.app, "31000031").await.unwrap();
    // A certifier of another institution, a learner, the admin, anonymous: 404 or login.
    let other = create_institution(&s.app, &s.admin, "Otra institución").await;
    let stranger = s.app.learner("27111333").await;
    s.admin
        .grant("27111333", "certifier", &format!("institution:{other}"))
        .await;
    let learner = s.app.learner("31000032").await;
    for b in [&stranger, &learner, &s.admin] {
        let (status, _) = b
            .get_text(&format!("/certificacion/comisiones/{}", s.class))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let resp = certify(b, s.class, &[person]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    let (status, html) = stranger.get_text("/certificacion").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains(&format!("/certificacion/comisiones/{}", s.class)));
    let (status, _) = learner.get_text("/certificacion").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(s.app.count("SELECT COUNT(*) FROM certificates").await, 0);
    // The right certifier sees the class in their list.
    let (_, html) = s.certifier.get_text("/certificacion").await;
    assert!(html.contains(&format!("/certificacion/comisiones/{}", s.class)));
}

#[tokio::test]
async fn batch_certification_with_audit_outbox_and_public_verification() {
    let s = setup().await;
    let total = lesson_keys(&s.app, SLUG).await.len();
    let a = learner_with(&s.app, "31000041", s.class, SLUG, total).await;
    let _b = learner_with(&s.app, "31000042", s.class, SLUG, total).await;
    let pa = person_of(&s.app, "31000041").await.unwrap();
    let pb = person_of(&s.app, "31000042").await.unwrap();
    let resp = certify(&s.certifier, s.class, &[pa, pb]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("2 certificados emitidos.")
    );
    assert_eq!(s.app.count("SELECT COUNT(*) FROM certificates").await, 2);
    assert_eq!(
        count_for(
            &s.app,
            "SELECT COUNT(*) FROM certification_audit WHERE person_id = $1 AND decision = 'emitido' AND evidence LIKE '%Lecciones%'",
            pa
        )
        .await,
        1
    );
    assert_eq!(
        count_for(
            &s.app,
            "SELECT COUNT(*) FROM outbox WHERE person_id = $1 AND kind = 'certificado.emitido'",
            pb
        )
        .await,
        1
    );
    let code = code_of(&s.app, pa).await;
    let payload = scalar_text(
        &s.app,
        "SELECT payload FROM outbox WHERE person_id = $1 AND kind = 'certificado.emitido'",
        pa,
    )
    .await;
    let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(event["codigo"], code.as_str());
    assert_eq!(event["comision_id"], s.class);
    assert_eq!(event["curso"]["slug"], SLUG);
    assert_eq!(event["institucion"]["cuit"], "30712345671");
    assert!(
        event["url_verificacion"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/verificar/{code}"))
    );
    assert!(!event["competencias"].as_array().unwrap().is_empty());
    // Public page, anonymous.
    let anon = s.app.browser();
    let (status, html) = anon.get_text(&format!("/verificar/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("VIGENTE"), "{html}");
    assert!(html.contains("Verificada: la firmó"));
    assert!(html.contains("Centro de Formación Profesional N.º 5"));
    assert!(html.contains("*.041"), "DNI enmascarado");
    // The code typed with dashes and lower case finds it.
    let typed = format!("{}-{}", &code[..5], &code[5..]).to_lowercase();
    let (status, html) = anon.get_text(&format!("/verificar?codigo={typed}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("VIGENTE"));
    // A wrong code: a clear answer.
    let mut wrong = code.clone();
    wrong.replace_range(0..1, if &code[..1] == "2" { "3" } else { "2" });
    let (status, html) = anon.get_text(&format!("/verificar?codigo={wrong}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        html.contains("no es válido") || html.contains("No hay ningún certificado"),
        "{html}"
    );
    // Listed in /mi-aula with downloads; others cannot download it.
    let (_, html) = a.get_text("/mi-aula").await;
    assert!(html.contains("Mis certificados") && html.contains(&code));
    // And in the person's training record, with its verification page.
    let (status, html) = a.get_text("/mi-aula/formacion").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&code) && html.contains(&format!("/verificar/{code}\"")),
        "{html}"
    );
    let resp = a
        .get(&format!("/mi-aula/certificados/{code}/certificado.pdf"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap().starts_with(b"%PDF"));
    let jwt = a
        .get(&format!("/mi-aula/certificados/{code}/credencial.jwt"))
        .await
        .text()
        .await
        .unwrap();
    let (status, _) = a.get_text(&format!("/mi-aula/certificados/{code}")).await;
    assert_eq!(status, StatusCode::OK);
    let resp = s
        .certifier
        .get(&format!("/mi-aula/certificados/{code}/credencial.jwt"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // The published JWKS verifies the downloaded credential.
    let jwks: Jwks = get_json(&anon, "/.well-known/jwks.json").await;
    assert_eq!(jwks.keys.len(), 1);
    let verified = verify_vc_jwt(&jwt, &KeySet::from_jwks(&jwks), chrono::Utc::now()).unwrap();
    assert_eq!(verified.credential["type"][1], "OpenBadgeCredential");
    // The key's own URL and the issuer profile.
    let kid_path = format!("/claves/{}", verified.thumbprint);
    assert_eq!(anon.get(&kid_path).await.status(), StatusCode::OK);
    let profile: serde_json::Value = get_json(
        &anon,
        &format!("/instituciones/{}/perfil.json", s.institution),
    )
    .await;
    assert_eq!(profile["type"][0], "Profile");
    let (status, html) = anon
        .get_text(&format!("/instituciones/{}", s.institution))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Av. Mate de Luna 1500") && html.contains("30712345671"));
    // A pasted credential: valid; tampered: refused.
    let form = reqwest::multipart::Form::new().text("credencial", jwt.clone());
    let resp = anon
        .client
        .post(anon.url("/verificar/credencial"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Credencial válida"));
    let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
    let mut payload: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
            .unwrap(),
    )
    .unwrap();
    payload["credentialSubject"]["achievement"]["name"] = "Otro curso".into();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.to_string(),
    );
    let form = reqwest::multipart::Form::new().part(
        "archivo",
        reqwest::multipart::Part::bytes(parts.join(".").into_bytes()).file_name("c.jwt"),
    );
    let resp = anon
        .client
        .post(anon.url("/verificar/credencial"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("fue modificada"));
}

#[tokio::test]
async fn double_certify_race_gives_one_certificate() {
    let s = setup().await;
    let total = lesson_keys(&s.app, SLUG).await.len();
    let _l = learner_with(&s.app, "31000051", s.class, SLUG, total).await;
    let person = person_of(&s.app, "31000051").await.unwrap();
    // A second certifier of the same institution, at the same time.
    let second = s.app.learner("27111444").await;
    s.admin
        .grant(
            "27111444",
            "certifier",
            &format!("institution:{}", s.institution),
        )
        .await;
    let ids = [person];
    let (r1, r2, r3) = tokio::join!(
        certify(&s.certifier, s.class, &ids),
        certify(&second, s.class, &ids),
        certify(&s.certifier, s.class, &ids),
    );
    for r in [r1, r2, r3] {
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(s.app.count("SELECT COUNT(*) FROM certificates").await, 1);
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM certification_audit WHERE decision = 'emitido'")
            .await,
        1
    );
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM outbox WHERE kind = 'certificado.emitido'")
            .await,
        1
    );
    assert_eq!(
        s.app.count("SELECT COUNT(*) FROM institution_keys").await,
        1
    );
}

#[tokio::test]
async fn rejection_needs_a_reason_and_is_audited() {
    let s = setup().await;
    let _l = learner_with(&s.app, "31000061", s.class, SLUG, 1).await;
    let person = person_of(&s.app, "31000061").await.unwrap();
    let path = format!("/certificacion/comisiones/{}/rechazar", s.class);
    let resp = s
        .certifier
        .post(
            &path,
            &[("persona", person.to_string()), ("motivo", "  ".into())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("escribí el motivo"));
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM certification_audit")
            .await,
        0
    );
    let resp = s
        .certifier
        .post(
            &path,
            &[
                ("persona", person.to_string()),
                ("motivo", "No presentó el trabajo práctico".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Rechazo registrado.") && html.contains("No presentó el trabajo práctico")
    );
    assert_eq!(
        count_for(
            &s.app,
            "SELECT COUNT(*) FROM certification_audit WHERE person_id = $1 AND decision = 'rechazado' AND evidence LIKE '%Lecciones%'",
            person
        )
        .await,
        1
    );
    assert_eq!(s.app.count("SELECT COUNT(*) FROM certificates").await, 0);
    // The audit log cannot be changed, by anyone.
    let update = with_db!(&s.app.db, |p| sqlx::query(
        "UPDATE certification_audit SET reason = 'otro'"
    )
    .execute(p)
    .await
    .map(|_| ()));
    assert!(update.is_err());
    let delete = with_db!(&s.app.db, |p| sqlx::query(
        "DELETE FROM certification_audit"
    )
    .execute(p)
    .await
    .map(|_| ()));
    assert!(delete.is_err());
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM certification_audit")
            .await,
        1
    );
}

async fn status_bit(app: &TestApp, institution: i64, code: &str) -> bool {
    let anon = app.browser();
    let jwks: Jwks = get_json(&anon, "/.well-known/jwks.json").await;
    let keys = KeySet::from_jwks(&jwks);
    let jwt = anon
        .get(&format!("/instituciones/{institution}/estados"))
        .await
        .text()
        .await
        .unwrap();
    let verified = verify_vc_jwt(&jwt, &keys, chrono::Utc::now()).unwrap();
    let list: StatusList = list_of_credential(&verified.credential).unwrap();
    let index = with_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT status_index FROM certificates WHERE code = $1"
    )
    .bind(code)
    .fetch_one(p)
    .await)
    .unwrap();
    list.get(index as usize).unwrap()
}

#[tokio::test]
async fn revocation_shows_on_the_page_and_in_the_status_list_and_rotation_keeps_old_certificates() {
    let s = setup().await;
    let total = lesson_keys(&s.app, SLUG).await.len();
    let _a = learner_with(&s.app, "31000071", s.class, SLUG, total).await;
    let _b = learner_with(&s.app, "31000072", s.class, SLUG, total).await;
    let pa = person_of(&s.app, "31000071").await.unwrap();
    let pb = person_of(&s.app, "31000072").await.unwrap();
    certify(&s.certifier, s.class, &[pa]).await;
    let old_code = code_of(&s.app, pa).await;
    // Rotation: a new current key; the old one stays published.
    let resp = s
        .admin
        .post(
            &format!("/admin/instituciones/{}/rotar-clave", s.institution),
            &[],
        )
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Clave de firma renovada")
    );
    certify(&s.certifier, s.class, &[pb]).await;
    let new_code = code_of(&s.app, pb).await;
    let kids: Vec<String> = with_db!(&s.app.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT kid FROM certificates ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_ne!(kids[0], kids[1], "el segundo se firmó con la clave nueva");
    let anon = s.app.browser();
    let jwks: Jwks = get_json(&anon, "/.well-known/jwks.json").await;
    assert_eq!(jwks.keys.len(), 2);
    for code in [&old_code, &new_code] {
        let (_, html) = anon.get_text(&format!("/verificar/{code}")).await;
        assert!(html.contains("Verificada: la firmó"), "{code}: {html}");
        assert!(!status_bit(&s.app, s.institution, code).await);
    }
    // Revocation: needs a reason; then the page, the status list and the outbox say so.
    let path = format!("/certificacion/certificados/{old_code}/revocar");
    let resp = s.certifier.post(&path, &[("motivo", "".into())]).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!status_bit(&s.app, s.institution, &old_code).await);
    // A certifier of another institution cannot.
    let other = create_institution(&s.app, &s.admin, "Otra").await;
    let stranger = s.app.learner("27111555").await;
    s.admin
        .grant("27111555", "certifier", &format!("institution:{other}"))
        .await;
    let resp = stranger.post(&path, &[("motivo", "Error".into())]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s
        .certifier
        .post(
            &path,
            &[("motivo", "Se detectó un error en la evaluación".into())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Certificado revocado."));
    let (_, html) = anon.get_text(&format!("/verificar/{old_code}")).await;
    assert!(html.contains("REVOCADO") && html.contains("Se detectó un error en la evaluación"));
    assert!(status_bit(&s.app, s.institution, &old_code).await);
    assert!(!status_bit(&s.app, s.institution, &new_code).await);
    assert_eq!(
        count_for(
            &s.app,
            "SELECT COUNT(*) FROM outbox WHERE person_id = $1 AND kind = 'certificado.revocado' AND payload LIKE '%revocado%'",
            pa
        )
        .await,
        1
    );
    assert_eq!(
        count_for(
            &s.app,
            "SELECT COUNT(*) FROM certification_audit WHERE person_id = $1 AND decision = 'revocado'",
            pa
        )
        .await,
        1
    );
    // Revoking twice writes nothing more.
    s.certifier
        .post(&path, &[("motivo", "Otra vez".into())])
        .await;
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM certification_audit WHERE decision = 'revocado'")
            .await,
        1
    );
    // The holder's credential file, pasted at /verificar, is now answered as revoked.
    let jwt = _a
        .get(&format!("/mi-aula/certificados/{old_code}/credencial.jwt"))
        .await
        .text()
        .await
        .unwrap();
    let form = reqwest::multipart::Form::new().text("credencial", jwt);
    let resp = anon
        .client
        .post(anon.url("/verificar/credencial"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("fue REVOCADO"));
    // The operator's view of the person and /mi-aula list it as revoked.
    let (_, html) = _a.get_text("/mi-aula").await;
    assert!(html.contains("revocado"));
}

#[tokio::test]
#[ignore = "needs Chromium and playwright-core (npm install in tests/browser); .ci/run runs it"]
async fn browser_certify_and_verify() {
    let s = setup().await;
    let total = lesson_keys(&s.app, SLUG).await.len();
    let _l = learner_with(&s.app, "31000081", s.class, SLUG, total).await;
    let person = person_of(&s.app, "31000081").await.unwrap();
    let cookie = s.certifier.cookie("aula_sesion").expect("cookie de sesión");
    let holder = scalar_text(
        &s.app,
        "SELECT first_name || ' ' || last_name FROM persons WHERE id = $1",
        person,
    )
    .await;
    let out = run_browser_script(
        "certification.mjs",
        vec![
            ("AULA_BASE", s.app.base.clone()),
            ("AULA_COOKIE", cookie),
            ("AULA_CLASS", s.class.to_string()),
            ("AULA_PERSON", person.to_string()),
            ("AULA_HOLDER", holder),
        ],
    )
    .await;
    // What the browser did is in the database: one certificate, the code it read.
    let code = code_of(&s.app, person).await;
    assert!(out.contains(&format!("CODE {code}")), "{out}");
    assert_eq!(s.app.count("SELECT COUNT(*) FROM certificates").await, 1);
}

#[tokio::test]
async fn verification_is_rate_limited_per_address() {
    let app = TestApp::spawn_with(|c| c.limits.verify_per_address = 2).await;
    let anon = app.browser();
    for _ in 0..2 {
        let (status, _) = anon.get_text("/verificar?codigo=AAAAAAAAAAA").await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let resp = anon.get("/verificar?codigo=AAAAAAAAAAA").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("demasiadas verificaciones")
    );
    // The form itself is not counted.
    let (status, _) = anon.get_text("/verificar").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn admin_maps_course_competencies_to_standards_and_certificates_state_them() {
    let s = setup().await;
    let path = format!("/admin/instituciones/{}/normas", s.institution);
    // Mistakes are explained at the field and nothing is stored.
    let resp = s
        .admin
        .post(
            &path,
            &[
                ("code", "".into()),
                ("title", "Algo".into()),
                ("hours", "cero".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Escribí el código de la norma") && html.contains("aria-invalid"));
    assert!(html.contains("Las horas son un número entero"));
    let fields = [
        ("code", "NC-0042".to_string()),
        ("title", "Analizar el territorio productivo".to_string()),
        ("description", "Norma de prueba".to_string()),
        ("units", "UC1, UC2".to_string()),
        ("hours", "24".to_string()),
    ];
    let resp = s.admin.post(&path, &fields).await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Norma de competencia creada.")
    );
    let resp = s.admin.post(&path, &fields).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("ya tiene una norma con ese código")
    );
    let standard = s
        .app
        .scalar_i64(
            "SELECT id FROM competency_standards WHERE institution_id = $1",
            s.institution,
        )
        .await;
    let course = course_id(&s.app, SLUG).await;
    let resp = s
        .admin
        .post(
            &format!("/admin/instituciones/{}/vinculos", s.institution),
            &[
                ("competencia", format!("{course}:DET-01")),
                ("norma", standard.to_string()),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Competencia vinculada"));
    // A certifier cannot reach the admin page.
    let (status, _) = s
        .certifier
        .get_text(&format!("/admin/instituciones/{}", s.institution))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The certificate states the standard instead of the course competency it maps.
    let total = lesson_keys(&s.app, SLUG).await.len();
    let _l = learner_with(&s.app, "31000091", s.class, SLUG, total).await;
    let person = person_of(&s.app, "31000091").await.unwrap();
    certify(&s.certifier, s.class, &[person]).await;
    let code = code_of(&s.app, person).await;
    let (_, html) = s
        .app
        .browser()
        .get_text(&format!("/verificar/{code}"))
        .await;
    assert!(
        html.contains("NC-0042 — Analizar el territorio productivo · 24 h"),
        "{html}"
    );
    assert!(!html.contains("DET-01 —"), "{html}");
    assert!(
        html.contains("DET-02 —"),
        "las no vinculadas quedan como las nombra el curso"
    );
    let (_, html) = s
        .app
        .browser()
        .get_text(&format!("/instituciones/{}", s.institution))
        .await;
    assert!(html.contains("id=\"norma-NC-0042\""));
}

/// The logo the admin's form sends (token first, then the file).
async fn upload_logo(
    admin: &Browser,
    institution: i64,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, String) {
    let csrf = admin.csrf().await;
    let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
        "logo",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let resp = admin
        .client
        .post(admin.url(&format!("/admin/instituciones/{institution}/logo")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn the_admin_uploads_the_institution_logo_checked_by_its_content() {
    let s = setup().await;
    let path = format!("/instituciones/{}/logo", s.institution);
    let anon = s.app.browser();
    assert_eq!(anon.get(&path).await.status(), StatusCode::NOT_FOUND);
    // An SVG named .png is refused at the field, and nothing is stored.
    let (status, html) = upload_logo(
        &s.admin,
        s.institution,
        "logo.png",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("no es una imagen PNG o JPEG") && html.contains("aria-invalid"),
        "{html}"
    );
    assert_eq!(anon.get(&path).await.status(), StatusCode::NOT_FOUND);
    // Too big: refused with the limit.
    let (status, html) =
        upload_logo(&s.admin, s.institution, "big.png", vec![0u8; 600 * 1024]).await;
    assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::PAYLOAD_TOO_LARGE);
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        assert!(html.contains("512 KB"), "{html}");
    }
    // Only an admin: a certifier gets 404.
    let (status, _) = upload_logo(
        &s.certifier,
        s.institution,
        "logo.png",
        include_bytes!("../fixtures/logo-ifp.png").to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(anon.get(&path).await.status(), StatusCode::NOT_FOUND);
    // A real PNG is kept, served publicly, and named in the issuer profile.
    let png = include_bytes!("../fixtures/logo-ifp.png").to_vec();
    let (status, _) = upload_logo(&s.admin, s.institution, "logo.png", png.clone()).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    let resp = anon.get(&path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), png);
    let (_, profile) = anon
        .get_text(&format!("/instituciones/{}/perfil.json", s.institution))
        .await;
    let profile: serde_json::Value = serde_json::from_str(&profile).unwrap();
    assert!(
        profile["image"]["id"].as_str().unwrap().ends_with(&path),
        "{profile}"
    );
    let (_, html) = s
        .admin
        .get_text(&format!("/admin/instituciones/{}", s.institution))
        .await;
    assert!(html.contains(&format!("src=\"{path}\"")));
}
