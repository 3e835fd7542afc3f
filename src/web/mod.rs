//! The shared kernel: configuration, state, errors, layout, static assets, the router.

pub mod app;
pub mod assets;
pub mod config;
pub mod csrf;
pub mod demo;
pub mod error;
pub mod forms;
pub mod layout;
pub mod mail;
pub mod spreadsheet;
pub mod state;
pub mod text;
pub mod time;
