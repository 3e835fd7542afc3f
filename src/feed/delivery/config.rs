//! `[feed]` in aula.toml (or `AULA_FEED_*`): where the outbox is delivered and how patiently.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::web::config_de::opt_text;

/// One webhook endpoint of the `[[feed.endpoints]]` array.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Stable name: delivery state is kept per (event, name); renaming starts over.
    pub name: String,
    pub url: String,
    /// `whsec_` + base64 of the key.
    pub secret: String,
}

/// The feed's settings, as the file and the environment give them.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// `AULA_FEED_WEBHOOK_URL`: one endpoint, named `sipe`.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_url: Option<String>,
    /// `AULA_FEED_WEBHOOK_SECRET`: its `whsec_…` secret.
    #[serde(
        default,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_secret: Option<String>,
    /// More endpoints (file only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointConfig>,
    /// Seconds a receiver has to answer (default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// First retry delay in milliseconds (default 30000); doubles each attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_base_ms: Option<u64>,
    /// Longest retry delay in milliseconds (default 3600000: one hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_max_ms: Option<u64>,
    /// After this many seconds of failures an event is dead-lettered (default 259200: 3 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub give_up_after_seconds: Option<u64>,
    /// How often an idle worker looks for new events, in milliseconds (default 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_ms: Option<u64>,
    /// Deliveries in flight at once per endpoint and process (default 8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

/// A checked endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    pub secret: String,
}

/// The settings the worker runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub endpoints: Vec<Endpoint>,
    pub timeout: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    pub poll: Duration,
    pub concurrency: usize,
}

impl FeedConfig {
    /// Checks every endpoint (URL scheme, secret format, unique names) and fills defaults.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut endpoints: Vec<Endpoint> = Vec::new();
        match (&self.webhook_url, &self.webhook_secret) {
            (Some(url), Some(secret)) => endpoints.push(Endpoint {
                name: "sipe".into(),
                url: url.clone(),
                secret: secret.clone(),
            }),
            (None, None) => {}
            _ => anyhow::bail!(
                "feed: AULA_FEED_WEBHOOK_URL y AULA_FEED_WEBHOOK_SECRET van juntas (falta una)"
            ),
        }
        for e in &self.endpoints {
            endpoints.push(Endpoint {
                name: e.name.clone(),
                url: e.url.clone(),
                secret: e.secret.clone(),
            });
        }
        for (i, e) in endpoints.iter().enumerate() {
            if e.name.is_empty() || e.name.len() > 60 {
                anyhow::bail!("feed: el nombre de un destino tiene de 1 a 60 caracteres");
            }
            if endpoints[..i].iter().any(|o| o.name == e.name) {
                anyhow::bail!("feed: hay dos destinos llamados {:?}", e.name);
            }
            if !(e.url.starts_with("https://") || e.url.starts_with("http://")) {
                anyhow::bail!("feed: la URL de {:?} no es http(s)://", e.name);
            }
            if !e.secret.starts_with("whsec_") || standardwebhooks::Webhook::new(&e.secret).is_err()
            {
                anyhow::bail!(
                    "feed: el secreto de {:?} debe ser whsec_ seguido de base64",
                    e.name
                );
            }
        }
        let ms = |v: Option<u64>, d: u64| Duration::from_millis(v.unwrap_or(d));
        Ok(Settings {
            endpoints,
            timeout: Duration::from_secs(self.timeout_seconds.unwrap_or(10).max(1)),
            retry_base: ms(self.retry_base_ms, 30_000),
            retry_max: ms(self.retry_max_ms, 3_600_000),
            give_up_after: Duration::from_secs(self.give_up_after_seconds.unwrap_or(259_200)),
            poll: ms(self.poll_ms, 1000).max(Duration::from_millis(10)),
            concurrency: self.concurrency.unwrap_or(8).clamp(1, 64) as usize,
        })
    }
}
