//! The S3 test backend. `AULA_TEST_S3=http://127.0.0.1:PORT` names a real S3-compatible
//! server (`.ci/run` starts moto's). Tests that only mean something on S3 (presigned
//! redirects) call [`required_or_skip`]: outside CI a developer without the server skips
//! them; with `AULA_TEST_S3_REQUIRED=1` (set by `.ci/run`) a missing server fails them.
//! With `AULA_TEST_MEDIA=s3` as well, every test app keeps its media in a fresh bucket there
//! (the media suite's S3 run).

use aula::media::config::S3Config;

/// The S3 endpoint tests use, if any.
pub fn endpoint() -> Option<String> {
    std::env::var("AULA_TEST_S3")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Whether every test app keeps its media on S3 (`AULA_TEST_MEDIA=s3`); the endpoint then.
pub fn media_endpoint() -> Option<String> {
    if std::env::var("AULA_TEST_MEDIA").is_ok_and(|v| v == "s3") {
        Some(endpoint().expect("AULA_TEST_MEDIA=s3 necesita AULA_TEST_S3=http://127.0.0.1:PUERTO"))
    } else {
        None
    }
}

/// Whether the S3 tests must run (CI): then a missing server is a failure, not a skip.
pub fn required() -> bool {
    std::env::var("AULA_TEST_S3_REQUIRED").is_ok_and(|v| v == "1")
}

/// The endpoint for an S3-only test; `None` means skip (said on stderr), and a panic when
/// the run requires S3.
pub fn required_or_skip(test: &str) -> Option<String> {
    match endpoint() {
        Some(e) => Some(e),
        None if required() => panic!(
            "{test}: AULA_TEST_S3_REQUIRED=1 pero falta AULA_TEST_S3 (el servidor S3 de prueba)"
        ),
        None => {
            eprintln!("{test}: se omite (sin AULA_TEST_S3; .ci/run la corre con moto_server)");
            None
        }
    }
}

/// The settings of a fresh, empty bucket on `endpoint` (created here).
pub async fn fresh_bucket(endpoint: &str) -> S3Config {
    let token = aula::web::cookies::random_token()
        .to_lowercase()
        .replace(['-', '_'], "");
    let name = format!("aula-test-{}", &token[..16]);
    let config = S3Config {
        bucket: Some(name.clone()),
        endpoint: Some(endpoint.to_string()),
        region: Some("eu-west-1".into()),
        path_style: Some(true),
        access_key: Some("prueba".into()),
        secret_key: Some("prueba-secreta".into()),
        prefix: None,
    };
    let region = s3::Region::Custom {
        region: "eu-west-1".into(),
        endpoint: endpoint.to_string(),
    };
    let credentials =
        s3::creds::Credentials::new(Some("prueba"), Some("prueba-secreta"), None, None, None)
            .unwrap();
    let created = s3::Bucket::create_with_path_style(
        &name,
        region,
        credentials,
        s3::BucketConfiguration::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("AULA_TEST_S3={endpoint} no responde o no crea el bucket: {e}"));
    assert!(
        created.success(),
        "crear el bucket {name}: HTTP {} {}",
        created.response_code,
        created.response_text
    );
    config
}
