//! The benchmark's baseline: the barest axum 0.8 server on a multi-thread tokio runtime.
//!
//! `GET /` answers `hola`. Whatever Aula's pages cost is measured against this route in the
//! same run, on the same machine (see `bench/run.sh` and BENCHMARKS.md).
//!
//! ```text
//! cargo run --release --example hello -- 127.0.0.1:18081
//! HELLO_LISTEN=127.0.0.1:18081 cargo run --release --example hello
//! ```

use axum::{Router, routing::get};

fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("HELLO_LISTEN").ok())
        .unwrap_or_else(|| "127.0.0.1:18081".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = Router::new().route("/", get(|| async { "hola" }));
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("hello escuchando en http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let ctrl_c = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("señal SIGTERM");
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            })
            .await
    })
}
