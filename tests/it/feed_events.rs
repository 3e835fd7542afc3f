//! The outbox: every change SIPE must know leaves its event, in the change's transaction
//! (docs/sipe-eventos.md is the contract these payloads are checked against).

use crate::helpers::*;

use aula::{
    people::domain::{Cuil, Dni},
    with_db,
};
use reqwest::StatusCode;
use serde_json::Value;

/// One outbox row as a test reads it.
#[derive(Debug)]
struct Ev {
    id: i64,
    event_id: String,
    kind: String,
    person_id: Option<i64>,
    dni: Option<String>,
    data: Value,
}

/// An outbox row's columns: id, event_id, kind, person_id, dni, payload.
type Row = (i64, String, String, Option<i64>, Option<String>, String);

/// Every event of this kind, oldest first.
async fn events(app: &TestApp, kind: &str) -> Vec<Ev> {
    let rows: Vec<Row> = with_db!(&app.db, |p| {
        sqlx::query_as(
        "SELECT id, event_id, kind, person_id, dni, payload FROM outbox WHERE kind = $1 ORDER BY id"
    )
    .bind(kind)
    .fetch_all(p)
    .await
    })
    .unwrap();
    rows.into_iter()
        .map(|(id, event_id, kind, person_id, dni, payload)| Ev {
            id,
            event_id,
            kind,
            person_id,
            dni,
            data: serde_json::from_str(&payload).unwrap(),
        })
        .collect()
}

/// The kinds of a person's events, in the order they were recorded.
async fn kinds_of(app: &TestApp, dni: &str) -> Vec<String> {
    with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT kind FROM outbox WHERE dni = $1 ORDER BY id"
    )
    .bind(dni)
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn outbox_len(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM outbox").await
}

fn one<'a>(evs: &'a [Ev], dni: &str) -> &'a Ev {
    let mine: Vec<&Ev> = evs
        .iter()
        .filter(|e| e.dni.as_deref() == Some(dni))
        .collect();
    assert_eq!(mine.len(), 1, "un evento de {dni}: {evs:?}");
    mine[0]
}

/// A class of the demo course "atención al cliente" with `seats` seats, open for enrolment,
/// running from `starts` to `ends` days from today.
async fn class_with(app: &TestApp, seats: i64, starts: i64, ends: i64) -> i64 {
    let course_id = app
        .count("SELECT id FROM courses WHERE slug = 'atencion-al-cliente'")
        .await;
    let now = chrono::Utc::now();
    aula::catalog::classes::insert(
        &app.db,
        &aula::catalog::classes::ValidClass {
            course_id,
            name: format!("Comisión de prueba {seats}"),
            starts_on: now.date_naive() + chrono::Duration::days(starts),
            ends_on: now.date_naive() + chrono::Duration::days(ends),
            enrol_opens_at: now - chrono::Duration::hours(1),
            enrol_closes_at: now + chrono::Duration::days(5),
            seats,
            department_id: None,
            institution_id: None,
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn registering_by_form_by_an_office_and_claiming_record_person_events() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    // Self-registration.
    let ana = app.learner("30100001").await;
    let ev = events(&app, "persona.registrada").await;
    let e = one(&ev, "30100001");
    assert_eq!(e.data["origen"], "aula");
    assert_eq!(e.data["dni"], "30100001");
    assert_eq!(e.data["nombre"], "Lucía");
    assert_eq!(e.data["apellido"], "Medina");
    assert_eq!(e.data["fecha_nacimiento"], "2001-04-15");
    assert_eq!(e.data["email"], "30100001@correo.test");
    assert_eq!(e.data["departamento"], "Capital");
    assert!(e.data["cuil"].as_str().unwrap().contains("30100001"));
    assert_eq!(e.person_id, person_of(&app, "30100001").await);
    assert!(e.event_id.starts_with("evt_"));

    // An office registers a person without account; then the person claims the account.
    let op = app.learner("30100002").await;
    let office_id = office(&app, "Oficina de Empleo Capital").await;
    admin
        .grant("30100002", "operator", &format!("office:{office_id}"))
        .await;
    let capital = department(&app, "Capital").await;
    let dni = "30100003";
    let cuil = Cuil::for_dni("20", &Dni::parse(dni).unwrap())
        .unwrap()
        .formatted();
    let resp = op
        .post(
            "/oficina/personas/nueva",
            &[
                ("dni", dni.into()),
                ("cuil", cuil.clone()),
                ("first_name", "María".into()),
                ("last_name", "Núñez".into()),
                ("birth_date", "1985-09-21".into()),
                ("email", String::new()),
                ("phone", "3814998877".into()),
                ("department_id", capital.to_string()),
                ("locality_id", String::new()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let at = html
        .find(r#"<p class="slip-code" id="codigo">"#)
        .expect("constancia")
        + 33;
    let code = html[at..].split('<').next().unwrap().to_string();
    let e = one(&events(&app, "persona.registrada").await, dni)
        .data
        .clone();
    assert_eq!(e["nombre"], "María");
    assert_eq!(e["celular"], "3814998877");
    assert_eq!(e["email"], Value::Null);

    let mut form = registration(dni);
    for (k, v) in form.iter_mut() {
        match *k {
            "cuil" => *v = cuil.clone(),
            "birth_date" => *v = "1985-09-21".into(),
            _ => {}
        }
    }
    form.push(("claim_code", code));
    let resp = app.browser().register(&form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let e = one(&events(&app, "persona.actualizada").await, dni)
        .data
        .clone();
    assert_eq!(e["email"], format!("{dni}@correo.test"), "{e}");
    assert_eq!(e["celular"], "3815123456");

    // The person changes their own contact details.
    let resp = ana
        .post(
            "/mi-aula/datos",
            &[
                ("email", "nueva@correo.test".into()),
                ("phone", "3815000000".into()),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("se guardaron"));
    let updated = events(&app, "persona.actualizada").await;
    let e = one(&updated, "30100001");
    assert_eq!(e.data["email"], "nueva@correo.test");
    assert_eq!(e.data["celular"], "3815000000");
    assert_eq!(
        kinds_of(&app, "30100001").await,
        ["persona.registrada", "persona.actualizada"]
    );
}

#[tokio::test]
async fn refused_changes_leave_no_event() {
    let app = TestApp::spawn().await;
    let ana = app.learner("30200001").await;
    let beto = app.learner("30200002").await;
    let before = outbox_len(&app).await;

    // A registration with the DNI taken, and one with a mistake.
    let mut dup = registration("30200001");
    dup.iter_mut().find(|(k, _)| *k == "email").unwrap().1 = "otra@correo.test".into();
    let resp = app.browser().register(&dup).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut bad = registration("30200003");
    bad.iter_mut().find(|(k, _)| *k == "cuil").unwrap().1 = "20-11111111-1".into();
    let resp = app.browser().register(&bad).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A contact change to an email another account uses: the transaction rolls back whole.
    let resp = beto
        .post(
            "/mi-aula/datos",
            &[
                ("email", "30200001@correo.test".into()),
                ("phone", "3815000000".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Enrolling in a class whose window closed, withdrawing when not enrolled, enrolling twice.
    let closed = class_with(&app, 5, 1, 30).await;
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET enrol_closes_at = $1 WHERE id = $2"
    )
    .bind(chrono::Utc::now() - chrono::Duration::minutes(1))
    .bind(closed)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    ana.post(&format!("/comisiones/{closed}/inscribirme"), &[])
        .await;
    ana.post(&format!("/comisiones/{closed}/baja"), &[]).await;
    assert_eq!(outbox_len(&app).await, before, "nada cambió, nada se avisa");

    let open = class_with(&app, 5, 1, 30).await;
    ana.post(&format!("/comisiones/{open}/inscribirme"), &[])
        .await;
    ana.post(&format!("/comisiones/{open}/inscribirme"), &[])
        .await;
    assert_eq!(outbox_len(&app).await, before + 1);
    assert_eq!(events(&app, "inscripcion.confirmada").await.len(), 1);
}

#[tokio::test]
async fn enrolment_waitlist_withdrawal_and_promotion_record_their_events_in_order() {
    let app = TestApp::spawn().await;
    let class = class_with(&app, 1, 1, 30).await;
    let ana = app.learner("30300001").await;
    let beto = app.learner("30300002").await;
    let path = format!("/comisiones/{class}/inscribirme");
    ana.post(&path, &[]).await;
    beto.post(&path, &[]).await;

    let confirmed = events(&app, "inscripcion.confirmada").await;
    let e = one(&confirmed, "30300001");
    assert_eq!(e.data["estado"], "confirmada");
    assert_eq!(e.data["clase"]["id"], class);
    assert_eq!(e.data["clase"]["nombre"], "Comisión de prueba 1");
    assert_eq!(e.data["curso"]["slug"], "atencion-al-cliente");
    assert!(e.data["curso"]["titulo"].as_str().is_some());
    assert!(e.data["clase"]["fin"].as_str().unwrap().len() == 10);
    let w = events(&app, "inscripcion.en_espera").await;
    assert_eq!(one(&w, "30300002").data["estado"], "en_espera");

    let resp = ana.post(&format!("/comisiones/{class}/baja"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let baja = events(&app, "inscripcion.baja").await;
    assert_eq!(one(&baja, "30300001").data["estado"], "baja");
    let promoted = events(&app, "inscripcion.promovida").await;
    let p = one(&promoted, "30300002");
    assert_eq!(p.data["estado"], "confirmada");
    assert_eq!(p.data["inscripcion_id"], w[0].data["inscripcion_id"]);
    assert_eq!(p.kind, "inscripcion.promovida");
    assert!(baja[0].id < p.id, "la baja antes de la promoción que causó");

    // Each person's events, in the order they happened.
    assert_eq!(
        kinds_of(&app, "30300001").await,
        [
            "persona.registrada",
            "inscripcion.confirmada",
            "inscripcion.baja"
        ]
    );
    assert_eq!(
        kinds_of(&app, "30300002").await,
        [
            "persona.registrada",
            "inscripcion.en_espera",
            "inscripcion.promovida"
        ]
    );

    // Rejoining goes back in line; adding seats promotes from the line.
    ana.post(&path, &[]).await;
    assert_eq!(
        kinds_of(&app, "30300001").await.last().unwrap(),
        "inscripcion.en_espera"
    );
    let filled = aula::enrolment::queries::fill_from_waitlist(&app.db, class)
        .await
        .unwrap();
    assert_eq!(filled, 0, "sin lugares nuevos no se promueve a nadie");
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET seats = 2 WHERE id = $1"
    )
    .bind(class)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    let filled = aula::enrolment::queries::fill_from_waitlist(&app.db, class)
        .await
        .unwrap();
    assert_eq!(filled, 1);
    assert_eq!(
        kinds_of(&app, "30300001").await.last().unwrap(),
        "inscripcion.promovida"
    );
}

#[tokio::test]
async fn completing_the_course_records_curso_completado_once() {
    const SLUG: &str = "herramientas-digitales-empleo";
    let app = TestApp::spawn().await;
    let class = app.class_of(SLUG).await;
    let learner = app.learner("30400001").await;
    learner
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    let keys: Vec<String> = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT l.key FROM lessons l JOIN courses c ON c.id = l.course_id
         WHERE c.slug = $1 AND NOT l.retired ORDER BY l.position"
    )
    .bind(SLUG)
    .fetch_all(p)
    .await)
    .unwrap();
    assert!(!keys.is_empty());
    for (i, key) in keys.iter().enumerate() {
        learner
            .post(&format!("/cursos/{SLUG}/lecciones/{key}/completar"), &[])
            .await;
        let n = events(&app, "curso.completado").await.len();
        assert_eq!(n, usize::from(i + 1 == keys.len()), "tras la lección {key}");
    }
    // Marking a lesson again changes nothing, and announces nothing.
    learner
        .post(
            &format!("/cursos/{SLUG}/lecciones/{}/completar", keys[0]),
            &[],
        )
        .await;
    let done = events(&app, "curso.completado").await;
    let e = one(&done, "30400001");
    assert_eq!(e.data["estado"], "completada");
    assert_eq!(e.data["curso"]["slug"], SLUG);
    assert_eq!(e.data["clase"]["id"], class);
    assert_eq!(app.enrolment_status(class, "30400001").await, "completed");
}

#[tokio::test]
async fn a_class_that_ended_records_curso_no_completado_once_per_learner() {
    let app = TestApp::spawn().await;
    // Enrolment still open, but the class's last day was yesterday.
    let ended = class_with(&app, 1, -30, -2).await;
    let running = class_with(&app, 5, -30, 10).await;
    let ana = app.learner("30500001").await;
    let beto = app.learner("30500002").await;
    for b in [&ana, &beto] {
        b.post(&format!("/comisiones/{ended}/inscribirme"), &[])
            .await;
        b.post(&format!("/comisiones/{running}/inscribirme"), &[])
            .await;
    }
    // Beto is waitlisted in the ended class: he was never a learner there.
    assert_eq!(app.enrolment_status(ended, "30500002").await, "waitlisted");

    // Two sweeps at once (two processes): one event per enrolment, not two.
    let (a, b) = tokio::join!(
        aula::completion::sweep_not_completed(&app.db),
        aula::completion::sweep_not_completed(&app.db)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(
        aula::completion::sweep_not_completed(&app.db)
            .await
            .unwrap(),
        0
    );
    let ev = events(&app, "curso.no_completado").await;
    assert_eq!(ev.len(), 1);
    let e = one(&ev, "30500001");
    assert_eq!(e.data["clase"]["id"], ended);
    assert_eq!(e.data["estado"], "confirmada");
    assert_eq!(app.enrolment_status(ended, "30500001").await, "confirmed");
}
