//! The signalling WebSocket: authorised by the session cookie like every page, then one
//! participant task per connection (see `peer.rs`) joined to the session's room.

use std::sync::Arc;

use axum::{
    extract::{
        Path, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, header},
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::{
    live::LiveState,
    live::{
        attendance, nodes,
        peer::{Peer, PeerInfo},
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
    let to_host = async {
        while let Some(Ok(m)) = down_rx.next().await {
            let sent = match m {
                Message::Text(t) => up_tx.send(ts::Message::Text(t.as_str().into())).await,
                Message::Close(_) => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = up_tx.close().await;
    };
    let to_participant = async {
        while let Some(Ok(m)) = up_rx.next().await {
            let sent = match m {
                ts::Message::Text(t) => down_tx.send(Message::Text(t.as_str().into())).await,
                ts::Message::Close(_) => break,
                _ => Ok(()),
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
        while let Some(msg) = out_rx.recv().await {
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
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                Message::Text(t) => match serde_json::from_str::<ClientMsg>(t.as_str()) {
                    Ok(m) => {
                        if client_tx.send(m).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = errors.send(ServerMsg::Error {
                            message: format!("Mensaje inválido: {e}"),
                        });
                    }
                },
                Message::Close(_) => break,
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
    let (joined, room_tx) = match rooms.join(&state.db, session.id, joining).await {
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
        },
        Arc::clone(&rooms.factory),
        room_tx,
        out_tx,
    );
    // While connected, the presence interval is refreshed, so that a crash of this process
    // ends it at its last sign of life instead of leaving it open (see attendance::sweep).
    let heartbeat = presence.map(|p| {
        let db = state.db.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(attendance::HEARTBEAT);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = attendance::seen(&db, p).await {
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
        && let Err(e) = attendance::left(&state.db, p).await
    {
        tracing::error!(error = %e, "no se pudo registrar la salida");
    }
    tracing::info!(
        session = session.id,
        participant = joined.id,
        ?exit,
        "salió de la clase en vivo"
    );
    reader.abort();
    // The writer ends once every sender is gone (after a `Bye`, it closes the socket).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
}
