//! Live classes: scheduling, who may enter, and the SFU end to end: webrtc-rs participants
//! join through the real signalling socket, publish pre-encoded VP8 and Opus, and receive
//! each other's media with the server's SSRCs; keyframe requests travel back to publishers.

use std::time::Duration;

use aula::live::protocol::{ClientMsg, Moderation, ServerMsg};
use reqwest::StatusCode;

use crate::{
    helpers::*,
    live_client::{ClientPeer, Ivf},
};

const SLUG: &str = "herramientas-digitales-empleo";
const IVF: &[u8] = include_bytes!("../fixtures/vp8_176x144_30f.ivf");

/// A class with an instructor, two enrolled learners and an outsider.
struct Class {
    app: TestApp,
    class: i64,
    teacher: Browser,
    ana: Browser,
    beto: Browser,
    outsider: Browser,
}

async fn class_with_people() -> Class {
    class_with_people_and(|_| {}).await
}

async fn class_with_people_and(adjust: impl FnOnce(&mut aula::Config)) -> Class {
    let app = TestApp::spawn_with(|c| {
        // Test peers bind loopback; so does the SFU.
        c.live.bind_ip = "127.0.0.1".parse().unwrap();
        adjust(c);
    })
    .await;
    let admin = app.admin().await;
    let class = app.class_of(SLUG).await;
    let teacher = app.instructor(&admin, "32000001", class).await;
    let ana = app.learner("32000002").await;
    let beto = app.learner("32000003").await;
    for b in [&ana, &beto] {
        let r = b
            .post(&format!("/comisiones/{class}/inscribirme"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let outsider = app.learner("32000004").await;
    Class {
        app,
        class,
        teacher,
        ana,
        beto,
        outsider,
    }
}

/// Schedules a session through the instructor's form; returns its id.
async fn schedule(c: &Class, title: &str, starts_in: chrono::Duration) -> i64 {
    let starts = aula::web::time::local_input(&(chrono::Utc::now() + starts_in));
    let r = c
        .teacher
        .post(
            &format!("/comisiones/{}/en-vivo", c.class),
            &[
                ("title", title.into()),
                ("starts_at", starts),
                ("duration_minutes", "60".into()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Clase en vivo programada.")
    );
    c.app.count("SELECT MAX(id) FROM live_sessions").await
}

fn ws_url(c: &Class, session: i64) -> String {
    format!(
        "{}/en-vivo/{session}/ws",
        c.app.base.replace("http://", "ws://")
    )
}

fn cookie(b: &Browser) -> String {
    format!("aula_sesion={}", b.cookie("aula_sesion").expect("sesión"))
}

async fn join(c: &Class, b: &Browser, session: i64) -> anyhow::Result<ClientPeer> {
    let mut p = ClientPeer::connect(&ws_url(c, session), &cookie(b), "127.0.0.1").await?;
    p.wait_for(Duration::from_secs(5), |m| {
        matches!(m, ServerMsg::Welcome { .. }).then_some(())
    })
    .await?;
    Ok(p)
}

/// Waits up to 10 s for the number of open presence intervals to become `n`, then checks it.
async fn open_presence_becomes(app: &TestApp, n: i64) {
    let open = || app.count("SELECT COUNT(*) FROM live_presence WHERE left_at IS NULL");
    for _ in 0..100 {
        if open().await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open().await, n, "intervalos de presencia abiertos");
}

/// Connects `b` to the session's room through `app` (either process) and waits for the welcome.
async fn welcome_on(app: &TestApp, b: &Browser, session: i64) -> (ClientPeer, ServerMsg) {
    let url = format!(
        "{}/en-vivo/{session}/ws",
        app.base.replace("http://", "ws://")
    );
    let mut p = ClientPeer::connect(&url, &cookie(b), "127.0.0.1")
        .await
        .unwrap();
    let welcome = p
        .wait_for(Duration::from_secs(5), |m| {
            matches!(m, ServerMsg::Welcome { .. }).then(|| m.clone())
        })
        .await
        .unwrap();
    (p, welcome)
}

/// What the room answers `b` connecting through `app`: "welcome", or the reason of a `bye`.
async fn first_answer(app: &TestApp, b: &Browser, session: i64) -> String {
    let url = format!(
        "{}/en-vivo/{session}/ws",
        app.base.replace("http://", "ws://")
    );
    let mut p = ClientPeer::connect(&url, &cookie(b), "127.0.0.1")
        .await
        .unwrap();
    p.wait_for(Duration::from_secs(5), |m| match m {
        ServerMsg::Bye { reason } => Some(reason.clone()),
        ServerMsg::Welcome { .. } => Some("welcome".into()),
        _ => None,
    })
    .await
    .unwrap()
}

/// Waits until `pred` holds for what the peer received (polling), or fails with `what`.
async fn eventually(p: &ClientPeer, what: &str, pred: impl Fn(&ClientPeer) -> bool) {
    for _ in 0..100 {
        if pred(p) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {:?}", p.received.snapshot());
}

fn video_packets(p: &ClientPeer) -> u64 {
    p.received
        .snapshot()
        .values()
        .filter(|t| t.kind == "video")
        .map(|t| t.packets)
        .sum()
}

/// The audio `p` receives stops: after 300 ms for packets already under way, 600 ms more
/// bring none.
async fn audio_stops(p: &ClientPeer, what: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let heard = audio_packets(p);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(audio_packets(p), heard, "{what}");
}

/// `p` stays connected for `d` and receives no message that `unwanted` matches.
async fn nothing_for(p: &mut ClientPeer, d: Duration, unwanted: impl Fn(&ServerMsg) -> bool) {
    let e = p
        .wait_for(d, |m| unwanted(m).then(|| format!("{m:?}")))
        .await
        .expect_err("llegó un mensaje que no debía llegar");
    assert!(e.to_string().contains("tiempo agotado"), "{e}");
}

fn audio_packets(p: &ClientPeer) -> u64 {
    p.received
        .snapshot()
        .values()
        .filter(|t| t.kind == "audio")
        .map(|t| t.packets)
        .sum()
}

#[tokio::test]
async fn instructor_schedules_and_enrolled_learners_see_the_session_with_its_entry_button() {
    let c = class_with_people().await;
    let later = schedule(&c, "Clase 1: tu CV", chrono::Duration::days(2)).await;
    let soon = schedule(&c, "Clase 2: entrevistas", chrono::Duration::minutes(5)).await;

    let (status, html) = c
        .ana
        .get_text(&format!("/comisiones/{}/en-vivo", c.class))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Clase 1: tu CV") && html.contains("Clase 2: entrevistas"));
    // The one starting in 5 minutes is enterable (10 minutes early by default); the other is not.
    assert!(
        html.contains(&format!("href=\"/en-vivo/{soon}\"")),
        "{html}"
    );
    assert!(!html.contains(&format!("href=\"/en-vivo/{later}\"")));
    assert!(html.contains("disabled>Entrar a la clase"));

    // Learners cannot schedule; outsiders do not see the page at all.
    let r = c
        .ana
        .post(
            &format!("/comisiones/{}/en-vivo", c.class),
            &[
                ("title", "x".into()),
                ("starts_at", "2030-01-01T10:00".into()),
                ("duration_minutes", "30".into()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (status, _) = c
        .outsider
        .get_text(&format!("/comisiones/{}/en-vivo", c.class))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = c.outsider.get_text(&format!("/en-vivo/{soon}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The learner cannot enter the later one until the instructor opens it.
    let (status, _) = c.ana.get_text(&format!("/en-vivo/{later}")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let r = c
        .teacher
        .post(&format!("/en-vivo/{later}/abrir"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, html) = c.ana.get_text(&format!("/en-vivo/{later}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let (_, list) = c
        .ana
        .get_text(&format!("/comisiones/{}/en-vivo", c.class))
        .await;
    assert!(list.contains(&format!("href=\"/en-vivo/{later}\"")));

    // Bad input is explained at the field and changes nothing.
    let before = c.app.count("SELECT COUNT(*) FROM live_sessions").await;
    let r = c
        .teacher
        .post(
            &format!("/comisiones/{}/en-vivo", c.class),
            &[
                ("title", " ".into()),
                ("starts_at", "mañana".into()),
                ("duration_minutes", "9000".into()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Poné un título") && html.contains("entre 5 y 600"));
    assert_eq!(
        c.app.count("SELECT COUNT(*) FROM live_sessions").await,
        before
    );
}

#[tokio::test]
async fn signalling_refuses_outsiders_anonymous_users_and_closed_rooms() {
    let c = class_with_people().await;
    let later = schedule(&c, "Clase cerrada", chrono::Duration::days(2)).await;
    // Anonymous: no session cookie.
    assert!(
        ClientPeer::connect(&ws_url(&c, later), "x=1", "127.0.0.1")
            .await
            .is_err()
    );
    // Someone outside the class.
    assert!(
        ClientPeer::connect(&ws_url(&c, later), &cookie(&c.outsider), "127.0.0.1")
            .await
            .is_err()
    );
    // An enrolled learner before the room opens.
    assert!(
        ClientPeer::connect(&ws_url(&c, later), &cookie(&c.ana), "127.0.0.1")
            .await
            .is_err()
    );
    // A page of another site cannot use the learner's cookie (cross-site WebSocket).
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        ws_url(&c, later),
    )
    .unwrap();
    req.headers_mut()
        .insert("cookie", cookie(&c.teacher).parse().unwrap());
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
    // The instructor may enter (which opens the room), then the learner too.
    let t = join(&c, &c.teacher, later).await.expect("docente entra");
    let a = join(&c, &c.ana, later).await.expect("estudiante entra");
    // Ended: nobody gets in any more.
    let r = c
        .teacher
        .post(&format!("/en-vivo/{later}/terminar"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        ClientPeer::connect(&ws_url(&c, later), &cookie(&c.beto), "127.0.0.1")
            .await
            .is_err()
    );
    drop((t, a));
}

#[tokio::test]
async fn learners_receive_the_instructors_media_with_rewritten_ssrcs_and_a_late_joiner_gets_a_keyframe()
 {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase en vivo", chrono::Duration::minutes(1)).await;
    let ivf = Ivf::parse(IVF).unwrap();

    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    let mut ana = join(&c, &c.ana, session).await.unwrap();
    teacher.publish(Some(ivf.clone()), true).await.unwrap();

    eventually(&ana, "Ana recibe video y audio del docente", |p| {
        video_packets(p) > 20 && audio_packets(p) > 20
    })
    .await;
    let got = ana.received.snapshot();
    let video = got.values().find(|t| t.kind == "video").unwrap();
    assert!(video.keyframes >= 1, "el primer cuadro es clave: {video:?}");
    assert_eq!(video.lost, 0, "en loopback no se pierde nada: {video:?}");
    // SSRCs are the server's, not the publisher's: each subscriber leg has its own.
    let ana_ssrcs: Vec<u32> = got.keys().copied().collect();

    // Beto joins late: the publisher only sends a keyframe when asked, so receiving one
    // proves his keyframe request travelled SFU → instructor.
    let before = teacher
        .keyframe_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut beto = join(&c, &c.beto, session).await.unwrap();
    eventually(&beto, "Beto recibe un cuadro clave", |p| {
        p.received
            .snapshot()
            .values()
            .any(|t| t.kind == "video" && t.keyframes >= 1)
    })
    .await;
    assert!(
        teacher
            .keyframe_requests
            .load(std::sync::atomic::Ordering::Relaxed)
            > before
    );
    let beto_ssrcs: Vec<u32> = beto.received.snapshot().keys().copied().collect();
    for s in &beto_ssrcs {
        assert!(
            !ana_ssrcs.contains(s),
            "cada suscriptor tiene sus propios SSRC"
        );
    }

    // A learner publishes audio; the instructor hears it while she speaks, not while she is
    // silent (open microphone), then the instructor mutes her.
    ana.loudness.store(30, std::sync::atomic::Ordering::Relaxed);
    ana.publish(None, true).await.unwrap();
    ana.send(ClientMsg::Media {
        audio: true,
        video: false,
        screen: false,
    });
    eventually(&teacher, "el docente escucha a Ana", |p| {
        audio_packets(p) > 10
    })
    .await;
    ana.loudness
        .store(127, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let quiet = audio_packets(&teacher);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(audio_packets(&teacher), quiet, "en silencio no se reenvía");
    ana.loudness.store(30, std::sync::atomic::Ordering::Relaxed);
    eventually(&teacher, "vuelve a hablar", |p| {
        audio_packets(p) > quiet + 10
    })
    .await;
    let lost: u64 = teacher
        .received
        .snapshot()
        .values()
        .filter(|t| t.kind == "audio")
        .map(|t| t.lost)
        .sum();
    assert_eq!(lost, 0, "el silencio no deja huecos en la secuencia");
    let ana_id = participant_id(&mut teacher, "Lucía", false).await;
    teacher.send(ClientMsg::Moderate(Moderation::Mute { target: ana_id }));
    ana.wait_for(Duration::from_secs(5), |m| {
        matches!(m, ServerMsg::Muted).then_some(())
    })
    .await
    .unwrap();
    audio_stops(&teacher, "silenciada: el servidor no reenvía su micrófono").await;

    // Chat reaches everyone.
    teacher.send(ClientMsg::Chat {
        text: "¡Bienvenidos!".into(),
    });
    for p in [&mut ana, &mut beto] {
        let line = p
            .wait_for(Duration::from_secs(5), |m| match m {
                ServerMsg::Chat(l) => Some(l.text.clone()),
                _ => None,
            })
            .await
            .unwrap();
        assert_eq!(line, "¡Bienvenidos!");
    }

    // When everyone leaves, the room goes away.
    teacher.leave().await;
    ana.leave().await;
    beto.leave().await;
    open_presence_becomes(&c.app, 0).await;
    assert_eq!(
        c.app
            .count("SELECT COUNT(DISTINCT person_id) FROM live_presence")
            .await,
        3
    );
}

/// The id of the first participant named `name` (instructor or not), from the list.
async fn participant_id(p: &mut ClientPeer, name: &str, instructor: bool) -> u64 {
    p.send(ClientMsg::Hand { raised: false });
    p.wait_for(Duration::from_secs(5), |m| match m {
        ServerMsg::Participants { participants } => participants
            .iter()
            .find(|v| v.name == name && v.instructor == instructor)
            .map(|v| v.id),
        _ => None,
    })
    .await
    .unwrap()
}

/// The attendance sheet's row of one person.
fn sheet_row(html: &str, person: i64) -> &str {
    let start = html
        .find(&format!("<tr data-person=\"{person}\">"))
        .unwrap_or_else(|| panic!("sin fila para {person}: {html}"));
    &html[start..start + html[start..].find("</tr>").unwrap()]
}

#[tokio::test]
async fn attendance_counts_presence_and_keeps_the_instructors_corrections() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase con asistencia", chrono::Duration::minutes(1)).await;
    let a = join(&c, &c.ana, session).await.unwrap();
    // Welcomed means counted: her presence is on record before the welcome arrives.
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM live_presence WHERE left_at IS NULL")
            .await,
        1
    );
    // Ana's connection drops (no `leave`): her presence must end anyway.
    drop(a);
    open_presence_becomes(&c.app, 0).await;

    let (status, html) = c
        .teacher
        .get_text(&format!("/en-vivo/{session}/asistencia"))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Ana was there (a few seconds: 0 minutes, but connected); Beto never came.
    let ana_id = person_of(&c.app, "32000002").await.unwrap();
    let beto_id = person_of(&c.app, "32000003").await.unwrap();
    let ana_row = sheet_row(&html, ana_id);
    assert!(
        ana_row.contains("32000002") && ana_row.contains(">Se conectó<"),
        "{ana_row}"
    );
    let beto_row = sheet_row(&html, beto_id);
    assert!(
        beto_row.contains("32000003") && beto_row.contains(">No se conectó<"),
        "{beto_row}"
    );
    // Learners and outsiders do not see the sheet.
    let (status, _) = c
        .ana
        .get_text(&format!("/en-vivo/{session}/asistencia"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let r = c
        .teacher
        .post(
            &format!("/en-vivo/{session}/asistencia"),
            &[
                ("person_id", beto_id.to_string()),
                ("minutes", "45".into()),
                ("reason", "Se conectó por teléfono".into()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Asistencia corregida."));
    assert!(html.contains("Corregido: Se conectó por teléfono"));
    let row = sheet_row(&html, beto_id);
    assert!(row.contains("<td class=\"minutes\">45</td>"), "{row}");
    // Without a reason, nothing changes.
    let r = c
        .teacher
        .post(
            &format!("/en-vivo/{session}/asistencia"),
            &[
                ("person_id", beto_id.to_string()),
                ("minutes", "10".into()),
                ("reason", "".into()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM live_attendance_corrections")
            .await,
        1
    );
}

/// The live room in real browsers: `node tests/browser/live.mjs` drives headless Chromium
/// against this app (Beto's page against a second process on the same database, so he gets
/// the instructor's media only if his signalling reaches the one room). Needs Chromium and `npm install` in tests/browser (`.ci/run` does both),
/// so it runs only when asked: `cargo test --test it browser_room -- --ignored`.
#[tokio::test]
#[ignore = "needs Chromium and playwright-core; run by .ci/run"]
async fn browser_room_end_to_end() {
    // Chromium gathers no loopback candidates: the SFU binds the real interfaces (default).
    let c = class_with_people_and(|cfg| {
        cfg.live.bind_ip = aula::live::config::LiveConfig::default().bind_ip;
    })
    .await;
    let session = schedule(&c, "Clase en el navegador", chrono::Duration::minutes(1)).await;
    let session_of = |b: &Browser| b.cookie("aula_sesion").unwrap();
    let cookies = serde_json::json!({
        "teacher": session_of(&c.teacher),
        "ana": session_of(&c.ana),
        "beto": session_of(&c.beto),
    });
    // Beto's page comes from a second process: his signalling is relayed to the room.
    let other = c.app.second_instance().await;
    let stdout = run_browser_script(
        "live.mjs",
        vec![
            ("AULA_BASE", c.app.base.clone()),
            ("AULA_BASE_BETO", other.base.clone()),
            ("AULA_SESSION", session.to_string()),
            ("AULA_COOKIES", cookies.to_string()),
            ("AULA_DNIS", r#"["32000002","32000003"]"#.into()),
        ],
    )
    .await;
    assert!(stdout.contains("BROWSER TEST PASS"), "{stdout}");
    // Both learners' presence was recorded, and closed when their pages left.
    for dni in ["32000002", "32000003"] {
        let person = person_of(&c.app, dni).await.unwrap();
        let open_or_closed = c
            .app
            .scalar_i64(
                "SELECT COUNT(*) FROM live_presence WHERE person_id = $1",
                person,
            )
            .await;
        assert!(open_or_closed >= 1, "presencia de {dni}");
    }
    open_presence_becomes(&c.app, 0).await;
}

#[tokio::test]
async fn welcome_hands_out_stun_and_time_limited_turn_credentials() {
    let c = class_with_people_and(|cfg| {
        cfg.live.ice_servers = vec![aula::live::config::IceServer {
            urls: vec!["stun:stun.aula.test:3478".into()],
            username: None,
            credential: None,
        }];
        cfg.live.turn_urls = vec!["turns:turn.aula.test:443?transport=tcp".into()];
        cfg.live.turn_secret = Some("secreto-compartido".into());
    })
    .await;
    let session = schedule(&c, "Clase con TURN", chrono::Duration::minutes(1)).await;
    let mut p = ClientPeer::connect(&ws_url(&c, session), &cookie(&c.teacher), "127.0.0.1")
        .await
        .unwrap();
    let servers = p
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Welcome { ice_servers, .. } => Some(ice_servers.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(
        servers[0].urls,
        vec!["stun:stun.aula.test:3478".to_string()]
    );
    let turn = &servers[1];
    let user = turn.username.clone().unwrap();
    let (expiry, user_id) = user.split_once(':').unwrap();
    let expiry: i64 = expiry.parse().unwrap();
    let ttl = expiry - chrono::Utc::now().timestamp();
    assert!(
        (6 * 3600 - 60..=6 * 3600).contains(&ttl),
        "vence en 6 horas: {ttl}"
    );
    assert_eq!(user_id, user_of(&c.app, "32000001").await.to_string());
    let (_, expected) = aula::live::config::turn_credentials(
        "secreto-compartido",
        user_id.parse().unwrap(),
        expiry,
    );
    assert_eq!(turn.credential.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn the_sfu_binds_only_ports_of_the_configured_range_and_announces_the_public_ip() {
    let c = class_with_people_and(|cfg| {
        cfg.live.udp_port_min = Some(41_000);
        cfg.live.udp_port_max = Some(41_019);
        cfg.live.public_ip = Some("203.0.113.10".parse().unwrap());
    })
    .await;
    let session = schedule(&c, "Clase con puertos", chrono::Duration::minutes(1)).await;
    let mut t = join(&c, &c.teacher, session).await.unwrap();
    t.publish(None, true).await.unwrap();
    let sdps = t.server_sdps.lock().unwrap().clone();
    let candidates: Vec<&str> = sdps
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    assert!(!candidates.is_empty(), "{sdps:?}");
    for line in candidates {
        // a=candidate:<foundation> <component> udp <priority> <ip> <port> typ host
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[4], "203.0.113.10", "{line}");
        let port: u16 = f[5].parse().unwrap();
        assert!((41_000..=41_019).contains(&port), "{line}");
    }
}

/// Video packets per second received over `window`.
async fn video_rate(p: &ClientPeer, window: Duration) -> f64 {
    let before = video_packets(p);
    tokio::time::sleep(window).await;
    (video_packets(p) - before) as f64 / window.as_secs_f64()
}

/// A class whose instructor publishes simulcast video (layers q/h/f at 7.5/15/30 frames per
/// second) in a session open now.
async fn simulcast_class(title: &str) -> (Class, i64, ClientPeer) {
    let c = class_with_people().await;
    let session = schedule(&c, title, chrono::Duration::minutes(1)).await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    teacher
        .publish_with(Some(Ivf::parse(IVF).unwrap()), true, false)
        .await
        .unwrap();
    (c, session, teacher)
}

#[tokio::test]
async fn each_learner_gets_the_simulcast_layer_of_their_quality_and_switches_without_gaps() {
    let (c, session, _teacher) = simulcast_class("Clase simulcast").await;
    let ana = join(&c, &c.ana, session).await.unwrap();
    let beto = join(&c, &c.beto, session).await.unwrap();
    ana.send(ClientMsg::Quality {
        quality: aula::live::protocol::Quality::Baja,
    });
    eventually(&ana, "Ana recibe video", |p| video_packets(p) > 10).await;
    eventually(&beto, "Beto recibe video", |p| video_packets(p) > 10).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (low, high) = tokio::join!(
        video_rate(&ana, Duration::from_secs(2)),
        video_rate(&beto, Duration::from_secs(2))
    );
    assert!(
        high > low * 2.5,
        "alta {high:.1} pkt/s, baja {low:.1} pkt/s"
    );

    // Ana moves up to "alta": same rate as Beto, and no hole in her sequence numbers.
    ana.send(ClientMsg::Quality {
        quality: aula::live::protocol::Quality::Alta,
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now_high = video_rate(&ana, Duration::from_secs(2)).await;
    assert!(
        now_high > low * 2.5,
        "después de cambiar: {now_high:.1} pkt/s"
    );
    let video = ana
        .received
        .snapshot()
        .into_values()
        .find(|t| t.kind == "video")
        .unwrap();
    assert_eq!(
        video.lost, 0,
        "secuencia continua al cambiar de capa: {video:?}"
    );

    // "Solo audio": no video at all.
    ana.send(ClientMsg::Quality {
        quality: aula::live::protocol::Quality::Audio,
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(video_rate(&ana, Duration::from_secs(1)).await, 0.0);
}

/// A learner's receiver reports its bandwidth estimate (RTCP REMB, as Chrome does): a rising
/// one changes nothing, a falling one under what her layer needs moves her to a lower layer,
/// and her page is told.
#[tokio::test]
async fn a_falling_bandwidth_estimate_moves_the_learner_to_a_lower_layer() {
    let (c, session, _teacher) = simulcast_class("Clase con red cargada").await;
    let mut ana = join(&c, &c.ana, session).await.unwrap();
    eventually(&ana, "Ana recibe video", |p| video_packets(p) > 10).await;
    for bps in [400_000, 1_500_000, 3_000_000] {
        assert!(ana.report_bandwidth(bps).await.unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let full = video_rate(&ana, Duration::from_secs(2)).await;
    // A rising estimate changes nothing.
    nothing_for(&mut ana, Duration::from_millis(100), |m| {
        matches!(m, ServerMsg::Quality { .. })
    })
    .await;

    // Congestion: 300 kbit/s leaves room only for the lowest layer.
    assert!(ana.report_bandwidth(300_000).await.unwrap());
    let quality = ana
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Quality { quality } => Some(*quality),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(quality, aula::live::protocol::Quality::Baja);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let low = video_rate(&ana, Duration::from_secs(2)).await;
    assert!(
        full > low * 2.5,
        "alta {full:.1} pkt/s, baja {low:.1} pkt/s"
    );
}

async fn join_with_id(c: &Class, b: &Browser, session: i64) -> (ClientPeer, u64) {
    let mut p = ClientPeer::connect(&ws_url(c, session), &cookie(b), "127.0.0.1")
        .await
        .unwrap();
    let me = p
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Welcome { me, .. } => Some(*me),
            _ => None,
        })
        .await
        .unwrap();
    (p, me)
}

/// Video packets per second of one participant's camera, as `p` receives it.
async fn camera_rate(p: &ClientPeer, owner: u64, window: Duration) -> f64 {
    let stream = format!("p{owner}-camera");
    let count = || -> u64 {
        p.received
            .snapshot()
            .values()
            .filter(|t| t.stream == stream)
            .map(|t| t.packets)
            .sum()
    };
    let before = count();
    tokio::time::sleep(window).await;
    (count() - before) as f64 / window.as_secs_f64()
}

#[tokio::test]
async fn the_loudest_learner_becomes_speaker_and_only_the_last_n_cameras_are_forwarded() {
    let c = class_with_people_and(|cfg| cfg.live.last_n = 1).await;
    let session = schedule(&c, "Clase last-N", chrono::Duration::minutes(1)).await;
    let (mut teacher, _) = join_with_id(&c, &c.teacher, session).await;
    let (mut ana, ana_id) = join_with_id(&c, &c.ana, session).await;
    let (mut beto, beto_id) = join_with_id(&c, &c.beto, session).await;
    let ivf = Ivf::parse(IVF).unwrap();
    ana.publish(Some(ivf.clone()), true).await.unwrap();
    beto.publish(Some(ivf), true).await.unwrap();
    for p in [&ana, &beto] {
        p.send(ClientMsg::Media {
            audio: true,
            video: true,
            screen: false,
        });
    }
    // Nobody spoke yet: the first learner's camera fills the single place.
    eventually(&teacher, "el docente ve una cámara", |p| {
        video_packets(p) > 20
    })
    .await;
    let (a, b) = tokio::join!(
        camera_rate(&teacher, ana_id, Duration::from_secs(1)),
        camera_rate(&teacher, beto_id, Duration::from_secs(1))
    );
    assert!(a > 5.0 && b == 0.0, "Ana {a:.1} pkt/s, Beto {b:.1} pkt/s");

    // Beto speaks up: he becomes the speaker and his camera takes the place.
    beto.loudness
        .store(20, std::sync::atomic::Ordering::Relaxed);
    let speaker = teacher
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Speaker { id: Some(id) } => Some(*id),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(speaker, beto_id);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (a, b) = tokio::join!(
        camera_rate(&teacher, ana_id, Duration::from_secs(1)),
        camera_rate(&teacher, beto_id, Duration::from_secs(1))
    );
    assert!(b > 5.0 && a == 0.0, "Ana {a:.1} pkt/s, Beto {b:.1} pkt/s");
}

#[tokio::test]
async fn a_participant_that_never_answers_is_disconnected_and_its_presence_closed() {
    use futures_util::StreamExt;
    let c = class_with_people().await;
    let session = schedule(&c, "Clase sin respuesta", chrono::Duration::minutes(1)).await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    teacher
        .publish(Some(Ivf::parse(IVF).unwrap()), false)
        .await
        .unwrap();
    // A client that reads its messages but never answers the server's offer.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        ws_url(&c, session),
    )
    .unwrap();
    req.headers_mut()
        .insert("cookie", cookie(&c.ana).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let started = std::time::Instant::now();
    let mut got_offer = false;
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(m)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                got_offer |= t.as_str().contains("\"type\":\"offer\"");
            }
        }
    })
    .await;
    assert!(got_offer, "el servidor ofreció el video del docente");
    assert!(closed.is_ok(), "el servidor cerró la conexión");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    for _ in 0..50 {
        if c.app
            .count("SELECT COUNT(*) FROM live_presence WHERE left_at IS NULL")
            .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Only the instructor is still present.
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM live_presence WHERE left_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn instructor_moderates_hands_permissions_removal_and_ends_the_class() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase moderada", chrono::Duration::minutes(1)).await;
    let (mut teacher, _) = join_with_id(&c, &c.teacher, session).await;
    let (mut ana, ana_id) = join_with_id(&c, &c.ana, session).await;
    let (mut beto, _) = join_with_id(&c, &c.beto, session).await;

    // Hands go up and down.
    ana.send(ClientMsg::Hand { raised: true });
    let hand_of = |id: u64| {
        move |m: &ServerMsg| match m {
            ServerMsg::Participants { participants } => {
                participants.iter().find(|p| p.id == id).map(|p| p.hand)
            }
            _ => None,
        }
    };
    while !teacher
        .wait_for(Duration::from_secs(5), hand_of(ana_id))
        .await
        .unwrap()
    {}
    teacher.send(ClientMsg::Moderate(Moderation::LowerHands));
    while teacher
        .wait_for(Duration::from_secs(5), hand_of(ana_id))
        .await
        .unwrap()
    {}

    // Learners cannot moderate.
    beto.send(ClientMsg::Moderate(Moderation::MuteAll));
    let refused = beto
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Error { message } => Some(message.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert!(refused.contains("Solo tu docente"), "{refused}");

    // Microphones blocked: a speaking learner is not forwarded.
    teacher.send(ClientMsg::Moderate(Moderation::Permissions {
        cams: true,
        mics: false,
    }));
    let perms = ana
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Permissions {
                cams_allowed,
                mics_allowed,
            } => Some((*cams_allowed, *mics_allowed)),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(perms, (true, false));
    ana.loudness.store(20, std::sync::atomic::Ordering::Relaxed);
    ana.publish(None, true).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(audio_packets(&teacher), 0, "micrófonos bloqueados");
    teacher.send(ClientMsg::Moderate(Moderation::Permissions {
        cams: true,
        mics: true,
    }));
    eventually(&teacher, "micrófonos habilitados", |p| {
        audio_packets(p) > 10
    })
    .await;
    // Blocked again while she speaks (the instructor surely subscribed to her now): her
    // microphone stops reaching the instructor.
    teacher.send(ClientMsg::Moderate(Moderation::Permissions {
        cams: true,
        mics: false,
    }));
    ana.wait_for(Duration::from_secs(5), |m| {
        matches!(
            m,
            ServerMsg::Permissions {
                mics_allowed: false,
                ..
            }
        )
        .then_some(())
    })
    .await
    .unwrap();
    audio_stops(&teacher, "micrófonos bloqueados otra vez").await;

    // Removed: Ana is sent away and cannot come back to this session.
    teacher.send(ClientMsg::Moderate(Moderation::Remove { target: ana_id }));
    let bye = ana
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Bye { reason } => Some(reason.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(bye, "removed");
    assert_eq!(first_answer(&c.app, &c.ana, session).await, "refused");
    // Nor to the room started again by another process (this one is taken for gone), where
    // cameras and microphones stay as the instructor left them.
    teacher.send(ClientMsg::Moderate(Moderation::Permissions {
        cams: false,
        mics: false,
    }));
    let kept = "SELECT COUNT(*) FROM live_removals \
                WHERE (SELECT NOT cams_allowed AND NOT mics_allowed FROM live_sessions)";
    for _ in 0..50 {
        if c.app.count(kept).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.app.count(kept).await, 1);
    let other = c.app.second_instance().await;
    aula::with_db!(&c.app.db, |p| sqlx::query(
        "UPDATE live_rooms SET node_url = 'http://127.0.0.1:9', seen_at = $1"
    )
    .bind(chrono::Utc::now() - chrono::Duration::hours(1))
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    assert_eq!(first_answer(&other, &c.ana, session).await, "refused");
    assert_eq!(room_host(&c.app, session).await, other.base);
    let (mut beto, welcome) = welcome_on(&other, &c.beto, session).await;
    let ServerMsg::Welcome {
        cams_allowed,
        mics_allowed,
        ..
    } = welcome
    else {
        unreachable!()
    };
    assert!(!cams_allowed && !mics_allowed);
    // The first process learns, at its next renewal, that the room moved: the instructor is
    // told and disconnected (no `bye`), so the page reconnects, and lands in the new room.
    let moved = teacher
        .wait_for(Duration::from_secs(15), |m| match m {
            ServerMsg::Error { message } => Some(message.clone()),
            ServerMsg::Bye { reason } => Some(reason.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(moved, "La sala pasó a otro servidor; reconectando…");
    let (mut teacher, _) = welcome_on(&c.app, &c.teacher, session).await;

    // The instructor ends the class for everyone.
    teacher.send(ClientMsg::Moderate(Moderation::End));
    for p in [&mut beto, &mut teacher] {
        let bye = p
            .wait_for(Duration::from_secs(5), |m| match m {
                ServerMsg::Bye { reason } => Some(reason.clone()),
                _ => None,
            })
            .await
            .unwrap();
        assert_eq!(bye, "ended");
    }
    for _ in 0..50 {
        if c.app
            .scalar_i64(
                "SELECT COUNT(*) FROM live_sessions WHERE id = $1 AND status = 'ended'",
                session,
            )
            .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        c.app
            .scalar_i64(
                "SELECT COUNT(*) FROM live_sessions WHERE id = $1 AND status = 'ended'",
                session
            )
            .await,
        1
    );
    let (status, _) = c.beto.get_text(&format!("/en-vivo/{session}")).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn attending_enough_live_sessions_is_part_of_completing_the_course() {
    // "Herramientas digitales" asks for every lesson and 75% of the class's live sessions.
    let c = class_with_people().await;
    let first = schedule(&c, "Clase 1", chrono::Duration::minutes(1)).await;
    let second = schedule(&c, "Clase 2", chrono::Duration::days(1)).await;
    for key in [
        "tu-celular-y-tu-correo",
        "armar-tu-cv",
        "buscar-ofertas-con-seguridad",
        "postulacion-y-entrevista-virtual",
        "tu-kit-digital",
    ] {
        let r = c
            .ana
            .post(&format!("/cursos/{SLUG}/lecciones/{key}/completar"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Every lesson done, but neither session held yet.
    assert_eq!(
        c.app.enrolment_status(c.class, "32000002").await,
        "confirmed"
    );
    let ana = person_of(&c.app, "32000002").await.unwrap();
    let correct = |session: i64, minutes: &'static str| {
        let teacher = &c.teacher;
        async move {
            teacher
                .post(
                    &format!("/en-vivo/{session}/asistencia"),
                    &[
                        ("person_id", ana.to_string()),
                        ("minutes", minutes.to_string()),
                        ("reason", "Se conectó por teléfono".to_string()),
                    ],
                )
                .await
        }
    };
    // The first session is held; Ana was there 45 of its 60 minutes (corrected by hand): one
    // of two sessions is not 75%.
    let r = correct(first, "45").await;
    assert!(r.text().await.unwrap().contains("Asistencia corregida."));
    c.teacher
        .post(&format!("/en-vivo/{first}/terminar"), &[])
        .await;
    assert_eq!(
        c.app.enrolment_status(c.class, "32000002").await,
        "confirmed"
    );
    // She attends the second one too: when it ends, the course is complete.
    correct(second, "50").await;
    assert_eq!(
        c.app.enrolment_status(c.class, "32000002").await,
        "confirmed"
    );
    let r = c
        .teacher
        .post(&format!("/en-vivo/{second}/terminar"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        c.app.enrolment_status(c.class, "32000002").await,
        "completed"
    );
    // Beto, with no lesson done, is not.
    assert_eq!(
        c.app.enrolment_status(c.class, "32000003").await,
        "confirmed"
    );
}

#[tokio::test]
async fn presence_left_open_by_a_crashed_process_ends_at_its_last_sign_of_life() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase interrumpida", chrono::Duration::minutes(1)).await;
    let ana = person_of(&c.app, "32000002").await.unwrap();
    let beto = person_of(&c.app, "32000003").await.unwrap();
    let now = aula::web::time::now();
    let ago = |m: i64| now - chrono::Duration::minutes(m);
    // Ana's connection was in a process that crashed: joined 10 minutes ago, last heartbeat 5
    // minutes ago, never closed. Beto is connected right now to a live process.
    for (person, joined, seen) in [(ana, ago(10), Some(ago(5))), (beto, ago(1), None)] {
        aula::with_db!(&c.app.db, |p| sqlx::query(
            "INSERT INTO live_presence (session_id, person_id, joined_at, seen_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(session)
        .bind(person)
        .bind(joined)
        .bind(seen)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
    }
    let closed = aula::live::attendance::close_stale(&c.app.db, now)
        .await
        .unwrap();
    assert_eq!(closed, 1, "solo la de Ana");
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM live_presence WHERE left_at IS NULL")
            .await,
        1
    );
    // The sheet counts Ana's 5 minutes, not the time since the crash.
    let sheet = c
        .teacher
        .get_text(&format!("/en-vivo/{session}/asistencia"))
        .await
        .1;
    assert!(
        sheet.contains("<td>32000002</td><td class=\"presence\">Se conectó</td><td>5</td>"),
        "{sheet}"
    );
}

#[tokio::test]
async fn the_chat_is_kept_and_shown_again_by_a_room_started_on_another_process() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase con chat", chrono::Duration::minutes(1)).await;
    let teacher = join(&c, &c.teacher, session).await.unwrap();
    teacher.send(ClientMsg::Chat {
        text: "Abran el material de la lección 2".into(),
    });
    for _ in 0..50 {
        if c.app.count("SELECT COUNT(*) FROM live_chat").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.app.count("SELECT COUNT(*) FROM live_chat").await, 1);
    // The process hosting the room is gone (its claim on the room went stale): the next
    // connection, on another process on the same database, starts the room afresh there, and
    // who joins gets the line in the welcome.
    let other = c.app.second_instance().await;
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    aula::with_db!(&c.app.db, |p| sqlx::query(
        "UPDATE live_rooms SET node_url = 'http://127.0.0.1:9', seen_at = $1"
    )
    .bind(long_ago)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    let (_ana, welcome) = welcome_on(&other, &c.ana, session).await;
    let ServerMsg::Welcome { chat, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(chat.len(), 1);
    assert_eq!(chat[0].text, "Abran el material de la lección 2");
    let teacher_name: String = aula::with_db!(&c.app.db, |p| sqlx::query_scalar(
        "SELECT first_name FROM persons WHERE dni = '32000001'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(chat[0].name, teacher_name);
    assert_eq!(
        room_host(&c.app, session).await,
        other.base,
        "otro nodo la tomó"
    );
    drop(teacher);
}

/// The node whose room a session's participants meet in.
async fn room_host(app: &TestApp, session: i64) -> String {
    aula::with_db!(&app.db, |p| sqlx::query_scalar(
        "SELECT node_url FROM live_rooms WHERE session_id = $1"
    )
    .bind(session)
    .fetch_one(p)
    .await)
    .unwrap()
}

/// A hosting process whose claim vanished (the row went with a room that closed just before
/// this one started) claims the room again at its next renewal, and nobody is moved.
#[tokio::test]
async fn a_host_whose_claim_vanished_claims_its_room_again() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase sin reclamo", chrono::Duration::minutes(1)).await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    let deleted = aula::with_db!(&c.app.db, |p| sqlx::query("DELETE FROM live_rooms")
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
    .unwrap();
    assert_eq!(deleted, 1);
    for _ in 0..100 {
        if c.app.count("SELECT COUNT(*) FROM live_rooms").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(room_host(&c.app, session).await, c.app.base);
    // Nobody moves.
    nothing_for(&mut teacher, Duration::from_millis(300), |m| {
        matches!(m, ServerMsg::Error { .. } | ServerMsg::Bye { .. })
    })
    .await;
}

/// A room whose host cannot be reached (its process hangs or the network between processes
/// fails): the page is told and disconnected, so it reconnects; once the claim goes stale the
/// next connection starts the room where it landed.
#[tokio::test]
async fn an_unreachable_host_is_reported_and_its_room_taken_over_once_stale() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase con nodo caído", chrono::Duration::minutes(1)).await;
    let set_host = async |seen: chrono::DateTime<chrono::Utc>| {
        aula::with_db!(&c.app.db, |p| sqlx::query(
            "INSERT INTO live_rooms (session_id, node_url, seen_at) VALUES ($1, 'http://127.0.0.1:9', $2)
             ON CONFLICT (session_id) DO UPDATE SET node_url = excluded.node_url, seen_at = excluded.seen_at"
        )
        .bind(session)
        .bind(seen)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .unwrap();
    };
    set_host(chrono::Utc::now()).await;
    let mut ana = ClientPeer::connect(&ws_url(&c, session), &cookie(&c.ana), "127.0.0.1")
        .await
        .unwrap();
    let error = ana
        .wait_for(Duration::from_secs(15), |m| match m {
            ServerMsg::Error { message } => Some(message.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert!(
        error.contains("No se pudo llegar al servidor de la sala"),
        "{error}"
    );
    let closed = ana
        .wait_for(Duration::from_secs(5), |_| Some(()))
        .await
        .unwrap_err();
    assert!(closed.to_string().contains("se cerró"), "{closed}");
    assert_eq!(room_host(&c.app, session).await, "http://127.0.0.1:9");

    // Not renewed for a while: the room starts here.
    set_host(chrono::Utc::now() - chrono::Duration::minutes(1)).await;
    let (_ana, _) = welcome_on(&c.app, &c.ana, session).await;
    assert_eq!(room_host(&c.app, session).await, c.app.base);
}

/// Two processes behind a load balancer: a learner whose connection reaches the other one is
/// relayed to the room where her instructor is, receives the media, chats, and is sent home
/// when the instructor ends the class through a page of the other process.
#[tokio::test]
async fn a_class_reaching_two_processes_meets_in_one_room() {
    let c = class_with_people().await;
    let other = c.app.second_instance().await;
    let session = schedule(&c, "Clase en dos nodos", chrono::Duration::minutes(1)).await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    assert_eq!(room_host(&c.app, session).await, c.app.base);

    let (mut ana, welcome) = welcome_on(&other, &c.ana, session).await;
    let ServerMsg::Welcome { participants, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(participants.len(), 2, "Ana y su docente, en la misma sala");
    teacher
        .publish(Some(Ivf::parse(IVF).unwrap()), true)
        .await
        .unwrap();
    eventually(&ana, "Ana recibe video y audio del docente", |p| {
        video_packets(p) > 20 && audio_packets(p) > 20
    })
    .await;
    assert_eq!(other.count("SELECT COUNT(*) FROM live_rooms").await, 1);

    ana.send(ClientMsg::Chat {
        text: "¿Se escucha bien?".into(),
    });
    let line = teacher
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Chat(l) => Some(l.text.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(line, "¿Se escucha bien?");

    // The instructor ends the class from a page the other process served.
    let teacher_there = Browser {
        client: c.teacher.client.clone(),
        jar: c.teacher.jar.clone(),
        base: other.base.clone(),
    };
    let r = teacher_there
        .post(&format!("/en-vivo/{session}/terminar"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for p in [&mut ana, &mut teacher] {
        let reason = p
            .wait_for(Duration::from_secs(15), |m| match m {
                ServerMsg::Bye { reason } => Some(reason.clone()),
                _ => None,
            })
            .await
            .unwrap();
        assert_eq!(reason, "ended");
    }
    // Her presence was recorded by the host and is closed.
    open_presence_becomes(&c.app, 0).await;
    assert_eq!(
        c.app
            .count("SELECT COUNT(DISTINCT person_id) FROM live_presence")
            .await,
        2
    );
}

type RawWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare signalling socket (no media, no automatic answers), through `app`, as `b`.
async fn raw_socket(app: &TestApp, b: &Browser, session: i64) -> RawWs {
    let url = format!(
        "{}/en-vivo/{session}/ws",
        app.base.replace("http://", "ws://")
    );
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    req.headers_mut()
        .insert("cookie", cookie(b).parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// Reads `ws` until a message of type `ty` arrives (5 s at most); returns it.
async fn raw_until(ws: &mut RawWs, ty: &str) -> serde_json::Value {
    use futures_util::StreamExt;
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == ty {
                    return v;
                }
            }
        }
        panic!("el socket se cerró antes de «{ty}»")
    })
    .await
    .unwrap_or_else(|_| panic!("no llegó «{ty}»"))
}

/// The participants' ids in the next list `p` receives that `pick` accepts.
async fn next_list(
    p: &mut ClientPeer,
    within: Duration,
    pick: impl Fn(&[u64]) -> bool,
) -> anyhow::Result<Vec<u64>> {
    p.wait_for(within, |m| match m {
        ServerMsg::Participants { participants } => {
            let ids: Vec<u64> = participants.iter().map(|v| v.id).collect();
            pick(&ids).then_some(ids)
        }
        _ => None,
    })
    .await
}

/// A participant whose connection vanishes (a frozen phone: its TCP connection stays open,
/// it answers nothing, not even the server's pings, and sends no UDP) leaves the room within
/// 15 s, directly or relayed by another process, and its presence ends at its last sign of
/// life; participants that are fine but say nothing stay.
#[tokio::test]
async fn a_participant_that_stops_answering_leaves_within_15_seconds_and_idle_ones_stay() {
    let c = class_with_people().await;
    let other = c.app.second_instance().await;
    let session = schedule(
        &c,
        "Clase con un celular congelado",
        chrono::Duration::minutes(1),
    )
    .await;
    let (mut teacher, teacher_id) = join_with_id(&c, &c.teacher, session).await;
    // Beto is fine and silent, and reaches the room through the other process.
    let (_beto, welcome) = welcome_on(&other, &c.beto, session).await;
    let ServerMsg::Welcome { me: beto_id, .. } = welcome else {
        unreachable!()
    };
    // Ana's phone freezes right after joining, on a direct and on a relayed connection:
    // nothing is read from either socket (so no pong goes back) and no media is sent.
    let mut here = raw_socket(&c.app, &c.ana, session).await;
    let here_id = raw_until(&mut here, "welcome").await["me"]
        .as_u64()
        .unwrap();
    let mut there = raw_socket(&other, &c.ana, session).await;
    let there_id = raw_until(&mut there, "welcome").await["me"]
        .as_u64()
        .unwrap();
    let frozen_at = std::time::Instant::now();
    let frozen = [here_id, there_id];
    next_list(&mut teacher, Duration::from_secs(5), |ids| {
        frozen.iter().all(|f| ids.contains(f))
    })
    .await
    .unwrap();
    let left = next_list(&mut teacher, Duration::from_secs(25), |ids| {
        !frozen.iter().any(|f| ids.contains(f))
    })
    .await
    .expect("Ana sigue en la lista");
    let took = frozen_at.elapsed();
    assert!(took <= Duration::from_secs(15), "tardó {took:?}");
    assert!(
        left.contains(&teacher_id) && left.contains(&beto_id),
        "{left:?}"
    );
    // Both of Ana's intervals are closed; the direct one at her last sign of life (the
    // handshake), not when the server gave up on her.
    // (Written as each connection's task ends, just after the room's list went out.)
    let ana = person_of(&c.app, "32000002").await.unwrap();
    let mut spans = vec![];
    for _ in 0..50 {
        spans = presence_of(&c.app, ana).await;
        if spans.len() == 2 && spans.iter().all(|(_, left)| left.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(spans.len(), 2, "{spans:?}");
    for (_, left_at) in &spans {
        assert!(left_at.is_some(), "presencia sin cerrar: {spans:?}");
    }
    let direct = spans[0].1.unwrap() - spans[0].0;
    assert!(
        direct < chrono::Duration::seconds(3),
        "cerrada al rendirse y no en su última señal de vida: {direct:?}"
    );

    // The idle ones are still there (silent for as long as Ana was frozen, and more).
    tokio::time::sleep(Duration::from_secs(16).saturating_sub(frozen_at.elapsed())).await;
    teacher.send(ClientMsg::Hand { raised: false });
    let ids = next_list(&mut teacher, Duration::from_secs(5), |_| true)
        .await
        .expect("el docente sigue conectado");
    assert!(
        ids.contains(&teacher_id) && ids.contains(&beto_id),
        "{ids:?}"
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM live_presence WHERE left_at IS NULL")
            .await,
        2
    );
    drop((here, there));
}

/// A person's presence intervals (joined, left), oldest first.
async fn presence_of(
    app: &TestApp,
    person: i64,
) -> Vec<(
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
)> {
    aula::with_db!(&app.db, |p| sqlx::query_as(
        "SELECT joined_at, left_at FROM live_presence WHERE person_id = $1 ORDER BY id"
    )
    .bind(person)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// The chat lines `p` receives during `d`.
async fn chat_for(p: &mut ClientPeer, d: Duration) -> Vec<String> {
    let mut lines = vec![];
    let _ = p
        .wait_for(d, |m| {
            if let ServerMsg::Chat(l) = m {
                lines.push(l.text.clone());
            }
            None::<()>
        })
        .await;
    lines
}

/// Waits up to 5 s for the stored chat lines of the test's database to reach `n`, then checks.
async fn stored_chat_becomes(app: &TestApp, n: i64) {
    for _ in 0..50 {
        if app.count("SELECT COUNT(*) FROM live_chat").await == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM live_chat").await, n);
}

/// One learner cannot flood the chat: five lines at once go through, then one a second; the
/// rest are refused to her alone (in Spanish), not relayed and not stored. The limit is the
/// person's, so a second tab does not double it.
#[tokio::test]
async fn a_learner_gets_five_chat_lines_through_at_once_then_one_a_second() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase con chat apurado", chrono::Duration::minutes(1)).await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    let mut ana = join(&c, &c.ana, session).await.unwrap();
    let mut tab = join(&c, &c.ana, session).await.unwrap();
    for i in 0..20 {
        ana.send(ClientMsg::Chat {
            text: format!("línea {i}"),
        });
    }
    let refused = ana
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Error { message } => Some(message.clone()),
            _ => None,
        })
        .await
        .expect("Ana no supo que sus mensajes no salieron");
    assert!(refused.contains("muy seguido"), "{refused}");
    // Her second tab, right away, shares her limit.
    tab.send(ClientMsg::Chat {
        text: "desde otra pestaña".into(),
    });
    let refused = tab
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Error { message } => Some(message.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert!(refused.contains("muy seguido"), "{refused}");
    let got = chat_for(&mut teacher, Duration::from_millis(800)).await;
    let first_five: Vec<String> = (0..5).map(|i| format!("línea {i}")).collect();
    assert_eq!(got, first_five);
    stored_chat_becomes(&c.app, 5).await;
    // A second later there is room for one more line.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ana.send(ClientMsg::Chat {
        text: "una más".into(),
    });
    assert_eq!(
        chat_for(&mut teacher, Duration::from_millis(800)).await,
        vec!["una más".to_string()]
    );
    stored_chat_becomes(&c.app, 6).await;
}

/// A chat line over 500 characters is refused whole (a line cut short could say something
/// else), and the sender is told; 500 characters go through untouched.
#[tokio::test]
async fn a_chat_line_over_500_characters_is_refused_not_cut() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase con chat largo", chrono::Duration::minutes(1)).await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    let mut ana = join(&c, &c.ana, session).await.unwrap();
    ana.send(ClientMsg::Chat {
        text: "ñ".repeat(501),
    });
    let refused = ana
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Error { message } => Some(message.clone()),
            _ => None,
        })
        .await
        .expect("Ana no supo que su mensaje no salió");
    assert!(refused.contains("500"), "{refused}");
    assert!(
        chat_for(&mut teacher, Duration::from_millis(500))
            .await
            .is_empty()
    );
    ana.send(ClientMsg::Chat {
        text: format!("  {}  ", "ñ".repeat(500)),
    });
    let got = chat_for(&mut teacher, Duration::from_millis(800)).await;
    assert_eq!(got, vec!["ñ".repeat(500)]);
    stored_chat_becomes(&c.app, 1).await;
}

/// A learner who withdraws from the class while in its room is sent out: a line she writes
/// right after goes nowhere, and one who says nothing is sent out within seconds too; neither
/// gets back in.
#[tokio::test]
async fn a_learner_who_withdraws_is_sent_out_of_the_room_and_her_chat_goes_nowhere() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase con bajas", chrono::Duration::minutes(1)).await;
    let (mut teacher, _) = join_with_id(&c, &c.teacher, session).await;
    let (mut ana, ana_id) = join_with_id(&c, &c.ana, session).await;
    let (mut beto, beto_id) = join_with_id(&c, &c.beto, session).await;
    // Ana withdraws (in another tab) and writes at once.
    let r = c
        .ana
        .post(&format!("/comisiones/{}/baja", c.class), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    ana.send(ClientMsg::Chat {
        text: "¿sigo acá?".into(),
    });
    let bye = ana
        .wait_for(Duration::from_secs(5), |m| match m {
            ServerMsg::Bye { reason } => Some(reason.clone()),
            _ => None,
        })
        .await
        .expect("Ana sigue en la sala después de darse de baja");
    assert_eq!(bye, "unenrolled");
    assert!(
        chat_for(&mut teacher, Duration::from_millis(500))
            .await
            .is_empty()
    );
    stored_chat_becomes(&c.app, 0).await;
    // Beto withdraws and says nothing: out within seconds all the same.
    let withdrew = std::time::Instant::now();
    let r = c
        .beto
        .post(&format!("/comisiones/{}/baja", c.class), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let bye = beto
        .wait_for(Duration::from_secs(10), |m| match m {
            ServerMsg::Bye { reason } => Some(reason.clone()),
            _ => None,
        })
        .await
        .expect("Beto sigue en la sala después de darse de baja");
    assert_eq!(bye, "unenrolled");
    assert!(
        withdrew.elapsed() < Duration::from_secs(8),
        "{:?}",
        withdrew.elapsed()
    );
    next_list(&mut teacher, Duration::from_secs(5), |ids| {
        !ids.contains(&ana_id) && !ids.contains(&beto_id)
    })
    .await
    .unwrap();
    open_presence_becomes(&c.app, 1).await;
    // Neither gets back in.
    for b in [&c.ana, &c.beto] {
        assert!(
            ClientPeer::connect(&ws_url(&c, session), &cookie(b), "127.0.0.1")
                .await
                .is_err()
        );
    }
}

/// A message of the wrong shape (here an `answer` whose `sdp` is the bare SDP text instead of
/// `{type, sdp}`) is answered with a short Spanish error that repeats none of it; the
/// connection stays up.
#[tokio::test]
async fn a_malformed_message_gets_a_short_spanish_error_that_does_not_echo_it() {
    use futures_util::SinkExt;
    let c = class_with_people().await;
    let session = schedule(
        &c,
        "Clase con un cliente nuevo",
        chrono::Duration::minutes(1),
    )
    .await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    let mut ws = raw_socket(&c.app, &c.ana, session).await;
    raw_until(&mut ws, "welcome").await;
    let sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".repeat(40);
    for bad in [
        serde_json::json!({"type": "answer", "sdp": sdp}),
        serde_json::json!({"type": "saludo", "texto": sdp}),
    ] {
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            bad.to_string().into(),
        ))
        .await
        .unwrap();
        let error = raw_until(&mut ws, "error").await;
        let message = error["message"].as_str().unwrap();
        assert!(
            message.len() < 200 && !message.contains("v=0") && !message.contains("invalid"),
            "{} bytes: {message}",
            message.len()
        );
        assert!(message.contains("no tiene la forma"), "{message}");
    }
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        serde_json::json!({"type": "chat", "text": "sigo conectada"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        chat_for(&mut teacher, Duration::from_millis(800)).await,
        vec!["sigo conectada".to_string()]
    );
}

/// The room page tells what each quality costs per hour (from the bitrates the room sends
/// with) and suggests «Solo audio»; the instructor gets no «Levantar la mano» button.
#[tokio::test]
async fn the_room_page_says_what_each_quality_costs_and_only_learners_may_raise_a_hand() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase con datos contados", chrono::Duration::minutes(1)).await;
    let (status, learner) = c.ana.get_text(&format!("/en-vivo/{session}")).await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "como máximo, por hora",
        "Automática o Alta ~560 MB",
        "Media ~250 MB",
        "Baja ~91 MB",
        "Solo audio ~23 MB",
        "Cada cámara de otra persona que veas suma ~110 MB por hora",
        "elegí «Solo audio»",
        ">Alta (~560 MB/h)</option>",
        ">Solo audio (~23 MB/h)</option>",
    ] {
        assert!(learner.contains(text), "falta «{text}»: {learner}");
    }
    assert!(learner.contains("id=\"btn-mano\""));
    let (status, teacher) = c.teacher.get_text(&format!("/en-vivo/{session}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!teacher.contains("btn-mano") && !teacher.contains("Levantar la mano"));
}

/// A participant whose media connections die while its signalling stays up (a browser that
/// tore them down, UDP blocked midway) is told and disconnected once the server's side sees
/// them fail or close, so its page reconnects instead of sitting in the room receiving
/// nothing.
#[tokio::test]
async fn a_participant_whose_media_connections_die_is_sent_to_reconnect() {
    let c = class_with_people().await;
    let session = schedule(&c, "Clase sin UDP", chrono::Duration::minutes(1)).await;
    let mut teacher = join(&c, &c.teacher, session).await.unwrap();
    teacher
        .publish(Some(Ivf::parse(IVF).unwrap()), true)
        .await
        .unwrap();
    let mut ana = join(&c, &c.ana, session).await.unwrap();
    eventually(&ana, "Ana recibe video", |p| video_packets(p) > 10).await;
    let died = std::time::Instant::now();
    ana.close_media().await;
    let message = ana
        .wait_for(Duration::from_secs(45), |m| match m {
            ServerMsg::Error { message } => Some(message.clone()),
            _ => None,
        })
        .await
        .expect("el servidor no se enteró");
    assert!(
        message.contains("Se perdió la conexión de audio y video"),
        "{message}"
    );
    let closed = ana
        .wait_for(Duration::from_secs(5), |_| Some(()))
        .await
        .unwrap_err();
    assert!(closed.to_string().contains("se cerró"), "{closed}");
    println!("el servidor la desconectó a los {:?}", died.elapsed());
    open_presence_becomes(&c.app, 1).await;
}
