//! The test harness: the real application on a random port with a fresh database per test
//! (SQLite in a temp folder; with `AULA_TEST_BACKEND=postgres`, a fresh PostgreSQL database
//! on `AULA_TEST_PG`, default `postgres://postgres@127.0.0.1:5432`), talked to over HTTP.

use std::{path::PathBuf, sync::Arc};

use aula::{
    Application, Config,
    accounts::{admin, password::Password, session},
    db::Db,
    people::{
        domain::{Cuil, Dni, Email, PersonName},
        persons::{self, NewPerson},
    },
    with_db,
};
use reqwest::{
    Client, StatusCode,
    cookie::{CookieStore, Jar},
    redirect::Policy,
};

/// The password every test account uses.
pub const PASSWORD: &str = "clave-segura-123";

#[path = "../support/pg.rs"]
mod pg;
pub use pg::postgres;

#[path = "../support/s3.rs"]
pub mod s3;

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub config: Config,
    /// The app's media store (local folder, or a fresh S3 bucket with `AULA_TEST_S3`).
    pub media: aula::media::Media,
    /// Kept so the temp folder lives as long as the app.
    pub _dir: tempfile::TempDir,
}

/// A browser-like client: keeps cookies, follows redirects.
pub struct Browser {
    pub client: Client,
    pub jar: Arc<Jar>,
    pub base: String,
}

async fn fresh_database_url() -> Option<String> {
    if !postgres() {
        return None;
    }
    let (server, name) = pg::fresh_database("aula_test").await;
    Some(format!("{server}/{name}"))
}

impl TestApp {
    /// Starts the app with demo data (three courses, offices, one class per course).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app after letting the test adjust the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::for_data_dir(dir.path().join("data"));
        config.database_url = fresh_database_url().await;
        config.mail_dir = Some(dir.path().join("mail"));
        if let Some(endpoint) = s3::media_endpoint() {
            config.media.s3 = s3::fresh_bucket(&endpoint).await;
        }
        adjust(&mut config);
        Self::start(config, dir).await
    }

    /// Starts one more process-equivalent on the same database (stateless web tier).
    pub async fn second_instance(&self) -> TestApp {
        self.second_instance_with(|_| {}).await
    }

    /// Like [`second_instance`], after letting the test adjust the configuration.
    pub async fn second_instance_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.demo = false;
        adjust(&mut config);
        Self::start(config, dir).await
    }

    async fn start(mut config: Config, dir: tempfile::TempDir) -> TestApp {
        config.listen = "127.0.0.1:0".parse().unwrap();
        let app = Application::build(config.clone())
            .await
            .expect("la aplicación arranca");
        let port = app.port();
        let db = app.parts.state.db.clone();
        let media = app.parts.media.clone();
        config.base_url = format!("http://127.0.0.1:{port}");
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            db,
            config,
            media,
            _dir: dir,
        }
    }

    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::limited(5))
            .build()
            .unwrap();
        Browser {
            client,
            jar,
            base: self.base.clone(),
        }
    }

    /// A browser logged in as a new learner (registered through the real form).
    pub async fn learner(&self, dni: &str) -> Browser {
        let b = self.browser();
        let resp = b.register(&registration(dni)).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "registro de {dni}: {}",
            resp.text().await.unwrap()
        );
        b
    }

    /// A browser logged in as a new person (registered through the real form) whom `admin`
    /// makes an instructor of `class`.
    pub async fn instructor(&self, admin: &Browser, dni: &str, class: i64) -> Browser {
        let b = self.learner(dni).await;
        admin
            .grant(dni, "instructor", &format!("class:{class}"))
            .await;
        b
    }

    /// A browser logged in as an administrator created with the CLI's code path.
    pub async fn admin(&self) -> Browser {
        let dni = Dni::parse("20111222").unwrap();
        let email = Email::parse("jefa@aula.test").unwrap();
        admin::create_admin(&self.db, &dni, &email, &Password::parse(PASSWORD).unwrap())
            .await
            .unwrap();
        let b = self.browser();
        let resp = b.login("20111222", PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK);
        b
    }

    /// Creates Persona + account + session directly (for load tests) and returns the cookie.
    pub async fn quick_user(&self, dni: &str, department: &str) -> (i64, String) {
        let dni = Dni::parse(dni).unwrap();
        let department_id: i64 = with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT id FROM departments WHERE name = $1"
        )
        .bind(department)
        .fetch_one(p)
        .await)
        .unwrap();
        let np = NewPerson {
            cuil: Cuil::for_dni("20", &dni)
                .or_else(|| Cuil::for_dni("27", &dni))
                .unwrap(),
            dni,
            first_name: PersonName::parse("Prueba", "nombre").unwrap(),
            last_name: PersonName::parse("Carga", "apellido").unwrap(),
            birth_date: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            email: None,
            phone: None,
            department_id,
            locality_id: None,
        };
        let mut tx = self.db.begin().await.unwrap();
        let person_id = persons::insert(&mut tx, &np, None).await.unwrap();
        tx.commit().await.unwrap();
        let user_id: i64 = with_db!(&self.db, |p| sqlx::query_scalar(
            "INSERT INTO users (person_id, password_hash, created_at) VALUES ($1, 'x', $2) RETURNING id"
        )
        .bind(person_id)
        .bind(chrono::Utc::now())
        .fetch_one(p)
        .await)
        .unwrap();
        let cookie = session::create(&self.db, user_id, false).await.unwrap();
        let token = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        (person_id, token)
    }

    pub async fn scalar_i64(&self, sql: &'static str, arg: i64) -> i64 {
        with_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(sql)
            .bind(arg)
            .fetch_one(p)
            .await)
        .unwrap()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        with_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(p)
            .await)
        .unwrap()
    }

    /// Id of the demo class of a course.
    pub async fn class_of(&self, slug: &str) -> i64 {
        with_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT k.id FROM classes k JOIN courses c ON c.id = k.course_id WHERE c.slug = $1 ORDER BY k.id LIMIT 1"
        )
        .bind(slug)
        .fetch_one(p)
        .await)
        .unwrap()
    }

    /// The enrolment status of the person with this DNI in a class.
    pub async fn enrolment_status(&self, class: i64, dni: &str) -> String {
        with_db!(&self.db, |p| sqlx::query_scalar::<_, String>(
            "SELECT e.status FROM enrolments e JOIN persons p ON p.id = e.person_id WHERE e.class_id = $1 AND p.dni = $2"
        )
        .bind(class)
        .bind(dni)
        .fetch_one(p)
        .await)
        .unwrap()
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.config.mail_dir.clone().unwrap()
    }
}

/// The id found by a one-parameter lookup (`SELECT id FROM ... WHERE x = $1`).
async fn lookup(app: &TestApp, sql: &'static str, key: &str) -> Option<i64> {
    with_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(sql)
        .bind(key)
        .fetch_optional(p)
        .await)
    .unwrap()
}

pub async fn department(app: &TestApp, name: &str) -> i64 {
    lookup(app, "SELECT id FROM departments WHERE name = $1", name)
        .await
        .expect("departamento")
}

pub async fn course_id(app: &TestApp, slug: &str) -> i64 {
    lookup(app, "SELECT id FROM courses WHERE slug = $1", slug)
        .await
        .expect("curso")
}

pub async fn office(app: &TestApp, name: &str) -> i64 {
    lookup(app, "SELECT id FROM offices WHERE name = $1", name)
        .await
        .expect("oficina")
}

pub async fn user_of(app: &TestApp, dni: &str) -> i64 {
    lookup(
        app,
        "SELECT u.id FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = $1",
        dni,
    )
    .await
    .expect("usuario")
}

/// The Persona with this DNI, if registered.
pub async fn person_of(app: &TestApp, dni: &str) -> Option<i64> {
    lookup(app, "SELECT id FROM persons WHERE dni = $1", dni).await
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    aula::web::text::url_encode(s)
}

/// A complete, valid registration form for a DNI (department Capital).
pub fn registration(dni: &str) -> Vec<(&'static str, String)> {
    let d = Dni::parse(dni).unwrap();
    let cuil = Cuil::for_dni("20", &d)
        .or_else(|| Cuil::for_dni("27", &d))
        .unwrap();
    vec![
        ("dni", dni.to_string()),
        ("cuil", cuil.formatted()),
        ("first_name", "Lucía".into()),
        ("last_name", "Medina".into()),
        ("birth_date", "2001-04-15".into()),
        ("email", format!("{dni}@correo.test")),
        ("phone", "3815123456".into()),
        ("department_id", "CAPITAL".into()),
        ("locality_id", String::new()),
        ("password", PASSWORD.into()),
        ("password2", PASSWORD.into()),
    ]
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        (r.status(), r.text().await.unwrap())
    }

    /// The CSRF token, fetching a page first if the browser has none yet.
    pub async fn csrf(&self) -> String {
        if self.cookie("aula_csrf").is_none() {
            self.get("/ingresar").await;
        }
        self.cookie("aula_csrf").expect("cookie CSRF")
    }

    /// Posts a form with the CSRF token, as the page's form would.
    pub async fn post(&self, path: &str, fields: &[(&str, String)]) -> reqwest::Response {
        let mut all: Vec<(&str, String)> = fields.to_vec();
        all.push(("csrf", self.csrf().await));
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, fields: &[(&'static str, String)]) -> reqwest::Response {
        let capital = self.department_id("Capital").await;
        let fields: Vec<(&str, String)> = fields
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if v == "CAPITAL" {
                        capital.clone()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        self.post("/registro", &fields).await
    }

    /// A department's id as the registration form offers it.
    pub async fn department_id(&self, name: &str) -> String {
        let html = self.get("/registro").await.text().await.unwrap();
        let needle = format!(">{name}</option>");
        let end = html
            .find(&needle)
            .unwrap_or_else(|| panic!("departamento {name}"));
        let start = html[..end].rfind("value=\"").unwrap() + 7;
        html[start..].split('"').next().unwrap().to_string()
    }

    /// The same browser (cookies included) without following redirects.
    pub fn no_redirects(&self) -> Client {
        Client::builder()
            .cookie_provider(self.jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    /// Grants a role through the admin form (this browser is an admin), checking it worked.
    pub async fn grant(&self, dni: &str, role: &str, scope: &str) {
        let resp = self
            .post(
                "/admin/roles",
                &[
                    ("dni", dni.into()),
                    ("role", role.into()),
                    ("scope", scope.into()),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "otorgar {role} a {dni}");
        assert!(
            resp.text().await.unwrap().contains("Rol asignado."),
            "otorgar {role} a {dni}"
        );
    }

    pub async fn login(&self, identifier: &str, password: &str) -> reqwest::Response {
        self.post(
            "/ingresar",
            &[
                ("identifier", identifier.to_string()),
                ("password", password.to_string()),
            ],
        )
        .await
    }
}

/// A text value found by a one-parameter query (`SELECT x FROM ... WHERE id = $1`).
pub async fn scalar_text(app: &TestApp, sql: &'static str, arg: i64) -> String {
    with_db!(&app.db, |p| sqlx::query_scalar::<_, String>(sql)
        .bind(arg)
        .fetch_one(p)
        .await)
    .unwrap()
}

/// Runs `tests/browser/{script}` (Playwright driving headless Chromium) with `env`, and fails
/// the test with everything it printed unless it exits 0. Needs Chromium and `npm install` in
/// tests/browser; `.ci/run` does both.
pub async fn run_browser_script(script: &'static str, env: Vec<(&'static str, String)>) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "falta playwright-core: corré `npm install` en tests/browser (lo hace .ci/run)"
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .current_dir(&dir)
            .envs(env)
            .output()
            .expect("node no está instalado")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "la prueba en el navegador falló:\n{stdout}\n{stderr}"
    );
    stdout
}

/// The text of every email sent so far (decoded bodies with their headers), oldest first.
pub fn mails(app: &TestApp) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(app.mail_dir()) else {
        return vec![];
    };
    let mut files: Vec<(std::time::SystemTime, String)> = dir
        .filter_map(|e| {
            let path = e.ok()?.path();
            let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
            Some((modified, std::fs::read_to_string(&path).ok()?))
        })
        .collect();
    files.sort_by_key(|(t, _)| *t);
    files
        .into_iter()
        .map(|(_, raw)| decode_mail(&raw))
        .collect()
}

/// Headers plus the body decoded from quoted-printable or base64.
fn decode_mail(raw: &str) -> String {
    use base64::Engine;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""));
    let lower = head.to_ascii_lowercase();
    let body = if lower.contains("content-transfer-encoding: base64") {
        let compact: String = body.split_whitespace().collect();
        String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_default(),
        )
        .into_owned()
    } else if lower.contains("content-transfer-encoding: quoted-printable") {
        let unfolded = body.replace("=\r\n", "").replace("=\n", "");
        let b = unfolded.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'='
                && let Some(v) = unfolded
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        body.to_string()
    };
    format!("{head}\n\n{body}")
}

/// Waits (up to a few seconds) until at least `n` emails were sent, and returns them all.
pub async fn wait_for_mails(app: &TestApp, n: usize) -> Vec<String> {
    // The mail folder's files are written in place (lettre's file transport), so a file can be
    // seen empty or half written: wait until there are `n`, none empty, and two reads 50 ms
    // apart agree.
    let mut last: Option<Vec<String>> = None;
    for _ in 0..100 {
        let all = mails(app);
        if all.len() >= n && all.iter().all(|m| !m.trim().is_empty()) {
            if last.as_ref() == Some(&all) {
                return all;
            }
            last = Some(all);
        } else {
            last = None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    mails(app)
}

/// A browser whose requests come from `ip` (for an app that trusts `X-Forwarded-For`).
pub fn browser_from(app: &TestApp, ip: &str) -> Browser {
    let jar = Arc::new(Jar::default());
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .default_headers(headers)
        .redirect(Policy::limited(5))
        .build()
        .unwrap();
    Browser {
        client,
        jar,
        base: app.base.clone(),
    }
}
