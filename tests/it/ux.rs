//! What a new user tripped on (issue 8): each point as a person meets it through the pages.

use std::path::Path;

use reqwest::StatusCode;

use crate::helpers::*;

const SLUG: &str = "curso-ux";

const COURSE: &str = r#"slug = "curso-ux"
title = "Curso de prueba UX"
summary = "Un curso de prueba."
category = "Pruebas"
hours = 2
modality = "virtual"
audience = "Quienes prueban."

[[competencies]]
code = "UX-01"
name = "Prueba la interfaz"

[completion]
min_lessons_percent = 100
"#;

const LESSON1: &str =
    "+++\nid = \"primera\"\ntitle = \"Primera lección\"\norder = 1\nminutes = 5\n+++\nTexto.\n";
const LESSON2: &str = "+++\nid = \"segunda\"\ntitle = \"Segunda lección: cómo atender un reclamo por teléfono, por WhatsApp y en persona sin perder la calma\"\norder = 2\nminutes = 5\n+++\nMás.\n";

const BANK: &str = r#"category = "General"

[[question]]
id = "rapida"
type = "short_answer"
text = "¿Cómo se llama una respuesta corta?"
answers = ["respuesta* rápida*"]

[[question]]
id = "ensayo"
type = "essay"
text = "Contá por qué querés hacer este curso."
rubric = """
- **Claridad** de la motivación: 1 punto.
- Ortografía: 1 punto.
"""
"#;

const QUIZ: &str = r#"title = "Cuestionario"
attempts = 1
passing_percent = 60
per_page = 2

[[slot]]
question = "general/rapida"
points = 2
[[slot]]
question = "general/ensayo"
points = 2
"#;

fn write_course(root: &Path) {
    let c = root.join(SLUG);
    for (path, text) in [
        ("course.toml", COURSE),
        ("lessons/01-primera.md", LESSON1),
        ("lessons/02-segunda.md", LESSON2),
        ("banks/general.toml", BANK),
        ("quizzes/cuestionario.toml", QUIZ),
    ] {
        let p = c.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// The app with only the fixture course (plus the demo data).
async fn spawn() -> (TestApp, tempfile::TempDir) {
    let courses = tempfile::tempdir().unwrap();
    write_course(courses.path());
    let dir = courses.path().to_path_buf();
    let app = TestApp::spawn_with(move |c| c.courses_dir = dir).await;
    (app, courses)
}

async fn enrol(app: &TestApp, b: &Browser, slug: &str) -> i64 {
    let class = app.class_of(slug).await;
    let resp = b
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    class
}

/// The status line of a quiz on /mi-aula.
fn quiz_status(html: &str, title: &str) -> String {
    let at = html
        .find(&format!(">{title}</a>"))
        .unwrap_or_else(|| panic!("«{title}» en /mi-aula: {html}"));
    html[at..].split("</li>").next().unwrap().to_string()
}

#[tokio::test]
async fn quiz_review_rubric_and_my_page_speak_to_people_not_in_syntax() {
    let (app, _courses) = spawn().await;
    let learner = app.learner("30111222").await;
    let class = enrol(&app, &learner, SLUG).await;
    let resp = learner
        .post(
            &format!("/cursos/{SLUG}/evaluaciones/cuestionario/comenzar"),
            &[],
        )
        .await;
    let id: i64 = resp
        .url()
        .path()
        .strip_prefix("/intentos/")
        .expect("intento abierto")
        .parse()
        .unwrap();
    let resp = learner
        .post(
            &format!("/intentos/{id}"),
            &[
                ("pagina", "1".into()),
                ("r0", "respuestas rápidas".into()),
                ("r1", "Quiero trabajar en un comercio.".into()),
                ("ir", "resumen".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let result = learner
        .post(&format!("/intentos/{id}/entregar"), &[])
        .await
        .text()
        .await
        .unwrap();
    // The correct answer is shown as a person would write it, never the matching pattern.
    assert!(!result.contains("respuesta* rápida*"), "{result}");
    assert!(result.contains("respuesta rápida"), "{result}");

    // Before grading, /mi-aula says an instructor still has to grade it.
    let (_, mine) = learner.get_text("/mi-aula").await;
    let status = quiz_status(&mine, "Cuestionario");
    assert!(
        status.contains("Entregada: falta que tu docente corrija una entrega"),
        "{status}"
    );

    // The grading page renders the rubric's Markdown, whose points match the field.
    let admin = app.admin().await;
    let teacher = app.instructor(&admin, "30111333", class).await;
    let (_, queue) = teacher
        .get_text(&format!("/comisiones/{class}/corregir"))
        .await;
    assert!(queue.contains("<strong>Claridad</strong>"), "{queue}");
    assert!(!queue.contains("**Claridad**"), "{queue}");
    assert!(queue.contains("<li>"), "la rúbrica es una lista: {queue}");
    assert!(queue.contains("Puntaje (de 0 a 2)"));
    let resp = teacher
        .post(
            &format!("/comisiones/{class}/corregir/{id}/1"),
            &[("puntos", "2".into()), ("comentario", "Muy bien.".into())],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Corrección guardada."));

    // After grading, /mi-aula shows the grade and that the quiz was passed.
    let (_, mine) = learner.get_text("/mi-aula").await;
    let status = quiz_status(&mine, "Cuestionario");
    assert!(status.contains("Aprobada: 100 %"), "{status}");
    assert!(!status.contains("Entregada"), "{status}");
}

#[test]
fn a_rubric_whose_points_do_not_add_up_to_the_question_is_an_import_error() {
    let root = tempfile::tempdir().unwrap();
    write_course(root.path());
    let c = root.path().join(SLUG);
    let media = Path::new(env!("CARGO_MANIFEST_DIR")).join("media");
    aula::courses::load_folder(&c, &media).expect("la rúbrica suma 2, como la pregunta");
    std::fs::write(
        c.join("banks/general.toml"),
        BANK.replace("Ortografía: 1 punto.", "Ortografía: hasta 8 puntos."),
    )
    .unwrap();
    let errors = aula::courses::load_folder(&c, &media).expect_err("el curso no se importa");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter().any(|e| e.contains("quizzes/cuestionario.toml:")
            && e.contains("general/ensayo")
            && e.contains("suma 9 puntos y la pregunta vale 2")),
        "{text:?}"
    );
}

#[test]
fn the_demo_courses_import_with_rubrics_that_add_up() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for slug in ["atencion-al-cliente", "desarrollo-economico-territorial"] {
        aula::courses::load_folder(&root.join("courses").join(slug), &root.join("media"))
            .unwrap_or_else(|e| panic!("{slug}: {e:?}"));
    }
}

#[tokio::test]
async fn after_enrolling_the_course_page_opens_with_empezar_then_seguir() {
    let (app, _courses) = spawn().await;
    let learner = app.learner("30222333").await;
    let (_, before) = learner.get_text(&format!("/cursos/{SLUG}")).await;
    assert!(
        !before.contains(">Empezar</a>"),
        "sin inscripción no hay botón"
    );
    enrol(&app, &learner, SLUG).await;
    let (_, page) = learner.get_text(&format!("/cursos/{SLUG}")).await;
    let button = format!(r#"<a class="btn" href="/cursos/{SLUG}/lecciones/primera">Empezar</a>"#);
    let at = page.find(&button).unwrap_or_else(|| panic!("{page}"));
    assert!(
        at < page.find(r#"id="comisiones""#).unwrap(),
        "el botón está arriba, antes de las comisiones"
    );
    learner
        .post(&format!("/cursos/{SLUG}/lecciones/primera/completar"), &[])
        .await;
    let (_, page) = learner.get_text(&format!("/cursos/{SLUG}")).await;
    assert!(
        page.contains(&format!(
            r#"<a class="btn" href="/cursos/{SLUG}/lecciones/segunda">Seguir</a>"#
        )),
        "{page}"
    );
}

#[tokio::test]
async fn staff_accounts_are_not_people_of_the_capital_office() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.learner("30333444").await;
    let op = app.learner("30333555").await;
    let id = office(&app, "Oficina de Empleo Capital").await;
    admin
        .grant("30333555", "operator", &format!("office:{id}"))
        .await;
    let (status, html) = op.get_text("/oficina").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("30333444"), "una persona de Capital: {html}");
    // The demo administrator and instructor, and an administrator made with the CLI.
    for dni in ["10000001", "10000002", "20111222"] {
        assert!(!html.contains(dni), "{dni} en Mi oficina: {html}");
        let (_, found) = op.get_text(&format!("/oficina?q={dni}")).await;
        assert!(found.contains("0 persona(s)"), "{dni}: {found}");
        let person = person_of(&app, dni).await.expect("existe");
        let (status, _) = op.get_text(&format!("/oficina/personas/{person}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{dni}");
    }
}

#[tokio::test]
async fn the_admin_finds_people_by_dni_or_name_and_opens_their_page() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let learner = app.learner("30444555").await;
    enrol(&app, &learner, "atencion-al-cliente").await;
    for n in 0..21 {
        app.quick_user(&format!("3150{n:04}"), "Monteros").await;
    }
    let (_, dashboard) = admin.get_text("/admin").await;
    assert!(dashboard.contains(r#"href="/admin/personas""#));

    // By DNI prefix: the learner, linking to their page.
    let (status, html) = admin.get_text("/admin/personas?q=304445").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 persona(s)"), "{html}");
    let person = person_of(&app, "30444555").await.unwrap();
    assert!(html.contains(&format!(r#"href="/admin/personas/{person}""#)));
    assert!(html.contains(r#"maxlength="100""#));
    // By name, accents and case aside; `%` is a character, not "everything".
    let (_, html) = admin
        .get_text(&format!("/admin/personas?q={}", enc("carga")))
        .await;
    assert!(html.contains("21 persona(s)"), "{html}");
    assert!(html.contains("Página 1 de 2"), "20 por página: {html}");
    let (_, page2) = admin
        .get_text(&format!("/admin/personas?q={}&pagina=2", enc("CARGA")))
        .await;
    assert!(page2.contains("Página 2 de 2"), "{page2}");
    let (_, html) = admin
        .get_text(&format!("/admin/personas?q={}", enc("%")))
        .await;
    assert!(html.contains("0 persona(s)"), "{html}");
    let (status, _) = admin
        .get_text(&format!("/admin/personas?q={}", "9".repeat(5000)))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The person's page: data and classes.
    let (status, html) = admin.get_text(&format!("/admin/personas/{person}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<dd>30444555</dd>"), "{html}");
    assert!(html.contains("Atención al cliente"), "{html}");

    // Nobody else: not found, as for anything outside one's scope.
    let (status, _) = learner.get_text("/admin/personas?q=3").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = learner.get_text(&format!("/admin/personas/{person}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The session cookie of a logged-in browser, for a browser script.
fn session_of(b: &Browser) -> String {
    b.cookie("aula_sesion").expect("sesión")
}

/// Pages on a 390 px phone in headless Chromium (`tests/browser/layout.mjs`): no page wider
/// than the screen, wide tables in a scrollable region with a visible hint, lesson titles that
/// wrap with their number on the first line, navigation links at least 24 px tall. Needs
/// Chromium and `npm install` in tests/browser (`.ci/run` does both):
/// `cargo test --test it browser_pages_fit_a_phone -- --ignored`.
#[tokio::test]
#[ignore]
async fn browser_pages_fit_a_phone() {
    let (app, _courses) = spawn().await;
    let admin = app.admin().await;
    let learner = app.learner("30555666").await;
    let class = enrol(&app, &learner, SLUG).await;
    let teacher = app.instructor(&admin, "30555777", class).await;
    // Learners with long names, so the roster and attendance tables are as wide as real ones.
    for n in 0..3 {
        let b = app.learner(&format!("3055588{n}")).await;
        enrol(&app, &b, SLUG).await;
    }
    let starts = aula::web::time::local_input(&(chrono::Utc::now() + chrono::Duration::hours(1)));
    let resp = teacher
        .post(
            &format!("/comisiones/{class}/en-vivo"),
            &[
                ("title", "Clase de repaso".into()),
                ("starts_at", starts),
                ("duration_minutes", "60".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let session = app.count("SELECT MAX(id) FROM live_sessions").await;
    let (a, t, l) = (
        session_of(&admin),
        session_of(&teacher),
        session_of(&learner),
    );
    let pages = [
        (&a, "/admin".to_string()),
        (&a, "/admin/comisiones".into()),
        (&a, "/admin/roles".into()),
        (&a, "/admin/personas?q=3055".into()),
        (&t, format!("/comisiones/{class}/participantes")),
        (&t, format!("/en-vivo/{session}/asistencia")),
        (&t, "/mi-aula".into()),
        (&l, format!("/cursos/{SLUG}")),
        (&l, "/mi-aula".into()),
        (&l, format!("/cursos/{SLUG}/lecciones/primera")),
    ]
    .iter()
    .map(|(c, p)| format!("{c} {p}"))
    .collect::<Vec<_>>()
    .join("\n");
    run_browser_script(
        "layout.mjs",
        vec![
            ("AULA_BASE", app.base.clone()),
            ("AULA_PAGES", pages),
            ("AULA_OUTLINE", format!("{l} /cursos/{SLUG}")),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_instructor_opens_my_page_on_their_classes_and_the_roster_offers_the_csv_once() {
    let (app, _courses) = spawn().await;
    let admin = app.admin().await;
    let class = app.class_of(SLUG).await;
    let teacher = app.instructor(&admin, "30666777", class).await;
    let learner = app.learner("30666888").await;
    enrol(&app, &learner, SLUG).await;
    let (_, mine) = teacher.get_text("/mi-aula").await;
    let teaching = mine.find("Comisiones a mi cargo").expect("sus comisiones");
    let learning = mine.find("Mis cursos").expect("sus cursos");
    assert!(teaching < learning, "primero lo que enseña: {mine}");
    assert!(
        mine.find("Sin inscripciones todavía")
            .is_none_or(|at| at > teaching),
        "{mine}"
    );
    let (_, roster) = teacher
        .get_text(&format!("/comisiones/{class}/participantes"))
        .await;
    assert_eq!(
        roster.matches("Descargar planilla (CSV)").count(),
        1,
        "{roster}"
    );
    // A wide table scrolls inside a named, focusable region whose hint says so.
    assert!(roster.contains(
        r#"<div class="table-wrap" role="region" aria-label="Participantes" aria-describedby="participantes-hint" tabindex="0">"#
    ));
    assert!(roster.contains(r#"id="participantes-hint""#));
}
