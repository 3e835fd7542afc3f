use crate::helpers::*;

use aula::{
    people::domain::{Cuil, Dni},
    with_db,
};
use reqwest::StatusCode;

const OPERATOR_DNI: &str = "32000001";

fn cuil(prefix: &str, dni: &str) -> Cuil {
    Cuil::for_dni(prefix, &Dni::parse(dni).unwrap())
        .unwrap_or_else(|| panic!("CUIL {prefix} para {dni}"))
}

/// A learner who operates the "Oficina de Empleo <office_of>" (granted by the admin form).
async fn operator(app: &TestApp, admin: &Browser, dni: &str, office_of: &str) -> Browser {
    let b = app.learner(dni).await;
    let id = office(app, &format!("Oficina de Empleo {office_of}")).await;
    admin.grant(dni, "operator", &format!("office:{id}")).await;
    b
}

/// The office form for a person without account.
fn person_form(
    dni: &str,
    first: &str,
    last: &str,
    department_id: i64,
) -> Vec<(&'static str, String)> {
    vec![
        ("dni", dni.to_string()),
        ("cuil", cuil("20", dni).formatted()),
        ("first_name", first.to_string()),
        ("last_name", last.to_string()),
        ("birth_date", "1985-09-21".into()),
        ("email", String::new()),
        ("phone", "3814998877".into()),
        ("department_id", department_id.to_string()),
        ("locality_id", String::new()),
    ]
}

/// Registers a person through the office form and returns their id.
async fn office_registers(op: &Browser, form: &[(&'static str, String)]) -> i64 {
    office_registers_html(op, form).await.0
}

/// Registers a person through the office form and returns their id and the claim code the
/// confirmation page shows.
async fn office_registers_with_code(
    op: &Browser,
    form: &[(&'static str, String)],
) -> (i64, String) {
    let (id, html) = office_registers_html(op, form).await;
    (id, slip_code(&html))
}

async fn office_registers_html(op: &Browser, form: &[(&'static str, String)]) -> (i64, String) {
    let resp = op.post("/oficina/personas/nueva", form).await;
    assert_eq!(resp.status(), StatusCode::OK, "registrar persona");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Persona registrada. Ya podés inscribirla en un curso."));
    let at = html
        .find("/oficina/personas/")
        .expect("enlace a la persona")
        + 18;
    let id = html[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap();
    (id, html)
}

/// The claim code printed on a slip page.
fn slip_code(html: &str) -> String {
    let at = html
        .find(r#"<p class="slip-code" id="codigo">"#)
        .unwrap_or_else(|| panic!("la constancia con el código: {html}"))
        + 33;
    html[at..].split('<').next().unwrap().to_string()
}

fn rows_listed(html: &str) -> usize {
    html.matches("<tr><td><a href=\"/oficina/personas/").count()
}

#[tokio::test]
async fn operator_registers_a_person_without_account_and_enrols_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let op_user = user_of(&app, OPERATOR_DNI).await;
    let capital = department(&app, "Capital").await;

    // The form offers only the operator's departments.
    let (status, html) = op.get_text("/oficina/personas/nueva").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("<option value=\"{capital}\">Capital</option>")));
    assert!(!html.contains(">Monteros</option>"));

    let persons_before = app.count("SELECT COUNT(*) FROM persons").await;
    let id = office_registers(
        &op,
        &person_form("33444555", "María José", "Núñez", capital),
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM persons").await,
        persons_before + 1
    );
    assert_eq!(
        app.scalar_i64("SELECT created_by FROM persons WHERE id = $1", id)
            .await,
        op_user
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM users WHERE person_id = $1", id)
            .await,
        0,
        "sin cuenta"
    );
    let (status, html) = op.get_text(&format!("/oficina/personas/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>María José Núñez</h1>"));
    assert!(html.contains("<dd>33444555</dd>"));
    assert!(html.contains("<dd>3814998877</dd>"));
    assert!(html.contains("<dd>21/09/1985</dd>"));
    assert!(html.contains("Todavía no tiene cuenta"));
    assert!(html.contains("Sin inscripciones todavía."));

    // Assisted enrolment in the demo class.
    let class = app.class_of("herramientas-digitales-empleo").await;
    let resp = op
        .post(
            &format!("/oficina/personas/{id}/inscribir"),
            &[("class_id", class.to_string())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().path(), format!("/oficina/personas/{id}"));
    let html = resp.text().await.unwrap();
    // The operator reads whom she enrolled, not a message written as if she had enrolled herself.
    assert!(
        html.contains("Inscribiste a María José Núñez en la comisión."),
        "{html}"
    );
    assert!(!html.contains("Quedaste inscripto/a"));
    // The page says how the person creates their account in words, not with a raw path.
    assert!(!html.contains("en /registro"));
    let inscripciones =
        &html[html.find("id=\"inscripciones\"").unwrap()..html.find("id=\"inscribir\"").unwrap()];
    assert!(
        inscripciones.contains("Herramientas digitales para la búsqueda de empleo"),
        "{inscripciones}"
    );
    assert!(inscripciones.contains("Inscripto/a"));
    assert!(inscripciones.contains("Inscripción hecha por Lucía Medina (oficina de empleo)."));

    #[derive(sqlx::FromRow)]
    struct Row {
        status: String,
        enrolled_by: Option<i64>,
    }
    let row: Row = with_db!(&app.db, |p| sqlx::query_as::<_, Row>(
        "SELECT status, enrolled_by FROM enrolments WHERE class_id = $1 AND person_id = $2"
    )
    .bind(class)
    .bind(id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(row.status, "confirmed");
    assert_eq!(row.enrolled_by, Some(op_user));
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        1
    );
}

/// The registration form for the person the office registered with `person_form` (same DNI,
/// CUIL and birth date), with this claim code.
fn claim_form(dni: &str, code: &str) -> Vec<(&'static str, String)> {
    let mut form = registration(dni);
    form.iter_mut().find(|(k, _)| *k == "cuil").unwrap().1 = cuil("20", dni).formatted();
    form.iter_mut().find(|(k, _)| *k == "birth_date").unwrap().1 = "1985-09-21".into();
    form.push(("claim_code", code.to_string()));
    form
}

fn set(form: &mut [(&'static str, String)], key: &str, value: &str) {
    form.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.to_string();
}

/// The message at the DNI field of a registration answer.
async fn dni_error(resp: reqwest::Response) -> String {
    let html = resp.text().await.unwrap();
    let at = html
        .find(r#"<p class="field-error" id="dni-error">"#)
        .unwrap_or_else(|| panic!("sin error en el DNI: {html}"))
        + 38;
    html[at..].split("</p>").next().unwrap().to_string()
}

#[tokio::test]
async fn person_registered_by_an_office_claims_the_account_only_with_the_office_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let capital = department(&app, "Capital").await;
    let dni = "33555666";
    let (id, code) =
        office_registers_with_code(&op, &person_form(dni, "Ramón", "Acuña", capital)).await;
    let class = app.class_of("atencion-al-cliente").await;
    assert_eq!(
        op.post(
            &format!("/oficina/personas/{id}/inscribir"),
            &[("class_id", class.to_string())]
        )
        .await
        .status(),
        StatusCode::OK
    );
    let persons_before = app.count("SELECT COUNT(*) FROM persons").await;
    let users_before = app.count("SELECT COUNT(*) FROM users").await;
    let right = claim_form(dni, &code);

    // Knowing the DNI, CUIL and birth date is not enough; the answer is the one a DNI with an
    // account gets, and says nothing of the office.
    let mut no_code = right.clone();
    set(&mut no_code, "claim_code", "");
    let taken_by_office = dni_error(app.browser().register(&no_code).await).await;
    let taken_by_account =
        dni_error(app.browser().register(&registration(OPERATOR_DNI)).await).await;
    assert_eq!(taken_by_office, crate::accounts::DNI_TAKEN);
    assert_eq!(taken_by_account, taken_by_office);
    assert!(!taken_by_office.contains("ya te registró"));

    // A wrong code, or the right one with a CUIL or birth date that does not match: the same.
    let other_digit = if code.starts_with('9') { "0" } else { "9" };
    let mut wrong_code = right.clone();
    set(
        &mut wrong_code,
        "claim_code",
        &format!("{other_digit}{}", &code[1..]),
    );
    let wrong_prefix = ["27", "23", "24"]
        .into_iter()
        .find_map(|p| Cuil::for_dni(p, &Dni::parse(dni).unwrap()))
        .unwrap();
    let mut wrong_cuil = right.clone();
    set(&mut wrong_cuil, "cuil", &wrong_prefix.formatted());
    let mut wrong_birth = right.clone();
    set(&mut wrong_birth, "birth_date", "1985-09-22");
    for (what, bad) in [
        ("código", wrong_code),
        ("CUIL", wrong_cuil),
        ("fecha de nacimiento", wrong_birth),
    ] {
        let b = app.browser();
        let resp = b.register(&bad).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(&format!(
                "<p class=\"field-error\" id=\"dni-error\">{}</p>",
                crate::accounts::DNI_TAKEN
            )),
            "{what}: mensaje en el DNI: {html}"
        );
        assert!(
            html.contains(&format!("value=\"{dni}\"")),
            "{what}: conserva lo escrito"
        );
        assert_eq!(
            app.count("SELECT COUNT(*) FROM users").await,
            users_before,
            "{what}"
        );
        assert_eq!(
            app.count("SELECT COUNT(*) FROM persons").await,
            persons_before,
            "{what}"
        );
        assert!(
            b.cookie("aula_sesion").is_none()
                && b.get("/mi-aula").await.url().path() == "/ingresar",
            "{what}: no queda logueado"
        );
    }
    // A code that is not 12 digits is told at its own field.
    let mut malformed = right.clone();
    set(&mut malformed, "claim_code", "K7PM-3XQD");
    let html = app
        .browser()
        .register(&malformed)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="claim_code-error""#) && html.contains("tiene 12 números"));

    // The right code: the account is attached to the same Persona, with the email typed.
    let b = app.browser();
    let resp = b.register(&right).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().path(), "/mi-aula");
    let html = resp.text().await.unwrap();
    assert!(html.contains("¡Listo! Tu cuenta está creada."));
    assert!(
        html.contains("Hola, Ramón"),
        "los datos de la oficina se conservan"
    );
    assert!(html.contains("Atención al cliente"));
    assert!(html.contains("Inscripción hecha por Lucía Medina (oficina de empleo)."));
    assert!(
        html.contains(&format!("<dt>Email</dt><dd>{dni}@correo.test</dd>")),
        "Mis datos muestra el email de la cuenta: {html}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM persons").await,
        persons_before
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users").await,
        users_before + 1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM users WHERE person_id = $1", id)
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM claim_codes WHERE person_id = $1", id)
            .await,
        0,
        "el código se gastó"
    );
    let (_, html) = op.get_text(&format!("/oficina/personas/{id}")).await;
    assert!(html.contains("Tiene cuenta en Aula."));
    assert_eq!(
        app.browser().login(dni, PASSWORD).await.url().path(),
        "/mi-aula"
    );
    // The code works once.
    let resp = app.browser().register(&right).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(dni_error(resp).await, crate::accounts::DNI_TAKEN);
}

#[tokio::test]
async fn claim_codes_are_stored_hashed_expire_and_a_new_one_voids_the_old() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let capital = department(&app, "Capital").await;
    let (id, first) =
        office_registers_with_code(&op, &person_form("33555777", "Ana", "Sosa", capital)).await;
    assert_eq!(first.len(), 14, "{first}");
    let stored = crate::helpers::scalar_text(
        &app,
        "SELECT code_hash FROM claim_codes WHERE person_id = $1",
        id,
    )
    .await;
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(&first.replace('-', "")), "solo el hash");
    // The person page says until when it is valid and offers a new one.
    let (_, html) = op.get_text(&format!("/oficina/personas/{id}")).await;
    assert!(html.contains("Tiene un código vigente hasta el"), "{html}");
    let resp = op
        .post(&format!("/oficina/personas/{id}/codigo"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Código para crear tu cuenta en Aula") && html.contains("vale hasta el"));
    let second = slip_code(&html);
    assert_ne!(second, first);
    // The old code no longer works; the new one does, until it expires.
    let resp = app
        .browser()
        .register(&claim_form("33555777", &first))
        .await;
    assert_eq!(dni_error(resp).await, crate::accounts::DNI_TAKEN);
    // Another person's live code does not open this account.
    let (_, others) =
        office_registers_with_code(&op, &person_form("33555666", "Otro", "Sosa", capital)).await;
    let resp = app
        .browser()
        .register(&claim_form("33555777", &others))
        .await;
    assert_eq!(dni_error(resp).await, crate::accounts::DNI_TAKEN);
    aula::with_db!(&app.db, |p| sqlx::query(
        "UPDATE claim_codes SET expires_at = $1 WHERE person_id = $2"
    )
    .bind(chrono::Utc::now() - chrono::Duration::minutes(1))
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    let resp = app
        .browser()
        .register(&claim_form("33555777", &second))
        .await;
    assert_eq!(dni_error(resp).await, crate::accounts::DNI_TAKEN, "vencido");
    let (_, html) = op.get_text(&format!("/oficina/personas/{id}")).await;
    assert!(html.contains("No tiene un código vigente."));
    let third = slip_code(
        &op.post(&format!("/oficina/personas/{id}/codigo"), &[])
            .await
            .text()
            .await
            .unwrap(),
    );
    let resp = app
        .browser()
        .register(&claim_form("33555777", &third.replace('-', " ")))
        .await;
    assert_eq!(
        resp.url().path(),
        "/mi-aula",
        "con espacios en lugar de guiones también"
    );
    // Once the account exists there is no code to issue.
    let resp = op
        .post(&format!("/oficina/personas/{id}/codigo"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn claims_are_limited_per_dni_and_per_address() {
    let app = TestApp::spawn_with(|c| c.trust_proxy = true).await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let capital = department(&app, "Capital").await;
    let (_, code) =
        office_registers_with_code(&op, &person_form("33555888", "Eva", "Ruiz", capital)).await;
    let wrong = if code.starts_with('1') {
        "2222-2222-2222"
    } else {
        "1111-1111-1111"
    };
    // Ten wrong codes for one DNI, each from another address: then even the right code waits.
    for i in 0..10 {
        let resp = browser_from(&app, &format!("10.0.1.{i}"))
            .register(&claim_form("33555888", wrong))
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "intento {i}"
        );
    }
    let resp = browser_from(&app, "10.0.1.200")
        .register(&claim_form("33555888", &code))
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(
            "Hubo demasiados intentos con este DNI o desde esta conexión. Probá de nuevo en"
        ),
        "{html}"
    );
    assert!(!person_has_account(&app, "33555888").await);
    // From one address, claims over many DNIs stop at 30 an hour (a DNI with an account counts
    // like any other).
    let lab = browser_from(&app, "10.0.2.1");
    for i in 0..30 {
        let resp = lab.register(&claim_form(OPERATOR_DNI, wrong)).await;
        let expected = if i < 10 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(
            resp.status(),
            expected,
            "intento {i} (el DNI se limita a 10)"
        );
    }
    let resp = lab.register(&claim_form("20111222", wrong)).await;
    assert_eq!(
        resp.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "la dirección llegó a 30"
    );
    // Someone else, from elsewhere, registers normally.
    assert_eq!(
        browser_from(&app, "10.0.3.1")
            .register(&registration("36000001"))
            .await
            .status(),
        StatusCode::OK
    );
}

async fn person_has_account(app: &TestApp, dni: &str) -> bool {
    aula::with_db!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM users u JOIN persons p ON p.id = u.person_id WHERE p.dni = $1"
    )
    .bind(dni)
    .fetch_one(p)
    .await)
    .unwrap()
        > 0
}

/// The claim code in an email.
fn mailed_code(mail: &str) -> String {
    let digits: Vec<&str> = mail
        .split_whitespace()
        .filter(|w| w.len() == 14 && w.chars().all(|c| c.is_ascii_digit() || c == '-'))
        .collect();
    assert_eq!(digits.len(), 1, "un código en el email: {mail}");
    digits[0].to_string()
}

#[tokio::test]
async fn codes_go_to_the_email_on_file_from_the_office_or_on_request_and_the_page_says_the_same_to_everyone()
 {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let capital = department(&app, "Capital").await;
    let mut with_email = person_form("33555999", "Irma", "Paz", capital);
    with_email
        .iter_mut()
        .find(|(k, _)| *k == "email")
        .unwrap()
        .1 = "irma@correo.test".into();
    let (id, printed) = office_registers_with_code(&op, &with_email).await;
    let without_email =
        office_registers(&op, &person_form("33555111", "Luis", "Paz", capital)).await;

    // The operator sends a new code to the email on file.
    let (_, html) = op.get_text(&format!("/oficina/personas/{id}")).await;
    assert!(html.contains("Enviar un código nuevo a irma@correo.test"));
    let (_, html) = op
        .get_text(&format!("/oficina/personas/{without_email}"))
        .await;
    assert!(!html.contains("Enviar un código nuevo a"));
    let resp = op
        .post(&format!("/oficina/personas/{id}/codigo/email"), &[])
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Enviamos un código nuevo a irma@correo.test")
    );
    let mails = wait_for_mails(&app, 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("irma@correo.test") && mails[0].contains("/registro"));
    let by_office = mailed_code(&mails[0]);
    assert_ne!(by_office, printed);

    // The person asks for one from the link next to the registration form.
    let (_, html) = app.browser().get_text("/registro").await;
    assert!(
        html.contains(r#"<a href="/registro/codigo">¿Tu oficina te registró? Pedí tu código</a>"#)
    );
    let ask = async |dni: &str| {
        let resp = app
            .browser()
            .post("/registro/codigo", &[("dni", dni.into())])
            .await;
        let status = resp.status();
        let page: Vec<String> = resp
            .text()
            .await
            .unwrap()
            .lines()
            .filter(|l| !l.contains("csrf"))
            .map(str::to_string)
            .collect();
        (status, page)
    };
    let known = ask("33555999").await;
    assert_eq!(known.0, StatusCode::OK);
    assert!(known.1.concat().contains("te enviamos ahí un código nuevo"));
    let mails = wait_for_mails(&app, 2).await;
    assert_eq!(mails.len(), 2);
    let by_person = mailed_code(&mails[1]);
    // Every other case gets the same page and no email: no email on file, an account, nobody.
    for dni in ["33555111", OPERATOR_DNI, "39999999"] {
        assert_eq!(ask(dni).await, known, "{dni}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(crate::helpers::mails(&app).len(), 2);
    // Only the newest code works.
    for old in [&printed, &by_office] {
        let resp = app.browser().register(&claim_form("33555999", old)).await;
        assert_eq!(dni_error(resp).await, crate::accounts::DNI_TAKEN);
    }
    // Three requests per DNI an hour; the fourth waits (for any DNI alike).
    ask("33555999").await;
    ask("33555999").await;
    let limited = app
        .browser()
        .post("/registro/codigo", &[("dni", "33555999".into())])
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("Pediste demasiados códigos. Probá de nuevo en")
    );
    // The last two codes: mails are sent in the background, so the folder does not say which
    // was written last; exactly one of them (the newest) opens the account.
    let fresh: Vec<String> = wait_for_mails(&app, 4)
        .await
        .iter()
        .map(|m| mailed_code(m))
        .filter(|c| ![&printed, &by_office, &by_person].contains(&c))
        .collect();
    assert_eq!(fresh.len(), 2, "{fresh:?}");
    let mut opened = 0;
    for code in &fresh {
        let resp = app.browser().register(&claim_form("33555999", code)).await;
        if resp.url().path() == "/mi-aula" {
            opened += 1;
        } else {
            assert_eq!(dni_error(resp).await, crate::accounts::DNI_TAKEN);
        }
    }
    assert_eq!(opened, 1, "solo el código más nuevo abre la cuenta");
}

#[tokio::test]
async fn operators_issue_codes_only_in_their_territory() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let monteros_op = operator(&app, &admin, "32000002", "Monteros").await;
    let capital = department(&app, "Capital").await;
    let (id, code) =
        office_registers_with_code(&op, &person_form("33555223", "Rita", "Luna", capital)).await;
    let learner = app.learner("36000002").await;
    for path in [
        format!("/oficina/personas/{id}/codigo"),
        format!("/oficina/personas/{id}/codigo/email"),
    ] {
        for who in [&monteros_op, &learner] {
            assert_eq!(
                who.post(&path, &[]).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
    // The printed code still works: nobody outside the territory replaced it.
    let resp = app.browser().register(&claim_form("33555223", &code)).await;
    assert_eq!(resp.url().path(), "/mi-aula");
}

#[tokio::test]
async fn office_search_escapes_like_wildcards_and_cuts_long_input() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    app.quick_user("34000002", "Capital").await;
    for q in ["%25", "_", "3400000_", "%25%25"] {
        let (status, html) = op.get_text(&format!("/oficina?q={q}")).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert!(html.contains("0 persona(s)"), "{q}: {html}");
    }
    let (status, html) = op
        .get_text(&format!("/oficina?q={}", "3".repeat(60_000)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("0 persona(s)"));
    let (_, html) = op.get_text("/oficina?q=3400000").await;
    assert!(html.contains("<td>34000002</td>"));
}

#[tokio::test]
async fn a_person_sees_and_changes_their_own_email_and_phone() {
    let app = TestApp::spawn().await;
    let b = app.learner("30123456").await;
    let (_, html) = b.get_text("/mi-aula").await;
    assert!(
        html.contains("<dt>Email</dt><dd>30123456@correo.test</dd>"),
        "{html}"
    );
    assert!(html.contains(r#"<a href="/mi-aula/datos">Cambiar mi email o celular</a>"#));
    let (status, html) = b.get_text("/mi-aula/datos").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"value="30123456@correo.test""#) && html.contains(r#"value="3815123456""#)
    );
    // Mistakes are told at their field and change nothing.
    app.learner("30999888").await;
    for (email, phone, field) in [
        ("no-es-email", "3815123456", "email"),
        ("ana\u{7}@correo.test", "3815123456", "email"),
        ("nueva@correo.test", "123", "phone"),
        ("", "", "email"),
        ("30999888@correo.test", "3815123456", "email"),
    ] {
        let resp = b
            .post(
                "/mi-aula/datos",
                &[("email", email.into()), ("phone", phone.into())],
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email:?} {phone}"
        );
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains(&format!(r#"id="{field}-error""#)),
            "{email:?}"
        );
    }
    let resp = b
        .post(
            "/mi-aula/datos",
            &[
                ("email", "Nueva@Correo.test".into()),
                ("phone", "381 444-5566".into()),
            ],
        )
        .await;
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Tus datos de contacto se guardaron."),
        "{html}"
    );
    assert!(
        html.contains("<dt>Email</dt><dd>nueva@correo.test</dd>")
            && html.contains("<dd>3814445566</dd>")
    );
    // The new email is also the one to log in with.
    assert_eq!(
        app.browser()
            .login("nueva@correo.test", PASSWORD)
            .await
            .url()
            .path(),
        "/mi-aula"
    );
    assert_eq!(
        app.browser()
            .login("30123456@correo.test", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn office_names_and_addresses_with_control_characters_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let capital = department(&app, "Capital").await;
    let before = app.count("SELECT COUNT(*) FROM offices").await;
    for (name, address, field) in [
        ("Oficina Nueva", "Calle 1\u{0}", "address"),
        ("Oficina\u{7} Nueva", "Calle 1", "name"),
    ] {
        let resp = admin
            .post(
                "/admin/oficinas",
                &[
                    ("name", name.into()),
                    ("address", address.into()),
                    ("department", capital.to_string()),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains(&format!(r#"id="{field}-error""#)),
            "{field}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM offices").await, before);
}

#[tokio::test]
async fn operator_only_sees_and_acts_on_people_of_their_territory() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let (monteros_person, _) = app.quick_user("34000001", "Monteros").await;
    let (capital_person, _) = app.quick_user("34000002", "Capital").await;

    // Search: the Capital person is found, the Monteros one is not.
    let (status, html) = op.get_text("/oficina?q=3400000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<td>34000002</td>"));
    assert!(!html.contains("34000001"));
    assert!(html.contains("1 persona(s)"));
    let (_, html) = op.get_text("/oficina").await;
    assert!(html.contains("<td>34000002</td>") && !html.contains("34000001"));
    let (_, html) = op.get_text("/oficina?q=34000001").await;
    assert!(html.contains("0 persona(s)") && html.contains("No hay personas que coincidan."));

    // The person's page and enrolment are 404 outside the territory.
    assert_eq!(
        op.get(&format!("/oficina/personas/{capital_person}"))
            .await
            .status(),
        StatusCode::OK
    );
    let (status, html) = op
        .get_text(&format!("/oficina/personas/{monteros_person}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("34000001"));
    let class = app.class_of("atencion-al-cliente").await;
    let resp = op
        .post(
            &format!("/oficina/personas/{monteros_person}/inscribir"),
            &[("class_id", class.to_string())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM enrolments WHERE person_id = $1",
            monteros_person
        )
        .await,
        0
    );

    // Registering someone from Monteros is refused at the department.
    let persons = app.count("SELECT COUNT(*) FROM persons").await;
    let monteros = department(&app, "Monteros").await;
    let resp = op
        .post(
            "/oficina/personas/nueva",
            &person_form("34000003", "Juana", "Paz", monteros),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains(
        "<p class=\"field-error\" id=\"department_id-error\">Solo podés registrar personas de los departamentos que atiende tu oficina.</p>"
    ));
    assert!(html.contains("value=\"34000003\""), "conserva lo escrito");
    assert_eq!(app.count("SELECT COUNT(*) FROM persons").await, persons);
    assert_eq!(person_of(&app, "34000003").await, None);

    // An operator of Monteros does see that person (the scoping is by territory, not a blanket ban).
    let op2 = operator(&app, &admin, "32000002", "Monteros").await;
    let (_, html) = op2.get_text("/oficina?q=3400000").await;
    assert!(html.contains("<td>34000001</td>") && !html.contains("34000002"));
    assert_eq!(
        op2.get(&format!("/oficina/personas/{monteros_person}"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn operator_search_by_dni_prefix_and_accent_insensitive_name() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    let capital = department(&app, "Capital").await;
    office_registers(&op, &person_form("35100001", "José", "Pérez", capital)).await;
    office_registers(&op, &person_form("35100002", "Ana", "Gómez", capital)).await;
    office_registers(&op, &person_form("35200003", "Ñandú", "Ibáñez", capital)).await;

    for q in ["perez", "PÉREZ", "Pérez", "perez jose", "JOSÉ"] {
        let (_, html) = op.get_text(&format!("/oficina?q={}", enc(q))).await;
        assert!(html.contains("Pérez, José"), "q={q}");
        assert!(!html.contains("Gómez") && !html.contains("Ibáñez"), "q={q}");
        assert_eq!(rows_listed(&html), 1, "q={q}");
    }
    let (_, html) = op
        .get_text(&format!("/oficina?q={}", enc("ibanez nandu")))
        .await;
    assert_eq!(rows_listed(&html), 1);
    assert!(html.contains("Ibáñez, Ñandú"));

    // DNI prefix, with or without dots.
    let (_, html) = op.get_text("/oficina?q=351").await;
    assert_eq!(rows_listed(&html), 2);
    assert!(
        html.contains("Pérez, José") && html.contains("Gómez, Ana") && !html.contains("Ibáñez")
    );
    let (_, html) = op
        .get_text(&format!("/oficina?q={}", enc("35.100.002")))
        .await;
    assert_eq!(rows_listed(&html), 1);
    assert!(html.contains("Gómez, Ana"));
    // A DNI nobody has finds nothing.
    let (_, html) = op.get_text("/oficina?q=359").await;
    assert_eq!(rows_listed(&html), 0);
    // The typed query stays in the box.
    let (_, html) = op.get_text(&format!("/oficina?q={}", enc("PÉREZ"))).await;
    assert!(html.contains("value=\"PÉREZ\""));
}

#[tokio::test]
async fn operator_search_is_paginated_twenty_per_page() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    for i in 1..=25 {
        app.quick_user(&format!("360000{i:02}"), "Capital").await;
    }
    let (status, html) = op.get_text("/oficina?q=360000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("25 persona(s)"));
    assert_eq!(rows_listed(&html), 20);
    assert!(html.contains("Página 1 de 2"));
    assert!(html.contains("href=\"/oficina?q=360000&amp;pagina=2\" rel=\"next\""));
    assert!(!html.contains("rel=\"prev\""));

    let (status, html) = op.get_text("/oficina?q=360000&pagina=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows_listed(&html), 5);
    assert!(html.contains("Página 2 de 2"));
    assert!(html.contains("href=\"/oficina?q=360000&amp;pagina=1\" rel=\"prev\""));
    assert!(!html.contains("rel=\"next\""));

    // Together the two pages list all 25, each once.
    let ids = |html: &str| -> Vec<String> {
        html.split("<td>")
            .filter_map(|c| c.strip_prefix("360000").map(|r| r[..2].to_string()))
            .collect()
    };
    let (_, p1) = op.get_text("/oficina?q=360000&pagina=1").await;
    let mut all = ids(&p1);
    all.extend(ids(&html));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 25);

    // A narrower query fits in one page, without pagination.
    let (_, html) = op.get_text("/oficina?q=3600001").await;
    assert_eq!(rows_listed(&html), 10);
    assert!(!html.contains("Página "));
}

/// Writes `n` people named "Villagra Ana" in Capital with DNIs from `first_dni`, in one
/// statement (the search's count cap needs more than 200; forms would take minutes).
async fn many_villagras(app: &TestApp, first_dni: i64, n: i64) {
    with_db!(&app.db, |p| sqlx::query(
        "INSERT INTO persons (dni, cuil, first_name, last_name, birth_date, department_id, search_name, created_at)
         WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < $2)
         SELECT CAST($1 + i AS TEXT), '20' || CAST($1 + i AS TEXT) || '0', 'Ana', 'Villagra', $3,
                (SELECT id FROM departments WHERE name = 'Capital'), 'villagra ana ' || CAST($1 + i AS TEXT), $4
           FROM k"
    )
    .bind(first_dni)
    .bind(n)
    .bind(chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap())
    .bind(chrono::Utc::now())
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
}

#[tokio::test]
async fn a_common_name_is_counted_up_to_200_and_a_rare_one_exactly() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let op = operator(&app, &admin, OPERATOR_DNI, "Capital").await;
    // 2100: more than the 2000 candidates under which SQLite lists from its trigram table, so
    // a common name takes the walk in name order and a rare one the trigram table.
    many_villagras(&app, 37_000_000, 2100).await;

    // More than 200 match: the page says so and asks for more, 10 pages of 20 at most.
    let (status, html) = op.get_text("/oficina?q=villagra").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Más de 200 personas coinciden: escribí más del DNI o del apellido"),
        "{html}"
    );
    assert_eq!(rows_listed(&html), 20);
    assert!(html.contains("Página 1 de 10"));
    let (_, html) = admin.get_text("/admin/personas?q=VILLAGRA").await;
    assert!(html.contains("Más de 200 personas coinciden"), "{html}");
    // Everyone in the territory, nothing typed: also capped.
    let (_, html) = op.get_text("/oficina").await;
    assert!(html.contains("Más de 200 personas coinciden"));

    // One of them renamed (as SIPE's update does): found by the new name, not by the old.
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE persons SET last_name = 'Zamudio', search_name = 'zamudio ana 37000123' WHERE dni = '37000123'"
    )
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    let (_, html) = op.get_text("/oficina?q=zamud").await;
    assert!(html.contains("1 persona(s)"), "{html}");
    assert!(html.contains("Zamudio, Ana") && html.contains("<td>37000123</td>"));
    let (_, html) = op.get_text("/oficina?q=37000123").await;
    assert!(html.contains("Zamudio, Ana"));
    // A rare piece of the name with the DNI: exact count.
    let (_, html) = op
        .get_text(&format!("/oficina?q={}", enc("ana 3700012")))
        .await;
    assert!(html.contains("10 persona(s)"), "{html}");

    // A DNI prefix lists in DNI order: 37000000, 37000001, ...
    let (_, html) = op.get_text("/oficina?q=3700000").await;
    assert!(html.contains("10 persona(s)"), "{html}");
    let dnis: Vec<&str> = html
        .split("<td>")
        .filter_map(|c| c.strip_prefix("3700000").map(|_| &c[..8]))
        .collect();
    assert_eq!(
        dnis,
        (0..10).map(|i| format!("3700000{i}")).collect::<Vec<_>>()
    );
    // A prefix ending in nines is still a range: 37000099 matches, 37000100 does not.
    let (_, html) = op.get_text("/oficina?q=3700009").await;
    assert!(html.contains("10 persona(s)") && html.contains("<td>37000099</td>"));
    assert!(!html.contains("<td>37000100</td>"));

    // Another office's operator sees none of them, whatever they type.
    let far = operator(&app, &admin, "27000999", "Monteros").await;
    for q in ["villagra", "zamud", "3700000", ""] {
        let (_, html) = far.get_text(&format!("/oficina?q={q}")).await;
        assert!(
            !html.contains("Villagra") && !html.contains("Zamudio"),
            "{q}"
        );
    }
}

#[tokio::test]
async fn office_pages_are_404_for_learners() {
    let app = TestApp::spawn().await;
    let learner = app.learner("37000001").await;
    let me = person_of(&app, "37000001").await.unwrap();
    for path in [
        "/oficina".to_string(),
        "/oficina/personas/nueva".into(),
        "/oficina/personas/1".into(),
        format!("/oficina/personas/{me}"),
    ] {
        let (status, html) = learner.get_text(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("Página no encontrada"), "{path}");
    }
    let persons = app.count("SELECT COUNT(*) FROM persons").await;
    let capital = department(&app, "Capital").await;
    let resp = learner
        .post(
            "/oficina/personas/nueva",
            &person_form("37000002", "Intruso", "Pérez", capital),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM persons").await, persons);
    let class = app.class_of("atencion-al-cliente").await;
    let resp = learner
        .post(
            &format!("/oficina/personas/{me}/inscribir"),
            &[("class_id", class.to_string())],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM enrolments").await, 0);
    // The navigation does not offer the office either.
    let (_, html) = learner.get_text("/mi-aula").await;
    assert!(!html.contains("href=\"/oficina\""));
}

fn office_form(name: &str, departments: &[i64]) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("name", name.to_string()),
        ("address", "San Martín 123".to_string()),
    ];
    f.extend(departments.iter().map(|d| ("department", d.to_string())));
    f
}

#[tokio::test]
async fn admin_creates_an_office_covering_two_departments() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (monteros, simoca) = (
        department(&app, "Monteros").await,
        department(&app, "Simoca").await,
    );
    let resp = admin
        .post(
            "/admin/oficinas",
            &office_form("Oficina Regional Sur", &[monteros, simoca]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.url().path(), "/admin/oficinas");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Oficina guardada."));
    assert!(html.contains(">Oficina Regional Sur</a></td><td>San Martín 123</td>"));
    let id = office(&app, "Oficina Regional Sur").await;
    let covered: Vec<i64> = with_db!(&app.db, |p| {
        sqlx::query_scalar(
        "SELECT department_id FROM office_departments WHERE office_id = $1 ORDER BY department_id"
    )
    .bind(id)
    .fetch_all(p)
    .await
    })
    .unwrap();
    let mut expected = vec![monteros, simoca];
    expected.sort();
    assert_eq!(covered, expected);
    // Its edit form has both departments checked.
    let (_, html) = admin.get_text(&format!("/admin/oficinas/{id}")).await;
    assert!(html.contains(&format!("value=\"{monteros}\" checked>")));
    assert!(html.contains(&format!("value=\"{simoca}\" checked>")));

    // An operator of the new office serves both departments.
    let op = app.learner("38000001").await;
    admin
        .grant("38000001", "operator", &format!("office:{id}"))
        .await;
    let (_, html) = op.get_text("/oficina/personas/nueva").await;
    assert!(html.contains(">Monteros</option>") && html.contains(">Simoca</option>"));
    assert!(!html.contains(">Capital</option>"));
}

#[tokio::test]
async fn office_list_shows_every_department_an_office_covers() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (monteros, simoca) = (
        department(&app, "Monteros").await,
        department(&app, "Simoca").await,
    );
    let resp = admin
        .post(
            "/admin/oficinas",
            &office_form("Oficina Regional Sur", &[monteros, simoca]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let row = html
        .split("<tr>")
        .find(|r| r.contains("Oficina Regional Sur"))
        .expect("fila de la oficina");
    assert!(
        row.contains("Monteros") && row.contains("Simoca"),
        "el territorio lista ambos departamentos: {row}"
    );
}

#[tokio::test]
async fn office_form_without_departments_is_422_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let offices = app.count("SELECT COUNT(*) FROM offices").await;
    let resp = admin
        .post(
            "/admin/oficinas",
            &office_form("Oficina Sin Territorio", &[]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains(
        "<p class=\"field-error\" id=\"department-error\">Marcá al menos un departamento que atiende la oficina.</p>"
    ));
    assert!(
        html.contains("value=\"Oficina Sin Territorio\""),
        "conserva el nombre"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM offices").await, offices);
    // An unknown department id is refused too.
    let resp = admin
        .post(
            "/admin/oficinas",
            &office_form("Oficina Fantasma", &[999_999]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT COUNT(*) FROM offices").await, offices);
    // And the name is required.
    let monteros = department(&app, "Monteros").await;
    let resp = admin
        .post("/admin/oficinas", &office_form("  ", &[monteros]))
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("id=\"name-error\">Escribí el nombre de la oficina")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM offices").await, offices);
}

#[tokio::test]
async fn admin_edits_an_office_name_and_territory() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let id = office(&app, "Oficina de Empleo Lules").await;
    let (lules, famailla) = (
        department(&app, "Lules").await,
        department(&app, "Famaillá").await,
    );
    let (status, html) = admin.get_text(&format!("/admin/oficinas/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("value=\"Oficina de Empleo Lules\"")
            && html.contains(&format!("value=\"{lules}\" checked>"))
    );

    let resp = admin
        .post(
            &format!("/admin/oficinas/{id}"),
            &office_form("Oficina Lules y Famaillá", &[lules, famailla]),
        )
        .await;
    assert!(resp.text().await.unwrap().contains("Oficina guardada."));
    let covered = app
        .scalar_i64(
            "SELECT COUNT(*) FROM office_departments WHERE office_id = $1",
            id,
        )
        .await;
    assert_eq!(covered, 2);
    assert_eq!(
        office(&app, "Oficina Lules y Famaillá").await,
        id,
        "same office, renamed"
    );

    // Taking another office's name is refused at the field and changes nothing.
    let resp = admin
        .post(
            &format!("/admin/oficinas/{id}"),
            &office_form("Oficina de Empleo Capital", &[lules]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Ya existe una oficina con ese nombre")
    );
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM office_departments WHERE office_id = $1",
            id
        )
        .await,
        2
    );
    assert_eq!(
        admin.get("/admin/oficinas/999999").await.status(),
        StatusCode::NOT_FOUND
    );
}
