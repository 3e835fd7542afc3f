//! Integration tests: the real app over HTTP, on SQLite (default) or PostgreSQL
//! (`AULA_TEST_BACKEND=postgres`).

mod helpers;
/// The scripted live-room participant, shared with `examples/liveload.rs`.
#[path = "../support/live_client.rs"]
mod live_client;

mod accounts;
mod assessment;
mod catalog;
mod certification;
mod enrolment;
mod feed_api;
mod feed_delivery;
mod feed_events;
mod learning;
mod live;
mod media;
mod operations;
mod people;
mod ux;
