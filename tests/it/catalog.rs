use crate::helpers::*;

use std::path::{Path, PathBuf};

use aula::{
    courses::{load_dir, store},
    with_db,
};
use reqwest::StatusCode;

const ATENCION: &str = "Atención al cliente";
const HERRAMIENTAS: &str = "Herramientas digitales para la búsqueda de empleo";
const DESARROLLO: &str = "Desarrollo Económico Territorial con énfasis en el empleo";

// ---------------------------------------------------------------------------------------
// Small helpers local to these tests
// ---------------------------------------------------------------------------------------

/// Titles of the course cards on a catalogue page.
fn card_titles(html: &str) -> Vec<String> {
    html.split("<article class=\"card\">")
        .skip(1)
        .filter_map(|card| {
            let start = card.find("<h3><a href=\"/cursos/")?;
            let after = &card[start..];
            let open = after.find('>')? + 1;
            let rest = &after[open..];
            let text_start = rest.find('>')? + 1;
            let text_end = rest.find("</a>")?;
            Some(rest[text_start..text_end].to_string())
        })
        .collect()
}

async fn catalogue(b: &Browser, query: &str) -> Vec<String> {
    let (status, html) = b.get_text(&format!("/cursos?{query}")).await;
    assert_eq!(status, StatusCode::OK, "/cursos?{query}");
    let mut titles = card_titles(&html);
    titles.sort();
    let n = titles.len();
    let status_line = if n == 1 {
        "1 curso".to_string()
    } else {
        format!("{n} cursos")
    };
    assert!(
        html.contains(&format!("<p role=\"status\">{status_line}</p>")),
        "/cursos?{query}: falta «{status_line}»"
    );
    titles
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// `datetime-local` value `days` from now.
fn local_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn date_in(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .date_naive()
        .to_string()
}

/// A complete, valid class form, open for enrolment now.
pub fn class_form(
    course_id: i64,
    name: &str,
    seats: i64,
    department_id: Option<i64>,
) -> Vec<(&'static str, String)> {
    vec![
        ("course_id", course_id.to_string()),
        ("name", name.to_string()),
        ("starts_on", date_in(10)),
        ("ends_on", date_in(60)),
        ("enrol_opens_at", local_in(-1)),
        ("enrol_closes_at", local_in(9)),
        ("seats", seats.to_string()),
        (
            "department_id",
            department_id.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("institution_id", String::new()),
    ]
}

fn set(form: &mut [(&'static str, String)], key: &str, value: &str) {
    form.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.to_string();
}

async fn classes_count(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM classes").await
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn course_toml(slug: &str, title: &str, min_percent: i64) -> String {
    format!(
        "slug = \"{slug}\"
title = \"{title}\"
summary = \"Un curso de prueba.\"
category = \"Pruebas\"
hours = 6
modality = \"virtual\"
audience = \"Personas que prueban.\"
description = \"Descripción del curso.\"

[[competencies]]
code = \"PR-01\"
name = \"Prueba cosas\"

[completion]
min_lessons_percent = {min_percent}
"
    )
}

fn lesson_md(id: &str, title: &str, order: i64, body: &str) -> String {
    format!("+++\nid = \"{id}\"\ntitle = \"{title}\"\norder = {order}\nminutes = 10\n+++\n{body}\n")
}

// ---------------------------------------------------------------------------------------
// Catalogue search and filters
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn catalogue_search_ignores_accents_and_case() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    assert_eq!(
        catalogue(&b, "").await,
        sorted(&[ATENCION, HERRAMIENTAS, DESARROLLO])
    );
    for q in ["ATENCIÓN", "atencion", "Atención", "ATENCION"] {
        assert_eq!(
            catalogue(&b, &format!("q={}", enc(q))).await,
            sorted(&[ATENCION]),
            "q={q}"
        );
    }
    // Words from the summary too, with the accent typed or not.
    for q in ["CURRICULUM", "currículum"] {
        assert_eq!(
            catalogue(&b, &format!("q={}", enc(q))).await,
            sorted(&[HERRAMIENTAS]),
            "q={q}"
        );
    }
    for q in ["tucuman", "TUCUMÁN"] {
        assert_eq!(
            catalogue(&b, &format!("q={}", enc(q))).await,
            sorted(&[DESARROLLO]),
            "q={q}"
        );
    }
    let (_, html) = b.get_text("/cursos?q=zzzz-nada").await;
    assert!(card_titles(&html).is_empty());
    assert!(html.contains("No encontramos cursos con esos filtros"));
    // The typed text is kept in the search box.
    let (_, html) = b.get_text(&format!("/cursos?q={}", enc("ATENCIÓN"))).await;
    assert!(
        html.contains("value=\"ATENCIÓN\""),
        "el texto buscado no quedó en el campo"
    );
}

#[tokio::test]
async fn catalogue_filters_by_category_and_modality() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    assert_eq!(
        catalogue(&b, "categoria=Empleabilidad").await,
        sorted(&[HERRAMIENTAS])
    );
    assert_eq!(
        catalogue(&b, &format!("categoria={}", enc("Comercio y servicios"))).await,
        sorted(&[ATENCION])
    );
    assert_eq!(
        catalogue(&b, "categoria=Inexistente").await,
        Vec::<String>::new()
    );
    assert_eq!(
        catalogue(&b, "modalidad=virtual").await,
        sorted(&[HERRAMIENTAS, DESARROLLO])
    );
    assert_eq!(
        catalogue(&b, "modalidad=semipresencial").await,
        sorted(&[ATENCION])
    );
    assert_eq!(
        catalogue(&b, "modalidad=presencial").await,
        Vec::<String>::new()
    );
    // Filters combine.
    assert_eq!(
        catalogue(&b, "modalidad=virtual&categoria=Empleabilidad").await,
        sorted(&[HERRAMIENTAS])
    );
    assert_eq!(
        catalogue(&b, "modalidad=virtual&q=atencion").await,
        Vec::<String>::new()
    );
    // The chosen filters stay selected.
    let (_, html) = b
        .get_text("/cursos?modalidad=virtual&categoria=Empleabilidad")
        .await;
    assert!(html.contains("<option value=\"virtual\" selected>Virtual</option>"));
    assert!(html.contains("<option selected>Empleabilidad</option>"));
}

#[tokio::test]
async fn catalogue_filters_by_department_of_the_classes() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let b = app.browser();
    let (capital, monteros, famailla) = (
        department(&app, "Capital").await,
        department(&app, "Monteros").await,
        department(&app, "Famaillá").await,
    );
    // The demo classes are province-wide: every department sees every course.
    assert_eq!(
        catalogue(&b, &format!("departamento={monteros}")).await,
        sorted(&[ATENCION, HERRAMIENTAS, DESARROLLO])
    );

    // Move the only class of "Atención al cliente" to Famaillá.
    let atencion = course_id(&app, "atencion-al-cliente").await;
    let demo_class = app.class_of("atencion-al-cliente").await;
    let resp = admin
        .post(
            &format!("/admin/comisiones/{demo_class}"),
            &class_form(atencion, "Comisión 1 — Famaillá", 40, Some(famailla)),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().path(), "/admin/comisiones");
    assert_eq!(
        catalogue(&b, &format!("departamento={famailla}")).await,
        sorted(&[ATENCION, HERRAMIENTAS, DESARROLLO])
    );
    assert_eq!(
        catalogue(&b, &format!("departamento={monteros}")).await,
        sorted(&[HERRAMIENTAS, DESARROLLO])
    );
    assert_eq!(
        catalogue(&b, &format!("departamento={capital}")).await,
        sorted(&[HERRAMIENTAS, DESARROLLO])
    );

    // A new class in Monteros brings the course to Monteros, not to Capital.
    let resp = admin
        .post(
            "/admin/comisiones/nueva",
            &class_form(atencion, "Comisión 2 — Monteros", 25, Some(monteros)),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().path(), "/admin/comisiones");
    assert_eq!(
        catalogue(&b, &format!("departamento={monteros}")).await,
        sorted(&[ATENCION, HERRAMIENTAS, DESARROLLO])
    );
    assert_eq!(
        catalogue(&b, &format!("departamento={capital}")).await,
        sorted(&[HERRAMIENTAS, DESARROLLO])
    );
    // Department and text filters combine.
    assert_eq!(
        catalogue(&b, &format!("departamento={capital}&q=atencion")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        catalogue(&b, &format!("departamento={monteros}&q=atencion")).await,
        sorted(&[ATENCION])
    );
}

// ---------------------------------------------------------------------------------------
// Course page
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn course_page_shows_outline_in_order_competencies_and_open_class() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let (status, html) = b.get_text("/cursos/herramientas-digitales-empleo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("<h1>{HERRAMIENTAS}</h1>")));
    let lessons = [
        "Tu celular y tu correo: las herramientas básicas",
        "Cómo armar tu CV desde el celular",
        "Dónde buscar ofertas y cómo evitar estafas",
        "Postularte y rendir una entrevista por videollamada",
        "Tu kit digital de búsqueda de empleo",
    ];
    let programa = &html[html.find("id=\"programa\"").expect("sección Programa")..];
    let positions: Vec<usize> = lessons
        .iter()
        .map(|t| {
            programa
                .find(t)
                .unwrap_or_else(|| panic!("falta la lección «{t}»"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "lecciones fuera de orden: {positions:?}"
    );
    // Anonymous visitors see the outline but cannot open lessons.
    assert!(!html.contains("/cursos/herramientas-digitales-empleo/lecciones/"));

    for (code, name) in [
        (
            "HD-01",
            "Crea y usa una cuenta de correo electrónico con criterio profesional",
        ),
        (
            "HD-02",
            "Elabora un currículum vitae claro, adaptado al puesto y en formato PDF",
        ),
        (
            "HD-04",
            "Se postula por medios digitales y se desempeña en una entrevista por videollamada",
        ),
    ] {
        assert!(
            html.contains(&format!(
                "<li>{name} <span class=\"muted\">({code})</span></li>"
            )),
            "competencia {code}"
        );
    }
    assert!(html.contains("Comisión 1 — Virtual"));
    assert!(html.contains("Quedan <strong>40</strong> de 40 lugares."));
    assert!(html.contains("Toda la provincia"));
    assert!(html.contains("Ingresá para inscribirte"));
    assert!(html.contains("href=\"/ingresar?siguiente=/cursos/herramientas-digitales-empleo\""));
    assert!(
        !html.contains("/inscribirme"),
        "un anónimo no debería ver el botón de inscripción"
    );

    // Seats left go down when someone enrols; a logged-in learner sees the button instead.
    let learner = app.learner("30111222").await;
    let (_, html) = learner
        .get_text("/cursos/herramientas-digitales-empleo")
        .await;
    assert!(!html.contains("Ingresá para inscribirte"));
    assert!(html.contains("Inscribirme</button>"));
    let class = app.class_of("herramientas-digitales-empleo").await;
    let resp = learner
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, html) = b.get_text("/cursos/herramientas-digitales-empleo").await;
    assert!(html.contains("Quedan <strong>39</strong> de 40 lugares."));
}

#[tokio::test]
async fn unknown_course_is_404() {
    let app = TestApp::spawn().await;
    let (status, html) = app.browser().get_text("/cursos/no-existe").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Página no encontrada"));
}

// ---------------------------------------------------------------------------------------
// Importing course folders
// ---------------------------------------------------------------------------------------

/// A courses folder with one valid course and one with many errors, and its media folder.
fn broken_fixture(root: &Path) -> (PathBuf, PathBuf) {
    let courses = root.join("courses");
    let media = root.join("media");
    write(
        &media.join("curso-valido/portada.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    );
    let valid = course_toml("curso-valido", "Curso válido", 100).replace(
        "modality = \"virtual\"\n",
        "modality = \"virtual\"\ncover = \"curso-valido/portada.svg\"\n",
    );
    write(&courses.join("curso-valido/course.toml"), &valid);
    write(
        &courses.join("curso-valido/lessons/01-a.md"),
        &lesson_md(
            "leccion-a",
            "Lección A",
            1,
            "Texto A.\n\n![Portada](/media/curso-valido/portada.svg)",
        ),
    );
    write(
        &courses.join("curso-valido/lessons/02-b.md"),
        &lesson_md("leccion-b", "Lección B", 2, "Texto B."),
    );

    write(
        &courses.join("curso-roto/course.toml"),
        "slug = \"curso-roto\"
title = \"Curso roto\"
summary = \"Un curso con errores.\"
category = \"Pruebas\"
hours = 10
modality = \"a-distancia\"
audience = \"Nadie.\"
cover = \"curso-roto/no-existe.svg\"
description = \"Texto.\"

[[competencies]]
code = \"CR-01\"
name = \"Algo\"

[completion]
min_lessons_percent = 100
",
    );
    write(
        &courses.join("curso-roto/lessons/01-uno.md"),
        "+++\nid = \"uno\"\ntitle = \"Uno\"\norder = 1\nminutes = 10\n+++\nTexto.\n",
    );
    write(
        &courses.join("curso-roto/lessons/02-dos.md"),
        "+++\ntitle = \"Dos\"\nid = \"uno\"\norder = 2\nminutes = 10\n+++\nTexto.\n",
    );
    write(
        &courses.join("curso-roto/lessons/03-tres.md"),
        "+++\nid = \"tres\"\ntitle = \"Tres\"\norder = 3\nminutes = 10\n+++\nIntro.\n\n![Diagrama](/media/curso-roto/falta.svg)\n",
    );
    write(
        &courses.join("curso-roto/lessons/04-cuatro.md"),
        "+++\nid = \"cuatro\"\ntitle = \"Cuatro\"\norder = 4\nminutes = 10\nduracion = 5\n+++\nTexto.\n",
    );
    (courses, media)
}

/// The errors the broken course must produce: (file, line, part of the message).
fn expected_errors(courses: &Path) -> Vec<(PathBuf, usize, &'static str)> {
    let roto = courses.join("curso-roto");
    vec![
        (
            roto.join("course.toml"),
            6,
            "modalidad «a-distancia» desconocida",
        ),
        (
            roto.join("course.toml"),
            8,
            "la imagen de portada «curso-roto/no-existe.svg» no existe en media/",
        ),
        (
            roto.join("lessons/02-dos.md"),
            3,
            "el id «uno» está repetido",
        ),
        (
            roto.join("lessons/03-tres.md"),
            9,
            "la imagen «/media/curso-roto/falta.svg»",
        ),
        (roto.join("lessons/04-cuatro.md"), 6, "duracion"),
    ]
}

#[tokio::test]
async fn import_reports_every_error_with_file_and_line_and_skips_only_the_broken_course() {
    let app = TestApp::spawn().await;
    let root = tempfile::tempdir().unwrap();
    let (courses, media) = broken_fixture(root.path());
    let parsed = load_dir(&courses, &media);
    let shown: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
    let expected = expected_errors(&courses);
    assert_eq!(parsed.errors.len(), expected.len(), "errores: {shown:#?}");
    for (file, line, msg) in &expected {
        let prefix = format!("{}:{line}: ", file.display());
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with(&prefix) && e.contains(msg)),
            "falta «{prefix}…{msg}» en {shown:#?}"
        );
    }
    assert_eq!(
        parsed
            .courses
            .iter()
            .map(|c| c.course.slug.as_str())
            .collect::<Vec<_>>(),
        ["curso-valido"]
    );

    let report = store(&app.db, &app.media, &parsed.courses).await.unwrap();
    assert_eq!(report.created, ["curso-valido"]);
    assert!(report.updated.is_empty() && report.unchanged.is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM courses WHERE slug = 'curso-roto'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM courses WHERE slug = 'curso-valido'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = 'curso-valido'").await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM lessons WHERE key IN ('uno', 'tres', 'cuatro')")
            .await,
        0
    );
    // The valid course is public right away.
    let (status, html) = app.browser().get_text("/cursos/curso-valido").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Lección A") && html.contains("Lección B"));
    assert_eq!(
        app.browser().get("/cursos/curso-roto").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn import_check_command_exits_1_with_errors_on_stderr_and_0_on_a_valid_folder() {
    let root = tempfile::tempdir().unwrap();
    let (courses, media) = broken_fixture(root.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aula"))
        .current_dir(root.path())
        .args(["import-courses", "--check"])
        .arg(&courses)
        .arg("--media-dir")
        .arg(&media)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    for (file, line, msg) in expected_errors(&courses) {
        let prefix = format!("{}:{line}: ", file.display());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(msg)),
            "falta «{prefix}…{msg}» en:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("curso-valido"),
        "el curso válido no debería dar errores:\n{stderr}"
    );

    // A folder with only the valid course passes.
    let good = root.path().join("solo-validos");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::rename(courses.join("curso-valido"), good.join("curso-valido")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aula"))
        .current_dir(root.path())
        .args(["import-courses", "--check"])
        .arg(&good)
        .arg("--media-dir")
        .arg(&media)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 curso(s) válidos, 0 error(es)."));
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct LessonRow {
    id: i64,
    key: String,
    title: String,
    position: i64,
    body_html: String,
    retired: bool,
}

async fn lesson_rows(app: &TestApp, slug: &str) -> Vec<LessonRow> {
    with_db!(&app.db, |p| sqlx::query_as::<_, LessonRow>(
        "SELECT l.id, l.key, l.title, l.position, l.body_html, l.retired FROM lessons l JOIN courses c ON c.id = l.course_id
         WHERE c.slug = $1 ORDER BY l.id"
    )
    .bind(slug)
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn imported_at(app: &TestApp, slug: &str) -> chrono::DateTime<chrono::Utc> {
    with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT imported_at FROM courses WHERE slug = $1"
    )
    .bind(slug)
    .fetch_one(p)
    .await)
    .unwrap()
}

fn lesson_id(rows: &[LessonRow], key: &str) -> i64 {
    rows.iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("lección {key}"))
        .id
}

#[tokio::test]
async fn reimporting_an_unchanged_course_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let courses = root.path().join("courses");
    write(
        &courses.join("curso-prueba/course.toml"),
        &course_toml("curso-prueba", "Curso de prueba", 100),
    );
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        write(
            &courses.join(format!("curso-prueba/lessons/0{i}-{k}.md")),
            &lesson_md(k, &format!("Lección {k}"), i as i64 + 1, "Texto."),
        );
    }
    let dir = courses.clone();
    let app = TestApp::spawn_with(move |c| c.courses_dir = dir).await;
    let before_rows = lesson_rows(&app, "curso-prueba").await;
    assert_eq!(before_rows.len(), 3);
    let before_at = imported_at(&app, "curso-prueba").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let parsed = load_dir(&courses, &app.config.media_dir);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let report = store(&app.db, &app.media, &parsed.courses).await.unwrap();
    assert_eq!(report.unchanged, ["curso-prueba"]);
    assert!(report.created.is_empty() && report.updated.is_empty());
    assert!(
        report
            .to_string()
            .contains("0 nuevos, 0 actualizados, 1 sin cambios"),
        "{report}"
    );
    assert_eq!(imported_at(&app, "curso-prueba").await, before_at);
    assert_eq!(lesson_rows(&app, "curso-prueba").await, before_rows);
}

#[tokio::test]
async fn reimporting_a_changed_course_keeps_progress_on_the_same_lessons_and_retires_removed_ones()
{
    let root = tempfile::tempdir().unwrap();
    let courses = root.path().join("courses");
    let c = courses.join("curso-prueba");
    write(
        &c.join("course.toml"),
        &course_toml("curso-prueba", "Curso de prueba", 100),
    );
    write(
        &c.join("lessons/01-a.md"),
        &lesson_md("leccion-a", "Lección A", 1, "Texto A."),
    );
    write(
        &c.join("lessons/02-b.md"),
        &lesson_md("leccion-b", "Lección B", 2, "Texto B."),
    );
    write(
        &c.join("lessons/03-c.md"),
        &lesson_md("leccion-c", "Lección C", 3, "Texto C original."),
    );
    write(
        &c.join("lessons/04-d.md"),
        &lesson_md("leccion-d", "Lección D", 4, "Texto D."),
    );
    let dir = courses.clone();
    let app = TestApp::spawn_with(move |cfg| cfg.courses_dir = dir).await;

    // A learner enrols and completes A and B through the site.
    let learner = app.learner("30222333").await;
    let class = app.class_of("curso-prueba").await;
    assert_eq!(
        learner
            .post(&format!("/comisiones/{class}/inscribirme"), &[])
            .await
            .status(),
        StatusCode::OK
    );
    for key in ["leccion-a", "leccion-b"] {
        let resp = learner
            .post(
                &format!("/cursos/curso-prueba/lecciones/{key}/completar"),
                &[],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "completar {key}");
    }
    let before = lesson_rows(&app, "curso-prueba").await;
    let (a, b, cc, d) = (
        lesson_id(&before, "leccion-a"),
        lesson_id(&before, "leccion-b"),
        lesson_id(&before, "leccion-c"),
        lesson_id(&before, "leccion-d"),
    );
    let person: i64 = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT id FROM persons WHERE dni = '30222333'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let progress_sql =
        "SELECT lesson_id FROM lesson_progress WHERE person_id = $1 ORDER BY lesson_id";
    let progress_before: Vec<i64> = with_db!(&app.db, |p| sqlx::query_scalar(progress_sql)
        .bind(person)
        .fetch_all(p)
        .await)
    .unwrap();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(progress_before, expected);
    // The lesson page keeps a course's lessons in process (per content hash): seen once here.
    let (_, html) = learner
        .get_text("/cursos/curso-prueba/lecciones/leccion-c")
        .await;
    assert!(html.contains("Texto C original.") && html.contains("Lección D"));

    // New version: B first, then A; C edited; D removed; E added (new file names too).
    std::fs::remove_dir_all(c.join("lessons")).unwrap();
    write(
        &c.join("lessons/01-b.md"),
        &lesson_md("leccion-b", "Lección B", 1, "Texto B."),
    );
    write(
        &c.join("lessons/02-a.md"),
        &lesson_md("leccion-a", "Lección A", 2, "Texto A."),
    );
    write(
        &c.join("lessons/03-c.md"),
        &lesson_md("leccion-c", "Lección C revisada", 3, "Texto C **nuevo**."),
    );
    write(
        &c.join("lessons/04-e.md"),
        &lesson_md("leccion-e", "Lección E", 4, "Texto E."),
    );
    let parsed = load_dir(&courses, &app.config.media_dir);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let report = store(&app.db, &app.media, &parsed.courses).await.unwrap();
    assert_eq!(report.updated, ["curso-prueba"]);
    assert!(report.created.is_empty() && report.unchanged.is_empty());

    let after = lesson_rows(&app, "curso-prueba").await;
    assert_eq!(after.len(), 5, "{after:#?}");
    let row = |key: &str| after.iter().find(|r| r.key == key).unwrap();
    assert_eq!(
        (
            row("leccion-a").id,
            row("leccion-b").id,
            row("leccion-c").id,
            row("leccion-d").id
        ),
        (a, b, cc, d)
    );
    assert!(row("leccion-b").position < row("leccion-a").position);
    assert_eq!(row("leccion-c").title, "Lección C revisada");
    assert!(
        row("leccion-c")
            .body_html
            .contains("<strong>nuevo</strong>")
    );
    assert!(row("leccion-d").retired, "la lección quitada se retira");
    assert!(!row("leccion-e").retired && !row("leccion-a").retired);
    let progress_after: Vec<i64> = with_db!(&app.db, |p| sqlx::query_scalar(progress_sql)
        .bind(person)
        .fetch_all(p)
        .await)
    .unwrap();
    assert_eq!(
        progress_after, expected,
        "el progreso debe seguir en las mismas lecciones"
    );

    // What the learner sees: new order, A and B done, D gone, 2 of 4.
    let (_, html) = learner.get_text("/cursos/curso-prueba").await;
    let programa = &html[html.find("id=\"programa\"").unwrap()..];
    let pos = |t: &str| programa.find(t).unwrap_or_else(|| panic!("falta «{t}»"));
    assert!(
        pos("Lección B") < pos("Lección A")
            && pos("Lección A") < pos("Lección C revisada")
            && pos("Lección C revisada") < pos("Lección E")
    );
    assert!(!programa.contains("Lección D"));
    assert!(
        html.contains("2 de 4 lecciones (50%)"),
        "avance tras reimportar"
    );
    // The lesson page shows the new text and outline at once (the import changed the hash).
    let (_, html) = learner
        .get_text("/cursos/curso-prueba/lecciones/leccion-c")
        .await;
    assert!(html.contains("Lección C revisada") && html.contains("<strong>nuevo</strong>"));
    assert!(!html.contains("Texto C original.") && !html.contains("Lección D"));
    assert!(html.contains("Lección E"), "{html}");
    assert_eq!(
        learner
            .get("/cursos/curso-prueba/lecciones/leccion-d")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// Every real tag (`<…>`) of an HTML fragment; escaped text (`&lt;…&gt;`) is not a tag.
fn real_tags(html: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map(|e| start + e + 1)
            .unwrap_or(rest.len());
        tags.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    tags
}

#[tokio::test]
async fn xss_payloads_in_a_lesson_are_inert_on_the_lesson_page() {
    let root = tempfile::tempdir().unwrap();
    let courses = root.path().join("courses");
    let c = courses.join("curso-xss");
    write(
        &c.join("course.toml"),
        &course_toml("curso-xss", "Curso con trampas", 100),
    );
    let body = "Texto seguro al principio.

<script>alert('script')</script>

<img src=x onerror=alert('img')>

[hacé clic](javascript:alert('link'))

<a href=\"JaVaScRiPt:alert('a')\">otro enlace</a>

<svg onload=alert('svg')><circle r=\"4\"/></svg>

<iframe src=\"https://evil.example/\"></iframe>

<p onclick=\"alert('p')\" style=\"background:url(javascript:alert(1))\">párrafo</p>

Texto seguro al final.";
    write(
        &c.join("lessons/01-trampas.md"),
        &lesson_md("trampas", "Trampas", 1, body),
    );
    let dir = courses.clone();
    let app = TestApp::spawn_with(move |cfg| {
        cfg.courses_dir = dir;
        cfg.media_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("media");
    })
    .await;
    let learner = app.learner("30333444").await;
    let class = app.class_of("curso-xss").await;
    assert_eq!(
        learner
            .post(&format!("/comisiones/{class}/inscribirme"), &[])
            .await
            .status(),
        StatusCode::OK
    );
    let (status, html) = learner
        .get_text("/cursos/curso-xss/lecciones/trampas")
        .await;
    assert_eq!(status, StatusCode::OK);
    let start = html
        .find("<article class=\"lesson-body stack\">")
        .expect("cuerpo de la lección");
    let end = start + html[start..].find("</article>").unwrap();
    let lesson = html[start..end].to_lowercase();
    assert!(
        lesson.contains("texto seguro al principio.") && lesson.contains("texto seguro al final."),
        "{lesson}"
    );
    assert!(
        lesson.contains("hacé clic") && lesson.contains("párrafo"),
        "el texto inocuo se conserva: {lesson}"
    );
    // Text that merely shows the payload (escaped as &lt;…&gt;) is harmless; real tags must be clean.
    let tags = real_tags(&lesson);
    assert!(
        tags.iter().any(|t| t.starts_with("<a ")),
        "los enlaces quedan como enlaces: {tags:?}"
    );
    for tag in &tags {
        for bad in ["<script", "<iframe", "<svg", "<img", "<object", "<embed"] {
            assert!(
                !tag.starts_with(bad),
                "etiqueta peligrosa {tag} en:\n{lesson}"
            );
        }
        for bad in [
            "onerror",
            "onload",
            "onclick",
            "javascript:",
            "style=",
            "href=\"javascript",
        ] {
            assert!(
                !tag.contains(bad),
                "atributo «{bad}» activo en {tag}:\n{lesson}"
            );
        }
    }
    assert!(
        !lesson.contains("javascript:"),
        "ningún «javascript:» en la lección:\n{lesson}"
    );
    assert!(
        !lesson.contains("alert('script')"),
        "el contenido del <script> no se muestra ni se ejecuta"
    );
    assert!(
        !html.to_lowercase().contains("<script"),
        "ningún <script> en la página"
    );
    let csp = learner
        .get("/cursos/curso-xss/lecciones/trampas")
        .await
        .headers()
        .get("content-security-policy")
        .cloned();
    assert!(csp.is_some_and(|v| v.to_str().unwrap().contains("script-src 'self'")));
}

// ---------------------------------------------------------------------------------------
// Admin class form
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_class_form_is_422_with_messages_at_the_fields_and_input_kept() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let before = classes_count(&app).await;
    let course = course_id(&app, "atencion-al-cliente").await;
    let mut form = class_form(course, "Comisión de prueba — Lules", 0, None);
    set(&mut form, "starts_on", &date_in(30));
    set(&mut form, "ends_on", &date_in(20));
    set(&mut form, "enrol_opens_at", &local_in(5));
    set(&mut form, "enrol_closes_at", &local_in(2));
    let resp = admin.post("/admin/comisiones/nueva", &form).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    for (field, msg) in [
        (
            "ends_on",
            "La fecha de fin no puede ser anterior al inicio.",
        ),
        ("seats", "Los cupos son un número entre 1 y 10000."),
        (
            "enrol_closes_at",
            "La inscripción tiene que cerrar después de abrir.",
        ),
    ] {
        assert!(
            html.contains(&format!(
                "<p class=\"field-error\" id=\"{field}-error\">{msg}</p>"
            )),
            "mensaje en {field}"
        );
        assert!(
            html.contains(&format!("id=\"{field}\" name=\"{field}\"")),
            "campo {field}"
        );
    }
    assert!(html.contains("Revisá los 3 datos marcados"));
    // The user's input is kept.
    assert!(html.contains("value=\"Comisión de prueba — Lules\""));
    assert!(html.contains(&format!("value=\"{}\"", date_in(30))));
    assert!(html.contains(&format!("value=\"{}\"", date_in(20))));
    assert!(html.contains(&format!("value=\"{}\"", local_in(5))));
    assert!(html.contains("name=\"seats\" type=\"number\" value=\"0\""));
    assert!(html.contains(&format!(
        "<option value=\"{course}\" selected>{ATENCION}</option>"
    )));
    assert_eq!(
        classes_count(&app).await,
        before,
        "no se crea ninguna comisión"
    );

    // Missing fields too.
    let resp = admin
        .post("/admin/comisiones/nueva", &[("name", String::new())])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("id=\"course_id-error\">Elegí el curso.</p>"));
    assert!(html.contains("id=\"name-error\">"));
    assert_eq!(classes_count(&app).await, before);

    // Fixed, the same form creates the class.
    let resp = admin
        .post(
            "/admin/comisiones/nueva",
            &class_form(course, "Comisión de prueba — Lules", 12, None),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().path(), "/admin/comisiones");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Comisión creada."));
    assert!(html.contains("Comisión de prueba — Lules"));
    assert_eq!(classes_count(&app).await, before + 1);
    let seats: i64 = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT seats FROM classes WHERE name = $1"
    )
    .bind("Comisión de prueba — Lules")
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(seats, 12);
}

#[tokio::test]
async fn class_seats_cannot_drop_below_seats_taken_and_raising_them_promotes_the_waitlist() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let course = course_id(&app, "herramientas-digitales-empleo").await;
    let resp = admin
        .post(
            "/admin/comisiones/nueva",
            &class_form(course, "Comisión chica", 2, None),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let class: i64 = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT id FROM classes WHERE name = 'Comisión chica'"
    )
    .fetch_one(p)
    .await)
    .unwrap();

    let dnis = ["30444001", "30444002", "30444003"];
    for dni in dnis {
        let b = app.learner(dni).await;
        assert_eq!(
            b.post(&format!("/comisiones/{class}/inscribirme"), &[])
                .await
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.enrolment_status(class, dnis[0]).await, "confirmed");
    assert_eq!(app.enrolment_status(class, dnis[1]).await, "confirmed");
    assert_eq!(app.enrolment_status(class, dnis[2]).await, "waitlisted");

    // Edit form shows current values.
    let (status, html) = admin.get_text(&format!("/admin/comisiones/{class}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("value=\"Comisión chica\""));

    // Lowering below the two seats taken is refused at the seats field.
    let resp = admin
        .post(
            &format!("/admin/comisiones/{class}"),
            &class_form(course, "Comisión chica", 1, None),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains(
        "<p class=\"field-error\" id=\"seats-error\">No podés bajar los cupos por debajo de las personas ya inscriptas.</p>"
    ));
    assert!(html.contains("name=\"seats\" type=\"number\" value=\"1\""));
    assert_eq!(
        app.scalar_i64("SELECT seats FROM classes WHERE id = $1", class)
            .await,
        2
    );
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        2
    );

    // Raising to three seats moves the third person in at once.
    let resp = admin
        .post(
            &format!("/admin/comisiones/{class}"),
            &class_form(course, "Comisión chica", 3, None),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().path(), "/admin/comisiones");
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("1 persona(s) pasaron de la lista de espera.")
    );
    assert_eq!(app.enrolment_status(class, dnis[2]).await, "confirmed");
    assert_eq!(
        app.scalar_i64("SELECT seats FROM classes WHERE id = $1", class)
            .await,
        3
    );
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        3
    );
}

// ---------------------------------------------------------------------------------------
// Admin area is invisible to others
// ---------------------------------------------------------------------------------------

const ADMIN_PAGES: [&str; 7] = [
    "/admin",
    "/admin/comisiones",
    "/admin/comisiones/nueva",
    "/admin/comisiones/1",
    "/admin/oficinas",
    "/admin/instituciones",
    "/admin/roles",
];

#[tokio::test]
async fn admin_pages_are_404_for_learners() {
    let app = TestApp::spawn().await;
    let learner = app.learner("30555666").await;
    for path in ADMIN_PAGES {
        let (status, html) = learner.get_text(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("Página no encontrada"), "{path}");
    }
    // Posting does nothing either.
    let classes = classes_count(&app).await;
    let course = course_id(&app, "atencion-al-cliente").await;
    assert_eq!(
        learner
            .post(
                "/admin/comisiones/nueva",
                &class_form(course, "Intrusa", 5, None)
            )
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(classes_count(&app).await, classes);
    let resp = learner
        .post(
            "/admin/roles",
            &[
                ("dni", "30555666".into()),
                ("role", "admin".into()),
                ("scope", String::new()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM role_grants g JOIN users u ON u.id = g.user_id JOIN persons p ON p.id = u.person_id WHERE p.dni = '30555666'").await, 0);
    // Control: the admin does see them.
    let admin = app.admin().await;
    for path in ADMIN_PAGES {
        assert_eq!(
            admin.get(path).await.status(),
            StatusCode::OK,
            "admin {path}"
        );
    }
}

#[tokio::test]
async fn admin_pages_send_anonymous_visitors_to_login() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let client = b.no_redirects();
    for path in ADMIN_PAGES {
        let resp = client.get(b.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        let location = resp
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            location,
            format!("/ingresar?siguiente={}", enc(path)),
            "{path}"
        );
        // Following it lands on the login form.
        let (status, html) = b.get_text(path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("name=\"identifier\""), "{path}");
    }
}

#[tokio::test]
async fn admin_reimports_courses_from_the_files_with_one_button() {
    let root = tempfile::tempdir().unwrap();
    let courses = root.path().join("courses");
    write(
        &courses.join("curso-prueba/course.toml"),
        &course_toml("curso-prueba", "Curso de prueba", 100),
    );
    write(
        &courses.join("curso-prueba/lessons/01-a.md"),
        &lesson_md("a", "Lección original", 1, "Texto."),
    );
    let dir = courses.clone();
    let app = TestApp::spawn_with(move |c| c.courses_dir = dir).await;
    let admin = app.admin().await;

    // Nothing changed: nothing is rewritten.
    let html = admin
        .post("/admin/cursos/importar", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("0 nuevos, 0 actualizados, 1 sin cambios"),
        "{html}"
    );

    // An edited lesson shows after pressing the button.
    write(
        &courses.join("curso-prueba/lessons/01-a.md"),
        &lesson_md("a", "Lección corregida", 1, "Texto."),
    );
    let html = admin
        .post("/admin/cursos/importar", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("0 nuevos, 1 actualizados, 0 sin cambios"),
        "{html}"
    );
    let (_, page) = admin.get_text("/cursos/curso-prueba").await;
    assert!(page.contains("Lección corregida") && !page.contains("Lección original"));

    // A broken course is reported with its file and line, and the rest still imports.
    write(
        &courses.join("roto/course.toml"),
        "slug = \"roto\"\nmodality = 3\n",
    );
    write(
        &courses.join("otro/course.toml"),
        &course_toml("otro", "Otro curso", 100),
    );
    write(
        &courses.join("otro/lessons/01-x.md"),
        &lesson_md("x", "Lección X", 1, "Texto."),
    );
    let resp = admin.post("/admin/cursos/importar", &[]).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("roto") && html.contains("course.toml:"),
        "{html}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM courses WHERE slug = 'roto'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM courses WHERE slug = 'otro'")
            .await,
        1
    );

    // Learners cannot press it.
    let learner = app.learner("30555666").await;
    assert_eq!(
        learner.post("/admin/cursos/importar", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn catalogue_says_enrolment_is_open_only_while_a_window_is_open() {
    let app = TestApp::spawn().await;
    let open_badges = |html: &str| html.matches("Inscripción abierta").count();
    let (_, html) = app.browser().get_text("/cursos").await;
    assert_eq!(open_badges(&html), 3);
    // Atención's only class opens next week: not open yet.
    let class = app.class_of("atencion-al-cliente").await;
    let next_week = chrono::Utc::now() + chrono::Duration::days(7);
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET enrol_opens_at = $1 WHERE id = $2"
    )
    .bind(next_week)
    .bind(class)
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    let (_, html) = app.browser().get_text("/cursos").await;
    assert_eq!(open_badges(&html), 2, "{html}");
}

#[tokio::test]
async fn a_very_long_search_is_cut_instead_of_failing() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let (status, html) = b
        .get_text(&format!("/cursos?q={}", "a".repeat(60_000)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>"), "{html}");
    // Control characters in any filter are dropped, not handed to the database.
    for query in ["q=atenci%00%07", "categoria=%00", "modalidad=virtual%00"] {
        let (status, _) = b.get_text(&format!("/cursos?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
    }
}

#[tokio::test]
async fn paths_with_control_characters_are_404_anywhere() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    for path in [
        "/cursos/atencion-al-cliente%00",
        "/cursos/%0a",
        "/cursos/atencion-al-cliente/lecciones/x%00y",
        "/cursos/atencion-al-cliente/evaluaciones/%00",
        "/recuperar/abc%00",
    ] {
        let resp = b.get(path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            resp.text().await.unwrap().contains("Página no encontrada"),
            "{path}"
        );
    }
}
