//! Deployment settings of live rooms: where the SFU binds its UDP sockets, the public address
//! it announces behind a 1:1 NAT, and the ICE servers handed to browsers (STUN, and TURN with
//! coturn's `use-auth-secret` time-limited credentials).

use std::net::IpAddr;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use sha1::Sha1;

/// The `[live]` table of `aula.toml`; each key also has an `AULA_LIVE_*` variable.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Interface the SFU binds (`AULA_LIVE_BIND_IP`); `0.0.0.0` means every non-loopback one.
    pub bind_ip: IpAddr,
    /// The UDP port range as one text, `MIN-MAX` (`AULA_LIVE_UDP_PORTS=40000-40999`); the
    /// same as `udp_port_min` and `udp_port_max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_ports: Option<String>,
    /// First UDP port of the range the SFU uses; none = any.
    pub udp_port_min: Option<u16>,
    /// Last UDP port of the range (inclusive).
    pub udp_port_max: Option<u16>,
    /// Public IPv4 announced instead of the local one, on a 1:1 NAT (`AULA_LIVE_PUBLIC_IP`).
    pub public_ip: Option<IpAddr>,
    /// STUN/TURN servers given to browsers as they are (static credentials, if any).
    pub ice_servers: Vec<IceServer>,
    /// TURN URLs whose credentials Aula mints (`AULA_LIVE_TURN_URLS`, comma-separated),
    /// e.g. `turn:turn.aula.gob.ar:3478?transport=udp`, `turns:turn.aula.gob.ar:443?transport=tcp`.
    #[serde(deserialize_with = "list_or_commas")]
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret` (`AULA_LIVE_TURN_SECRET`).
    #[serde(deserialize_with = "crate::web::config_de::opt_text")]
    pub turn_secret: Option<String>,
    /// How long minted TURN credentials stay valid, in seconds.
    pub turn_ttl_secs: u64,
    /// Learners may enter this many minutes before the start, even if the room is not open yet.
    pub early_join_minutes: i64,
    /// How many learners' cameras are forwarded at once (the most recent speakers).
    pub last_n: usize,
    /// This process's address for the other `aula` processes (`AULA_LIVE_NODE_URL`, e.g.
    /// `http://10.0.0.7:8080`): a process relays the signalling of a room hosted by another
    /// to this address. Default: the listening address (loopback for a wildcard bind).
    pub node_url: Option<String>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            bind_ip: IpAddr::from([0, 0, 0, 0]),
            udp_ports: None,
            udp_port_min: None,
            udp_port_max: None,
            public_ip: None,
            ice_servers: vec![],
            turn_urls: vec![],
            turn_secret: None,
            turn_ttl_secs: 6 * 3600,
            early_join_minutes: 10,
            last_n: 4,
            node_url: None,
        }
    }
}

/// One entry of the browser's `RTCConfiguration.iceServers`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl LiveConfig {
    /// Takes `udp_ports = "MIN-MAX"` (as the environment gives it) into the two ends.
    pub fn apply_port_range(&mut self) -> anyhow::Result<()> {
        if let Some(v) = self.udp_ports.take() {
            let (a, b) = v
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                .ok_or_else(|| anyhow::anyhow!("AULA_LIVE_UDP_PORTS debe ser MIN-MAX: {v}"))?;
            self.udp_port_min = Some(a);
            self.udp_port_max = Some(b);
        }
        Ok(())
    }

    /// Checks the settings that depend on each other.
    pub fn validate(&self) -> anyhow::Result<()> {
        match (self.udp_port_min, self.udp_port_max) {
            (Some(a), Some(b)) if a == 0 || b < a => {
                anyhow::bail!("rango de puertos UDP inválido: {a}-{b}")
            }
            (Some(_), None) | (None, Some(_)) => {
                anyhow::bail!("indicá udp_port_min y udp_port_max juntos")
            }
            _ => {}
        }
        if let Some(u) = &self.node_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            anyhow::bail!("node_url debe empezar con http:// o https://: {u}");
        }
        if !self.turn_urls.is_empty() && self.turn_secret.is_none() {
            anyhow::bail!("turn_urls necesita turn_secret (el static-auth-secret de coturn)");
        }
        Ok(())
    }

    /// The ICE servers for one participant: the static ones plus TURN with fresh credentials.
    pub fn ice_servers_for(&self, user_id: i64, now_unix: i64) -> Vec<IceServer> {
        let mut all = self.ice_servers.clone();
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let (username, credential) =
                turn_credentials(secret, user_id, now_unix + self.turn_ttl_secs as i64);
            all.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        all
    }
}

/// A list, or one text with commas (as an environment variable gives it).
fn list_or_commas<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(l) => l,
        Either::Text(t) => t
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    })
}

/// coturn's REST-API credentials (`use-auth-secret`): the user name is
/// `<expiry unix time>:<user id>` and the password is base64(HMAC-SHA1(secret, user name)).
pub fn turn_credentials(secret: &str, user_id: i64, expires_unix: i64) -> (String, String) {
    let username = format!("{expires_unix}:{user_id}");
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC acepta cualquier clave");
    mac.update(username.as_bytes());
    (username, STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_coturn_rest_scheme() {
        // Reference computed with: printf '1700000000:42' | openssl dgst -sha1 -hmac secreto -binary | base64
        let (u, p) = turn_credentials("secreto", 42, 1_700_000_000);
        assert_eq!(u, "1700000000:42");
        assert_eq!(p, "UuX5ubV+lhfaYDsY2PmHkvQweOo=");
        assert_ne!(turn_credentials("otro", 42, 1_700_000_000).1, p);
    }

    #[test]
    fn live_table_of_the_config_file_parses() {
        let file: crate::app::config::RawConfig = toml::from_str(
            r#"
            [live]
            udp_port_min = 40000
            udp_port_max = 40999
            public_ip = "203.0.113.10"
            turn_urls = ["turns:turn.aula.test:443?transport=tcp"]
            turn_secret = "s"
            node_url = "http://10.0.0.7:8080"
            [[live.ice_servers]]
            urls = ["stun:stun.aula.test:3478"]
            "#,
        )
        .unwrap();
        let live = file.live.unwrap();
        live.validate().unwrap();
        assert_eq!(live.udp_port_max, Some(40999));
        assert_eq!(live.ice_servers_for(7, 100).len(), 2);
        assert_eq!(live.early_join_minutes, 10);
        assert_eq!(live.node_url.as_deref(), Some("http://10.0.0.7:8080"));
    }

    #[test]
    fn turn_needs_secret_and_ports_need_both_ends() {
        let c = LiveConfig {
            turn_urls: vec!["turn:x:3478".into()],
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = LiveConfig {
            udp_port_min: Some(40000),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = LiveConfig {
            node_url: Some("10.0.0.7:8080".into()),
            ..Default::default()
        };
        assert!(c.validate().is_err(), "sin esquema");
    }
}
