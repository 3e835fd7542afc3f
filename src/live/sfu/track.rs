//! A published track, shared by its ingest task, every forwarder and the room: where it comes
//! from, its simulcast layers, the room's pause flag, and its voice level.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rtc::{
    rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication,
    rtp,
    rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind},
};
use tokio::sync::broadcast;

use crate::live::protocol::Quality;

/// Where a published track comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Mic,
    Camera,
    Screen,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Mic => "mic",
            Source::Camera => "camera",
            Source::Screen => "screen",
        }
    }
}

/// One RTP packet on its way from a publisher to the subscribers.
#[derive(Clone, Debug)]
pub struct Forwarded {
    pub pkt: rtp::Packet,
    /// First packet of a VP8 keyframe.
    pub keyframe: bool,
}

/// A track a participant publishes, shared by its ingest task and every forwarder.
pub struct PublishedTrack {
    pub id: String,
    pub owner: u64,
    pub owner_is_instructor: bool,
    pub kind: RtpCodecKind,
    pub source: Source,
    pub codec: RTCRtpCodec,
    pub remote: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
    pub fanout: broadcast::Sender<Arc<Forwarded>>,
    /// Simulcast layers seen so far: rid → SSRC (empty for a single-layer track).
    pub layers: Mutex<HashMap<String, u32>>,
    /// The SSRC of a single-layer track (first packet seen).
    pub single_ssrc: AtomicU64,
    /// Set by the room: muted by the instructor, blocked, or not among the last-N videos.
    pub paused: AtomicBool,
    /// Smoothed audio level (0 = silence, 127 = loudest; inverted from RFC 6464's -dBov).
    pub level: AtomicU8,
    /// A learner's microphone that reports its level: silent stretches are not forwarded.
    pub voice_gated: AtomicBool,
    /// When the microphone was last above the voice level (ms on [`clock_ms`]).
    pub last_voice_ms: AtomicU64,
    last_keyframe_request: Mutex<Option<Instant>>,
}

impl PublishedTrack {
    pub fn new(
        id: String,
        owner: u64,
        owner_is_instructor: bool,
        source: Source,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
        remote: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
    ) -> PublishedTrack {
        let (fanout, _) = broadcast::channel(512);
        PublishedTrack {
            id,
            owner,
            owner_is_instructor,
            kind,
            source,
            codec,
            remote,
            fanout,
            layers: Mutex::new(HashMap::new()),
            single_ssrc: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            level: AtomicU8::new(0),
            voice_gated: AtomicBool::new(false),
            last_voice_ms: AtomicU64::new(0),
            last_keyframe_request: Mutex::new(None),
        }
    }

    /// The SSRC to forward for a quality: the matching simulcast layer, or the nearest one.
    pub fn ssrc_for(&self, q: Quality) -> Option<u32> {
        let layers = self.layers.lock().unwrap_or_else(|e| e.into_inner());
        if layers.is_empty() {
            let s = self.single_ssrc.load(Ordering::Relaxed);
            return (s != 0).then_some(s as u32);
        }
        let order: &[&str] = match q {
            Quality::Alta => &["f", "h", "q"],
            Quality::Media => &["h", "q", "f"],
            Quality::Baja | Quality::Audio => &["q", "h", "f"],
        };
        order
            .iter()
            .find_map(|r| layers.get(*r).copied())
            .or_else(|| layers.values().next().copied())
    }

    /// Asks the publisher for a keyframe on one SSRC, at most every 300 ms per track.
    pub async fn request_keyframe(&self, media_ssrc: u32) {
        {
            let mut last = self
                .last_keyframe_request
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < Duration::from_millis(300)) {
                return;
            }
            *last = Some(Instant::now());
        }
        let _ = self
            .remote
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            })])
            .await;
    }
}

/// Louder than this (0..127, 127 = 0 dBov) is voice rather than background noise.
pub const VOICE_LEVEL: u8 = 60;
/// A learner's microphone keeps being forwarded this long after the last voice.
pub(super) const VOICE_HANGOVER_MS: u64 = 1500;

/// Milliseconds on a process-wide monotonic clock.
pub fn clock_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}
