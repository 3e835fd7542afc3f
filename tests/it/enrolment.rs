use std::sync::Arc;

use aula::with_db;
use reqwest::StatusCode;

use crate::helpers::*;

/// A POST as the learner with session `cookie` would send it from the page (header token).
async fn post_as(client: &reqwest::Client, url: &str, cookie: &str, csrf: &str) -> StatusCode {
    client
        .post(url)
        .header("cookie", format!("{cookie}; aula_csrf={csrf}"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .expect("every request is answered")
        .status()
}

/// Creates a class with `seats` seats, enrolment open now, for a demo course.
async fn small_class(app: &TestApp, seats: i64) -> i64 {
    let course_id = app
        .count("SELECT id FROM courses WHERE slug = 'atencion-al-cliente'")
        .await;
    let now = chrono::Utc::now();
    aula::catalog::classes::insert(
        &app.db,
        &aula::catalog::classes::ValidClass {
            course_id,
            name: format!("Comisión chica de {seats}"),
            starts_on: now.date_naive(),
            ends_on: now.date_naive() + chrono::Duration::days(30),
            enrol_opens_at: now - chrono::Duration::hours(1),
            enrol_closes_at: now + chrono::Duration::days(5),
            seats,
            department_id: None,
            institution_id: None,
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn learner_enrols_while_seats_remain_then_waits_in_line_with_position() {
    let app = TestApp::spawn().await;
    let class = small_class(&app, 1).await;
    let ana = app.learner("30000001").await;
    let beto = app.learner("30000002").await;
    let caro = app.learner("30000003").await;
    let path = format!("/comisiones/{class}/inscribirme");

    let html = ana.post(&path, &[]).await.text().await.unwrap();
    assert!(html.contains("Quedaste inscripto/a"), "{html}");
    let html = beto.post(&path, &[]).await.text().await.unwrap();
    assert!(html.contains("lista de espera"));
    assert!(
        html.contains("Estás en el lugar <strong>1</strong>"),
        "{html}"
    );
    let html = caro.post(&path, &[]).await.text().await.unwrap();
    assert!(html.contains("Estás en el lugar <strong>2</strong>"));
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        1
    );
    let mine = caro.get("/mi-aula").await.text().await.unwrap();
    assert!(mine.contains("Lugar 2 en la lista de espera"), "{mine}");
}

#[tokio::test]
async fn enrolling_twice_is_idempotent() {
    let app = TestApp::spawn().await;
    let class = small_class(&app, 5).await;
    let ana = app.learner("30000001").await;
    let path = format!("/comisiones/{class}/inscribirme");
    ana.post(&path, &[]).await;
    let html = ana.post(&path, &[]).await.text().await.unwrap();
    assert!(html.contains("Ya estabas anotado/a"), "{html}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM enrolments WHERE class_id = $1", class)
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        1
    );
}

#[tokio::test]
async fn withdrawal_frees_the_seat_for_the_first_in_line() {
    let app = TestApp::spawn().await;
    let class = small_class(&app, 1).await;
    let ana = app.learner("30000001").await;
    let beto = app.learner("30000002").await;
    let caro = app.learner("30000003").await;
    let path = format!("/comisiones/{class}/inscribirme");
    for b in [&ana, &beto, &caro] {
        b.post(&path, &[]).await;
    }
    let html = ana
        .post(&format!("/comisiones/{class}/baja"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Te diste de baja"));
    assert_eq!(app.enrolment_status(class, "30000001").await, "withdrawn");
    assert_eq!(
        app.enrolment_status(class, "30000002").await,
        "confirmed",
        "first in line is promoted"
    );
    assert_eq!(app.enrolment_status(class, "30000003").await, "waitlisted");
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        1
    );
    let html = caro
        .get("/cursos/atencion-al-cliente")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Estás en el lugar <strong>1</strong>"));

    // Leaving the waitlist frees no seat; rejoining goes to the back of the line.
    beto.post(&format!("/comisiones/{class}/baja"), &[]).await;
    assert_eq!(app.enrolment_status(class, "30000003").await, "confirmed");
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        1
    );
    ana.post(&path, &[]).await;
    assert_eq!(app.enrolment_status(class, "30000001").await, "waitlisted");
    // With nobody waiting, a withdrawal returns the seat to the class.
    caro.post(&format!("/comisiones/{class}/baja"), &[]).await;
    assert_eq!(app.enrolment_status(class, "30000001").await, "confirmed");
    ana.post(&format!("/comisiones/{class}/baja"), &[]).await;
    assert_eq!(
        app.scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
            .await,
        0
    );
}

#[tokio::test]
async fn enrolment_window_is_enforced() {
    let app = TestApp::spawn().await;
    let class = small_class(&app, 5).await;
    let ana = app.learner("30000001").await;
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET enrol_opens_at = $1 WHERE id = $2"
    )
    .bind(later)
    .bind(class)
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    let resp = ana
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("todavía no abrió"));
    let past = chrono::Utc::now() - chrono::Duration::days(2);
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET enrol_opens_at = $1, enrol_closes_at = $1 WHERE id = $2"
    )
    .bind(past - chrono::Duration::days(1))
    .bind(class)
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET enrol_closes_at = $1 WHERE id = $2"
    )
    .bind(past)
    .bind(class)
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    let resp = ana
        .post(&format!("/comisiones/{class}/inscribirme"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(resp.text().await.unwrap().contains("ya cerró"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM enrolments WHERE class_id = $1", class)
            .await,
        0
    );
}

#[tokio::test]
async fn the_database_refuses_an_oversold_class() {
    let app = TestApp::spawn().await;
    let class = small_class(&app, 2).await;
    let res = with_db!(&app.db, |p| sqlx::query(
        "UPDATE classes SET seats_taken = 3 WHERE id = $1"
    )
    .bind(class)
    .execute(p)
    .await
    .map(|_| ()));
    // A CHECK violation (SQLSTATE 23514 on PostgreSQL; SQLite's extended code 275), not any
    // error: CHECK (seats_taken <= seats) holds the invariant.
    match res {
        Err(sqlx::Error::Database(e)) => assert!(
            matches!(e.code().as_deref(), Some("23514") | Some("275")),
            "{e} ({:?})",
            e.code()
        ),
        other => panic!("se esperaba la violación del CHECK: {other:?}"),
    }
}

/// Hundreds of learners press "Inscribirme" at once on a small class: never oversold,
/// every request answered, none lost, no 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enrolment_burst_never_oversells() {
    let app = TestApp::spawn().await;
    const SEATS: i64 = 25;
    const LEARNERS: usize = 300;
    let class = small_class(&app, SEATS).await;
    let mut cookies = Vec::with_capacity(LEARNERS);
    for i in 0..LEARNERS {
        cookies.push(
            app.quick_user(&format!("{}", 40_000_000 + i), "Capital")
                .await
                .1,
        );
    }
    let csrf = aula::web::cookies::random_token();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let url = Arc::new(format!("{}/comisiones/{class}/inscribirme", app.base));
    let start = Arc::new(tokio::sync::Barrier::new(LEARNERS));
    let mut tasks = Vec::new();
    for cookie in cookies {
        let (client, url, csrf, start) = (client.clone(), url.clone(), csrf.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            // Each learner sometimes double-clicks: the second request must change nothing.
            let mut codes = Vec::new();
            for _ in 0..2 {
                codes.push(post_as(&client, &url, &cookie, &csrf).await);
            }
            codes
        }));
    }
    let mut answered = 0;
    for t in tasks {
        for code in t.await.unwrap() {
            assert_eq!(code, StatusCode::SEE_OTHER, "no errors, no 5xx");
            answered += 1;
        }
    }
    assert_eq!(answered, LEARNERS * 2);
    let confirmed = app
        .scalar_i64(
            "SELECT COUNT(*) FROM enrolments WHERE class_id = $1 AND status = 'confirmed'",
            class,
        )
        .await;
    let waitlisted = app
        .scalar_i64(
            "SELECT COUNT(*) FROM enrolments WHERE class_id = $1 AND status = 'waitlisted'",
            class,
        )
        .await;
    let taken = app
        .scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
        .await;
    assert_eq!(confirmed, SEATS);
    assert_eq!(taken, SEATS);
    assert_eq!(waitlisted, LEARNERS as i64 - SEATS, "nobody lost");
}

/// Withdrawals racing with enrolments keep seats_taken equal to the confirmed count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn withdrawals_racing_enrolments_keep_the_books_straight() {
    let app = TestApp::spawn().await;
    const SEATS: i64 = 10;
    let class = small_class(&app, SEATS).await;
    let csrf = aula::web::cookies::random_token();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut first = Vec::new();
    for i in 0..SEATS {
        let (_, cookie) = app
            .quick_user(&format!("{}", 41_000_000 + i), "Capital")
            .await;
        let url = format!("{}/comisiones/{class}/inscribirme", app.base);
        assert_eq!(
            post_as(&client, &url, &cookie, &csrf).await,
            StatusCode::SEE_OTHER
        );
        first.push(cookie);
    }
    let mut newcomers = Vec::new();
    for i in 0..60 {
        newcomers.push(
            app.quick_user(&format!("{}", 42_000_000 + i), "Capital")
                .await
                .1,
        );
    }
    let mut tasks = Vec::new();
    for (cookie, action) in first
        .into_iter()
        .map(|c| (c, "baja"))
        .chain(newcomers.into_iter().map(|c| (c, "inscribirme")))
    {
        let (client, csrf, base) = (client.clone(), csrf.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            post_as(
                &client,
                &format!("{base}/comisiones/{class}/{action}"),
                &cookie,
                &csrf,
            )
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::SEE_OTHER);
    }
    let confirmed = app
        .scalar_i64(
            "SELECT COUNT(*) FROM enrolments WHERE class_id = $1 AND status = 'confirmed'",
            class,
        )
        .await;
    let waitlisted = app
        .scalar_i64(
            "SELECT COUNT(*) FROM enrolments WHERE class_id = $1 AND status = 'waitlisted'",
            class,
        )
        .await;
    let taken = app
        .scalar_i64("SELECT seats_taken FROM classes WHERE id = $1", class)
        .await;
    assert_eq!(confirmed, SEATS, "every freed seat was taken again");
    assert_eq!(taken, confirmed);
    assert_eq!(waitlisted, 60 - SEATS);
}
