//! Application state shared by every handler: the kernel's part. Feature modules that need
//! more (live rooms, the media store, quiz settings) receive it from the composition root
//! through their own `routes(...)`.

use std::sync::Arc;

use crate::{
    db::Db,
    web::{limits::Limits, mail::Mailer},
};

/// What the kernel needs to know of the deployment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Public base URL, used in emailed links (e.g. `https://aula.tucuman.gob.ar`).
    pub base_url: String,
    /// Mark cookies `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Trust the last `X-Forwarded-For` hop for the client address (behind a proxy).
    pub trust_proxy: bool,
}

/// The completion rules (the `completion` module) sit above the modules that record a
/// learner's progress (lessons, quizzes, live attendance); those modules tell them through
/// this, and the composition root wires the rules in.
#[async_trait::async_trait]
pub trait Progress: Send + Sync {
    /// Something that counts towards finishing `class_id` changed for `person_id`; returns
    /// whether the class became completed by it.
    async fn changed(&self, db: &Db, class_id: i64, person_id: i64) -> Result<bool, sqlx::Error>;
}

/// Cheap to clone: everything inside is reference-counted.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub mailer: Mailer,
    /// How often each guessable or costly action may be tried (`[limits]`).
    pub limits: Arc<Limits>,
    pub progress: Arc<dyn Progress>,
}
