//! A short id for every request: in the log's request span, in the `x-request-id` response
//! header, and on the error page, so a learner or an office can report a failure by its code
//! and the logs say what happened.

use axum::{
    extract::Request,
    http::{HeaderValue, header::HeaderName},
    middleware::Next,
    response::Response,
};

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id of one request (8 characters, easy to read aloud: no 0/O, 1/I/L).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

impl RequestId {
    fn new() -> RequestId {
        let mut rng = rand::rng();
        RequestId(
            (0..8)
                .map(|_| ALPHABET[rand::Rng::random_range(&mut rng, 0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// The id of the request being handled, if any (the error page shows it).
    pub fn current() -> Option<String> {
        REQUEST_ID.try_with(|r| r.0.clone()).ok()
    }
}

/// Header carrying the id back to the client.
pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware (outermost): assigns the id, keeps it for the request's task, and returns it.
pub async fn assign(mut req: Request, next: Next) -> Response {
    let id = RequestId::new();
    req.extensions_mut().insert(id.clone());
    let value = HeaderValue::from_str(&id.0).ok();
    let mut resp = REQUEST_ID.scope(id, next.run(req)).await;
    if let Some(v) = value {
        resp.headers_mut().insert(HEADER.clone(), v);
    }
    resp
}
