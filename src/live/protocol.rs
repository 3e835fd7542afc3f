//! The signalling protocol's messages (JSON over the room's WebSocket); `docs/live-protocol.md`
//! describes the conversation.

use serde::{Deserialize, Serialize};
use webrtc::peer_connection::{RTCIceCandidateInit, RTCSessionDescription};

use crate::live::config::IceServer;

/// A chat line has at most this many characters (after trimming); a longer one is refused
/// whole, not cut: a line cut short may say something else.
pub const CHAT_MAX_CHARS: usize = 500;

/// Which of a participant's two peer connections a message is about.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PcKind {
    /// The participant sends media (the participant offers).
    Pub,
    /// The participant receives media (the server offers).
    Sub,
}

/// Picture quality a learner asks for.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    #[default]
    Alta,
    Media,
    Baja,
    /// No video at all, only audio.
    Audio,
}

/// What an instructor may do to the room or to one participant.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Moderation {
    Mute {
        target: u64,
    },
    MuteAll,
    LowerHands,
    LowerHand {
        target: u64,
    },
    Remove {
        target: u64,
    },
    /// Whether learners may use their camera and microphone.
    Permissions {
        cams: bool,
        mics: bool,
    },
    End,
}

/// Messages from the browser (or any client) to the server.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Offer of the publishing connection; `screen_stream` names the msid stream id that
    /// carries a screen share (the rest is camera and microphone).
    Publish {
        sdp: RTCSessionDescription,
        #[serde(default)]
        screen_stream: Option<String>,
    },
    /// Answer to the server's offer on the receiving connection.
    Answer {
        sdp: RTCSessionDescription,
    },
    /// A trickled ICE candidate of one connection.
    Candidate {
        pc: PcKind,
        candidate: RTCIceCandidateInit,
    },
    /// What the participant currently sends (for the participants list; the pages show the
    /// instructor's screen, rather than the camera, while `screen` is on).
    Media {
        audio: bool,
        video: bool,
        #[serde(default)]
        screen: bool,
    },
    Chat {
        text: String,
    },
    Hand {
        raised: bool,
    },
    Quality {
        quality: Quality,
    },
    Moderate(Moderation),
    Leave,
}

/// One participant as everyone sees them.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ParticipantView {
    pub id: u64,
    pub name: String,
    pub instructor: bool,
    pub hand: bool,
    pub audio: bool,
    pub video: bool,
    /// Sharing their screen (only an instructor's is forwarded).
    #[serde(default)]
    pub screen: bool,
}

/// A forwarded track on the receiving connection: whose it is and what it carries.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct TrackView {
    /// The msid stream id in the server's offer.
    pub stream: String,
    pub owner: u64,
    /// `camera`, `screen` or `mic`.
    pub source: String,
}

/// Messages from the server to a participant.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        me: u64,
        instructor: bool,
        ice_servers: Vec<IceServer>,
        cams_allowed: bool,
        mics_allowed: bool,
        participants: Vec<ParticipantView>,
        chat: Vec<ChatLine>,
    },
    /// The server's answer on the publishing connection.
    PublishAnswer {
        sdp: RTCSessionDescription,
    },
    /// The server's offer on the receiving connection (answer with `answer`).
    Offer {
        sdp: RTCSessionDescription,
        tracks: Vec<TrackView>,
    },
    Participants {
        participants: Vec<ParticipantView>,
    },
    Chat(ChatLine),
    /// Learners' camera/microphone permissions changed.
    Permissions {
        cams_allowed: bool,
        mics_allowed: bool,
    },
    /// The instructor muted this participant's microphone (the server stopped forwarding it).
    Muted,
    /// The server lowered the picture quality this participant receives: its connection's
    /// bandwidth estimate dropped under what the layer needs.
    Quality {
        quality: Quality,
    },
    /// The loudest participant right now, if anyone speaks.
    Speaker {
        id: Option<u64>,
    },
    /// The connection ends: `ended` (the class ended), `removed` (by the instructor), `refused`
    /// (removed earlier from this session), `unenrolled` (no longer enrolled in the class).
    Bye {
        reason: String,
    },
    Error {
        message: String,
    },
}

/// A chat message.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ChatLine {
    pub from: u64,
    pub name: String,
    pub text: String,
    /// Unix milliseconds.
    pub at: i64,
}
