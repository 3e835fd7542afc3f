//! Quizzes: grading of every question type through the pages, the deadline, resuming, double
//! submission, the answer key staying on the server, and the instructor's results.

use std::path::Path;

use chrono::Timelike;
use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, person_of};

const SLUG: &str = "evaluaciones-prueba";

const COURSE: &str = r#"slug = "evaluaciones-prueba"
title = "Curso con evaluaciones"
summary = "Un curso de prueba con evaluaciones."
category = "Pruebas"
hours = 2
modality = "virtual"
audience = "Quienes prueban."

[[competencies]]
code = "EP-01"
name = "Responde evaluaciones"

[completion]
min_lessons_percent = 50
quizzes = [{ quiz = "final", min_percent = 60 }]
"#;

const LESSON: &str =
    "+++\nid = \"unica\"\ntitle = \"Única lección\"\norder = 1\nminutes = 5\n+++\nTexto.\n";
const LESSON2: &str =
    "+++\nid = \"otra\"\ntitle = \"Otra lección\"\norder = 2\nminutes = 5\n+++\nMás texto.\n";

const BANK: &str = r#"category = "General"

[[question]]
id = "capital"
type = "single_choice"
text = "¿Cuál es la capital de Tucumán?"
feedback = "RETRO-GENERAL-CAPITAL"
options = [
  { text = "San Miguel de Tucumán", correct = true, feedback = "RETRO-BIEN" },
  { text = "Tafí Viejo", feedback = "RETRO-MAL" },
  { text = "Concepción" },
]

[[question]]
id = "departamentos"
type = "multiple_choice"
text = "¿Cuáles son departamentos de Tucumán?"
options = [
  { text = "Cruz Alta", correct = true },
  { text = "Lules", correct = true },
  { text = "Rosario" },
]

[[question]]
id = "limonero"
type = "true_false"
text = "Tucumán es uno de los mayores productores de limón del mundo."
answer = true
feedback_true = "RETRO-VERDADERO"

[[question]]
id = "rio"
type = "short_answer"
text = "¿Qué río pasa por San Miguel de Tucumán?"
answers = ["Salí", { text = "Dulce", credit = 50 }]

[[question]]
id = "independencia"
type = "numeric"
text = "¿En qué año se declaró la Independencia?"
answers = [1816, { value = 1816, tolerance = 2, credit = 50 }]

[[question]]
id = "pares"
type = "matching"
text = "Uní cada ciudad con su departamento."
pairs = [["Banda del Río Salí", "Cruz Alta"], ["Yerba Buena", "Yerba Buena"], ["Tafí Viejo", "Tafí Viejo"]]

[[question]]
id = "orden"
type = "ordering"
text = "Ordená los pasos para postularse."
items = ["Leer el aviso", "Preparar el CV", "Enviar la postulación"]

[[question]]
id = "ensayo"
type = "essay"
text = "Contá por qué querés hacer este curso."
rubric = "Claridad y motivación"

[[question]]
id = "azar-1"
category = "Azar/Uno"
type = "true_false"
text = "Azar uno: el agua moja."
answer = true

[[question]]
id = "azar-2"
category = "Azar"
type = "true_false"
text = "Azar dos: el sol calienta."
answer = true

[[question]]
id = "azar-3"
category = "Azar"
type = "true_false"
text = "Azar tres: la nieve es fría."
answer = true
"#;

const GIFT: &str = "$CATEGORY: $course$/top/Gift\n\n::Saludo:: ¿Cómo se saluda a un cliente al llegar? {=Buen día ~Eh ~Qué querés}\n";

const FINAL: &str = r#"title = "Evaluación final"
attempts = 2
passing_percent = 60
grading = "highest"
shuffle_options = true
per_page = 3

[[slot]]
question = "general/capital"
[[slot]]
question = "general/departamentos"
[[slot]]
question = "general/limonero"
[[slot]]
question = "general/rio"
[[slot]]
question = "general/independencia"
[[slot]]
question = "general/pares"
[[slot]]
question = "general/orden"
[[slot]]
question = "general/ensayo"
[[slot]]
category = "Azar"
count = 2
"#;

const HIDDEN: &str = r#"title = "Diagnóstico"
attempts = 0
per_page = 3
review_answers = "never"
review_score = "never"

[[slot]]
question = "general/capital"
[[slot]]
question = "general/rio"
[[slot]]
question = "extra/saludo"
"#;

const TIMED: &str = r#"title = "Cronometrada"
time_limit_minutes = 5
attempts = 3
per_page = 2

[[slot]]
question = "general/capital"
[[slot]]
question = "general/limonero"
"#;

const AFTER_CLOSE: &str = r#"title = "Con cierre"
closes = "2099-01-01 00:00"
attempts = 0
review_answers = "after_close"
review_score = "after_close"

[[slot]]
question = "general/capital"
"#;

/// Writes the fixture course into `root`.
fn write_course(root: &Path) {
    let c = root.join(SLUG);
    for (path, text) in [
        ("course.toml", COURSE),
        ("lessons/01-unica.md", LESSON),
        ("lessons/02-otra.md", LESSON2),
        ("banks/general.toml", BANK),
        ("banks/extra.gift", GIFT),
        ("quizzes/final.toml", FINAL),
        ("quizzes/diagnostico.toml", HIDDEN),
        ("quizzes/cronometrada.toml", TIMED),
        ("quizzes/con-cierre.toml", AFTER_CLOSE),
    ] {
        let p = c.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// The app with only the fixture course (plus the demo data), a 3-second grace and a sweep
/// every second.
async fn spawn() -> (TestApp, tempfile::TempDir) {
    let courses = tempfile::tempdir().unwrap();
    write_course(courses.path());
    let dir = courses.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| {
        c.courses_dir = dir;
        c.quiz_grace = std::time::Duration::from_secs(3);
        c.quiz_sweep = std::time::Duration::from_secs(1);
    })
    .await;
    (app, courses)
}

async fn enrolled(app: &TestApp, dni: &str) -> Browser {
    let b = app.learner(dni).await;
    let class = app.class_of(SLUG).await;
    let resp = b
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    b
}

/// Starts (or resumes) a quiz; returns the attempt id and the first page's HTML.
async fn start(b: &Browser, quiz: &str) -> (i64, String) {
    let resp = b
        .post(&format!("/cursos/{SLUG}/evaluaciones/{quiz}/comenzar"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let url = resp.url().path().to_string();
    let id = url
        .strip_prefix("/intentos/")
        .unwrap_or_else(|| panic!("no se abrió el intento: {url}"))
        .parse()
        .unwrap();
    (id, resp.text().await.unwrap())
}

/// The value the form gives the option showing `text` in field `name` (radio, checkbox or
/// select option).
fn value_of(html: &str, name: &str, text: &str) -> String {
    if let Some(start) = html.find(&format!("<select id=\"{name}\" name=\"{name}\">")) {
        let select = &html[start..start + html[start..].find("</select>").unwrap()];
        let end = select
            .find(&format!(">{text}</option>"))
            .unwrap_or_else(|| panic!("opción «{text}» en {name}"));
        let v = select[..end].rfind("value=\"").unwrap() + 7;
        return select[v..].split('"').next().unwrap().to_string();
    }
    let needle = format!("> {text}</label>");
    for label in html.split("<label class=\"choice\">") {
        if label.contains(&format!("name=\"{name}\"")) && label.contains(&needle) {
            let v = label.find("value=\"").unwrap() + 7;
            return label[v..].split('"').next().unwrap().to_string();
        }
    }
    panic!("opción «{text}» de {name} no está en la página");
}

async fn attempt_state(app: &TestApp, id: i64) -> String {
    crate::helpers::scalar_text(app, "SELECT state FROM attempts WHERE id = $1", id).await
}

async fn fractions(app: &TestApp, id: i64) -> Vec<Option<f64>> {
    aula::with_db!(&app.db, |p| sqlx::query_scalar::<_, Option<f64>>(
        "SELECT fraction FROM attempt_answers WHERE attempt_id = $1 ORDER BY slot"
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// The stored responses of an attempt, by slot, as JSON.
async fn responses(app: &TestApp, id: i64) -> Vec<Option<String>> {
    aula::with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT response FROM attempt_answers WHERE attempt_id = $1 ORDER BY slot"
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// Moves an attempt's deadline to `seconds` from now (negative: in the past), as time passing
/// would.
async fn set_deadline(app: &TestApp, id: i64, seconds: i64) {
    let t = aula::web::time::now() + chrono::Duration::seconds(seconds);
    aula::with_db!(&app.db, |p| sqlx::query(
        "UPDATE attempts SET deadline_at = $1 WHERE id = $2"
    )
    .bind(t)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
}

#[tokio::test]
async fn every_question_type_is_graded_with_partial_credit_and_the_essay_by_the_instructor() {
    let (app, _courses) = spawn().await;
    let class = app.class_of(SLUG).await;
    let learner = enrolled(&app, "32000001").await;
    learner
        .post(&format!("/cursos/{SLUG}/lecciones/unica/completar"), &[])
        .await;
    let (id, page1) = start(&learner, "final").await;
    // Page 1: right; one right and one wrong box (0.5 - 0.5 = 0); right.
    let resp = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "1".into()),
                ("r0", value_of(&page1, "r0", "San Miguel de Tucumán")),
                ("r1", value_of(&page1, "r1", "Cruz Alta")),
                ("r1", value_of(&page1, "r1", "Rosario")),
                ("r2", "true".into()),
                ("ir", "2".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page2 = resp.text().await.unwrap();
    assert!(page2.contains("Página 2 de 4"), "{page2}");
    // Page 2: accents, case and spaces do not matter; 1817 is within the 50% tolerance;
    // two of three pairs right.
    let page2_fields = vec![
        ("pagina", "2".to_string()),
        ("r3", "  SALI. ".into()),
        ("r4", "1817".into()),
        ("r5_0", value_of(&page2, "r5_0", "Cruz Alta")),
        ("r5_1", value_of(&page2, "r5_1", "Tafí Viejo")),
        ("r5_2", value_of(&page2, "r5_2", "Tafí Viejo")),
        ("ir", "3".into()),
    ];
    let page3 = learner
        .post(&format!("/intentos/{id}"), &page2_fields)
        .await
        .text()
        .await
        .unwrap();
    // Page 3: only the last step in its place (1/3); the essay.
    let rank_field = |item: &str| {
        let at = page3.find(&format!(">{item}</label>")).unwrap();
        let f = page3[..at].rfind("for=\"").unwrap() + 5;
        page3[f..].split('"').next().unwrap().to_string()
    };
    let page4 = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "3".into()),
                (&rank_field("Preparar el CV"), "1".into()),
                (&rank_field("Leer el aviso"), "2".into()),
                (&rank_field("Enviar la postulación"), "3".into()),
                ("r7", "Quiero conseguir trabajo en un comercio.".into()),
                ("r8", "true".into()),
                ("ir", "4".into()),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page4.contains("Azar"), "sorteadas de la categoría Azar");
    let summary = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "4".into()),
                ("r9", "true".into()),
                ("ir", "resumen".into()),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        summary.contains("Respondiste todas las preguntas."),
        "{summary}"
    );
    let result = learner
        .post(&format!("/intentos/{id}/entregar"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(result.contains("corrige tu docente"), "{result}");
    assert_eq!(attempt_state(&app, id).await, "pending");
    let f = fractions(&app, id).await;
    let expected = [
        Some(1.0),
        Some(0.0),
        Some(1.0),
        Some(1.0),
        Some(0.5),
        Some(2.0 / 3.0),
        Some(1.0 / 3.0),
        None,
        Some(1.0),
        Some(1.0),
    ];
    assert_eq!(f.len(), expected.len(), "una fila por pregunta: {f:?}");
    for (slot, (got, want)) in f.iter().zip(expected).enumerate() {
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "pregunta {slot}: {g} ≠ {w}"),
            (None, None) => {}
            _ => panic!("pregunta {slot}: {got:?} ≠ {want:?}"),
        }
    }
    // Not complete yet: the final quiz is not graded until the essay is.
    assert_eq!(app.enrolment_status(class, "32000001").await, "confirmed");

    // The instructor grades the essay from the queue: a bad number is refused at the field.
    let admin = app.admin().await;
    let teacher = app.instructor(&admin, "32000009", class).await;
    let queue = teacher
        .get_text(&format!("/comisiones/{class}/corregir"))
        .await
        .1;
    assert!(queue.contains("Quiero conseguir trabajo en un comercio."));
    assert!(queue.contains("Claridad y motivación"));
    let resp = teacher
        .post(
            &format!("/comisiones/{class}/corregir/{id}/7"),
            &[("puntos", "3".into()), ("comentario", "Bien".into())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("entre 0 y 1"));
    assert_eq!(attempt_state(&app, id).await, "pending");
    let resp = teacher
        .post(
            &format!("/comisiones/{class}/corregir/{id}/7"),
            &[
                ("puntos", "0,5".into()),
                ("comentario", "Contá un poco más.".into()),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Corrección guardada."));
    assert_eq!(attempt_state(&app, id).await, "graded");
    // 1 + 0 + 1 + 1 + 0.5 + 0.67 + 0.33 + 0.5 + 1 + 1 = 7 of 10.
    let percent: f64 = aula::with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT percent FROM attempts WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert!((percent - 70.0).abs() < 1e-6, "{percent}");
    // The learner sees the result, the review with feedback and the comment; the course is
    // complete (half the lessons done, as the rule asks, and the quiz passed with 60%).
    let result = learner
        .get_text(&format!("/intentos/{id}/resultado"))
        .await
        .1;
    assert!(
        result.contains("Calificación: <strong>70 %</strong>"),
        "{result}"
    );
    assert!(result.contains("RETRO-BIEN"));
    assert!(result.contains("RETRO-GENERAL-CAPITAL"));
    assert!(result.contains("Contá un poco más."));
    assert_eq!(app.enrolment_status(class, "32000001").await, "completed");

    // The instructor reconsiders the essay from the attempt's page: a bad number is refused
    // at the field on that page; a good one changes the attempt's and the quiz's grade.
    let review_url = format!("/comisiones/{class}/intentos/{id}");
    let review = teacher.get_text(&review_url).await.1;
    assert!(review.contains("Cambiar la corrección"));
    let regrade = |points: &'static str, slot: i64| {
        let teacher = &teacher;
        async move {
            teacher
                .post(
                    &format!("/comisiones/{class}/corregir/{id}/{slot}"),
                    &[
                        ("puntos", points.into()),
                        ("comentario", "Releído: está muy bien.".into()),
                        ("volver", "intento".into()),
                    ],
                )
                .await
        }
    };
    let resp = regrade("5", 7).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = resp.text().await.unwrap();
    assert!(body.contains("id=\"puntos-error\"") && body.contains("entre 0 y 1"));
    assert!(body.contains("value=\"5\""), "lo escrito se conserva");
    // An auto-graded question is not graded by hand.
    let resp = regrade("1", 0).await;
    assert!(resp.text().await.unwrap().contains("no se corrige a mano"));
    let resp = regrade("1", 7).await;
    assert_eq!(resp.url().path(), review_url);
    assert!(resp.text().await.unwrap().contains("Corrección guardada."));
    let grade: f64 = aula::with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT percent FROM quiz_grades WHERE person_id = (SELECT person_id FROM attempts WHERE id = $1)"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert!((grade - 75.0).abs() < 1e-6, "{grade}");
}

#[tokio::test]
async fn the_answer_key_never_reaches_the_browser_before_review_is_allowed() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000002").await;
    let secrets = [
        "RETRO-",
        "Respuesta correcta",
        "Dulce",
        "fraction",
        "correct",
        // The short answer's accepted texts and the GIFT key, as a value (JSON or attribute)
        // or as an element's whole text; as option labels they are in the page.
        "Buen día\"",
        "\"Salí\"",
        ">Salí<",
    ];
    let check = |what: &str, body: &str| {
        for s in secrets {
            assert!(!body.contains(s), "«{s}» aparece en {what}");
        }
    };
    // Review "never": nothing of the key on any page, before or after submitting.
    let quiz_page = learner
        .get_text(&format!("/cursos/{SLUG}/evaluaciones/diagnostico"))
        .await
        .1;
    check("la página de la evaluación", &quiz_page);
    let (id, page) = start(&learner, "diagnostico").await;
    check("la página del intento", &page);
    assert!(page.contains("San Miguel de Tucumán") && page.contains("Buen día"));
    let csrf = learner.csrf().await;
    let autosave = learner
        .client
        .post(learner.url(&format!("/intentos/{id}/guardar")))
        .header("x-csrf-token", &csrf)
        .form(&[
            ("pagina", "1".to_string()),
            ("r0", value_of(&page, "r0", "San Miguel de Tucumán")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(autosave.status(), StatusCode::OK);
    check("la respuesta del guardado", &autosave.text().await.unwrap());
    let summary = learner.get_text(&format!("/intentos/{id}/resumen")).await.1;
    check("el resumen", &summary);
    let result = learner
        .post(&format!("/intentos/{id}/entregar"), &[])
        .await
        .text()
        .await
        .unwrap();
    check("el resultado", &result);
    assert!(
        !result.contains("Calificación:"),
        "sin calificación visible"
    );
    assert!(!result.contains("Pregunta 1 ·"), "sin revisión");
    let quiz_page = learner
        .get_text(&format!("/cursos/{SLUG}/evaluaciones/diagnostico"))
        .await
        .1;
    check("la página de la evaluación después", &quiz_page);
    assert!(
        !quiz_page.contains(" %</td>")
            && !quiz_page.contains("Tu calificación")
            && !quiz_page.contains("aprobada"),
        "sin calificación en la página de la evaluación"
    );

    // Review after submitting: hidden while the attempt is open, shown once it is finished.
    let (id, page) = start(&learner, "final").await;
    check("la página del intento final", &page);
    let result = learner
        .post(&format!("/intentos/{id}/entregar"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(result.contains("RETRO-GENERAL-CAPITAL"), "revisión visible");
}

#[tokio::test]
async fn an_attempt_resumes_on_another_phone_with_its_answers_and_remaining_time() {
    let (app, _courses) = spawn().await;
    let phone1 = enrolled(&app, "32000003").await;
    // The learner finds the quiz on the course page.
    let course = phone1.get_text(&format!("/cursos/{SLUG}")).await.1;
    assert!(course.contains(&format!(
        "href=\"/cursos/{SLUG}/evaluaciones/cronometrada\">Cronometrada</a>"
    )));
    let (id, page) = start(&phone1, "cronometrada").await;
    assert!(page.contains("data-restante=\"29"), "5 minutos: {page}");
    let csrf = phone1.csrf().await;
    let resp = phone1
        .client
        .post(phone1.url(&format!("/intentos/{id}/guardar")))
        .header("x-csrf-token", &csrf)
        .form(&[("pagina", "1".to_string()), ("r1", "false".to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(json["guardado"].as_str().unwrap().len() == 8, "{json}");
    let left = json["restante"].as_i64().unwrap();
    assert!((290..=300).contains(&left), "{left}");

    // The connection drops; the learner logs in on another phone and carries on.
    let phone2 = app.browser();
    phone2.login("32000003", crate::helpers::PASSWORD).await;
    let home = phone2.get_text("/mi-aula").await.1;
    let line = |title: &str| {
        home.split("<li>")
            .find(|l| l.contains(&format!(">{title}</a>")))
            .unwrap_or_else(|| panic!("«{title}» en Mi aula"))
            .to_string()
    };
    assert!(line("Cronometrada").contains("En curso: seguí donde dejaste"));
    assert!(line("Evaluación final").contains("Por hacer"));
    let quiz = phone2
        .get_text(&format!("/cursos/{SLUG}/evaluaciones/cronometrada"))
        .await
        .1;
    assert!(quiz.contains(&format!("href=\"/intentos/{id}\">Seguir con mi intento")));
    // Starting again resumes the same attempt instead of opening a second one.
    let (again, page) = start(&phone2, "cronometrada").await;
    assert_eq!(again, id);
    assert!(
        page.contains("value=\"false\" checked"),
        "respuesta guardada"
    );
    assert!(page.contains("Guardado "));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM attempts WHERE id >= $1", id)
            .await,
        1
    );
    // On the new phone the learner answers question 1. The old phone, still open on the page
    // with question 1 blank, then autosaves a change to question 2: it must not blank out
    // question 1 (the autosave names the questions that changed).
    let right = value_of(&page, "r0", "San Miguel de Tucumán");
    let autosave = |b: &Browser, fields: Vec<(&'static str, String)>| {
        let req = b
            .client
            .post(b.url(&format!("/intentos/{id}/guardar")))
            .form(&fields);
        async move { req.send().await.unwrap().status() }
    };
    let csrf2 = phone2.csrf().await;
    let status = autosave(
        &phone2,
        vec![
            ("csrf", csrf2),
            ("pagina", "1".into()),
            ("r0", right),
            ("r1", "false".into()),
            ("slot", "0".into()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let status = autosave(
        &phone1,
        vec![
            ("csrf", csrf.clone()),
            ("pagina", "1".into()),
            ("r0", String::new()),
            ("r1", "true".into()),
            ("slot", "1".into()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        responses(&app, id).await,
        vec![
            Some(r#"{"Choice":0}"#.to_string()),
            Some(r#"{"Bool":true}"#.to_string())
        ]
    );
}

#[tokio::test]
async fn the_server_clock_closes_overdue_attempts_with_what_was_saved() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000004").await;
    let (id, page) = start(&learner, "cronometrada").await;
    let right = value_of(&page, "r0", "San Miguel de Tucumán");
    let wrong = value_of(&page, "r0", "Concepción");
    let csrf = learner.csrf().await;
    let save = |fields: Vec<(&'static str, String)>| {
        let req = learner
            .client
            .post(learner.url(&format!("/intentos/{id}/guardar")))
            .header("x-csrf-token", &csrf)
            .form(&fields);
        async move { req.send().await.unwrap() }
    };
    // Within the grace after the deadline an answer already on its way is still saved.
    set_deadline(&app, id, -1).await;
    let resp = save(vec![("pagina", "1".into()), ("r0", right.clone())]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Past the grace nothing is saved and the page is told where to go.
    set_deadline(&app, id, -60).await;
    let resp = save(vec![("pagina", "1".into()), ("r0", wrong.clone())]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let json: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(json["ir"], format!("/intentos/{id}/resultado"));
    // A late submission with other answers closes the attempt with the saved ones.
    let result = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "1".into()),
                ("r0", wrong),
                ("r1", "true".into()),
                ("ir", "entregar".into()),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(result.contains("Se terminó el tiempo"), "{result}");
    assert_eq!(fractions(&app, id).await, vec![Some(1.0), Some(0.0)]);

    // An attempt abandoned mid-way is closed and graded by the server on its own.
    let (id2, _) = start(&learner, "cronometrada").await;
    assert_ne!(id2, id);
    let resp = save(vec![("pagina", "1".into()), ("r0", String::new())]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT, "el primero ya cerró");
    let csrf2 = learner.csrf().await;
    learner
        .client
        .post(learner.url(&format!("/intentos/{id2}/guardar")))
        .header("x-csrf-token", &csrf2)
        .form(&[("pagina", "1"), ("r1", "true")])
        .send()
        .await
        .unwrap();
    set_deadline(&app, id2, -10).await;
    let mut state = String::new();
    for _ in 0..50 {
        state = attempt_state(&app, id2).await;
        if state == "graded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(state, "graded", "el servidor cierra el intento vencido");
    assert_eq!(fractions(&app, id2).await, vec![Some(0.0), Some(1.0)]);
    assert_eq!(
        crate::helpers::scalar_text(&app, "SELECT closed_by FROM attempts WHERE id = $1", id2)
            .await,
        "deadline"
    );
}

#[tokio::test]
async fn double_submission_and_racing_starts_make_one_attempt_and_one_grade() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000005").await;
    // Two tabs start at once: one attempt.
    let (a, b) = tokio::join!(start(&learner, "final"), start(&learner, "final"));
    assert_eq!(a.0, b.0);
    let id = a.0;
    // Submitting from two tabs and retrying: one close, one grade, first time kept.
    let url = format!("/intentos/{id}/entregar");
    let (r1, r2) = tokio::join!(learner.post(&url, &[]), learner.post(&url, &[]));
    assert_eq!(r1.status(), StatusCode::OK);
    assert_eq!(r2.status(), StatusCode::OK);
    let submitted = crate::helpers::scalar_text(
        &app,
        "SELECT CAST(submitted_at AS TEXT) FROM attempts WHERE id = $1",
        id,
    )
    .await;
    let retry = learner.post(&url, &[]).await.text().await.unwrap();
    assert!(retry.contains("ya estaba entregado"), "{retry}");
    assert_eq!(
        crate::helpers::scalar_text(
            &app,
            "SELECT CAST(submitted_at AS TEXT) FROM attempts WHERE id = $1",
            id
        )
        .await,
        submitted
    );
    let person = person_of(&app, "32000005").await.unwrap();
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM attempts WHERE person_id = $1", person)
            .await,
        1
    );
    // The quiz allows two attempts: the third start is refused with the reason.
    let (id2, _) = start(&learner, "final").await;
    learner
        .post(&format!("/intentos/{id2}/entregar"), &[])
        .await;
    let resp = learner
        .post(&format!("/cursos/{SLUG}/evaluaciones/final/comenzar"), &[])
        .await;
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Ya usaste todos los intentos permitidos (2)."),
        "{page}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM attempts WHERE person_id = $1", person)
            .await,
        2
    );
}

#[tokio::test]
async fn instructors_see_the_gradebook_its_csv_and_item_statistics_and_nobody_else_does() {
    let (app, _courses) = spawn().await;
    let class = app.class_of(SLUG).await;
    let ana = enrolled(&app, "32000006").await;
    let _beto = enrolled(&app, "32000007").await;
    let (id, page) = start(&ana, "diagnostico").await;
    ana.post(
        &format!("/intentos/{id}"),
        &[
            ("pagina", "1".into()),
            ("r0", value_of(&page, "r0", "San Miguel de Tucumán")),
            ("ir", "entregar".into()),
        ],
    )
    .await;
    let admin = app.admin().await;
    let teacher = app.instructor(&admin, "32000010", class).await;
    // The instructor gets there from the class's roster.
    let roster = teacher
        .get_text(&format!("/comisiones/{class}/participantes"))
        .await
        .1;
    assert!(roster.contains(&format!("href=\"/comisiones/{class}/calificaciones\"")));
    let (status, book) = teacher
        .get_text(&format!("/comisiones/{class}/calificaciones"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(book.contains("Diagnóstico") && book.contains("Evaluación final"));
    let row_of = |html: &str, dni: &str| {
        html.split("<tr>")
            .find(|r| r.contains(&format!("<td>{dni}</td>")))
            .map(str::to_string)
    };
    // One of three questions right (the other two unanswered): 33,3 %, not passed.
    let ana_row = row_of(&book, "32000006").unwrap();
    assert!(
        ana_row.contains("33,3 %") && ana_row.contains("No aprobada"),
        "{ana_row}"
    );
    assert!(row_of(&book, "32000007").unwrap().contains("Sin intentos"));
    let diag: i64 = aula::with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT id FROM quizzes WHERE key = 'diagnostico'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let filtered = teacher
        .get_text(&format!(
            "/comisiones/{class}/calificaciones?sin_intentos={diag}"
        ))
        .await
        .1;
    assert!(row_of(&filtered, "32000006").is_none());
    assert!(row_of(&filtered, "32000007").is_some());

    let csv = teacher
        .get(&format!("/comisiones/{class}/calificaciones.csv"))
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.headers()["cache-control"], "private, no-store");
    let bytes = csv.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "BOM para planillas");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.starts_with("DNI,Apellido,Nombre,"), "{text}");
    assert!(
        text.contains(",Evaluación final — calificación %,"),
        "{text}"
    );
    assert!(text.contains("\"33,33\",1,No aprobada"), "{text}");

    let stats = teacher
        .get_text(&format!(
            "/comisiones/{class}/evaluaciones/diagnostico/estadisticas"
        ))
        .await
        .1;
    assert!(
        stats.contains("general/capital") && stats.contains("100 %"),
        "{stats}"
    );
    assert!(stats.contains("1 intento calificado"));

    // The attempts of the quiz, and one of them with every answer and the key.
    let list = teacher
        .get_text(&format!(
            "/comisiones/{class}/evaluaciones/diagnostico/intentos"
        ))
        .await
        .1;
    assert!(list.contains(&format!("href=\"/comisiones/{class}/intentos/{id}\"")));
    let review = teacher
        .get_text(&format!("/comisiones/{class}/intentos/{id}"))
        .await
        .1;
    assert!(
        review.contains("Respuesta correcta:</strong> Buen día"),
        "{review}"
    );
    assert!(review.contains("Calificación: <strong>33,3 %</strong>"));
    // An attempt is only reachable through its own class.
    let course = crate::helpers::course_id(&app, SLUG).await;
    let resp = admin
        .post(
            "/admin/comisiones/nueva",
            &crate::catalog::class_form(course, "Comisión 2", 10, None),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let other_class = app
        .scalar_i64("SELECT MAX(id) FROM classes WHERE id > $1", class)
        .await;
    admin
        .grant("32000010", "instructor", &format!("class:{other_class}"))
        .await;
    assert_eq!(
        teacher
            .get(&format!("/comisiones/{other_class}/intentos/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Learners and instructors of other classes get 404.
    let other_teacher = app.instructor(&admin, "32000012", other_class).await;
    for path in [
        format!("/comisiones/{class}/evaluaciones/diagnostico/intentos"),
        format!("/comisiones/{class}/intentos/{id}"),
        format!("/comisiones/{class}/calificaciones"),
        format!("/comisiones/{class}/calificaciones.csv"),
        format!("/comisiones/{class}/corregir"),
        format!("/comisiones/{class}/evaluaciones/diagnostico/estadisticas"),
    ] {
        for who in [&ana, &other_teacher] {
            assert_eq!(
                who.get(&path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
    // Another learner cannot see or touch Ana's attempt.
    let other = enrolled(&app, "32000008").await;
    assert_eq!(
        other
            .get(&format!("/intentos/{id}/resultado"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post(&format!("/intentos/{id}/entregar"), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_learner_not_enrolled_is_told_to_enrol_and_cannot_start() {
    let (app, _courses) = spawn().await;
    let outsider = app.learner("32000011").await;
    let (status, body) = outsider
        .get_text(&format!("/cursos/{SLUG}/evaluaciones/final"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("tenés que estar inscripto/a"));
    let resp = outsider
        .post(&format!("/cursos/{SLUG}/evaluaciones/final/comenzar"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM attempts").await, 0);
}

#[test]
fn quiz_files_report_every_error_with_file_and_line_and_import_nothing() {
    let root = tempfile::tempdir().unwrap();
    write_course(root.path());
    let c = root.path().join(SLUG);
    // An unsupported GIFT construct (missing word) and a quiz naming a missing question.
    std::fs::write(
        c.join("banks/extra.gift"),
        "::Saludo:: ¿Cómo se saluda? {=Buen día ~Eh}\n\nEl sol sale por el {=este ~oeste} cada mañana.\n",
    )
    .unwrap();
    std::fs::write(
        c.join("quizzes/cronometrada.toml"),
        "title = \"X\"\n\n[[slot]]\nquestion = \"general/no-existe\"\n",
    )
    .unwrap();
    let media = Path::new(env!("CARGO_MANIFEST_DIR")).join("media");
    let errors = aula::courses::load_folder(&c, &media).expect_err("el curso no se importa");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter().any(|e| e.contains("banks/extra.gift:3:")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("quizzes/cronometrada.toml:3:") && e.contains("general/no-existe")),
        "{text:?}"
    );
    // The intact fixture imports, GIFT questions included.
    write_course(root.path());
    let course = aula::courses::load_folder(&c, &media).unwrap();
    assert_eq!(course.assessments.quizzes.len(), 4);
    assert!(
        course
            .assessments
            .questions
            .iter()
            .any(|q| q.key == "extra/saludo")
    );
}

/// The quiz page's JavaScript in a real browser: `node tests/browser/quiz.mjs` drives headless
/// Chromium against this app. Needs Chromium and `npm install` in tests/browser (`.ci/run`
/// does both), so it runs only when asked: `cargo test --test it browser_quiz -- --ignored`.
#[tokio::test]
#[ignore = "needs Chromium and playwright-core; run by .ci/run"]
async fn browser_quiz_autosave() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000020").await;
    let (id, page) = start(&learner, "cronometrada").await;
    let right = value_of(&page, "r0", "San Miguel de Tucumán");
    let wrong = value_of(&page, "r0", "Concepción");
    let cookie = learner.cookie("aula_sesion").expect("cookie de sesión");
    crate::helpers::run_browser_script(
        "quiz.mjs",
        vec![
            ("AULA_BASE", app.base.clone()),
            ("AULA_COOKIE", cookie),
            ("AULA_ATTEMPT", id.to_string()),
            ("AULA_RIGHT", right),
            ("AULA_WRONG", wrong),
        ],
    )
    .await;
    // What the browser saved is in the database: the right option (index 0) and "true".
    assert_eq!(
        responses(&app, id).await,
        vec![
            Some(r#"{"Choice":0}"#.to_string()),
            Some(r#"{"Bool":true}"#.to_string())
        ]
    );
}

#[tokio::test]
async fn an_instructor_sets_the_quiz_dates_of_their_class() {
    let (app, _courses) = spawn().await;
    let class = app.class_of(SLUG).await;
    let learner = enrolled(&app, "32000030").await;
    let admin = app.admin().await;
    let teacher = app.instructor(&admin, "32000031", class).await;
    let url = format!("/comisiones/{class}/evaluaciones/final/fechas");
    // A closing time before the opening is refused at the field, and nothing changes.
    let resp = teacher
        .post(
            &url,
            &[
                ("abre", "2030-03-02T10:00".into()),
                ("cierra", "2030-03-01T10:00".into()),
                ("accion", "guardar".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = resp.text().await.unwrap();
    assert!(body.contains("El cierre tiene que ser posterior a la apertura."));
    assert!(
        body.contains("value=\"2030-03-01T10:00\""),
        "lo escrito se conserva"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM quiz_windows").await, 0);
    // Opening in the future: the learner is told when, and cannot start.
    let resp = teacher
        .post(
            &url,
            &[
                ("abre", "2030-03-01T10:00".into()),
                ("cierra", String::new()),
                ("accion", "guardar".into()),
            ],
        )
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("guardadas para esta comisión")
    );
    let page = learner
        .get_text(&format!("/cursos/{SLUG}/evaluaciones/final"))
        .await
        .1;
    assert!(
        page.contains("La evaluación abre el 01/03/2030 10:00."),
        "{page}"
    );
    let resp = learner
        .post(&format!("/cursos/{SLUG}/evaluaciones/final/comenzar"), &[])
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("todavía no está abierta")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM attempts").await, 0);
    // Back to the course's dates (none): open again.
    teacher
        .post(&url, &[("accion", "restablecer".into())])
        .await;
    let (id, _) = start(&learner, "final").await;
    assert_eq!(attempt_state(&app, id).await, "in_progress");
    assert_eq!(app.count("SELECT COUNT(*) FROM attempts").await, 1);
    // Only the class's instructors may change them.
    assert_eq!(learner.get(&url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        learner
            .post(&url, &[("accion", "restablecer".into())])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn item_statistics_analyse_the_attempts_the_instructor_chooses() {
    let (app, _courses) = spawn().await;
    let class = app.class_of(SLUG).await;
    let learner = enrolled(&app, "32000037").await;
    let admin = app.admin().await;
    let teacher = app.instructor(&admin, "32000038", class).await;
    // First attempt wrong, second right.
    for answer in ["Concepción", "San Miguel de Tucumán"] {
        let (id, page) = start(&learner, "cronometrada").await;
        let resp = learner
            .post(
                &format!("/intentos/{id}"),
                &[
                    ("pagina", "1".into()),
                    ("r0", value_of(&page, "r0", answer)),
                    ("ir", "entregar".into()),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let url = format!("/comisiones/{class}/evaluaciones/cronometrada/estadisticas");
    let capital = |html: &str| {
        html.split("<tr>")
            .find(|r| r.contains("general/capital"))
            .unwrap_or_else(|| panic!("{html}"))
            .to_string()
    };
    // By default, what the grade counts (the highest): the second attempt.
    let page = teacher.get_text(&url).await.1;
    assert!(page.contains("1 intento calificado analizado"), "{page}");
    assert!(page.contains("<option value=\"mejor\" selected>"), "{page}");
    assert!(
        capital(&page).contains("<td>100 %</td>"),
        "{}",
        capital(&page)
    );
    let page = teacher.get_text(&format!("{url}?intentos=primero")).await.1;
    assert!(
        capital(&page).contains("<td>0 %</td>"),
        "{}",
        capital(&page)
    );
    let page = teacher.get_text(&format!("{url}?intentos=todos")).await.1;
    assert!(page.contains("2 intentos calificados analizados"));
    assert!(
        capital(&page).contains("<td>50 %</td>"),
        "{}",
        capital(&page)
    );
    let page = teacher.get_text(&format!("{url}?intentos=ultimo")).await.1;
    assert!(capital(&page).contains("<td>100 %</td>"));
    // Anything else is the default.
    let page = teacher.get_text(&format!("{url}?intentos=%3Cb%3E")).await.1;
    assert!(page.contains("<option value=\"mejor\" selected>"));
}

/// The deadline the server keeps for an attempt.
async fn deadline_of(app: &TestApp, id: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    aula::with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT deadline_at FROM attempts WHERE id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap()
}

#[tokio::test]
async fn attempts_in_progress_follow_new_closing_times_and_time_limits() {
    let (app, courses) = spawn().await;
    let class = app.class_of(SLUG).await;
    let learner = enrolled(&app, "32000035").await;
    let admin = app.admin().await;
    let teacher = app.instructor(&admin, "32000036", class).await;
    // A 5-minute quiz without a closing time: the deadline is the end of the time limit.
    let (id, _) = start(&learner, "cronometrada").await;
    let limit_end = deadline_of(&app, id).await.expect("tiene plazo");
    // The instructor closes it for the class in about 3 minutes: the attempt ends then.
    let local = (aula::web::time::now() + chrono::Duration::minutes(3))
        .with_timezone(&chrono_tz::America::Argentina::Tucuman);
    let url = format!("/comisiones/{class}/evaluaciones/cronometrada/fechas");
    let close_at = async |when: String| {
        let fields = [
            ("abre", String::new()),
            ("cierra", when),
            ("accion", "guardar".into()),
        ];
        teacher.post(&url, &fields).await
    };
    let resp = close_at(local.format("%Y-%m-%dT%H:%M").to_string()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Se ajustó el plazo del intento en curso.")
    );
    let closes = local
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(deadline_of(&app, id).await, Some(closes));
    assert!(closes < limit_end);
    // The learner's page counts down to the new deadline.
    let page = learner.get_text(&format!("/intentos/{id}")).await.1;
    let remaining = (closes - aula::web::time::now()).num_seconds();
    assert!(
        page.contains(&format!("data-restante=\"{remaining}\""))
            || page.contains(&format!("data-restante=\"{}\"", remaining - 1)),
        "{page}"
    );
    // Back to the course's dates: the rest of the time limit is the learner's again.
    let resp = teacher
        .post(&url, &[("accion", "restablecer".into())])
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Se ajustó el plazo del intento en curso.")
    );
    assert_eq!(deadline_of(&app, id).await, Some(limit_end));
    // The course's author gives the quiz 10 minutes and the admin re-imports the courses:
    // the attempt in progress gets them too.
    let file = courses.path().join(SLUG).join("quizzes/cronometrada.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("time_limit_minutes = 5", "time_limit_minutes = 10"),
    )
    .unwrap();
    let resp = admin.post("/admin/cursos/importar", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        deadline_of(&app, id).await,
        Some(limit_end + chrono::Duration::minutes(5))
    );
    let limit_end = limit_end + chrono::Duration::minutes(5);
    // Submitted attempts keep theirs.
    let resp = learner.post(&format!("/intentos/{id}/entregar"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_ne!(attempt_state(&app, id).await, "in_progress");
    let resp = close_at(local.format("%Y-%m-%dT%H:%M").to_string()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("guardadas para esta comisión") && !body.contains("Se ajustó el plazo"),
        "{body}"
    );
    assert_eq!(deadline_of(&app, id).await, Some(limit_end));
}

#[tokio::test]
async fn review_after_close_waits_for_the_class_closing_time() {
    let (app, _courses) = spawn().await;
    let class = app.class_of(SLUG).await;
    let learner = enrolled(&app, "32000040").await;
    let (id, page) = start(&learner, "con-cierre").await;
    let result = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "1".into()),
                ("r0", value_of(&page, "r0", "San Miguel de Tucumán")),
                ("ir", "entregar".into()),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(result.contains("La calificación se publica cuando cierre la evaluación"));
    assert!(!result.contains("RETRO-") && !result.contains("Calificación: <strong>"));
    // The instructor closes the quiz for the class (a closing time already past): the review
    // and the score are now the learner's to see.
    let admin = app.admin().await;
    let teacher = app.instructor(&admin, "32000041", class).await;
    let past = (aula::web::time::now() - chrono::Duration::minutes(5))
        .with_timezone(&chrono_tz::America::Argentina::Tucuman)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let resp = teacher
        .post(
            &format!("/comisiones/{class}/evaluaciones/con-cierre/fechas"),
            &[
                ("abre", String::new()),
                ("cierra", past),
                ("accion", "guardar".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let result = learner
        .get_text(&format!("/intentos/{id}/resultado"))
        .await
        .1;
    assert!(
        result.contains("Calificación: <strong>100 %</strong>"),
        "{result}"
    );
    assert!(result.contains("RETRO-BIEN"));
}

#[tokio::test]
async fn edge_cases_tampered_values_ticking_everything_decimal_commas_and_a_blank_essay() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000050").await;
    let (id, page1) = start(&learner, "final").await;
    // A tampered option value counts as no answer; ticking every box cannot earn full marks
    // (two right +50% each, the wrong one -50%); "Falso" to a true statement is wrong.
    let everything: Vec<(&str, String)> = ["Cruz Alta", "Lules", "Rosario"]
        .iter()
        .map(|t| ("r1", value_of(&page1, "r1", t)))
        .collect();
    let mut fields = vec![
        ("pagina", "1".to_string()),
        ("r0", "99".to_string()),
        ("r2", "false".to_string()),
        ("ir", "2".to_string()),
    ];
    fields.extend(everything);
    let page2 = learner
        .post(&format!("/intentos/{id}"), &fields)
        .await
        .text()
        .await
        .unwrap();
    // Partial credit of a short answer; a number with a decimal comma; every pair right.
    let page3 = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "2".into()),
                ("r3", "dulce".into()),
                ("r4", "1816,0".into()),
                ("r5_0", value_of(&page2, "r5_0", "Cruz Alta")),
                ("r5_1", value_of(&page2, "r5_1", "Yerba Buena")),
                ("r5_2", value_of(&page2, "r5_2", "Tafí Viejo")),
                ("ir", "3".into()),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    // The right order; the essay left blank (nothing for the instructor to grade).
    let rank_field = |item: &str| {
        let at = page3.find(&format!(">{item}</label>")).unwrap();
        let f = page3[..at].rfind("for=\"").unwrap() + 5;
        page3[f..].split('"').next().unwrap().to_string()
    };
    learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "3".into()),
                (&rank_field("Leer el aviso"), "1".into()),
                (&rank_field("Preparar el CV"), "2".into()),
                (&rank_field("Enviar la postulación"), "3".into()),
                ("r7", "   ".into()),
                ("ir", "entregar".into()),
            ],
        )
        .await;
    assert_eq!(
        attempt_state(&app, id).await,
        "graded",
        "sin ensayo que corregir"
    );
    assert_eq!(
        fractions(&app, id).await,
        vec![
            Some(0.0),
            Some(0.5),
            Some(0.0),
            Some(0.5),
            Some(1.0),
            Some(1.0),
            Some(1.0),
            Some(0.0),
            Some(0.0),
            Some(0.0)
        ]
    );
    let class = app.class_of(SLUG).await;
    let admin = app.admin().await;
    admin
        .grant("32000050", "instructor", &format!("class:{class}"))
        .await;
    let queue = learner
        .get_text(&format!("/comisiones/{class}/corregir"))
        .await
        .1;
    assert!(queue.contains("No hay respuestas esperando corrección."));
}

/// A second class of the fixture course, open for enrolment.
async fn second_class(app: &TestApp) -> i64 {
    let course_id = crate::helpers::course_id(app, SLUG).await;
    let now = chrono::Utc::now();
    aula::catalog::classes::insert(
        &app.db,
        &aula::catalog::classes::ValidClass {
            course_id,
            name: "Comisión 2".into(),
            starts_on: now.date_naive(),
            ends_on: now.date_naive() + chrono::Duration::days(30),
            enrol_opens_at: now - chrono::Duration::hours(1),
            enrol_closes_at: now + chrono::Duration::days(5),
            seats: 30,
            department_id: None,
            institution_id: None,
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn attempts_are_allowed_per_person_across_the_classes_of_the_course() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000020").await;
    // Both attempts of "final" used in the first class.
    for _ in 0..2 {
        let (id, _) = start(&learner, "final").await;
        learner.post(&format!("/intentos/{id}/entregar"), &[]).await;
    }
    // Enrolling in another class of the same course gives no new attempt.
    let other = second_class(&app).await;
    let resp = learner
        .post(&format!("/comisiones/{other}/inscribirme"), &[])
        .await;
    assert!(resp.text().await.unwrap().contains("Quedaste inscripto/a"));
    let (_, page) = learner
        .get_text(&format!("/cursos/{SLUG}/evaluaciones/final"))
        .await;
    assert!(
        page.contains("Ya usaste todos los intentos permitidos (2).") && !page.contains("Comenzar"),
        "{page}"
    );
    let resp = learner
        .post(&format!("/cursos/{SLUG}/evaluaciones/final/comenzar"), &[])
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Ya usaste todos los intentos permitidos (2).")
    );
    let person = person_of(&app, "32000020").await.unwrap();
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM attempts WHERE person_id = $1", person)
            .await,
        2
    );
    // A quiz with attempts left continues the numbering in the new class.
    let (id, _) = start(&learner, "cronometrada").await;
    learner.post(&format!("/intentos/{id}/entregar"), &[]).await;
    assert_eq!(
        app.scalar_i64("SELECT class_id FROM attempts WHERE id = $1", id)
            .await,
        other
    );
    let (id2, _) = start(&learner, "cronometrada").await;
    assert_eq!(
        app.scalar_i64("SELECT number FROM attempts WHERE id = $1", id2)
            .await,
        2
    );
}

#[tokio::test]
async fn a_submit_after_the_deadline_is_recorded_as_closed_by_the_time_limit() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000021").await;
    let (id, _) = start(&learner, "cronometrada").await;
    set_deadline(&app, id, -60).await;
    let resp = learner.post(&format!("/intentos/{id}/entregar"), &[]).await;
    assert!(resp.text().await.unwrap().contains("Se terminó el tiempo"));
    assert_eq!(
        crate::helpers::scalar_text(&app, "SELECT closed_by FROM attempts WHERE id = $1", id).await,
        "deadline"
    );
    // Within the grace it is still the learner's own submission.
    let (id2, _) = start(&learner, "cronometrada").await;
    set_deadline(&app, id2, -1).await;
    let resp = learner
        .post(&format!("/intentos/{id2}/entregar"), &[])
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Entregaste la evaluación.")
    );
    assert_eq!(
        crate::helpers::scalar_text(&app, "SELECT closed_by FROM attempts WHERE id = $1", id2)
            .await,
        "learner"
    );
}

#[tokio::test]
async fn after_withdrawing_an_open_attempt_neither_saves_nor_submits() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000022").await;
    let (id, page) = start(&learner, "final").await;
    let right = value_of(&page, "r0", "San Miguel de Tucumán");
    let class = app.class_of(SLUG).await;
    let resp = learner
        .post(&format!("/comisiones/{class}/baja"), &[])
        .await;
    assert!(resp.text().await.unwrap().contains("Te diste de baja"));
    // The background save is refused and says why.
    let csrf = learner.csrf().await;
    let resp = learner
        .client
        .post(learner.url(&format!("/intentos/{id}/guardar")))
        .header("x-csrf-token", &csrf)
        .form(&[("pagina", "1"), ("r0", right.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let json: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("Ya no estás inscripto/a"),
        "{json}"
    );
    // So are the page's own save and the submit.
    let resp = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "1".into()),
                ("r0", right.clone()),
                ("ir", "entregar".into()),
            ],
        )
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Ya no estás inscripto/a")
    );
    let resp = learner.post(&format!("/intentos/{id}/entregar"), &[]).await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Ya no estás inscripto/a")
    );
    assert_eq!(attempt_state(&app, id).await, "in_progress");
    assert!(responses(&app, id).await.iter().all(Option::is_none));
    // Enrolled again, the attempt goes on.
    learner
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    let resp = learner.post(&format!("/intentos/{id}/entregar"), &[]).await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Entregaste la evaluación.")
    );
}

/// Migration 0009 numbers attempts per person and quiz: attempts already made in several
/// classes (each class numbered from 1) are renumbered in the order they were started before
/// the unique index is created.
#[tokio::test]
async fn the_migration_renumbers_attempts_made_in_several_classes() {
    let (app, _courses) = spawn().await;
    let learner = enrolled(&app, "32000023").await;
    let (first, _) = start(&learner, "final").await;
    learner
        .post(&format!("/intentos/{first}/entregar"), &[])
        .await;
    let other = second_class(&app).await;
    let person = person_of(&app, "32000023").await.unwrap();
    let quiz = app
        .count("SELECT id FROM quizzes WHERE key = 'final'")
        .await;
    // As the old code left it: attempt 1 in each class.
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    aula::with_db!(&app.db, |p| sqlx::query(
        "DROP INDEX attempts_person_number_key"
    )
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    aula::with_db!(&app.db, |p| sqlx::query(
        "INSERT INTO attempts (quiz_id, class_id, person_id, number, state, started_at, submitted_at,
                               closed_by, max_points, points, percent)
         VALUES ($1, $2, $3, 1, 'graded', $4, $4, 'learner', 10, 5, 50)"
    )
    .bind(quiz)
    .bind(other)
    .bind(person)
    .bind(later)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    let backend = if crate::helpers::postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let file = std::fs::read_to_string(format!(
        "{}/migrations/{backend}/0009_claim_codes_and_attempt_numbers.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let renumbering = &file[file.find("UPDATE attempts").unwrap()..];
    aula::with_db!(&app.db, |p| sqlx::raw_sql(sqlx::AssertSqlSafe(
        renumbering.to_string()
    ))
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    let numbers: Vec<(i64, i64)> = aula::with_db!(&app.db, |p| sqlx::query_as(
        "SELECT class_id, number FROM attempts WHERE person_id = $1 ORDER BY started_at"
    )
    .bind(person)
    .fetch_all(p)
    .await)
    .unwrap();
    let first_class = app.class_of(SLUG).await;
    assert_eq!(numbers, vec![(first_class, 1), (other, 2)]);
}

#[tokio::test]
async fn autosave_checks_the_session_and_the_owner_in_its_own_write() {
    let (app, _courses) = spawn().await;
    let ana = enrolled(&app, "32000031").await;
    let (id, _) = start(&ana, "cronometrada").await;
    // The owner saves.
    let csrf = ana.csrf().await;
    let resp = ana
        .client
        .post(ana.url(&format!("/intentos/{id}/guardar")))
        .header("x-csrf-token", &csrf)
        .form(&[("pagina", "1"), ("r1", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        responses(&app, id).await[1].as_deref(),
        Some("{\"Bool\":true}")
    );
    // Another learner of the same class, logged in, cannot write into it: 404, nothing written.
    let bea = enrolled(&app, "32000032").await;
    let csrf = bea.csrf().await;
    let resp = bea
        .client
        .post(bea.url(&format!("/intentos/{id}/guardar")))
        .header("x-csrf-token", &csrf)
        .form(&[("pagina", "1"), ("r1", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        responses(&app, id).await[1].as_deref(),
        Some("{\"Bool\":true}")
    );
    // After logging out, the same browser is sent to log in and nothing is written.
    ana.post("/salir", &[]).await;
    let csrf = ana.csrf().await;
    let resp = ana
        .client
        .post(ana.url(&format!("/intentos/{id}/guardar")))
        .header("x-csrf-token", &csrf)
        .form(&[("pagina", "1"), ("r1", "false")])
        .send()
        .await
        .unwrap();
    assert!(resp.url().path().starts_with("/ingresar"), "{}", resp.url());
    assert_eq!(
        responses(&app, id).await[1].as_deref(),
        Some("{\"Bool\":true}")
    );
}
