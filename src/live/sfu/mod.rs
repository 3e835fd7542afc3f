//! The media plane: building peer connections, receiving published tracks (ingest) and
//! sending them on to each subscriber (forwarders).
//!
//! Four things make forwarding work (see the design note `webrtc-sfu.md`); each one fails
//! silently when missing, so each is done here in one place:
//! 1. every forwarded packet gets the subscriber leg's SSRC,
//! 2. and its negotiated payload type;
//! 3. header extensions are stripped, since their ids are per leg;
//! 4. an interceptor hands PLI/FIR to the application, which relays them to the publisher.
//!
//! One file per concept: `engine` builds peer connections (codecs, interceptors, ports, the
//! public address), `track` is a published track shared by its ingest and its forwarders,
//! `ingest` reads what a participant publishes, `forward` sends it on to each subscriber and
//! keeps its RTP numbering continuous, `congestion` steps a subscriber's layer down when its
//! bandwidth estimate falls, and `rtp` has the packet-level helpers.

mod congestion;
mod engine;
mod forward;
mod ingest;
mod rtp;
mod track;

pub use congestion::{Congestion, layer_bitrate};
pub use engine::{
    MIME_OPUS, MIME_RTX, MIME_VP8, PcFactory, PortPool, announce_public_ip, interceptors,
    media_engine,
};
pub use forward::{Egress, Munger, forward, relay_keyframe_requests};
pub use ingest::ingest;
pub use rtp::{audio_level, audio_level_ext_id, strip_extensions, vp8_keyframe};
pub use track::{Forwarded, PublishedTrack, Source, VOICE_LEVEL, clock_ms};
