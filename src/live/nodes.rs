//! Rooms spread over several `aula` processes (nodes) behind a load balancer. A room lives in
//! the memory of one node, so every participant of a session must reach that node: the
//! database says which node hosts each session (`live_rooms`), the first connection claims it
//! in one statement, and a node that receives a connection for a room hosted elsewhere relays
//! the signalling there (the media goes straight to the host, whose address is in its SDP).
//! The host refreshes its claim while the room lives; a claim left unrefreshed belongs to a
//! node that is gone, and the next connection takes the room over.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{db::Db, with_db};

/// How often a node refreshes the rooms it hosts and looks for sessions ended elsewhere.
pub const REFRESH: Duration = Duration::from_secs(3);
/// A claim not refreshed for this long is taken over by the next connection.
pub const STALE_SECONDS: i64 = 15;
/// Header a node sets when it relays a connection, naming itself; the host never relays it on.
pub const RELAYED_BY: &str = "x-aula-relay";

/// Where a session's room lives.
#[derive(Debug, PartialEq, Eq)]
pub enum Host {
    /// On this node.
    Here,
    /// On the node reachable at this base URL.
    There(String),
}

/// Claims the room of `session_id` for node `me` unless a live node holds it: one statement,
/// so two nodes receiving the first connections at once agree on one host.
pub async fn claim(
    db: &Db,
    session_id: i64,
    me: &str,
    now: DateTime<Utc>,
) -> Result<Host, sqlx::Error> {
    for _ in 0..3 {
        if upsert(db, session_id, me, now, true).await? {
            return Ok(Host::Here);
        }
        let host: Option<String> = with_db!(db, |p| sqlx::query_scalar(
            "SELECT node_url FROM live_rooms WHERE session_id = $1"
        )
        .bind(session_id)
        .fetch_optional(p)
        .await)?;
        // Gone between the two statements (its room just closed): claim again.
        if let Some(url) = host {
            return Ok(if url == me {
                Host::Here
            } else {
                Host::There(url)
            });
        }
    }
    // The claim keeps vanishing under us (rooms opening and closing elsewhere at this very
    // moment): serve here rather than refuse the participant.
    Ok(Host::Here)
}

/// Inserts or refreshes `me`'s claim; takes a stale one over only if `take_stale`. Whether
/// `me` holds the room now.
async fn upsert(
    db: &Db,
    session_id: i64,
    me: &str,
    now: DateTime<Utc>,
    take_stale: bool,
) -> Result<bool, sqlx::Error> {
    let stale_before = if take_stale {
        now - chrono::Duration::seconds(STALE_SECONDS)
    } else {
        DateTime::<Utc>::UNIX_EPOCH
    };
    let held: Option<String> = with_db!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO live_rooms (session_id, node_url, seen_at) VALUES ($1, $2, $3)
         ON CONFLICT (session_id) DO UPDATE SET node_url = excluded.node_url, seen_at = excluded.seen_at
         WHERE live_rooms.node_url = excluded.node_url OR live_rooms.seen_at < $4
         RETURNING node_url"
    )
    .bind(session_id)
    .bind(me)
    .bind(now)
    .bind(stale_before)
    .fetch_optional(p)
    .await
    })?;
    Ok(held.is_some())
}

/// What a node learns when it renews its claims.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Hosted sessions that were ended (through any node): their rooms close.
    pub ended: Vec<i64>,
    /// Hosted sessions another node took over (this one was taken for gone): their
    /// participants reconnect, and are relayed to the new host.
    pub lost: Vec<i64>,
}

/// Renews `me`'s claims on the rooms it hosts: one statement for all of them, then one to
/// read them back with whether each session ended. A hosted room missing from the claims (its
/// row went with a room that closed just before) is claimed again, if nobody else has it.
pub async fn refresh(
    db: &Db,
    me: &str,
    hosted: &[i64],
    now: DateTime<Utc>,
) -> Result<Refreshed, sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "UPDATE live_rooms SET seen_at = $2 WHERE node_url = $1"
    )
    .bind(me)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    let claims: Vec<(i64, bool)> = with_db!(db, |p| sqlx::query_as(
        "SELECT r.session_id, s.ended_at IS NOT NULL FROM live_rooms r
         JOIN live_sessions s ON s.id = r.session_id WHERE r.node_url = $1"
    )
    .bind(me)
    .fetch_all(p)
    .await)?;
    let mut out = Refreshed::default();
    for &id in hosted {
        match claims.iter().find(|(s, _)| *s == id) {
            Some((_, true)) => out.ended.push(id),
            Some((_, false)) => {}
            None if upsert(db, id, me, now, false).await? => {}
            None => {
                tracing::warn!(
                    session = id,
                    "otro nodo tomó esta sala: sus participantes se reconectan allá"
                );
                out.lost.push(id);
            }
        }
    }
    Ok(out)
}

/// Gives up `me`'s claim when its room closes (the next connection may start it anywhere).
pub async fn release(db: &Db, session_id: i64, me: &str) -> Result<(), sqlx::Error> {
    with_db!(db, |p| sqlx::query(
        "DELETE FROM live_rooms WHERE session_id = $1 AND node_url = $2"
    )
    .bind(session_id)
    .bind(me)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// This node's address for other nodes: the configured one, else the bound address (an
/// unspecified bind IP becomes loopback: right for one machine, set `AULA_LIVE_NODE_URL`
/// for several).
pub fn node_url(configured: Option<&str>, bound: std::net::SocketAddr) -> String {
    if let Some(u) = configured {
        return u.trim_end_matches('/').to_string();
    }
    let ip = if bound.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        bound.ip()
    };
    format!("http://{}", std::net::SocketAddr::new(ip, bound.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_url_prefers_the_configured_one_and_makes_a_wildcard_bind_reachable() {
        let bound: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(node_url(None, bound), "http://127.0.0.1:8080");
        assert_eq!(
            node_url(Some("http://10.0.0.7:8080/"), bound),
            "http://10.0.0.7:8080"
        );
        let v6: std::net::SocketAddr = "[::1]:9000".parse().unwrap();
        assert_eq!(node_url(None, v6), "http://[::1]:9000");
    }
}
