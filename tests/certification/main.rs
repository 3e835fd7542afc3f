//! The independent verifier (`verify_credential.py`, on jwcrypto from PyPI, none of Aula's
//! code) accepts credentials that Aula's certification core signs and refuses tampered,
//! revoked and inconsistent ones. The same script later runs against the real server in CI.
//!
//! Needs python3 with venv and pip (PyPI reachable); the venv lives under `target/tmp`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use aula::certification::credential::{
    AchievementType, Competency, CredentialInput, IssuerProfile, build_credential, issue, new_salt,
    new_subject_id, sign_vc_jwt,
};
use aula::certification::keys::{InstitutionKey, Jwks, key_url};
use aula::certification::status_list::{StatusList, status_list_jwt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

const SCRIPT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certification");

/// A venv with the pinned requirements, made once per `target/` (reused while
/// requirements.txt does not change).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let requirements = Path::new(SCRIPT_DIR).join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).expect("requirements.txt");
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("credential-verifier-venv");
        let python = venv.join("bin").join("python");
        let marker = venv.join("aula-requirements.txt");
        if python.exists() && std::fs::read_to_string(&marker).ok().as_deref() == Some(&wanted) {
            return python;
        }
        let status = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .expect("python3 is needed for the independent credential check (apt-get install -y python3 python3-venv)");
        assert!(status.success(), "python3 -m venv failed (apt-get install -y python3-venv)");
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            .status()
            .expect("pip inside the venv");
        assert!(status.success(), "pip install -r {} failed", requirements.display());
        std::fs::write(&marker, wanted).unwrap();
        python
    })
}

/// Runs the verifier; returns (passed, stdout).
fn verify(args: &[&str]) -> (bool, String) {
    let out = Command::new(python())
        .arg(Path::new(SCRIPT_DIR).join("verify_credential.py"))
        .args(args)
        .output()
        .expect("run verify_credential.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "the verifier crashed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    (out.status.success(), format!("{stdout}{stderr}"))
}

/// An institution with a rotated key, a certificate and its status list, as files.
struct Scenario {
    dir: tempfile::TempDir,
    base: String,
    old: InstitutionKey,
    current: InstitutionKey,
    input: CredentialInput,
}

impl Scenario {
    fn new(base: &str) -> Scenario {
        let base = base.to_string();
        let issuer = IssuerProfile {
            id: format!("{base}/instituciones/7"),
            name: "Centro de Formación Profesional N.º 12".into(),
            url: "https://cfp12.example".into(),
            image: None,
            email: None,
        };
        let input = CredentialInput {
            id: format!("{base}/verificar/AB3DEF4HJK8"),
            name: "Certificado: Herramientas digitales para el empleo".into(),
            issuer,
            subject_id: new_subject_id(),
            dni: "30123678".into(),
            salt: new_salt(),
            achievement_id: format!("{base}/cursos/herramientas-digitales/certificacion/7"),
            course: "Herramientas digitales para el empleo".into(),
            description: "Uso de la computadora y de internet para buscar trabajo.".into(),
            criteria: "Completó las lecciones y aprobó la evaluación final.".into(),
            achievement_type: AchievementType::Certificate,
            competencies: vec![Competency {
                code: "NC-101".into(),
                title: "Operar la computadora y gestionar archivos".into(),
                hours: Some(20),
                url: format!("{base}/instituciones/7/normas/NC-101"),
            }],
            hours: 60,
            valid_from: DateTime::from_timestamp(Utc::now().timestamp() - 3600, 0).unwrap(),
            valid_until: None,
            status_list_url: format!("{base}/instituciones/7/estados"),
            status_index: 94_567,
        };
        let scenario = Scenario {
            dir: tempfile::tempdir().unwrap(),
            base,
            old: InstitutionKey::generate(),
            current: InstitutionKey::generate(),
            input,
        };
        let jwks = Jwks {
            keys: [&scenario.current, &scenario.old]
                .iter()
                .map(|k| k.public_key().jwk(&scenario.kid(k)))
                .collect(),
        };
        scenario.write("jwks.json", &serde_json::to_string_pretty(&jwks).unwrap());
        scenario.write_status_list(&[]);
        scenario
    }

    fn kid(&self, key: &InstitutionKey) -> String {
        key_url(&self.base, key.kid())
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, contents: &str) -> String {
        std::fs::write(self.dir.path().join(name), contents).unwrap();
        self.path(name)
    }

    /// The status list, signed with the current key, with `revoked` bits set.
    fn write_status_list(&self, revoked: &[usize]) {
        let jwt = status_list_jwt(
            &self.input.status_list_url,
            &self.input.issuer.id,
            Utc::now() - Duration::minutes(5),
            &StatusList::from_revoked(revoked.iter().copied()),
            &self.current,
            &self.kid(&self.current),
        )
        .unwrap();
        self.write("estados.jwt", &jwt);
    }

    /// The certificate signed with `key`.
    fn credential(&self, key: &InstitutionKey) -> String {
        issue(&self.input, key, &self.kid(key)).unwrap().1
    }

    fn check(&self, credential_file: &str) -> (bool, String) {
        verify(&[
            "--credential",
            &self.path(credential_file),
            "--jwks",
            &self.path("jwks.json"),
            "--status-list",
            &self.path("estados.jwt"),
        ])
    }
}

#[test]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
fn a_credential_aula_signs_passes_the_independent_check() {
    let s = Scenario::new("https://aula.example");
    s.write("cert.jwt", &s.credential(&s.current));
    let (passed, out) = s.check("cert.jwt");
    assert!(passed, "{out}");
    for line in [
        "credencial: firma ES256 válida (jwcrypto)",
        "credencial: iss = issuer.id (https://aula.example/instituciones/7)",
        "credencial: jti = id (https://aula.example/verificar/AB3DEF4HJK8)",
        "credencial: sub = credentialSubject.id (urn:uuid:",
        "credencial: nbf = validFrom",
        "lista de estados: firma ES256 válida (jwcrypto)",
        "estado: el bit 94567 es 0 (no revocada)",
        "VÁLIDA",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
}

#[test]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
fn a_credential_signed_with_a_rotated_out_key_still_passes() {
    let s = Scenario::new("https://aula.example");
    s.write("old.jwt", &s.credential(&s.old));
    let (passed, out) = s.check("old.jwt");
    assert!(passed, "{out}");
    assert!(out.contains(s.old.kid()), "{out}");
}

#[test]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
fn a_tampered_credential_fails() {
    let s = Scenario::new("https://aula.example");
    let jwt = s.credential(&s.current);
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["credentialSubject"]["achievement"]["creditsAvailable"] = json!(600);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    s.write("forged.jwt", &forged);
    let (passed, out) = s.check("forged.jwt");
    assert!(!passed, "{out}");
    assert!(
        out.contains("FALLA  credencial: la firma ES256 NO es válida"),
        "{out}"
    );
}

#[test]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
fn a_revoked_credential_fails() {
    let s = Scenario::new("https://aula.example");
    s.write("cert.jwt", &s.credential(&s.current));
    s.write_status_list(&[3, 94_567]);
    let (passed, out) = s.check("cert.jwt");
    assert!(!passed, "{out}");
    assert!(
        out.contains("lista de estados: firma ES256 válida"),
        "{out}"
    );
    assert!(
        out.contains("FALLA  estado: el bit 94567 es 0 (no revocada)"),
        "{out}"
    );
    // Another certificate's revocation does not touch this one.
    s.write_status_list(&[94_566, 94_568]);
    assert!(s.check("cert.jwt").0);
}

#[test]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
fn a_key_outside_the_published_jwks_fails() {
    let s = Scenario::new("https://aula.example");
    let stranger = InstitutionKey::generate();
    s.write("stranger.jwt", &s.credential(&stranger));
    let (passed, out) = s.check("stranger.jwt");
    assert!(!passed, "{out}");
    assert!(
        out.contains("FALLA  credencial: el JWKS publicado tiene la clave"),
        "{out}"
    );
}

#[test]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
fn claims_that_disagree_with_the_credential_fail_even_when_signed() {
    let s = Scenario::new("https://aula.example");
    let mut credential = build_credential(&s.input);
    // Signed as another credential id: the jti claim no longer matches the credential's id.
    let jwt = sign_vc_jwt(&credential, &s.current, &s.kid(&s.current)).unwrap();
    let header = jwt.split('.').next().unwrap();
    let mut payload: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    payload["jti"] = json!("https://otro.example/credencial/1");
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    let sig = URL_SAFE_NO_PAD.encode(s.current.sign(format!("{header}.{body}").as_bytes()));
    s.write("jti.jwt", &format!("{header}.{body}.{sig}"));
    let (passed, out) = s.check("jti.jwt");
    assert!(!passed, "{out}");
    assert!(out.contains("credencial: firma ES256 válida"), "{out}");
    assert!(out.contains("FALLA  credencial: jti = id"), "{out}");

    // And a credential that is not valid yet.
    credential["validFrom"] = json!(
        (Utc::now() + Duration::days(2))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    s.write(
        "future.jwt",
        &sign_vc_jwt(&credential, &s.current, &s.kid(&s.current)).unwrap(),
    );
    let (passed, out) = s.check("future.jwt");
    assert!(!passed, "{out}");
    assert!(out.contains("FALLA  credencial: ya es válida"), "{out}");
}

/// Serves the scenario's files over HTTP on 127.0.0.1, as Aula will: the verifier is given
/// URLs only and follows the credential's own statusListCredential URL.
#[test]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
fn the_verifier_fetches_everything_by_url() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let s = Scenario::new(&base);
    s.write("cert.jwt", &s.credential(&s.current));
    let dir = s.dir.path().to_path_buf();
    let routes = [
        ("/verificar/AB3DEF4HJK8/credencial.jwt", "cert.jwt"),
        ("/.well-known/jwks.json", "jwks.json"),
        ("/instituciones/7/estados", "estados.jwt"),
    ];
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let response = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, file)) => {
                    let body = std::fs::read(dir.join(file)).unwrap();
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    let (passed, out) = verify(&[
        "--credential",
        &format!("{base}/verificar/AB3DEF4HJK8/credencial.jwt"),
        "--jwks",
        &format!("{base}/.well-known/jwks.json"),
    ]);
    assert!(passed, "{out}");
    assert!(
        out.contains("estado: el bit 94567 es 0 (no revocada)"),
        "{out}"
    );
}

/// The real application's test harness (HTTP on a random port, fresh database).
#[allow(dead_code, unused_imports)]
#[path = "../it/helpers.rs"]
mod helpers;

/// A certificate issued through the real workflow over HTTP (learner completes the course, a
/// certifier of the class's institution certifies), downloaded by its holder and checked by the
/// independent verifier against the JWKS and status list that the server publishes; after the
/// certifier revokes it, the same check fails on the status bit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with venv and PyPI; .ci/run runs it"]
async fn a_credential_issued_through_the_workflow_passes_the_independent_check() {
    use helpers::{TestApp, person_of};
    use reqwest::StatusCode;

    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let slug = "desarrollo-economico-territorial";
    let class = app.class_of(slug).await;
    // The demo data makes the demo institution certify the demo classes.
    let institution = app
        .scalar_i64("SELECT institution_id FROM classes WHERE id = $1", class)
        .await;
    let certifier = app.learner("27222333").await;
    admin
        .grant(
            "27222333",
            "certifier",
            &format!("institution:{institution}"),
        )
        .await;
    let learner = app.learner("30999888").await;
    let resp = learner
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let keys: Vec<String> = aula::with_db!(&app.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT l.key FROM lessons l JOIN courses c ON c.id = l.course_id WHERE c.slug = $1 AND NOT l.retired ORDER BY l.position"
    )
    .bind(slug)
    .fetch_all(p)
    .await)
    .unwrap();
    for key in keys {
        let resp = learner
            .post(&format!("/cursos/{slug}/lecciones/{key}/completar"), &[])
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let person = person_of(&app, "30999888").await.unwrap();
    let resp = certifier
        .post(
            &format!("/certificacion/comisiones/{class}/certificar"),
            &[("persona", person.to_string())],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Certificado emitido."));
    let code = helpers::scalar_text(
        &app,
        "SELECT code FROM certificates WHERE person_id = $1",
        person,
    )
    .await;
    let jwt = learner
        .get(&format!("/mi-aula/certificados/{code}/credencial.jwt"))
        .await
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("certificado.jwt");
    std::fs::write(&file, &jwt).unwrap();
    let file = file.to_string_lossy().into_owned();
    let jwks = format!("{}/.well-known/jwks.json", app.base);
    // The credential names the status list at the configured public address; the test server
    // listens on a random port, so the verifier is pointed at it.
    let status = format!("{}/instituciones/{institution}/estados", app.base);
    let run = |file: String, jwks: String, status: String| {
        tokio::task::spawn_blocking(move || {
            verify(&[
                "--credential",
                &file,
                "--jwks",
                &jwks,
                "--status-list",
                &status,
            ])
        })
    };
    let (passed, out) = run(file.clone(), jwks.clone(), status.clone())
        .await
        .unwrap();
    assert!(passed, "{out}");
    assert!(out.contains("VÁLIDA"), "{out}");
    let resp = certifier
        .post(
            &format!("/certificacion/certificados/{code}/revocar"),
            &[("motivo", "Prueba de revocación".to_string())],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Certificado revocado."));
    let (passed, out) = run(file, jwks, status).await.unwrap();
    assert!(!passed, "{out}");
    assert!(out.contains("no revocada"), "{out}");
}
