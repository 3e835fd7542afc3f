use crate::helpers::*;

use reqwest::{StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VIDEO: &str = "atencion-al-cliente/saludo.mp4";

fn video_bytes() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("media")
            .join(VIDEO),
    )
    .expect("video de prueba")
}

fn header_str(resp: &reqwest::Response, name: header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn get_range(app: &TestApp, path: &str, range: &str) -> reqwest::Response {
    app.browser()
        .client
        .get(format!("{}{path}", app.base))
        .header(header::RANGE, range)
        .send()
        .await
        .unwrap()
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

#[tokio::test]
async fn whole_video_is_served_byte_exact_with_range_support_advertised() {
    let app = TestApp::spawn().await;
    let disk = video_bytes();
    let resp = app.browser().get(&format!("/media/{VIDEO}")).await;
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
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), disk.len());
    assert!(
        body.as_ref() == disk.as_slice(),
        "el video servido difiere del archivo"
    );
}

#[tokio::test]
async fn first_hundred_bytes_range_returns_206_with_exactly_those_bytes() {
    let app = TestApp::spawn().await;
    let disk = video_bytes();
    let resp = get_range(&app, &format!("/media/{VIDEO}"), "bytes=0-99").await;
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
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.as_ref(), &disk[..100]);
}

#[tokio::test]
async fn suffix_range_returns_the_last_bytes() {
    let app = TestApp::spawn().await;
    let disk = video_bytes();
    let len = disk.len();
    let resp = get_range(&app, &format!("/media/{VIDEO}"), "bytes=-10").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_str(&resp, header::CONTENT_RANGE),
        Some(format!("bytes {}-{}/{len}", len - 10, len - 1))
    );
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.as_ref(), &disk[len - 10..]);
}

#[tokio::test]
async fn open_ended_range_returns_everything_from_the_offset() {
    let app = TestApp::spawn().await;
    let disk = video_bytes();
    let len = disk.len();
    let resp = get_range(&app, &format!("/media/{VIDEO}"), "bytes=100-").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_str(&resp, header::CONTENT_RANGE),
        Some(format!("bytes 100-{}/{len}", len - 1))
    );
    assert_eq!(
        header_str(&resp, header::CONTENT_LENGTH),
        Some((len - 100).to_string())
    );
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.as_ref(), &disk[100..]);
}

#[tokio::test]
async fn range_beyond_the_end_is_416_with_the_total_length() {
    let app = TestApp::spawn().await;
    let len = video_bytes().len();
    let resp = get_range(
        &app,
        &format!("/media/{VIDEO}"),
        &format!("bytes={}-{}", len + 10, len + 20),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header_str(&resp, header::CONTENT_RANGE),
        Some(format!("bytes */{len}"))
    );
}

#[tokio::test]
async fn malformed_range_is_416() {
    let app = TestApp::spawn().await;
    let len = video_bytes().len();
    for bad in ["bytes=abc", "bytes=50-10", "items=0-10"] {
        let resp = get_range(&app, &format!("/media/{VIDEO}"), bad).await;
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
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        header_str(&page, header::CONTENT_ENCODING).as_deref(),
        Some("gzip")
    );

    let disk = video_bytes();
    let whole = client
        .get(format!("{}/media/{VIDEO}", app.base))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(header_str(&whole, header::CONTENT_ENCODING), None);
    assert!(whole.bytes().await.unwrap().as_ref() == disk.as_slice());

    let part = client
        .get(format!("{}/media/{VIDEO}", app.base))
        .header(header::ACCEPT_ENCODING, "gzip")
        .header(header::RANGE, "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header_str(&part, header::CONTENT_ENCODING), None);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &disk[1000..2000]);

    let svg_disk = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("media/atencion-al-cliente/portada.svg"),
    )
    .unwrap();
    let svg = client
        .get(format!(
            "{}/media/atencion-al-cliente/portada.svg",
            app.base
        ))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), StatusCode::OK);
    assert_eq!(header_str(&svg, header::CONTENT_ENCODING), None);
    assert_eq!(svg.bytes().await.unwrap().as_ref(), svg_disk.as_slice());
}

#[tokio::test]
async fn path_traversal_and_hidden_files_are_404() {
    // A media folder next to a secret file, and a hidden file inside it.
    let root = tempfile::tempdir().unwrap();
    let media = root.path().join("media");
    std::fs::create_dir_all(media.join("curso")).unwrap();
    std::fs::write(media.join("curso/visible.txt"), "visible").unwrap();
    std::fs::write(media.join(".hidden"), "oculto").unwrap();
    std::fs::write(media.join("curso/.oculto.txt"), "oculto").unwrap();
    std::fs::write(root.path().join("secreto.txt"), "secreto").unwrap();
    let media_dir = media.clone();
    let app = TestApp::spawn_with(move |c| {
        c.media_dir = media_dir;
        c.demo = false;
    })
    .await;

    // Control: a normal file in the folder is served.
    assert_eq!(raw_status(&app, "/media/curso/visible.txt").await, 200);
    for path in [
        "/media/../secreto.txt",
        "/media/%2e%2e/secreto.txt",
        "/media/..%2fsecreto.txt",
        "/media/curso/../../secreto.txt",
        "/media/curso/%2e%2e/%2e%2e/secreto.txt",
        "/media/.hidden",
        "/media/%2ehidden",
        "/media/curso/.oculto.txt",
        "/media//etc/passwd",
        "/media/../Cargo.toml",
        "/media/%2e%2e/Cargo.toml",
    ] {
        assert_eq!(raw_status(&app, path).await, 404, "{path}");
    }
}

#[tokio::test]
async fn media_paths_with_nul_or_control_characters_are_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/media/atencion-al-cliente/portada.svg%00.txt",
        "/media/atencion-al-cliente/portada.svg%0a",
        "/media/atencion-al-cliente%07/portada.svg",
    ] {
        assert_eq!(raw_status(&app, path).await, 404, "{path}");
    }
    assert_eq!(
        raw_status(&app, "/media/atencion-al-cliente/portada.svg").await,
        200
    );
}
