//! Who is on the other end: the peer address and, behind a trusted proxy, the client address
//! from `X-Forwarded-For` (the key of every per-address rate limit).

use std::net::SocketAddr;

use axum::{extract::ConnectInfo, http::HeaderMap};

use crate::web::state::AppState;

/// The peer socket address, when the server was started with connect info.
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// The client address, from the socket or (behind a trusted proxy) `X-Forwarded-For`.
pub fn client_ip(state: &AppState, headers: &HeaderMap, addr: Option<SocketAddr>) -> String {
    if state.settings.trust_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
    {
        return ip.trim().to_string();
    }
    addr.map(|a| a.ip().to_string())
        .unwrap_or_else(|| "desconocida".into())
}
