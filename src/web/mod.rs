//! The shared kernel: errors, layout and rendering, forms, text, time, assets, mail, cookies,
//! CSRF, one-time notices, the request id, the logged-in user as the kernel reads it, source
//! file errors and the state every handler shares. It imports no feature module.

pub mod assets;
pub mod auth;
pub mod client;
pub mod config_de;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod forms;
pub mod layout;
pub mod limits;
pub mod mail;
pub mod notice;
pub mod outbox;
pub mod ratelimit;
pub mod request_id;
pub mod source;
pub mod spreadsheet;
pub mod state;
pub mod text;
pub mod time;
