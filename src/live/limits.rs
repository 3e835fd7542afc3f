//! How much a participant may send: token buckets, so a person writes or clicks at their own
//! pace (a short burst, then a steady rate) but no client floods a room whose every message
//! is relayed to everyone.
//!
//! - **Chat**, per person in a room (all their tabs share it): a burst of [`CHAT_BURST`] lines,
//!   then one line every [`CHAT_EVERY`]. A person typing does not write faster than a line a
//!   second for long; the burst lets them fire a few short answers ("sí", "¡hola!", "ok") at
//!   once. With 100 learners at the limit, each receives 100 lines a second: already unreadable,
//!   but bounded.
//! - **Changes** (`hand`, `media`, `quality`), per person: a burst of [`CHANGES_BURST`], then
//!   [`CHANGES_PER_SECOND`] a second. Each `hand` or `media` sends the whole participant list to
//!   everyone; a `quality` asks the instructor's browser for a keyframe.
//! - **Frames** of one connection (messages of any type, pings, pongs): a burst of [`MESSAGES_BURST`], then
//!   [`MESSAGES_PER_SECOND`] a second; beyond that the connection is closed (a page sends about
//!   twenty at once when it joins: its offer and ICE candidates).

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

pub const CHAT_BURST: u32 = 5;
pub const CHAT_EVERY: Duration = Duration::from_secs(1);
pub const CHANGES_BURST: u32 = 10;
pub const CHANGES_PER_SECOND: u32 = 2;
pub const MESSAGES_BURST: u32 = 100;
pub const MESSAGES_PER_SECOND: u32 = 20;

/// A bucket of `burst` tokens refilled at `per_second`; each action takes one.
#[derive(Debug)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, per_second: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            burst: burst as f64,
            per_second,
            tokens: burst as f64,
            at: now,
        }
    }

    /// Takes a token if there is one at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One person's buckets in a room, shared by all their connections.
#[derive(Debug)]
pub struct PersonLimits {
    chat: Mutex<TokenBucket>,
    changes: Mutex<TokenBucket>,
}

impl PersonLimits {
    pub fn new(now: Instant) -> PersonLimits {
        PersonLimits {
            chat: Mutex::new(TokenBucket::new(
                CHAT_BURST,
                1.0 / CHAT_EVERY.as_secs_f64(),
                now,
            )),
            changes: Mutex::new(TokenBucket::new(
                CHANGES_BURST,
                CHANGES_PER_SECOND as f64,
                now,
            )),
        }
    }

    /// Whether one more chat line may go out now.
    pub fn chat(&self, now: Instant) -> bool {
        self.chat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(now)
    }

    /// Whether one more `hand`, `media` or `quality` may be applied now.
    pub fn change(&self, now: Instant) -> bool {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(now)
    }
}

/// The bucket of every message of one connection.
pub fn messages(now: Instant) -> TokenBucket {
    TokenBucket::new(MESSAGES_BURST, MESSAGES_PER_SECOND as f64, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut b = TokenBucket::new(5, 1.0, t0);
        assert_eq!((0..20).filter(|_| b.take(t0)).count(), 5);
        assert!(!b.take(at(900)));
        assert!(b.take(at(1000)));
        assert!(!b.take(at(1500)));
        // A long pause refills the burst, never more.
        assert_eq!((0..20).filter(|_| b.take(at(60_000))).count(), 5);
    }

    #[test]
    fn a_persons_tabs_share_the_chat_limit() {
        let t0 = Instant::now();
        let p = std::sync::Arc::new(PersonLimits::new(t0));
        let other_tab = p.clone();
        assert_eq!((0..3).filter(|_| p.chat(t0)).count(), 3);
        assert_eq!((0..3).filter(|_| other_tab.chat(t0)).count(), 2);
        assert!(p.change(t0), "los cambios llevan su propia cuenta");
    }
}
