use aula::with_db;
use reqwest::StatusCode;

/// The one answer to registering a DNI that already exists, whoever has it.
pub const DNI_TAKEN: &str = "No pudimos crear una cuenta con este DNI. Si ya tenés cuenta, ingresá o recuperá tu contraseña. Si tu oficina de empleo te registró, escribí el código que te dieron.";

use crate::helpers::*;

#[tokio::test]
async fn registration_creates_person_and_account_and_logs_in() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let resp = b.register(&registration("30123456")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.url().path().ends_with("/mi-aula"), "{}", resp.url());
    let html = resp.text().await.unwrap();
    assert!(html.contains("Hola, Lucía"), "{html}");
    assert!(html.contains("Tu cuenta está creada"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM persons WHERE dni = '30123456'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = '30123456' AND u.password_hash LIKE '$argon2id$%'").await,
        1
    );
}

#[tokio::test]
async fn bad_registration_shows_messages_at_fields_keeps_input_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let mut form = registration("30123456");
    for (k, v) in form.iter_mut() {
        match *k {
            "cuil" => *v = "20-30123456-0".into(),
            "first_name" => *v = "Lu1s".into(),
            "password2" => *v = "otra-cosa-distinta".into(),
            "email" => *v = "no-es-un-email".into(),
            _ => {}
        }
    }
    let before = app.count("SELECT COUNT(*) FROM persons").await;
    let resp = b.register(&form).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"id="cuil-error""#) && html.contains("El CUIL no es válido"),
        "{html}"
    );
    assert!(html.contains(r#"id="first_name-error""#) && html.contains("lleva solo letras"));
    assert!(html.contains(r#"id="password2-error""#) && html.contains("no coinciden"));
    assert!(html.contains(r#"id="email-error""#));
    assert!(
        html.contains(r#"value="30123456""#),
        "the DNI typed is kept"
    );
    assert!(html.contains(r#"aria-invalid="true""#));
    assert_eq!(app.count("SELECT COUNT(*) FROM persons").await, before);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email LIKE '%correo.test'")
            .await,
        0
    );
}

#[tokio::test]
async fn cuil_must_match_the_dni() {
    let app = TestApp::spawn().await;
    let mut form = registration("30123456");
    let other = aula::people::domain::Cuil::for_dni(
        "20",
        &aula::people::domain::Dni::parse("30999888").unwrap(),
    )
    .unwrap();
    form.iter_mut().find(|(k, _)| *k == "cuil").unwrap().1 = other.formatted();
    let resp = app.browser().register(&form).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains("no corresponde al DNI"));
}

#[tokio::test]
async fn a_dni_registers_only_once() {
    let app = TestApp::spawn().await;
    app.learner("30123456").await;
    let mut form = registration("30123456");
    form.iter_mut().find(|(k, _)| *k == "email").unwrap().1 = "otra@correo.test".into();
    let resp = app.browser().register(&form).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(&format!(
            r#"<p class="field-error" id="dni-error">{DNI_TAKEN}</p>"#
        )),
        "{html}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM persons WHERE dni = '30123456'")
            .await,
        1
    );
}

#[tokio::test]
async fn login_by_dni_or_email_and_logout() {
    let app = TestApp::spawn().await;
    app.learner("30123456").await;
    let b = app.browser();
    let resp = b.login("30.123.456", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Hola, Lucía"));
    let b2 = app.browser();
    let resp = b2.login("30123456@CORREO.test", PASSWORD).await;
    assert!(resp.text().await.unwrap().contains("Hola, Lucía"));

    let resp = b.post("/salir", &[]).await;
    assert!(resp.text().await.unwrap().contains("Cerraste tu sesión"));
    let resp = b.get("/mi-aula").await;
    assert!(
        resp.url().path().starts_with("/ingresar"),
        "logged out: {}",
        resp.url()
    );
    // The other browser's session is untouched.
    assert!(
        b2.get("/mi-aula")
            .await
            .text()
            .await
            .unwrap()
            .contains("Hola, Lucía")
    );
}

#[tokio::test]
async fn wrong_password_is_refused_with_a_plain_message() {
    let app = TestApp::spawn().await;
    app.learner("30123456").await;
    let b = app.browser();
    let resp = b.login("30123456", "no-es-esta").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let html = resp.text().await.unwrap();
    assert!(html.contains("no coinciden"));
    assert!(html.contains(r#"value="30123456""#));
    let resp = b.login("99999999", PASSWORD).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "unknown accounts answer the same"
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_account_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    app.learner("30123456").await;
    let b = app.browser();
    for _ in 0..5 {
        assert_eq!(
            b.login("30123456", "mala-clave-1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let resp = b.login("30123456", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.text().await.unwrap().contains("demasiados intentos"));
    // The counter lives in the database: a second process refuses too.
    let other = app.second_instance().await;
    let resp = other.browser().login("30123456", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn login_is_rate_limited_per_ip_across_accounts() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    for i in 0..30 {
        let resp = b
            .login(&format!("2{:07}", 1000000 + i), "mala-clave-1")
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "intento {i}");
    }
    assert_eq!(
        b.login("20999999", "mala-clave-1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn sessions_are_stored_hashed_and_shared_by_every_process() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let token = b.cookie("aula_sesion").unwrap();
    let stored: Vec<String> = with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT token_hash FROM sessions"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert!(!stored.is_empty());
    assert!(
        stored.iter().all(|h| h != &token && h.len() == 64),
        "only SHA-256 hashes are stored"
    );

    let other = app.second_instance().await;
    let resp = reqwest::Client::new()
        .get(format!("{}/mi-aula", other.base))
        .header("cookie", format!("aula_sesion={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Hola, Lucía"));
}

/// The `aula_sesion` cookie as the login response sets it (redirects not followed), for a
/// learner registered with `PASSWORD`.
async fn session_set_cookie(app: &TestApp) -> String {
    let b = app.browser();
    b.get("/ingresar").await;
    app.learner("30123456").await;
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/ingresar", app.base))
        .header("cookie", format!("aula_csrf={}", b.csrf().await))
        .form(&[
            ("identifier", "30123456"),
            ("password", PASSWORD),
            ("csrf", &b.csrf().await),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("aula_sesion="))
        .unwrap()
}

#[tokio::test]
async fn session_cookie_is_httponly_samesite_and_expiring() {
    let app = TestApp::spawn().await;
    let set = session_set_cookie(&app).await;
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age="),
        "{set}"
    );
    assert!(!set.contains("Secure"), "{set}");
}

#[tokio::test]
async fn secure_cookies_when_configured_for_https() {
    let app = TestApp::spawn_with(|c| c.secure_cookies = true).await;
    // The CSRF cookie of an anonymous visit and the session cookie of a login.
    let resp = app.browser().get("/").await;
    let csrf = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csrf.starts_with("aula_csrf=") && csrf.contains("Secure"),
        "{csrf}"
    );
    let session = session_set_cookie(&app).await;
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let class = app.class_of("atencion-al-cliente").await;
    let path = format!("/comisiones/{class}/inscribirme");
    // No token.
    let resp = b
        .client
        .post(b.url(&path))
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("El formulario venció"));
    // Wrong token.
    let resp = b
        .client
        .post(b.url(&path))
        .form(&[("csrf", "A".repeat(43))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Right token, but the browser says the request came from another site.
    let resp = b
        .client
        .post(b.url(&path))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", b.csrf().await)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM enrolments").await,
        0,
        "nothing changed"
    );
    // Right token.
    assert_eq!(b.post(&path, &[]).await.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM enrolments").await, 1);
}

#[tokio::test]
async fn password_change_needs_the_current_one_and_closes_other_sessions() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let other = app.browser();
    assert_eq!(
        other.login("30123456", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert!(other.get_text("/mi-aula").await.1.contains("Hola, Lucía"));

    let resp = b
        .post(
            "/cuenta/clave",
            &[
                ("current", "mala".into()),
                ("password", "nueva-clave-456".into()),
                ("password2", "nueva-clave-456".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("La contraseña actual no es correcta")
    );

    let resp = b
        .post(
            "/cuenta/clave",
            &[
                ("current", PASSWORD.into()),
                ("password", "nueva-clave-456".into()),
                ("password2", "nueva-clave-456".into()),
            ],
        )
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Tu contraseña se cambió")
    );
    assert_eq!(
        b.get("/mi-aula").await.status(),
        StatusCode::OK,
        "this session stays"
    );
    assert!(
        other
            .get("/mi-aula")
            .await
            .url()
            .path()
            .starts_with("/ingresar"),
        "other sessions are closed"
    );
    assert_eq!(
        app.browser().login("30123456", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.browser()
            .login("30123456", "nueva-clave-456")
            .await
            .status(),
        StatusCode::OK
    );
}

async fn reset_link(app: &TestApp) -> String {
    reset_links(app, 1)
        .await
        .pop()
        .expect("an email with the reset link")
}

/// The reset links emailed so far, oldest first, once there are `n` emails (they go out in the
/// background).
async fn reset_links(app: &TestApp, n: usize) -> Vec<String> {
    wait_for_mails(app, n)
        .await
        .into_iter()
        .filter_map(|text| {
            let i = text.find("/recuperar/")?;
            let tail = &text[i..];
            let end = tail.find(|c: char| c.is_whitespace()).unwrap_or(tail.len());
            Some(tail[..end].to_string())
        })
        .collect()
}

#[tokio::test]
async fn password_reset_by_emailed_link_works_once() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let anon = app.browser();
    let resp = anon
        .post("/recuperar", &[("identifier", "30123456".into())])
        .await;
    assert!(resp.text().await.unwrap().contains("te enviamos un enlace"));
    let link = reset_link(&app).await;
    // A mismatch is shown at the field and does not spend the link.
    let resp = anon
        .post(
            &link,
            &[
                ("password", "otra-clave-789".into()),
                ("password2", "otra-cosa".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains(r#"id="password2-error""#)
    );
    let resp = anon
        .post(
            &link,
            &[
                ("password", "otra-clave-789".into()),
                ("password2", "otra-clave-789".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Ya podés ingresar"));
    assert!(
        b.get("/mi-aula")
            .await
            .url()
            .path()
            .starts_with("/ingresar"),
        "old sessions are closed"
    );
    assert_eq!(
        app.browser()
            .login("30123456", "otra-clave-789")
            .await
            .status(),
        StatusCode::OK
    );
    // The link works once.
    let resp = anon
        .post(
            &link,
            &[
                ("password", "tercera-clave".into()),
                ("password2", "tercera-clave".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("ya se usó o venció"));
}

#[tokio::test]
async fn password_reset_does_not_reveal_whether_an_account_exists() {
    let app = TestApp::spawn().await;
    app.learner("30123456").await;
    // The page as a visitor sees it, without its per-visitor CSRF token.
    let answer = async |identifier: &str| {
        let resp = app
            .browser()
            .post("/recuperar", &[("identifier", identifier.into())])
            .await;
        let status = resp.status();
        let body = resp.text().await.unwrap();
        let page: Vec<String> = body
            .lines()
            .filter(|l| !l.contains("csrf"))
            .map(str::to_string)
            .collect();
        (status, page)
    };
    // Emails go out in the background: give them a moment before counting.
    let mails = async || {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        mails(&app).len()
    };
    let unknown = answer("39999999").await;
    assert_eq!(unknown.0, StatusCode::OK);
    assert!(
        unknown
            .1
            .concat()
            .contains("Si hay una cuenta con ese dato")
    );
    assert_eq!(mails().await, 0);
    // An existing account gets the same page; only the email tells them apart.
    let known = answer("30123456").await;
    assert_eq!(known, unknown);
    assert_eq!(mails().await, 1);
}

#[tokio::test]
async fn admin_grants_and_revokes_roles_with_scope() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let teacher = app.learner("30123456").await;
    let class = app.class_of("atencion-al-cliente").await;
    assert!(
        !teacher
            .get("/mi-aula")
            .await
            .text()
            .await
            .unwrap()
            .contains("Comisiones a mi cargo")
    );
    // A role without its scope is refused at the scope field.
    let resp = admin
        .post(
            "/admin/roles",
            &[
                ("dni", "30123456".into()),
                ("role", "instructor".into()),
                ("scope", String::new()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains(r#"id="scope-error""#));
    // Unknown DNI.
    let resp = admin
        .post(
            "/admin/roles",
            &[
                ("dni", "31999999".into()),
                ("role", "admin".into()),
                ("scope", String::new()),
            ],
        )
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("No hay una cuenta con ese DNI")
    );
    let resp = admin
        .post(
            "/admin/roles",
            &[
                ("dni", "30123456".into()),
                ("role", "instructor".into()),
                ("scope", format!("class:{class}")),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Rol asignado"));
    let granted = app.count("SELECT COUNT(*) FROM role_grants g JOIN users u ON u.id = g.user_id JOIN persons p ON p.id = u.person_id WHERE p.dni = '30123456' AND g.role = 'instructor'").await;
    assert_eq!(granted, 1);
    let mine = teacher.get("/mi-aula").await.text().await.unwrap();
    assert!(
        mine.contains("Comisiones a mi cargo")
            && mine.contains(&format!("/comisiones/{class}/participantes")),
        "{mine}"
    );
    // Twice is refused.
    let resp = admin
        .post(
            "/admin/roles",
            &[
                ("dni", "30123456".into()),
                ("role", "instructor".into()),
                ("scope", format!("class:{class}")),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("ya tiene ese rol"));
    let id = app.count("SELECT MAX(id) FROM role_grants").await;
    let resp = admin.post(&format!("/admin/roles/{id}/revocar"), &[]).await;
    assert!(resp.text().await.unwrap().contains("Rol quitado"));
    assert_eq!(app.count("SELECT COUNT(*) FROM role_grants g JOIN users u ON u.id = g.user_id JOIN persons p ON p.id = u.person_id WHERE p.dni = '30123456'").await, 0);
}

#[tokio::test]
async fn admin_creates_institutions_and_duplicates_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let resp = admin
        .post(
            "/admin/instituciones",
            &[
                ("name", "Centro de Formación Profesional N° 1".into()),
                ("cuit", String::new()),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Institución creada"));
    let resp = admin
        .post(
            "/admin/instituciones",
            &[
                ("name", "Centro de Formación Profesional N° 1".into()),
                ("cuit", String::new()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Ya existe una institución con ese nombre")
    );
    let resp = admin
        .post(
            "/admin/instituciones",
            &[("name", "Otra".into()), ("cuit", "30-12345678-0".into())],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("El CUIT no es válido"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM institutions WHERE name IN ('Centro de Formación Profesional N° 1', 'Otra')")
            .await,
        1
    );
}

#[tokio::test]
async fn role_boundaries_answer_404() {
    let app = TestApp::spawn().await;
    let learner = app.learner("30123456").await;
    for path in [
        "/admin",
        "/admin/roles",
        "/admin/oficinas",
        "/admin/instituciones",
        "/admin/comisiones",
        "/admin/comisiones/nueva",
        "/oficina",
        "/oficina/personas/nueva",
        "/oficina/personas/1",
    ] {
        let resp = learner.get(path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(resp.text().await.unwrap().contains("Página no encontrada"));
    }
    let class = app.class_of("atencion-al-cliente").await;
    assert_eq!(
        learner
            .get(&format!("/comisiones/{class}/participantes"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let resp = learner
        .post(
            "/admin/roles",
            &[
                ("dni", "30123456".into()),
                ("role", "admin".into()),
                ("scope", String::new()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM role_grants WHERE role = 'admin'")
            .await,
        1,
        "only the demo admin"
    );
    // Anonymous visitors are sent to log in and then back.
    let resp = app.browser().get("/mi-aula").await;
    assert_eq!(resp.url().path(), "/ingresar");
    assert_eq!(resp.url().query(), Some("siguiente=%2Fmi-aula"));
}

#[tokio::test]
async fn each_role_is_404_outside_its_own_area() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let class = app.class_of("atencion-al-cliente").await;
    let office = office(&app, "Oficina de Empleo Capital").await;
    admin
        .post(
            "/admin/instituciones",
            &[("name", "CFP Tafí Viejo".into()), ("cuit", String::new())],
        )
        .await;
    let institution = app.count("SELECT MAX(id) FROM institutions").await;
    let operator = app.learner("30000011").await;
    let instructor = app.learner("30000012").await;
    let certifier = app.learner("30000013").await;
    admin
        .grant("30000011", "operator", &format!("office:{office}"))
        .await;
    admin
        .grant("30000012", "instructor", &format!("class:{class}"))
        .await;
    admin
        .grant(
            "30000013",
            "certifier",
            &format!("institution:{institution}"),
        )
        .await;
    let roster = format!("/comisiones/{class}/participantes");
    let cases: [(&Browser, &[&str], &[&str]); 3] = [
        (
            &operator,
            &["/oficina", "/oficina/personas/nueva"],
            &["/admin", "/admin/roles", roster.as_str()],
        ),
        (
            &instructor,
            &[roster.as_str()],
            &["/admin", "/oficina", "/oficina/personas/nueva"],
        ),
        (
            &certifier,
            &["/mi-aula"],
            &["/admin", "/admin/comisiones", "/oficina", roster.as_str()],
        ),
    ];
    for (browser, allowed, refused) in cases {
        for path in allowed {
            assert_eq!(browser.get(path).await.status(), StatusCode::OK, "{path}");
        }
        for path in refused {
            assert_eq!(
                browser.get(path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn the_address_limit_does_not_lock_anyone_out_of_their_account() {
    let app = TestApp::spawn_with(|c| c.trust_proxy = true).await;
    app.learner("30123456").await;
    let attacker = browser_from(&app, "10.0.0.1");
    for i in 0..30 {
        let resp = attacker
            .login(&format!("2{:07}", 1000000 + i), "mala-clave-1")
            .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "intento {i}");
    }
    // The address is now refused; these tries at the victim must not count against her.
    let mut last = None;
    for _ in 0..10 {
        let resp = attacker.login("30123456", "mala-clave-1").await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        last = Some(resp);
    }
    let victim = browser_from(&app, "10.0.0.2");
    let resp = victim.login("30123456", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Hola, Lucía"));
    // The refusal says when to come back.
    let last = last.unwrap();
    assert!(last.headers().contains_key("retry-after"));
    assert!(
        last.text()
            .await
            .unwrap()
            .contains("Probá de nuevo en 15 minutos")
    );
}

#[tokio::test]
async fn the_dni_and_the_email_of_an_account_share_one_login_counter() {
    let app = TestApp::spawn().await;
    app.learner("30123456").await;
    let b = app.browser();
    for ident in ["30123456", "30123456@correo.test"]
        .into_iter()
        .cycle()
        .take(5)
    {
        assert_eq!(
            b.login(ident, "mala-clave-1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Five guesses in all, not five per way of naming the account.
    for ident in ["30123456", "30123456@correo.test"] {
        assert_eq!(
            app.browser().login(ident, PASSWORD).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{ident}"
        );
    }
}

#[tokio::test]
async fn using_a_reset_link_voids_the_other_links_of_the_account() {
    let app = TestApp::spawn().await;
    app.learner("30123456").await;
    let anon = app.browser();
    anon.post("/recuperar", &[("identifier", "30123456".into())])
        .await;
    reset_links(&app, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    anon.post(
        "/recuperar",
        &[("identifier", "30123456@correo.test".into())],
    )
    .await;
    let links = reset_links(&app, 2).await;
    assert_eq!(links.len(), 2);
    let choose = |pw: &str| vec![("password", pw.to_string()), ("password2", pw.to_string())];
    let resp = anon.post(&links[1], &choose("otra-clave-789")).await;
    assert!(resp.text().await.unwrap().contains("Ya podés ingresar"));
    // The older link (maybe read by someone else) no longer changes the password.
    let resp = anon.post(&links[0], &choose("del-intruso-000")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("ya se usó o venció"));
    assert_eq!(
        app.browser()
            .login("30123456", "otra-clave-789")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM password_resets WHERE used_at IS NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn wrong_current_passwords_at_password_change_are_rate_limited() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let change = |current: &str| {
        vec![
            ("current", current.to_string()),
            ("password", "nueva-clave-456".to_string()),
            ("password2", "nueva-clave-456".to_string()),
        ]
    };
    for _ in 0..5 {
        let resp = b.post("/cuenta/clave", &change("no-es-esta")).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let resp = b.post("/cuenta/clave", &change(PASSWORD)).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"id="current-error""#) && html.contains("Probá de nuevo en 15 minutos"),
        "{html}"
    );
    assert_eq!(
        app.browser().login("30123456", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the guesses count with the login's"
    );
    assert_eq!(
        app.browser()
            .login("30123456", "nueva-clave-456")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the password did not change"
    );
}

#[tokio::test]
async fn registration_is_limited_per_address_and_says_when_to_retry() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    for i in 0..40 {
        let resp = b
            .register(&registration(&format!("{}", 31_000_000 + i)))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "registro {i}");
        b.post("/salir", &[]).await;
    }
    let persons = app.count("SELECT COUNT(*) FROM persons").await;
    let resp = b.register(&registration("31999999")).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&retry), "{retry}");
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(
            "Hubo demasiados intentos de crear cuentas desde esta conexión. Probá de nuevo en 60 minutos."
        ),
        "{html}"
    );
    assert!(html.contains(r#"value="31999999""#), "keeps what was typed");
    assert_eq!(app.count("SELECT COUNT(*) FROM persons").await, persons);
    // A form with a mistake is still answered at its field (mistakes are not counted).
    let mut typo = registration("31888888");
    typo.iter_mut().find(|(k, _)| *k == "cuil").unwrap().1 = "20-31888888-0".into();
    let resp = app.browser().register(&typo).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().await.unwrap().contains(r#"id="cuil-error""#));
}

#[tokio::test]
async fn redirect_targets_are_only_paths_of_this_site() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let raw = b.no_redirects();
    for (next, expected) in [
        ("/%09/evil.example/", "/mi-aula"),
        ("/%0a/evil.example/", "/mi-aula"),
        ("/%0d%0aSet-Cookie:%20x=1", "/mi-aula"),
        ("/%00", "/mi-aula"),
        ("/%5Cevil.example", "/mi-aula"),
        ("%2F%2Fevil.example", "/mi-aula"),
        ("https://evil.example/", "/mi-aula"),
        ("/cursos/atencion-al-cliente", "/cursos/atencion-al-cliente"),
    ] {
        let resp = raw
            .get(b.url(&format!("/ingresar?siguiente={next}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(resp.headers()["location"], expected, "{next}");
    }
    // The hidden field of the login and registration forms carries only a safe value.
    for page in ["/ingresar", "/registro"] {
        let html = app
            .browser()
            .get(&format!("{page}?siguiente=/%09/evil.example/"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(r#"name="next" value="/mi-aula""#) && !html.contains("evil.example"),
            "{page}: {html}"
        );
    }
    // And what is posted in it is checked again.
    let login = app.browser();
    let csrf = login.csrf().await;
    let resp = login
        .no_redirects()
        .post(login.url("/ingresar"))
        .form(&[
            ("identifier", "30123456"),
            ("password", PASSWORD),
            ("next", "/\t/evil.example/"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/mi-aula");
    let reg = app.browser();
    let csrf = reg.csrf().await;
    let capital = reg.department_id("Capital").await;
    let mut form: Vec<(&str, String)> = registration("30654321")
        .into_iter()
        .map(|(k, v)| (k, if v == "CAPITAL" { capital.clone() } else { v }))
        .collect();
    form.push(("next", "/\\evil.example".into()));
    form.push(("csrf", csrf));
    let resp = reg
        .no_redirects()
        .post(reg.url("/registro"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/mi-aula");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_a_spanish_page() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let resp = b
        .post(
            "/ingresar",
            &[
                ("identifier", "x".repeat(1024 * 1024 + 10)),
                ("password", "x".into()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("más grande de lo que podemos recibir"),
        "{html}"
    );
}

#[tokio::test]
async fn emails_with_control_characters_are_refused_at_the_field() {
    let app = TestApp::spawn().await;
    for bad in ["ana\u{0}@correo.test", "ana@correo.test\u{7}"] {
        let mut form = registration("30123456");
        form.iter_mut().find(|(k, _)| *k == "email").unwrap().1 = bad.into();
        let resp = app.browser().register(&form).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(
            resp.text().await.unwrap().contains(r#"id="email-error""#),
            "{bad:?}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM persons WHERE dni = '30123456'")
            .await,
        0
    );
}

#[tokio::test]
async fn after_an_error_the_form_says_to_type_the_password_again_at_its_fields() {
    let app = TestApp::spawn().await;
    let mut form = registration("30123456");
    form.iter_mut().find(|(k, _)| *k == "cuil").unwrap().1 = "20-30123456-0".into();
    let html = app.browser().register(&form).await.text().await.unwrap();
    assert!(
        html.contains("Por seguridad, volvé a escribir la contraseña."),
        "{html}"
    );
    assert!(
        html.contains(r#"id="password" name="password" type="password" autocomplete="new-password" aria-describedby="password-hint password-retype""#),
        "{html}"
    );
    // A password error is tied to its field like the others.
    form.iter_mut().find(|(k, _)| *k == "password2").unwrap().1 = "otra-cosa-distinta".into();
    let html = app.browser().register(&form).await.text().await.unwrap();
    assert!(
        html.contains(r#"aria-describedby="password2-retype password2-error" aria-invalid="true""#),
        "{html}"
    );
    form.iter_mut().find(|(k, _)| *k == "password").unwrap().1 = "corta".into();
    let html = app.browser().register(&form).await.text().await.unwrap();
    assert!(
        html.contains(
            r#"aria-describedby="password-hint password-retype password-error" aria-invalid="true""#
        ),
        "{html}"
    );
    // A first visit says nothing of the kind.
    let (_, html) = app.browser().get_text("/registro").await;
    assert!(!html.contains("Por seguridad"));
}

#[tokio::test]
async fn dni_cuil_and_code_open_the_number_keyboard_and_localities_follow_the_department() {
    let app = TestApp::spawn().await;
    let (_, html) = app.browser().get_text("/registro").await;
    assert!(
        html.contains(
            r#"id="dni" name="dni" type="text" inputmode="numeric" autocomplete="username""#
        ),
        "{html}"
    );
    assert!(html.contains(r#"id="cuil" name="cuil" type="text" inputmode="numeric""#));
    assert!(html.contains(
        r#"id="claim_code" name="claim_code" type="text" inputmode="numeric" autocomplete="one-time-code""#
    ));
    // Localities come grouped by department, and a script (no inline code: CSP) narrows them.
    let capital = department(&app, "Capital").await;
    assert!(html.contains(&format!(
        r#"<optgroup label="Capital" data-department="{capital}">"#
    )));
    assert!(html.contains(r#"data-localities="locality_id""#));
    let start = html
        .find(r#"<script src="/static/localities."#)
        .expect("script")
        + 13;
    let src = html[start..].split('"').next().unwrap();
    assert!(!html.contains("<script>"), "no inline scripts");
    let resp = app.browser().get(src).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(resp.text().await.unwrap().contains("data-department"));
}

/// Needs Chromium and playwright-core (`.ci/run` installs both), so it runs only when asked:
/// `cargo test --test it browser_registration -- --ignored`.
#[tokio::test]
#[ignore = "needs Chromium and playwright-core; run by .ci/run"]
async fn browser_registration_localities_follow_the_department() {
    let app = TestApp::spawn().await;
    let count = async |name: &str| {
        with_db!(&app.db, |p| {
            sqlx::query_as::<_, (i64, i64)>(
            "SELECT d.id, COUNT(l.id) FROM departments d JOIN localities l ON l.department_id = d.id
             WHERE d.name = $1 GROUP BY d.id"
        )
        .bind(name)
        .fetch_one(p)
        .await
        })
        .unwrap()
    };
    let (a, count_a) = count("Capital").await;
    let (b, count_b) = count("Tafí del Valle").await;
    assert_ne!(
        count_a, count_b,
        "two departments told apart by their counts"
    );
    run_browser_script(
        "localities.mjs",
        vec![
            ("AULA_BASE", app.base.clone()),
            ("AULA_DEPT_A", a.to_string()),
            ("AULA_DEPT_B", b.to_string()),
            ("AULA_COUNT_A", count_a.to_string()),
            ("AULA_COUNT_B", count_b.to_string()),
            (
                "AULA_TOTAL",
                app.count("SELECT COUNT(*) FROM localities")
                    .await
                    .to_string(),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_new_password_or_email_voids_reset_links_sent_before() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let anon = app.browser();
    let choose = |pw: &str| vec![("password", pw.to_string()), ("password2", pw.to_string())];
    // A link asked for, then the password changed knowing the current one.
    anon.post("/recuperar", &[("identifier", "30123456".into())])
        .await;
    let link = reset_link(&app).await;
    let resp = b
        .post(
            "/cuenta/clave",
            &[
                ("current", PASSWORD.into()),
                ("password", "nueva-clave-456".into()),
                ("password2", "nueva-clave-456".into()),
            ],
        )
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Tu contraseña se cambió")
    );
    let resp = anon.post(&link, &choose("del-intruso-000")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    // A link sent to the old email, then the email changed.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    anon.post("/recuperar", &[("identifier", "30123456".into())])
        .await;
    let link = reset_links(&app, 2).await.pop().unwrap();
    let resp = b
        .post(
            "/mi-aula/datos",
            &[
                ("email", "otra@correo.test".into()),
                ("phone", "3815123456".into()),
            ],
        )
        .await;
    assert!(resp.text().await.unwrap().contains("se guardaron"));
    let resp = anon.post(&link, &choose("del-intruso-000")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.browser()
            .login("30123456", "nueva-clave-456")
            .await
            .status(),
        StatusCode::OK
    );
}
