//! Media: course media published under content addresses, downloads (ranges, validators,
//! presigned redirects, access control), uploads (dedup, type by content, limits, multipart,
//! interruption), renditions with ffmpeg and what lesson pages show and fetch.
//!
//! The suite runs on the local store, and on a real S3-compatible server with
//! `AULA_TEST_MEDIA=s3 AULA_TEST_S3=http://127.0.0.1:PORT` (`.ci/run` starts moto's server
//! for it): every app then keeps its media in a fresh bucket.

use crate::helpers::*;

use std::{path::Path, time::Duration};

use aula::{media::objects, with_db};
use reqwest::{StatusCode, cookie::CookieStore, header};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VIDEO: &str = "atencion-al-cliente/saludo.mp4";
const SVG: &str = "atencion-al-cliente/portada.svg";

fn source_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("media")
            .join(rel),
    )
    .expect("archivo de prueba")
}

fn sha256_hex(bytes: &[u8]) -> String {
    objects::hex(&Sha256::digest(bytes))
}

/// Where the importer published a file of `media/`: its content address.
fn published_url(rel: &str) -> String {
    let bytes = source_bytes(rel);
    let ext = rel.rsplit('.').next().unwrap();
    format!("/media/{}", objects::content_key(&sha256_hex(&bytes), ext))
}

fn header_str(resp: &reqwest::Response, name: header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn get_with(
    app: &TestApp,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> reqwest::Response {
    let mut req = app.browser().client.get(format!("{}{path}", app.base));
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    req.send().await.unwrap()
}

async fn get_range(app: &TestApp, path: &str, range: &str) -> reqwest::Response {
    get_with(app, path, &[(header::RANGE, range)]).await
}

/// Sends a request line exactly as written (no URL normalisation) and returns the status.
async fn raw_status(app: &TestApp, path: &str) -> u16 {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let status_line = text.lines().next().unwrap_or_default().to_string();
    status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("respuesta rara: {status_line:?}"))
}

async fn objects_count(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM media_objects").await
}

/// Every key in the store (S3: unfinished multipart uploads too).
async fn store_keys(app: &TestApp, prefix: &str) -> Vec<String> {
    app.media.storage.list(prefix).await.unwrap()
}

// ---------------------------------------------------------------------------------------
// Downloads
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn whole_video_is_served_byte_exact_from_its_content_address_with_validators() {
    let app = TestApp::spawn().await;
    let disk = source_bytes(VIDEO);
    let resp = app.browser().get(&published_url(VIDEO)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_str(&resp, header::ACCEPT_RANGES).as_deref(),
        Some("bytes")
    );
    assert_eq!(
        header_str(&resp, header::CONTENT_TYPE).as_deref(),
        Some("video/mp4")
    );
    assert_eq!(
        header_str(&resp, header::CONTENT_LENGTH),
        Some(disk.len().to_string())
    );
    assert_eq!(
        header_str(&resp, header::ETAG),
        Some(format!("\"{}\"", sha256_hex(&disk)))
    );
    assert!(header_str(&resp, header::LAST_MODIFIED).is_some_and(|v| v.ends_with(" GMT")));
    // The address changes with the content, so it may be cached forever.
    assert_eq!(
        header_str(&resp, header::CACHE_CONTROL).as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let body = resp.bytes().await.unwrap();
    assert!(
        body.as_ref() == disk.as_slice(),
        "el video servido difiere del archivo"
    );
    // The source path is not an address: only published objects are served.
    assert_eq!(
        app.browser().get(&format!("/media/{VIDEO}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn first_hundred_bytes_range_returns_206_with_exactly_those_bytes() {
    let app = TestApp::spawn().await;
    let disk = source_bytes(VIDEO);
    let resp = get_range(&app, &published_url(VIDEO), "bytes=0-99").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_str(&resp, header::CONTENT_RANGE),
        Some(format!("bytes 0-99/{}", disk.len()))
    );
    assert_eq!(
        header_str(&resp, header::CONTENT_LENGTH).as_deref(),
        Some("100")
    );
    assert_eq!(
        header_str(&resp, header::CONTENT_TYPE).as_deref(),
        Some("video/mp4")
    );
    assert!(header_str(&resp, header::ETAG).is_some());
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.as_ref(), &disk[..100]);
}

#[tokio::test]
async fn suffix_and_open_ended_ranges_return_the_right_bytes() {
    let app = TestApp::spawn().await;
    let disk = source_bytes(VIDEO);
    let len = disk.len();
    let url = published_url(VIDEO);
    let resp = get_range(&app, &url, "bytes=-10").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_str(&resp, header::CONTENT_RANGE),
        Some(format!("bytes {}-{}/{len}", len - 10, len - 1))
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &disk[len - 10..]);

    let resp = get_range(&app, &url, "bytes=100-").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_str(&resp, header::CONTENT_RANGE),
        Some(format!("bytes 100-{}/{len}", len - 1))
    );
    assert_eq!(
        header_str(&resp, header::CONTENT_LENGTH),
        Some((len - 100).to_string())
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &disk[100..]);
}

#[tokio::test]
async fn unsatisfiable_or_malformed_ranges_are_416_with_the_total_length() {
    let app = TestApp::spawn().await;
    let len = source_bytes(VIDEO).len();
    let url = published_url(VIDEO);
    let beyond = format!("bytes={}-{}", len + 10, len + 20);
    for bad in [beyond.as_str(), "bytes=abc", "bytes=50-10", "items=0-10"] {
        let resp = get_range(&app, &url, bad).await;
        assert_eq!(
            resp.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "Range: {bad}"
        );
        assert_eq!(
            header_str(&resp, header::CONTENT_RANGE),
            Some(format!("bytes */{len}")),
            "Range: {bad}"
        );
    }
}

#[tokio::test]
async fn validators_answer_304_and_a_stale_if_range_gets_the_whole_object() {
    let app = TestApp::spawn().await;
    let disk = source_bytes(VIDEO);
    let url = published_url(VIDEO);
    let etag = format!("\"{}\"", sha256_hex(&disk));
    let resp = get_with(&app, &url, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert!(resp.bytes().await.unwrap().is_empty());
    let list = format!("\"otra\", W/{etag}");
    let resp = get_with(&app, &url, &[(header::IF_NONE_MATCH, &list)]).await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    // A different validator: the object is sent.
    let resp = get_with(&app, &url, &[(header::IF_NONE_MATCH, "\"otra\"")]).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // If-Range with the current ETag: the range; with a stale one: everything.
    let resp = get_with(
        &app,
        &url,
        &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, &etag)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &disk[..10]);
    let resp = get_with(
        &app,
        &url,
        &[
            (header::RANGE, "bytes=0-9"),
            (header::IF_RANGE, "\"vieja\""),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().len(), disk.len());
}

#[tokio::test]
async fn media_is_never_compressed_even_when_the_client_accepts_gzip() {
    let app = TestApp::spawn().await;
    let client = app.browser().client;
    // Control: an ordinary page is compressed for the same client, so the check below means something.
    let page = client
        .get(format!("{}/cursos", app.base))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header_str(&page, header::CONTENT_ENCODING).as_deref(),
        Some("gzip")
    );
    for (rel, range) in [(VIDEO, None), (VIDEO, Some("bytes=1000-1999")), (SVG, None)] {
        let disk = source_bytes(rel);
        let mut req = client
            .get(format!("{}{}", app.base, published_url(rel)))
            .header(header::ACCEPT_ENCODING, "gzip");
        if let Some(r) = range {
            req = req.header(header::RANGE, r);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{rel}");
        assert_eq!(header_str(&resp, header::CONTENT_ENCODING), None, "{rel}");
        let body = resp.bytes().await.unwrap();
        let want = if range.is_some() {
            &disk[1000..2000]
        } else {
            &disk[..]
        };
        assert!(body.as_ref() == want, "{rel} {range:?}");
    }
}

#[tokio::test]
async fn path_traversal_hidden_files_and_unrecorded_keys_are_404() {
    let app = TestApp::spawn().await;
    // Objects in the store without a row (a temporary upload, an orphan) are never served.
    for key in ["tmp/subida-a-medias", "o/aa/secreto.txt"] {
        let body: aula::media::storage::BodyStream<'static> =
            Box::pin(futures_util::stream::once(async {
                Ok(bytes::Bytes::from_static(b"secreto"))
            }));
        app.media
            .storage
            .put(key, body, "text/plain")
            .await
            .unwrap();
    }
    // Control: a published object is served.
    assert_eq!(raw_status(&app, &published_url(SVG)).await, 200);
    for path in [
        "/media/tmp/subida-a-medias",
        "/media/o/aa/secreto.txt",
        "/media/../Cargo.toml",
        "/media/%2e%2e/Cargo.toml",
        "/media/..%2fCargo.toml",
        "/media/o/../../Cargo.toml",
        "/media/o/%2e%2e/%2e%2e/Cargo.toml",
        "/media/.hidden",
        "/media/%2ehidden",
        "/media//etc/passwd",
    ] {
        assert_eq!(raw_status(&app, path).await, 404, "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// Course media: content addresses
// ---------------------------------------------------------------------------------------

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A course whose lesson shows an image and links a PDF from `media`.
fn course_with_media(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let courses = root.join("courses");
    let media = root.join("media");
    write(
        &media.join("curso-medios/mapa.svg"),
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"1\" height=\"1\"/></svg>",
    );
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'x', 300 * 1024));
    write(&media.join("curso-medios/guia.pdf"), &pdf);
    write(
        &courses.join("curso-medios/course.toml"),
        b"slug = \"curso-medios\"\ntitle = \"Curso con medios\"\nsummary = \"Prueba.\"\n\
category = \"Pruebas\"\nhours = 2\nmodality = \"virtual\"\naudience = \"Quien prueba.\"\n\n\
[[competencies]]\ncode = \"M-1\"\nname = \"Mira mapas\"\n\n[completion]\nmin_lessons_percent = 100\n",
    );
    write(
        &courses.join("curso-medios/lessons/01-mapa.md"),
        "+++\nid = \"mapa\"\ntitle = \"El mapa\"\norder = 1\nminutes = 5\n+++\n\
![El mapa](/media/curso-medios/mapa.svg)\n\nBajá [la guía](/media/curso-medios/guia.pdf).\n"
            .as_bytes(),
    );
    (courses, media)
}

async fn lesson_html(app: &TestApp, key: &str) -> String {
    with_db!(&app.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT body_html FROM lessons WHERE key = $1"
    )
    .bind(key)
    .fetch_one(p)
    .await)
    .unwrap()
}

#[tokio::test]
async fn imported_lessons_point_at_content_addresses_and_unchanged_files_are_not_uploaded_again() {
    use aula::courses::{load_dir, store};
    let root = tempfile::tempdir().unwrap();
    let (courses, media) = course_with_media(root.path());
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let parsed = load_dir(&courses, &media);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    store(&app.db, &app.media, &parsed.courses).await.unwrap();

    let svg = std::fs::read(media.join("curso-medios/mapa.svg")).unwrap();
    let svg_key = objects::content_key(&sha256_hex(&svg), "svg");
    let pdf = std::fs::read(media.join("curso-medios/guia.pdf")).unwrap();
    let pdf_key = objects::content_key(&sha256_hex(&pdf), "pdf");
    let html = lesson_html(&app, "mapa").await;
    assert!(
        html.contains(&format!("src=\"/media/{svg_key}\"")),
        "{html}"
    );
    // The download link says what it costs before anyone follows it.
    assert!(
        html.contains(&format!("href=\"/media/{pdf_key}\""))
            && html.contains("</a> (PDF · 300 KB)"),
        "{html}"
    );
    let resp = app.browser().get(&format!("/media/{pdf_key}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // Importing again uploads nothing: the stored object keeps its time.
    let before = app.media.storage.head(&svg_key).await.unwrap().unwrap();
    let rows = objects_count(&app).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let parsed = load_dir(&courses, &media);
    let report = store(&app.db, &app.media, &parsed.courses).await.unwrap();
    assert_eq!(report.unchanged, ["curso-medios"]);
    let after = app.media.storage.head(&svg_key).await.unwrap().unwrap();
    assert_eq!(
        before.modified, after.modified,
        "el archivo se volvió a subir"
    );
    assert_eq!(objects_count(&app).await, rows);

    // A changed image gets a new address, and the lesson follows it even though its text
    // did not change; the old address keeps serving the old bytes (caches never go stale).
    let new_svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><circle r=\"1\"/></svg>";
    write(&media.join("curso-medios/mapa.svg"), new_svg);
    let parsed = load_dir(&courses, &media);
    let report = store(&app.db, &app.media, &parsed.courses).await.unwrap();
    assert_eq!(report.updated, ["curso-medios"]);
    let new_key = objects::content_key(&sha256_hex(new_svg), "svg");
    let html = lesson_html(&app, "mapa").await;
    assert!(
        html.contains(&format!("src=\"/media/{new_key}\"")),
        "{html}"
    );
    assert!(!html.contains(&svg_key), "{html}");
    let old = app.browser().get(&format!("/media/{svg_key}")).await;
    assert_eq!(old.bytes().await.unwrap().as_ref(), svg.as_slice());
}

#[tokio::test]
async fn a_lesson_link_to_a_missing_media_file_is_an_import_error_with_its_line() {
    let root = tempfile::tempdir().unwrap();
    let (courses, media) = course_with_media(root.path());
    std::fs::remove_file(media.join("curso-medios/guia.pdf")).unwrap();
    let parsed = aula::courses::load_dir(&courses, &media);
    let errors: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
    assert!(
        errors.iter().any(|e| e.contains("01-mapa.md:9:")
            && e.contains("«/media/curso-medios/guia.pdf» del enlace no existe")),
        "{errors:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The lesson page
// ---------------------------------------------------------------------------------------

async fn enrolled_learner(app: &TestApp, dni: &str, course: &str) -> Browser {
    let b = app.learner(dni).await;
    let class = app.class_of(course).await;
    let r = b
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    b
}

#[tokio::test]
async fn lesson_video_fetches_nothing_before_play_and_states_its_cost() {
    let app = TestApp::spawn().await;
    let b = enrolled_learner(&app, "30111222", "atencion-al-cliente").await;
    let (status, html) = b
        .get_text("/cursos/atencion-al-cliente/lecciones/comunicacion-efectiva")
        .await;
    assert_eq!(status, StatusCode::OK);
    let url = published_url(VIDEO);
    assert!(html.contains("preload=\"none\""), "{html}");
    assert!(!html.contains("preload=\"metadata\"") && !html.contains("autoplay"));
    assert!(
        html.contains(&format!("<source src=\"{url}\" type=\"video/mp4\">")),
        "{html}"
    );
    // Without renditions (no ffmpeg in this app) the original's size is the cost.
    assert!(html.contains("Video · 116 KB"), "{html}");
    assert!(
        html.contains(&format!("<a href=\"{url}\" download>video (116 KB)</a>")),
        "{html}"
    );
    assert!(html.contains("/static/media."), "{html}");
}

// ---------------------------------------------------------------------------------------
// Uploads
// ---------------------------------------------------------------------------------------

/// A multipart form as the admin's media page sends it (token first, then the file).
fn form(csrf: &str, name: &str, bytes: Vec<u8>, public: bool) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("csrf", csrf.to_string())
        .text("visibilidad", if public { "publico" } else { "privado" })
        .part(
            "archivo",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        )
}

async fn upload(b: &Browser, name: &str, bytes: Vec<u8>, public: bool) -> (StatusCode, String) {
    let csrf = b.csrf().await;
    let resp = b
        .client
        .post(b.url("/admin/medios/subir"))
        .multipart(form(&csrf, name, bytes, public))
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

fn pdf_bytes(n: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    v.extend((0..n).map(|i| (i % 251) as u8));
    v
}

async fn object_by_name(app: &TestApp, name: &str) -> Option<objects::MediaObject> {
    let key: Option<String> = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT key FROM media_objects WHERE original_name = $1"
    )
    .bind(name)
    .fetch_optional(p)
    .await)
    .unwrap();
    match key {
        Some(k) => objects::by_key(&app.db, &k).await.unwrap(),
        None => None,
    }
}

#[tokio::test]
async fn the_same_bytes_uploaded_twice_are_one_object() {
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let admin = app.admin().await;
    let bytes = pdf_bytes(50_000);
    let (status, html) = upload(&admin, "Guía 1.pdf", bytes.clone(), true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Guardamos «Guía 1.pdf» (49 KB)."), "{html}");
    let (status, _) = upload(&admin, "copia.pdf", bytes.clone(), true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(objects_count(&app).await, 1);
    let key = objects::content_key(&sha256_hex(&bytes), "pdf");
    assert_eq!(
        store_keys(&app, "").await,
        std::slice::from_ref(&key),
        "un solo objeto, nada temporal"
    );
    let resp = app.browser().get(&format!("/media/{key}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_str(&resp, header::CONTENT_DISPOSITION).as_deref(),
        Some("inline; filename=\"Gu_a 1.pdf\"; filename*=UTF-8''Gu%C3%ADa%201.pdf")
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn an_exe_renamed_pdf_is_refused_by_its_content_and_leaves_nothing() {
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let admin = app.admin().await;
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8".to_vec();
    exe.extend(std::iter::repeat_n(0u8, 100_000));
    let (status, html) = upload(&admin, "programa.pdf", exe, false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("«programa.pdf» no es un archivo que se pueda subir acá: por su contenido es un programa de Windows (.exe)."),
        "{html}"
    );
    assert!(html.contains("id=\"archivo-error\""), "{html}");
    assert_eq!(objects_count(&app).await, 0);
    assert!(store_keys(&app, "").await.is_empty());
    // A name without a file and an empty file get their own messages.
    let (status, html) = upload(&admin, "vacio.pdf", Vec::new(), false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("El archivo está vacío."), "{html}");
}

#[tokio::test]
async fn an_upload_over_its_kinds_limit_is_refused_with_the_limit_and_leaves_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.demo = false;
        c.media.limits.image_mb = 1;
    })
    .await;
    let admin = app.admin().await;
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    png.extend((0..1_600_000).map(|i| (i % 253) as u8));
    let (status, html) = upload(&admin, "foto.png", png, false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("El archivo es demasiado grande: para imágenes el máximo es 1,0 MB."),
        "{html}"
    );
    assert_eq!(objects_count(&app).await, 0);
    assert!(
        store_keys(&app, "").await.is_empty(),
        "{:?}",
        store_keys(&app, "").await
    );
}

#[tokio::test]
async fn an_upload_without_the_form_token_or_by_a_non_admin_is_refused() {
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let admin = app.admin().await;
    let resp = admin
        .client
        .post(admin.url("/admin/medios/subir"))
        .multipart(form("token-falso", "a.pdf", pdf_bytes(10), false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let learner = app.learner("30222333").await;
    let csrf = learner.csrf().await;
    let resp = learner
        .client
        .post(learner.url("/admin/medios/subir"))
        .multipart(form(&csrf, "a.pdf", pdf_bytes(10), false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(objects_count(&app).await, 0);
}

#[tokio::test]
async fn a_private_upload_is_404_for_everyone_but_its_owner() {
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let admin = app.admin().await;
    let bytes = pdf_bytes(20_000);
    let (status, _) = upload(&admin, "notas.pdf", bytes.clone(), false).await;
    assert_eq!(status, StatusCode::OK);
    let object = object_by_name(&app, "notas.pdf").await.unwrap();
    assert_eq!(object.visibility, objects::Visibility::Private);
    let url = object.url();
    let mine = admin.get(&url).await;
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(
        header_str(&mine, header::CACHE_CONTROL).as_deref(),
        Some("private, no-cache")
    );
    assert_eq!(mine.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let learner = app.learner("30333444").await;
    assert_eq!(learner.get(&url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.browser().get(&url).await.status(),
        StatusCode::NOT_FOUND
    );
    let ranged = get_range(&app, &url, "bytes=0-9").await;
    assert_eq!(ranged.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_upload_larger_than_a_part_is_stored_and_served_byte_exact() {
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let admin = app.admin().await;
    // A real MP4 head, padded past two 5 MiB parts.
    let mut video = source_bytes(VIDEO);
    video.extend((0..11 * 1024 * 1024).map(|i: usize| (i.wrapping_mul(31) % 256) as u8));
    let (status, html) = upload(&admin, "clase grabada.mp4", video.clone(), true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let key = objects::content_key(&sha256_hex(&video), "mp4");
    let meta = app.media.storage.head(&key).await.unwrap().unwrap();
    assert_eq!(meta.len, video.len() as u64);
    if app.media.storage.backend().starts_with("S3") {
        // The upload reached its address by a copy, which hides how it went up; the store
        // itself shows that a put of this size goes in 5 MiB parts (S3 names a multipart
        // object's ETag after its part count).
        let body: aula::media::storage::BodyStream<'static> = Box::pin(futures_util::stream::iter(
            video
                .chunks(64 * 1024)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        ));
        app.media
            .storage
            .put("prueba/partes.mp4", body, "video/mp4")
            .await
            .unwrap();
        let parts = app
            .media
            .storage
            .head("prueba/partes.mp4")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(parts.len, video.len() as u64);
        assert!(
            parts
                .etag
                .as_deref()
                .is_some_and(|e| e.trim_matches('"').ends_with("-3")),
            "{parts:?}"
        );
    }
    let url = format!("/media/{key}");
    let whole = app.browser().get(&url).await.bytes().await.unwrap();
    assert!(
        whole.as_ref() == video.as_slice(),
        "el video servido difiere"
    );
    // A range across the first part boundary.
    let boundary = 5 * 1024 * 1024;
    let range = format!("bytes={}-{}", boundary - 10, boundary + 9);
    let part = get_range(&app, &url, &range).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.bytes().await.unwrap().as_ref(),
        &video[boundary - 10..boundary + 10]
    );
    assert_eq!(store_keys(&app, "tmp/").await, Vec::<String>::new());
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_no_object_and_no_row() {
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let admin = app.admin().await;
    let csrf = admin.csrf().await;
    let cookies = admin
        .jar
        .cookies(&app.base.parse().unwrap())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let boundary = "limite-de-prueba";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"archivo\"; filename=\"corte.mp4\"\r\n\
         Content-Type: video/mp4\r\n\r\n"
    );
    let promised = 50 * 1024 * 1024;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /admin/medios/subir HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookies}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {promised}\r\n\r\n{head}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&source_bytes(VIDEO)).await.unwrap();
    // Past one 5 MiB part, so S3 has a multipart upload going.
    let chunk = vec![7u8; 256 * 1024];
    for _ in 0..24 {
        stream.write_all(&chunk).await.unwrap();
    }
    stream.flush().await.unwrap();
    // The upload is under way in the store (a partial file, or an unfinished multipart upload).
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = store_keys(&app, "").await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!seen.is_empty(), "la subida no llegó al almacenamiento");
    drop(stream);
    let mut left = seen;
    for _ in 0..100 {
        left = store_keys(&app, "").await;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(left.is_empty(), "quedó en el almacenamiento: {left:?}");
    assert_eq!(objects_count(&app).await, 0);
    // The server is fine afterwards.
    let (status, _) = upload(&admin, "otra.pdf", pdf_bytes(100), false).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// S3 only: presigned redirects
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn with_presigning_downloads_redirect_to_a_short_lived_url_after_the_access_check() {
    let Some(endpoint) = s3::required_or_skip("presigned") else {
        return;
    };
    let bucket = s3::fresh_bucket(&endpoint).await;
    let app = TestApp::spawn_with(move |c| {
        c.media.s3 = bucket;
        c.media.presign_seconds = 120;
    })
    .await;
    let disk = source_bytes(VIDEO);
    let no_follow = app.browser().no_redirects();
    let resp = no_follow
        .get(format!("{}{}", app.base, published_url(VIDEO)))
        .header(header::RANGE, "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        header_str(&resp, header::CACHE_CONTROL).as_deref(),
        Some("private, no-store")
    );
    let location = header_str(&resp, header::LOCATION).unwrap();
    assert!(location.starts_with(&endpoint), "{location}");
    assert!(location.contains("X-Amz-Expires=120"), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    // The store answers the signed address, ranges included.
    let part = reqwest::Client::new()
        .get(&location)
        .header(header::RANGE, "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &disk[..100]);
    // A private object: others get 404, never a redirect.
    let admin = app.admin().await;
    let (status, _) = upload(&admin, "privado.pdf", pdf_bytes(1000), false).await;
    assert_eq!(status, StatusCode::OK);
    let url = object_by_name(&app, "privado.pdf").await.unwrap().url();
    let other = no_follow
        .get(format!("{}{url}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let owner = admin
        .no_redirects()
        .get(admin.url(&url))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), StatusCode::FOUND);
}

// ---------------------------------------------------------------------------------------
// aula media check
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn media_check_says_whether_the_store_is_writable() {
    let app = TestApp::spawn_with(|c| c.demo = false).await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aula"));
    cmd.args(["media", "check", "--data-dir"])
        .arg(&app.config.data_dir)
        .env("AULA_MEDIA_RENDITIONS", "0");
    for (k, v) in s3_env(&app) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("se puede escribir, leer y borrar"), "{text}");
    assert!(
        store_keys(&app, "tmp/").await.is_empty(),
        "la prueba quedó en el almacenamiento"
    );

    // An unreachable store: exit status 1 and why.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(["media", "check", "--data-dir"])
        .arg(&app.config.data_dir)
        .env("AULA_S3_BUCKET", "no-existe")
        .env("AULA_S3_ENDPOINT", "http://127.0.0.1:9")
        .env("AULA_S3_ACCESS_KEY", "x")
        .env("AULA_S3_SECRET_KEY", "y")
        .env("AULA_MEDIA_RENDITIONS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no se pudo escribir"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `AULA_S3_*` variables naming this app's bucket (none on the local store).
fn s3_env(app: &TestApp) -> Vec<(&'static str, String)> {
    let s3 = &app.config.media.s3;
    match (&s3.bucket, &s3.endpoint) {
        (Some(b), Some(e)) => vec![
            ("AULA_S3_BUCKET", b.clone()),
            ("AULA_S3_ENDPOINT", e.clone()),
            (
                "AULA_S3_ACCESS_KEY",
                s3.access_key.clone().unwrap_or_default(),
            ),
            (
                "AULA_S3_SECRET_KEY",
                s3.secret_key.clone().unwrap_or_default(),
            ),
            ("AULA_S3_PATH_STYLE", "1".into()),
        ],
        _ => vec![],
    }
}

// ---------------------------------------------------------------------------------------
// Renditions with ffmpeg
// ---------------------------------------------------------------------------------------

/// Whether ffmpeg can run here; without it the rendition tests skip, unless the run requires
/// them (`AULA_TEST_FFMPEG_REQUIRED=1`, set by `.ci/run`, which installs ffmpeg).
fn ffmpeg_or_skip(test: &str) -> bool {
    let found = aula::media::renditions::Tools::detect(None, None).is_some();
    if !found {
        assert!(
            std::env::var("AULA_TEST_FFMPEG_REQUIRED").as_deref() != Ok("1"),
            "{test}: AULA_TEST_FFMPEG_REQUIRED=1 pero ffmpeg/ffprobe no están instalados"
        );
        eprintln!("{test}: se omite (sin ffmpeg; apt-get install ffmpeg)");
    }
    found
}

/// A 4-second 720p clip with sound, at a bitrate no phone plan wants.
fn heavy_clip(dir: &Path) -> Vec<u8> {
    let out = dir.join("pesado.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=25:duration=4",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=4"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3M"])
        .args(["-c:a", "aac", "-b:a", "128k", "-shortest"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

async fn job_status(app: &TestApp, source_key: &str) -> Option<(String, Option<String>)> {
    with_db!(&app.db, |p| sqlx::query_as::<_, (String, Option<String>)>(
        "SELECT j.status, j.message FROM media_jobs j JOIN media_objects o ON o.id = j.source_id
         WHERE o.key = $1"
    )
    .bind(source_key)
    .fetch_optional(p)
    .await)
    .unwrap()
}

async fn wait_done(app: &TestApp, source_key: &str) {
    for _ in 0..600 {
        match job_status(app, source_key).await {
            Some((s, _)) if s == "done" => return,
            Some((s, m)) if s == "failed" => panic!("versiones de {source_key}: falló: {m:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!(
        "versiones de {source_key}: no terminaron: {:?}",
        job_status(app, source_key).await
    );
}

async fn rendition(app: &TestApp, source_key: &str, kind: &str) -> objects::MediaObject {
    let key: String = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT r.key FROM media_objects r JOIN media_objects o ON o.id = r.source_id
         WHERE o.key = $1 AND r.rendition = $2"
    )
    .bind(source_key)
    .bind(kind)
    .fetch_one(p)
    .await)
    .unwrap_or_else(|e| panic!("versión {kind} de {source_key}: {e}"));
    objects::by_key(&app.db, &key).await.unwrap().unwrap()
}

/// Downloads an object over HTTP into a file and asks ffprobe about it.
async fn probe_over_http(app: &TestApp, url: &str, dir: &Path) -> aula::media::renditions::Probe {
    let bytes = app.browser().get(url).await.bytes().await.unwrap();
    let file = dir.join(url.rsplit('/').next().unwrap());
    std::fs::write(&file, &bytes).unwrap();
    aula::media::renditions::probe(Path::new("ffprobe"), &file)
        .await
        .unwrap()
}

#[tokio::test]
async fn videos_get_a_light_rendition_an_audio_and_a_poster_and_the_lesson_shows_their_sizes() {
    if !ffmpeg_or_skip("renditions") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(|c| c.media.renditions = Some(true)).await;
    let admin = app.admin().await;
    let clip = heavy_clip(dir.path());
    let (status, html) = upload(&admin, "clase en 720p.mp4", clip.clone(), true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let clip_key = objects::content_key(&sha256_hex(&clip), "mp4");
    wait_done(&app, &clip_key).await;

    let light = rendition(&app, &clip_key, "light").await;
    assert_eq!(light.mime, "video/mp4");
    let p = probe_over_http(&app, &light.url(), dir.path()).await;
    assert_eq!((p.width, p.height), (Some(640), Some(360)), "{p:?}");
    assert!(p.has_audio, "{p:?}");
    let video_rate = p.video_bit_rate.unwrap();
    assert!(video_rate <= 330_000, "{p:?}");
    assert!(p.format_bit_rate.unwrap() <= 400_000, "{p:?}");
    assert!(
        (light.size as usize) < clip.len() / 4,
        "{} de {}",
        light.size,
        clip.len()
    );
    // faststart: the index comes before the media data, so playback starts while downloading.
    let head = app.browser().get(&light.url()).await.bytes().await.unwrap();
    let moov = head.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = head.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "moov {moov} después de mdat {mdat}");

    let audio = rendition(&app, &clip_key, "audio").await;
    let a = probe_over_http(&app, &audio.url(), dir.path()).await;
    assert!(a.has_audio && !a.has_video, "{a:?}");
    assert!(a.format_bit_rate.unwrap() <= 64_000, "{a:?}");
    let poster = rendition(&app, &clip_key, "poster").await;
    assert_eq!(poster.mime, "image/jpeg");
    let resp = app.browser().get(&poster.url()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(&resp.bytes().await.unwrap()[..2], b"\xff\xd8");

    // The admin sees the state and the measured length.
    let (_, page) = admin.get_text("/admin/medios").await;
    assert!(page.contains("Versiones livianas: listas"), "{page}");
    assert!(page.contains("video · 4 s"), "{page}");

    // A lesson's video (the demo clip, imported on start) plays light first, with its poster
    // and every option's cost.
    let source_key = published_url(VIDEO)
        .trim_start_matches("/media/")
        .to_string();
    wait_done(&app, &source_key).await;
    let light = rendition(&app, &source_key, "light").await;
    let audio = rendition(&app, &source_key, "audio").await;
    let poster = rendition(&app, &source_key, "poster").await;
    let fmt = |o: &objects::MediaObject| aula::media::view::format_size(o.size as u64);
    let b = enrolled_learner(&app, "30444555", "atencion-al-cliente").await;
    let (_, html) = b
        .get_text("/cursos/atencion-al-cliente/lecciones/comunicacion-efectiva")
        .await;
    let cost = format!(
        "Video 17 s · liviano {} · alta 116 KB · solo audio {}",
        fmt(&light),
        fmt(&audio)
    );
    assert!(html.contains(&cost), "{cost} en {html}");
    assert!(
        html.contains(&format!("poster=\"{}\"", poster.url())),
        "{html}"
    );
    let light_at = html
        .find(&format!("<source src=\"{}\"", light.url()))
        .unwrap();
    let original_at = html
        .find(&format!("<source src=\"{}\"", published_url(VIDEO)))
        .unwrap();
    assert!(light_at < original_at, "la versión liviana va primero");
    assert!(html.contains("preload=\"none\""));
    assert!(
        html.contains(&format!("value=\"audio\" data-src=\"{}\"", audio.url())),
        "{html}"
    );
}

#[tokio::test]
async fn a_job_whose_process_died_is_taken_over_and_a_live_claim_is_left_alone() {
    if !ffmpeg_or_skip("lease") {
        return;
    }
    // The first process has no ffmpeg work (renditions off): it only records the jobs.
    let app = TestApp::spawn().await;
    let ids: Vec<i64> = with_db!(&app.db, |p| {
        sqlx::query_scalar(
        "SELECT id FROM media_objects WHERE mime = 'video/mp4' AND source_id IS NULL ORDER BY id"
    )
    .fetch_all(p)
    .await
    })
    .unwrap();
    assert_eq!(ids.len(), 3, "los tres videos de la demostración");
    let now = chrono::Utc::now();
    let past = now - chrono::Duration::minutes(5);
    let future = now + chrono::Duration::minutes(5);
    // One claimed by a process that died (its lease ran out), one by a process still alive.
    for (id, until, owner) in [
        (ids[0], past, "proceso-muerto"),
        (ids[1], future, "proceso-vivo"),
    ] {
        with_db!(&app.db, |p| sqlx::query(
            "INSERT INTO media_jobs (source_id, status, progress, attempts, lease_owner, lease_until,
                                     created_at, updated_at)
             VALUES ($1, 'running', 40, 1, $2, $3, $4, $4)"
        )
        .bind(id)
        .bind(owner)
        .bind(until)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ()))
        .unwrap();
    }
    // A second process with ffmpeg (after a restart, or another node) picks up the dead one.
    let other = app
        .second_instance_with(|c| c.media.renditions = Some(true))
        .await;
    let dead_key = objects::by_id(&app.db, ids[0]).await.unwrap().unwrap().key;
    wait_done(&other, &dead_key).await;
    rendition(&other, &dead_key, "light").await;
    let live_key = objects::by_id(&app.db, ids[1]).await.unwrap().unwrap().key;
    let (status, _) = job_status(&app, &live_key).await.unwrap();
    assert_eq!(
        status, "running",
        "un trabajo con su plazo vigente no se toca"
    );
    let owner: Option<String> = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT lease_owner FROM media_jobs WHERE source_id = $1"
    )
    .bind(ids[1])
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(owner.as_deref(), Some("proceso-vivo"));
}

#[tokio::test]
async fn a_video_ffmpeg_cannot_read_ends_failed_with_its_reason_on_the_admin_page() {
    if !ffmpeg_or_skip("failed") {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        c.demo = false;
        c.media.renditions = Some(true);
    })
    .await;
    let admin = app.admin().await;
    // An MP4 by its first bytes (so the upload is accepted), garbage after them.
    let mut broken = source_bytes(VIDEO)[..64].to_vec();
    broken.extend(std::iter::repeat_n(0x5au8, 200_000));
    let (status, html) = upload(&admin, "roto.mp4", broken.clone(), false).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let key = objects::content_key(&sha256_hex(&broken), "mp4");
    let mut last = None;
    for _ in 0..300 {
        last = job_status(&app, &key).await;
        if last.as_ref().is_some_and(|(s, _)| s == "failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, message) = last.unwrap();
    assert_eq!(status, "failed");
    assert_eq!(message.as_deref(), Some("el archivo no tiene video"));
    let attempts = app
        .scalar_i64("SELECT attempts FROM media_jobs WHERE id = $1", 1)
        .await;
    assert_eq!(
        attempts, 3,
        "se reintenta tres veces antes de darlo por fallido"
    );
    let (_, page) = admin.get_text("/admin/medios").await;
    assert!(
        page.contains("Versiones livianas: fallaron (el archivo no tiene video)"),
        "{page}"
    );
    // The original is still there for its owner.
    let resp = admin.get(&format!("/media/{key}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// The lesson player in headless Chromium (tests/browser/media.mjs): nothing fetched before
/// play, light first, the choice remembered, data saver starts light. `.ci/run` runs it.
#[tokio::test]
#[ignore = "needs Chromium, Node.js and playwright-core (tests/browser); .ci/run runs it"]
async fn browser_lesson_player() {
    assert!(
        aula::media::renditions::Tools::detect(None, None).is_some(),
        "la prueba del reproductor necesita ffmpeg"
    );
    let app = TestApp::spawn_with(|c| c.media.renditions = Some(true)).await;
    let source_key = published_url(VIDEO)
        .trim_start_matches("/media/")
        .to_string();
    wait_done(&app, &source_key).await;
    let light = rendition(&app, &source_key, "light").await;
    let audio = rendition(&app, &source_key, "audio").await;
    let learner = enrolled_learner(&app, "30555666", "atencion-al-cliente").await;
    let cookie = learner.cookie("aula_sesion").expect("cookie de sesión");
    crate::helpers::run_browser_script(
        "media.mjs",
        vec![
            ("AULA_BASE", app.base.clone()),
            ("AULA_COOKIE", cookie),
            (
                "AULA_LESSON",
                "/cursos/atencion-al-cliente/lecciones/comunicacion-efectiva".into(),
            ),
            ("AULA_LIGHT", light.url()),
            ("AULA_ORIGINAL", published_url(VIDEO)),
            ("AULA_AUDIO", audio.url()),
        ],
    )
    .await;
}

#[tokio::test]
async fn media_paths_with_nul_or_control_characters_are_404() {
    let app = TestApp::spawn().await;
    let cover = published_url("atencion-al-cliente/portada.svg");
    for path in [
        format!("{cover}%00.txt"),
        format!("{cover}%0a"),
        cover.replacen("/media/", "/media/%07", 1),
        "/media/atencion-al-cliente/portada.svg%00.txt".to_string(),
    ] {
        assert_eq!(raw_status(&app, &path).await, 404, "{path}");
    }
    assert_eq!(raw_status(&app, &cover).await, 200);
}
