//! The signalling WebSocket: authorised by the session cookie like every page, then one
//! participant task per connection (see `peer.rs`) joined to the session's room.
//!
//! A connection can vanish without closing: a phone that freezes or loses its network keeps
//! its TCP connection open on our side for minutes. So the server pings every participant
//! every [`PING_EVERY`], any frame from them (a pong, a message) counts as a sign of life,
//! and one silent for [`SILENCE_LIMIT`] leaves the room, its presence ending at its last
//! sign of life.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{
        Path, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, header},
    response::Response,
};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use tokio::{sync::mpsc, time::Instant};

use crate::{
    live::LiveState,
    live::{
        attendance, limits, nodes,
        peer::{Enrolment, Peer, PeerInfo},
        protocol::{ClientMsg, ServerMsg},
        room::Joining,
        sessions::{self, LiveSession, Role},
    },
    web::auth::{CurrentUser, User},
    web::{
        error::{AppError, AppResult},
        time::now,
    },
};

/// Largest client message accepted (an SDP offer with simulcast is ~6 KB).
const MAX_MESSAGE: usize = 64 * 1024;
/// How often the server pings each participant (browsers answer pings by themselves).
pub const PING_EVERY: Duration = Duration::from_secs(5);
/// A participant from whom nothing at all arrived for this long is taken for gone: two pings
/// unanswered, and a little more for a slow network.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(12);

/// When a participant last gave a sign of life, and whether the server gave up on them.
struct Liveness {
    /// Unix milliseconds of the last frame received.
    last_ms: AtomicI64,
    silent: AtomicBool,
}

impl Liveness {
    fn new() -> Liveness {
        Liveness {
            last_ms: AtomicI64::new(now().timestamp_millis()),
            silent: AtomicBool::new(false),
        }
    }
    fn mark(&self) {
        self.last_ms
            .store(now().timestamp_millis(), Ordering::Relaxed);
    }
    fn last(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.last_ms.load(Ordering::Relaxed)).unwrap_or_else(now)
    }
    /// When the participant left: their last sign of life if they went silent, else now.
    fn left_at(&self) -> DateTime<Utc> {
        if self.silent.load(Ordering::Relaxed) {
            self.last()
        } else {
            now()
        }
    }
}

/// Reads the next frame, or `None` once the socket closed or stayed silent past `deadline`
/// (then `silent` is set).
async fn next_or_silence<S, M, E>(
    stream: &mut S,
    deadline: Instant,
    silent: &AtomicBool,
) -> Option<M>
where
    S: futures_util::Stream<Item = Result<M, E>> + Unpin,
{
    match tokio::time::timeout_at(deadline, stream.next()).await {
        Ok(Some(Ok(m))) => Some(m),
        Ok(_) => None,
        Err(_) => {
            silent.store(true, Ordering::Relaxed);
            None
        }
    }
}

/// The answer to a message that does not parse: short and in Spanish, naming the message's
/// type when it is one of ours (never echoing the message, which may be a whole SDP); the
/// detail goes to the log.
fn malformed(text: &str, error: &serde_json::Error) -> ServerMsg {
    const TYPES: [&str; 9] = [
        "publish",
        "answer",
        "candidate",
        "media",
        "chat",
        "hand",
        "quality",
        "moderate",
        "leave",
    ];
    let ty = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(str::to_string))
        .filter(|t| TYPES.contains(&t.as_str()));
    let detail: String = error.to_string().chars().take(300).collect();
    tracing::info!(tipo = ?ty, error = %detail, "mensaje de señalización inválido");
    let message = match ty {
        Some(t) => format!(
            "El mensaje «{t}» no tiene la forma que pide el protocolo; no se tuvo en cuenta."
        ),
        None => "El mensaje no tiene la forma que pide el protocolo; no se tuvo en cuenta.".into(),
    };
    ServerMsg::Error { message }
}

/// `GET /en-vivo/{id}/ws`: the room's signalling socket. Outside the class: 404, like the
/// pages; before the room opens or after it ended: 409.
pub async fn socket(
    State(state): State<LiveState>,
    User(user): User,
    Path(id): Path<i64>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> AppResult<Response> {
    // Browsers send cookies on cross-site WebSocket handshakes: only our own pages may connect
    // (the same host as requested, or the public address when a proxy rewrites Host).
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        let public_host = state.settings.base_url.split("://").nth(1).unwrap_or("");
        if origin_host != host && origin_host != public_host.trim_end_matches('/') {
            return Err(AppError::NotFound);
        }
    }
    let (session, role) = sessions::authorise(&state.db, &user, id).await?;
    if session.is_ended() {
        return Err(AppError::Conflict("Esta clase ya terminó.".into()));
    }
    match role {
        Role::Learner
            if !session.learner_can_join(now(), state.rooms.config().early_join_minutes) =>
        {
            return Err(AppError::Conflict(
                "La sala todavía no está abierta.".into(),
            ));
        }
        // The instructor entering opens the room.
        Role::Instructor if !session.is_open() => {
            sessions::open(&state.db, session.id).await?;
        }
        _ => {}
    }
    let ws = ws.max_message_size(MAX_MESSAGE);
    // The room lives on one node; a connection that reached another is relayed there.
    let relayed = headers.contains_key(nodes::RELAYED_BY);
    match nodes::claim(&state.db, session.id, state.rooms.node(), now()).await? {
        nodes::Host::Here => {
            Ok(ws.on_upgrade(move |socket| serve(state, user, session, role, socket)))
        }
        nodes::Host::There(host) if !relayed => {
            let cookie = headers.get(header::COOKIE).cloned();
            let me = state.rooms.node().to_string();
            Ok(ws.on_upgrade(move |socket| relay(socket, host, me, session.id, cookie)))
        }
        // Relayed here by a node that thought this one hosts the room, but it moved meanwhile:
        // the page reconnects and lands right.
        nodes::Host::There(_) => Err(AppError::Conflict(
            "La sala se está moviendo de servidor; reintentá en unos segundos.".into(),
        )),
    }
}

/// Relays a participant's signalling to the node hosting the room, message by message, until
/// either side closes. Authorisation happens again at the host, with the same session cookie.
async fn relay(
    socket: WebSocket,
    host: String,
    me: String,
    session_id: i64,
    cookie: Option<header::HeaderValue>,
) {
    use tokio_tungstenite::tungstenite::{
        self as ts, client::IntoClientRequest, http::HeaderValue,
    };
    let (mut down_tx, mut down_rx) = socket.split();
    let url = format!("{}/en-vivo/{session_id}/ws", host.replacen("http", "ws", 1));
    let upstream = async {
        let mut req = url.as_str().into_client_request()?;
        if let Some(c) = cookie {
            req.headers_mut().insert(header::COOKIE, c);
        }
        req.headers_mut()
            .insert(nodes::RELAYED_BY, HeaderValue::from_str(&me)?);
        let (s, _) = tokio_tungstenite::connect_async(req).await?;
        anyhow::Ok(s)
    };
    let upstream = match tokio::time::timeout(std::time::Duration::from_secs(10), upstream).await {
        Ok(Ok(s)) => s,
        failed => {
            let error = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "tiempo agotado".into(),
            };
            tracing::warn!(%host, %error, "no se pudo llegar al nodo de la sala");
            let msg = ServerMsg::Error {
                message: "No se pudo llegar al servidor de la sala; reintentando…".into(),
            };
            if let Ok(t) = serde_json::to_string(&msg) {
                let _ = down_tx.send(Message::Text(t.into())).await;
            }
            let _ = down_tx.close().await;
            return;
        }
    };
    let (mut up_tx, mut up_rx) = upstream.split();
    // The host pings this process, which answers while it reads: the participant's silence
    // is watched here, where its socket is (the host then sees the relay close).
    let silent = AtomicBool::new(false);
    let to_host = async {
        loop {
            let Some(m) =
                next_or_silence(&mut down_rx, Instant::now() + SILENCE_LIMIT, &silent).await
            else {
                break;
            };
            let sent = match m {
                Message::Text(t) => up_tx.send(ts::Message::Text(t.as_str().into())).await,
                Message::Close(_) => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        if silent.load(Ordering::Relaxed) {
            tracing::info!(
                session = session_id,
                "participante sin señal de vida (reenviado)"
            );
        }
        let _ = up_tx.close().await;
    };
    let to_participant = async {
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            let sent = tokio::select! {
                m = up_rx.next() => match m {
                    Some(Ok(ts::Message::Text(t))) => down_tx.send(Message::Text(t.as_str().into())).await,
                    Some(Ok(ts::Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => Ok(()),
                },
                _ = ping.tick() => down_tx.send(Message::Ping(Default::default())).await,
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = down_tx.close().await;
    };
    // Either side closing ends both: the host sees the participant leave, the page reconnects.
    tokio::select! {
        _ = to_host => {}
        _ = to_participant => {}
    }
}

async fn serve(
    state: LiveState,
    user: CurrentUser,
    session: LiveSession,
    role: Role,
    socket: WebSocket,
) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ServerMsg>();
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            let msg = tokio::select! {
                msg = out_rx.recv() => match msg {
                    Some(m) => m,
                    None => break,
                },
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            let bye = matches!(msg, ServerMsg::Bye { .. });
            let Ok(text) = serde_json::to_string(&msg) else {
                continue;
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
            if bye {
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
        }
    });
    let (client_tx, client_rx) = mpsc::channel::<ClientMsg>(64);
    let errors = out_tx.clone();
    let alive = Arc::new(Liveness::new());
    let seen = alive.clone();
    let reader = tokio::spawn(async move {
        let mut budget = limits::messages(std::time::Instant::now());
        loop {
            let deadline = Instant::now() + SILENCE_LIMIT;
            let Some(msg) = next_or_silence(&mut stream, deadline, &seen.silent).await else {
                break;
            };
            seen.mark();
            match msg {
                Message::Text(t) => {
                    if !budget.take(std::time::Instant::now()) {
                        tracing::warn!("demasiados mensajes de señalización: se corta");
                        let _ = errors.send(ServerMsg::Error {
                            message:
                                "Tu navegador mandó demasiados mensajes seguidos; reconectando."
                                    .into(),
                        });
                        break;
                    }
                    match serde_json::from_str::<ClientMsg>(t.as_str()) {
                        Ok(m) => {
                            if client_tx.send(m).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = errors.send(malformed(t.as_str(), &e));
                        }
                    }
                }
                Message::Close(_) => break,
                // Pongs and pings: signs of life, already marked.
                _ => {}
            }
        }
    });

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let joining = Joining {
        person_id: user.person_id,
        name: user.first_name.clone(),
        instructor: role == Role::Instructor,
        events: events_tx,
    };
    let rooms = state.rooms.clone();
    let (joined, room_tx) = match rooms
        .join(&state.db, session.id, session.class_id, joining)
        .await
    {
        Ok(j) => j,
        Err(message) => {
            let _ = out_tx.send(ServerMsg::Error { message });
            let _ = out_tx.send(ServerMsg::Bye {
                reason: "refused".into(),
            });
            drop(out_tx);
            let _ = writer.await;
            reader.abort();
            return;
        }
    };
    let mut welcome = joined.welcome;
    if let ServerMsg::Welcome { ice_servers, .. } = &mut welcome {
        *ice_servers = state
            .rooms
            .config()
            .ice_servers_for(user.user_id, now().timestamp());
    }
    // Presence is on record before the welcome: a participant that has been welcomed is
    // counted, even if its connection drops right away.
    let presence = match attendance::joined(&state.db, session.id, user.person_id).await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, "no se pudo registrar la presencia");
            None
        }
    };
    let _ = out_tx.send(welcome);
    tracing::info!(
        session = session.id,
        participant = joined.id,
        "entró a la clase en vivo"
    );
    let (peer, pc_events) = Peer::new(
        PeerInfo {
            id: joined.id,
            instructor: role == Role::Instructor,
            enrolment: (role == Role::Learner).then(|| Enrolment {
                db: state.db.clone(),
                class_id: session.class_id,
                person_id: user.person_id,
            }),
            limits: joined.limits,
        },
        Arc::clone(&rooms.factory),
        room_tx,
        out_tx,
    );
    // While connected, the presence interval records the participant's last sign of life, so
    // that a crash of this process ends it there instead of leaving it open (see
    // attendance::sweep).
    let heartbeat = presence.map(|p| {
        let (db, alive) = (state.db.clone(), alive.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(attendance::HEARTBEAT);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = attendance::seen(&db, p, alive.last()).await {
                    tracing::warn!(error = %e, "no se pudo registrar la presencia");
                }
            }
        })
    });
    let exit = peer.run(client_rx, events_rx, pc_events).await;
    if let Some(h) = heartbeat {
        h.abort();
    }
    if let Some(p) = presence
        && let Err(e) = attendance::left(&state.db, p, alive.left_at()).await
    {
        tracing::error!(error = %e, "no se pudo registrar la salida");
    }
    tracing::info!(
        session = session.id,
        participant = joined.id,
        ?exit,
        sin_senal = alive.silent.load(Ordering::Relaxed),
        "salió de la clase en vivo"
    );
    reader.abort();
    // The writer ends once every sender is gone (after a `Bye`, it closes the socket); one
    // stuck on a participant that stopped reading is stopped, which closes the socket.
    let mut writer = writer;
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}
