//! The media plane: building peer connections, receiving published tracks (ingest) and
//! sending them on to each subscriber (forwarders).
//!
//! Four things make forwarding work (see the design note `webrtc-sfu.md`); each one fails
//! silently when missing, so each is done here in one place:
//! 1. every forwarded packet gets the subscriber leg's SSRC,
//! 2. and its negotiated payload type;
//! 3. header extensions are stripped, since their ids are per leg;
//! 4. an interceptor hands PLI/FIR to the application, which relays them to the publisher.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rtc::{
    interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket},
    rtcp::payload_feedbacks::{
        full_intra_request::FullIntraRequest, picture_loss_indication::PictureLossIndication,
        receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate,
    },
    rtp,
    rtp_transceiver::rtp_sender::{
        RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability,
        RtpCodecKind,
    },
    sansio::Protocol,
};
use tokio::sync::{broadcast, watch};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateType, Registry, SettingEngineBuilder,
    register_default_interceptors,
};

use crate::live::{config::LiveConfig, protocol::Quality};

pub const MIME_VP8: &str = "video/VP8";
pub const MIME_OPUS: &str = "audio/opus";
pub const MIME_RTX: &str = "video/rtx";
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// Inbound RTCP stops at the end of the interceptor chain unless marked; this marks PLI and
/// FIR so a subscriber's keyframe request reaches `TrackLocal::poll` and can be relayed.
struct KeyframeRequestsToApp {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestsToApp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(pkts) = &msg.message.packet {
            let keep: Vec<_> = pkts
                .iter()
                .filter(|p| {
                    let p = p.as_any();
                    p.is::<PictureLossIndication>()
                        || p.is::<FullIntraRequest>()
                        || p.is::<ReceiverEstimatedMaximumBitrate>()
                })
                .cloned()
                .collect();
            if keep.is_empty() {
                // Reports, NACKs and TWCC were consumed by the interceptors before us.
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(keep);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequestsToApp {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

/// The room codecs: VP8 (simulcast works in every browser) and Opus. One codec per kind
/// means publisher and subscriber legs always agree.
pub fn media_engine() -> anyhow::Result<MediaEngine> {
    let mut me = MediaEngine::default();
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    };
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_OPUS.into(),
                clock_rate: 48000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
                rtcp_feedback: vec![],
            },
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )?;
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_VP8.into(),
                clock_rate: 90000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![
                    fb("goog-remb", ""),
                    fb("ccm", "fir"),
                    fb("nack", ""),
                    fb("nack", "pli"),
                    fb("transport-cc", ""),
                ],
            },
            payload_type: 96,
        },
        RtpCodecKind::Video,
    )?;
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_RTX.into(),
                clock_rate: 90000,
                channels: 0,
                sdp_fmtp_line: "apt=96".into(),
                rtcp_feedback: vec![],
            },
            payload_type: 97,
        },
        RtpCodecKind::Video,
    )?;
    me.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: AUDIO_LEVEL_URI.into(),
        },
        RtpCodecKind::Audio,
        None,
    )?;
    Ok(me)
}

/// NACK, RTCP reports, TWCC feedback and simulcast header extensions (webrtc's defaults),
/// plus the marker that lets keyframe requests reach the application.
pub fn interceptors(me: &mut MediaEngine) -> anyhow::Result<Registry> {
    Ok(register_default_interceptors(Registry::new(), me)?.with(
        Slot::from(14_000),
        KeyframeRequestsToApp {
            read: VecDeque::new(),
            write: VecDeque::new(),
        },
    ))
}

/// Hands out UDP ports of the configured range, round robin (a port still in use makes
/// the bind fail and the next one is tried).
pub struct PortPool {
    range: Option<(u16, u16)>,
    next: AtomicU16,
}

impl PortPool {
    pub fn new(cfg: &LiveConfig) -> PortPool {
        let range = cfg.udp_port_min.zip(cfg.udp_port_max);
        PortPool {
            next: AtomicU16::new(range.map(|r| r.0).unwrap_or(0)),
            range,
        }
    }

    fn candidates(&self) -> Vec<u16> {
        match self.range {
            None => vec![0],
            Some((lo, hi)) => {
                let span = (hi - lo) as u32 + 1;
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                let first = (start.wrapping_sub(lo) as u32 % span) as u16;
                (0..span.min(64))
                    .map(|i| lo + ((first as u32 + i) % span) as u16)
                    .collect()
            }
        }
    }
}

/// Everything a peer connection of the SFU needs to be built.
pub struct PcFactory {
    pub cfg: LiveConfig,
    pub ports: PortPool,
}

impl PcFactory {
    pub fn new(cfg: LiveConfig) -> PcFactory {
        PcFactory {
            ports: PortPool::new(&cfg),
            cfg,
        }
    }

    /// A new peer connection with the room codecs, NACK/RTCP interceptors, the keyframe
    /// request marker, bound to the configured interface and port range.
    pub async fn build(
        &self,
        handler: Arc<dyn PeerConnectionEventHandler>,
    ) -> anyhow::Result<Arc<dyn PeerConnection>> {
        let mut last_err = None;
        for port in self.ports.candidates() {
            let mut me = media_engine()?;
            let registry = interceptors(&mut me)?;
            let mut se = SettingEngineBuilder::new();
            if let Some(ip) = self.cfg.public_ip {
                // Ignored by webrtc 0.21.1's gatherer (host candidates always carry the
                // socket's address); `announce_public_ip` rewrites the SDP instead.
                se = se.with_nat_1to1_ips(vec![ip.to_string()], RTCIceCandidateType::Host);
            }
            if self.cfg.bind_ip.is_loopback() {
                se = se.with_include_loopback_candidate(true);
            }
            let addr = SocketAddr::new(self.cfg.bind_ip, port).to_string();
            let built = PeerConnectionBuilder::new()
                .with_configuration(RTCConfigurationBuilder::new().build())
                .with_media_engine(me)
                .with_interceptor_registry(registry)
                .with_setting_engine(se.build())
                .with_handler(handler.clone())
                .with_udp_addrs(vec![addr])
                .build()
                .await;
            match built {
                Ok(pc) => return Ok(Arc::new(pc)),
                Err(e) => last_err = Some(e),
            }
        }
        Err(anyhow::anyhow!(
            "no se pudo crear la conexión WebRTC: {}",
            last_err.map(|e| e.to_string()).unwrap_or_default()
        ))
    }
}

/// Replaces the address of every host candidate in an SDP with the public IP of a 1:1 NAT
/// (what pion's NAT1To1 "host" mode does; webrtc 0.21.1 stores that setting but never uses it).
pub fn announce_public_ip(sdp: &str, public_ip: Option<std::net::IpAddr>) -> String {
    let Some(ip) = public_ip else {
        return sdp.to_string();
    };
    let ip = ip.to_string();
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let ending = &line[body.len()..];
        if body.starts_with("a=candidate:") && body.contains(" typ host") {
            let mut f: Vec<&str> = body.split(' ').collect();
            if f.len() > 5 {
                f[4] = &ip;
            }
            out.push_str(&f.join(" "));
            out.push_str(ending);
        } else {
            out.push_str(line);
        }
    }
    out
}

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

/// Whether a VP8 RTP payload starts a keyframe (RFC 7741: S=1, PID=0, then P=0 in the
/// first byte of the VP8 payload header).
pub fn vp8_keyframe(payload: &[u8]) -> bool {
    let Some(&b0) = payload.first() else {
        return false;
    };
    let start = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !start || pid != 0 {
        return false;
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let Some(&x) = payload.get(1) else {
            return false;
        };
        i = 2;
        if x & 0x80 != 0 {
            // Picture id: 7 or 15 bits.
            match payload.get(i) {
                Some(&m) if m & 0x80 != 0 => i += 2,
                Some(_) => i += 1,
                None => return false,
            }
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    payload.get(i).is_some_and(|h| h & 0x01 == 0)
}

/// Louder than this (0..127, 127 = 0 dBov) is voice rather than background noise.
pub const VOICE_LEVEL: u8 = 60;
/// A learner's microphone keeps being forwarded this long after the last voice.
const VOICE_HANGOVER_MS: u64 = 1500;

/// Milliseconds on a process-wide monotonic clock.
pub fn clock_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Reads the RFC 6464 audio level (0..127 -dBov) of a packet, if the extension is there.
pub fn audio_level(pkt: &rtp::Packet, ext_id: u8) -> Option<u8> {
    if ext_id == 0 {
        return None;
    }
    pkt.header
        .get_extension(ext_id)
        .and_then(|b| b.first().copied())
        .map(|b| b & 0x7f)
}

/// The `a=extmap` id of the audio-level extension in an SDP, or 0.
pub fn audio_level_ext_id(sdp: &str) -> u8 {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=extmap:"))
        .find(|l| l.contains(AUDIO_LEVEL_URI))
        .and_then(|l| l.split([' ', '/']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or(0)
}

/// Reads a published track and fans its packets out. Never waits on a subscriber: the
/// driver drops packets if this loop falls 256 behind.
pub async fn ingest(track: Arc<PublishedTrack>, audio_level_ext: u8) {
    use webrtc::media_stream::track_remote::TrackRemoteEvent;
    let video = track.kind == RtpCodecKind::Video;
    let mut smoothed: f32 = 0.0;
    while let Some(ev) = track.remote.poll().await {
        match ev {
            TrackRemoteEvent::OnOpen(init) => {
                if let Some(rid) = init.rid {
                    track
                        .layers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(rid.to_string(), init.ssrc);
                }
            }
            TrackRemoteEvent::OnRtpPacket(mut pkt) => {
                if track.single_ssrc.load(Ordering::Relaxed) == 0 {
                    track
                        .single_ssrc
                        .store(pkt.header.ssrc as u64, Ordering::Relaxed);
                }
                if !video && let Some(l) = audio_level(&pkt, audio_level_ext) {
                    // 127 - level: bigger is louder; fast attack, slow release.
                    let loud = (127 - l) as f32;
                    if !track.owner_is_instructor {
                        track.voice_gated.store(true, Ordering::Relaxed);
                    }
                    if 127 - l >= VOICE_LEVEL {
                        // +1: zero means "never".
                        track.last_voice_ms.store(clock_ms() + 1, Ordering::Relaxed);
                    }
                    smoothed = if loud > smoothed {
                        0.6 * loud + 0.4 * smoothed
                    } else {
                        0.05 * loud + 0.95 * smoothed
                    };
                    track.level.store(smoothed as u8, Ordering::Relaxed);
                }
                let keyframe = video && vp8_keyframe(&pkt.payload);
                strip_extensions(&mut pkt.header);
                // No receivers is fine: nobody subscribes yet.
                let _ = track.fanout.send(Arc::new(Forwarded { pkt, keyframe }));
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
}

/// Header extension ids are negotiated per leg: forwarding them makes the egress sender
/// drop the packet ("extension not found"), silently.
pub fn strip_extensions(h: &mut rtp::header::Header) {
    h.extension = false;
    h.extensions.clear();
    h.extensions_padding = 0;
    h.extension_profile = 0;
}

/// Keeps sequence numbers and timestamps continuous for a subscriber across switches
/// between source SSRCs (simulcast layers).
#[derive(Debug, Default)]
pub struct Munger {
    started: bool,
    seq_offset: u16,
    ts_offset: u32,
    last_seq: u16,
    last_ts: u32,
}

impl Munger {
    /// Re-anchors so that `pkt` (the first of a new source) follows the last packet sent.
    pub fn switch_to(&mut self, pkt: &rtp::header::Header, ts_gap: u32) {
        if self.started {
            self.seq_offset = self
                .last_seq
                .wrapping_add(1)
                .wrapping_sub(pkt.sequence_number);
            self.ts_offset = self
                .last_ts
                .wrapping_add(ts_gap)
                .wrapping_sub(pkt.timestamp);
        }
    }

    /// After packets of the same source were left out: keeps sequence numbers continuous (so
    /// the receiver sees no loss) and timestamps as they are (time did pass, as with DTX).
    pub fn skip_gap(&mut self, pkt: &rtp::header::Header) {
        if self.started {
            self.seq_offset = self
                .last_seq
                .wrapping_add(1)
                .wrapping_sub(pkt.sequence_number);
        }
    }

    /// Rewrites one packet's sequence number and timestamp.
    pub fn apply(&mut self, h: &mut rtp::header::Header) {
        h.sequence_number = h.sequence_number.wrapping_add(self.seq_offset);
        h.timestamp = h.timestamp.wrapping_add(self.ts_offset);
        // Retransmitted (older) packets must not move the anchor backwards.
        let newer = !self.started || (h.sequence_number.wrapping_sub(self.last_seq) as i16) > 0;
        if newer {
            self.last_seq = h.sequence_number;
            self.last_ts = h.timestamp;
        }
        self.started = true;
    }
}

/// The subscriber-side state a forwarder reads: negotiated PT (0 until bound) and quality.
pub struct Egress {
    pub out_ssrc: u32,
    pub pt: AtomicU8,
    pub quality: watch::Receiver<Quality>,
}

/// Forwards one published track to one subscriber: picks the layer, waits for a keyframe
/// before switching, rewrites SSRC/PT/seq/ts and writes to the subscriber's local track.
pub async fn forward(
    track: Arc<PublishedTrack>,
    local: Arc<webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP>,
    egress: Arc<Egress>,
) {
    use webrtc::media_stream::track_local::TrackLocal;
    let video = track.kind == RtpCodecKind::Video;
    let mut rx = track.fanout.subscribe();
    let mut munger = Munger::default();
    let mut current: Option<u32> = None;
    let mut was_paused = false;
    // Packets of the current source were left out on purpose (silence).
    let mut gap = false;
    loop {
        let f = match rx.recv().await {
            Ok(f) => f,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Packets were lost for this subscriber: restart the picture cleanly.
                if video {
                    current = None;
                }
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let pt = egress.pt.load(Ordering::Relaxed);
        let quality: Quality = *egress.quality.borrow();
        let paused = track.paused.load(Ordering::Relaxed) || (video && quality == Quality::Audio);
        if pt == 0 || paused {
            was_paused = paused;
            continue;
        }
        if video {
            let target = track.ssrc_for(quality);
            if was_paused {
                current = None;
                was_paused = false;
            }
            if current != target {
                // Switch only on a keyframe of the target layer; until then keep the old one.
                if Some(f.pkt.header.ssrc) == target && f.keyframe {
                    munger.switch_to(&f.pkt.header, 3000);
                    current = target;
                } else {
                    if let Some(t) = target {
                        track.request_keyframe(t).await;
                    }
                    if current != Some(f.pkt.header.ssrc) {
                        continue;
                    }
                }
            }
            if current != Some(f.pkt.header.ssrc) {
                continue;
            }
        } else {
            // Open learner microphones in silence cost every subscriber 50 packets a second
            // for nothing: forward them only while (and shortly after) someone speaks.
            let last_voice = track.last_voice_ms.load(Ordering::Relaxed);
            if track.voice_gated.load(Ordering::Relaxed)
                && (last_voice == 0 || clock_ms().saturating_sub(last_voice) > VOICE_HANGOVER_MS)
            {
                gap = true;
                continue;
            }
            if current != Some(f.pkt.header.ssrc) {
                munger.switch_to(&f.pkt.header, 960);
                current = Some(f.pkt.header.ssrc);
            } else if gap {
                munger.skip_gap(&f.pkt.header);
            }
            gap = false;
        }
        let mut pkt = f.pkt.clone();
        pkt.header.ssrc = egress.out_ssrc;
        pkt.header.payload_type = pt;
        munger.apply(&mut pkt.header);
        // Err before the sender is bound or after close: skip, the loop ends when the
        // track's fan-out closes or the task is aborted.
        let _ = local.write_rtp(pkt).await;
    }
}

/// Relays a subscriber's keyframe requests to the publisher, and its receiver's bandwidth
/// estimates (REMB, which Chrome sends for streams without transport-wide sequence numbers,
/// as the server's are) to `estimates` in bits per second. Must drain the local track's
/// events, or its queue fills up.
pub async fn relay_keyframe_requests(
    track: Arc<PublishedTrack>,
    local: Arc<webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP>,
    egress: Arc<Egress>,
    estimates: tokio::sync::mpsc::UnboundedSender<u64>,
) {
    use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
    while let Some(ev) = local.poll().await {
        let TrackLocalEvent::OnRtcpPacket(packets) = ev else {
            continue;
        };
        let mut keyframe = false;
        for p in &packets {
            match p.as_any().downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                Some(remb) if remb.bitrate.is_finite() && remb.bitrate > 0.0 => {
                    let _ = estimates.send(remb.bitrate as u64);
                }
                Some(_) => {}
                None => keyframe = true,
            }
        }
        if keyframe {
            let quality = *egress.quality.borrow();
            if let Some(ssrc) = track.ssrc_for(quality) {
                track.request_keyframe(ssrc).await;
            }
        }
    }
}

/// The bitrate each quality needs: the instructor's simulcast layer's cap, which the page
/// sends with (see `bitrates`).
pub fn layer_bitrate(q: Quality) -> u64 {
    crate::live::bitrates::layer(q)
}

/// Steps a subscriber's quality down when its receiver's bandwidth estimate drops below what
/// the layer needs. Chrome's estimate starts low and grows with what it receives, so it cannot
/// say when a higher layer would fit: stepping up stays with the learner (the quality
/// selector, or its "Automática" mode after a calm while). Only a fall counts: the estimate of
/// the last 5 s had room for the current layer, and now it is 10 % lower and has not; so the
/// slow ramp-up at the start (or an estimate that never reached the layer) lowers nobody.
#[derive(Debug, Default)]
pub struct Congestion {
    peak: Option<(u64, Instant)>,
    stepped_at: Option<Instant>,
}

impl Congestion {
    /// The quality to step down to for estimate `bps` at `now`, if any.
    pub fn on_estimate(&mut self, bps: u64, current: Quality, now: Instant) -> Option<Quality> {
        let peak = match self.peak {
            Some((p, at)) if p >= bps && now.duration_since(at) < Duration::from_secs(5) => p,
            _ => {
                self.peak = Some((bps, now));
                bps
            }
        };
        let had_room = layer_bitrate(current) * 10 <= peak * 8;
        if !had_room
            || bps * 10 >= peak * 9
            || self
                .stepped_at
                .is_some_and(|t| now.duration_since(t) < Duration::from_secs(2))
        {
            return None;
        }
        // The best layer that fits in 80 % of the estimate (the rest is audio and overhead).
        let fits = [Quality::Alta, Quality::Media, Quality::Baja]
            .into_iter()
            .find(|q| layer_bitrate(*q) * 10 <= bps * 8)
            .unwrap_or(Quality::Baja);
        let rank = |q: Quality| match q {
            Quality::Alta => 3,
            Quality::Media => 2,
            Quality::Baja => 1,
            Quality::Audio => 0,
        };
        if rank(fits) >= rank(current) {
            return None;
        }
        self.stepped_at = Some(now);
        // The drop is acted on: the next one is measured from here.
        self.peak = Some((bps, now));
        Some(fits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropping_estimate_steps_quality_down_but_a_rising_one_never_does() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut c = Congestion::default();
        // Ramp-up from a low start: never a drop.
        for (i, bps) in [300_000, 450_000, 700_000, 1_100_000, 2_000_000]
            .iter()
            .enumerate()
        {
            assert_eq!(c.on_estimate(*bps, Quality::Alta, at(i as u64 * 500)), None);
        }
        // Steady, with jitter under 10 %: nothing.
        assert_eq!(c.on_estimate(1_900_000, Quality::Alta, at(3000)), None);
        // Congestion: the estimate falls to 700 kbit/s: media (500 k fits in 80 %).
        assert_eq!(
            c.on_estimate(700_000, Quality::Alta, at(3500)),
            Some(Quality::Media)
        );
        // Falling further right away: waits 2 s between steps.
        assert_eq!(c.on_estimate(300_000, Quality::Media, at(4000)), None);
        assert_eq!(
            c.on_estimate(250_000, Quality::Media, at(6000)),
            Some(Quality::Baja)
        );
        // An estimate still ramping up, under what the layer needs, that dips: nothing (it
        // never had room for "alta", so its fall says nothing about the link).
        let mut ramp = Congestion::default();
        for (i, bps) in [143_000, 250_000, 400_000, 330_000].iter().enumerate() {
            assert_eq!(
                ramp.on_estimate(*bps, Quality::Alta, at(i as u64 * 1000)),
                None
            );
        }
        // Already at the bottom, or only audio: nothing to step down to.
        assert_eq!(c.on_estimate(100_000, Quality::Baja, at(9000)), None);
        let mut c = Congestion::default();
        c.on_estimate(2_000_000, Quality::Audio, at(0));
        assert_eq!(c.on_estimate(100_000, Quality::Audio, at(500)), None);
    }

    #[test]
    fn a_drop_that_still_fits_the_layer_changes_nothing() {
        let t0 = Instant::now();
        let mut c = Congestion::default();
        c.on_estimate(3_000_000, Quality::Media, t0);
        assert_eq!(
            c.on_estimate(1_000_000, Quality::Media, t0 + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn vp8_keyframes_are_recognised_with_and_without_extended_descriptor() {
        // S=1, PID=0, no X; payload header byte with P=0 → keyframe.
        assert!(vp8_keyframe(&[0x10, 0x00, 0x9d, 0x01, 0x2a]));
        // Interframe: P=1.
        assert!(!vp8_keyframe(&[0x10, 0x01]));
        // Not the start of a partition.
        assert!(!vp8_keyframe(&[0x00, 0x00]));
        // X=1, I=1 with a 15-bit picture id (M=1), then the payload header.
        assert!(vp8_keyframe(&[0x90, 0x80, 0x81, 0x23, 0x00]));
        assert!(!vp8_keyframe(&[0x90, 0x80, 0x81, 0x23, 0x01]));
        // X=1, I=1 (7-bit id), L=1, T=1.
        assert!(vp8_keyframe(&[0x90, 0xe0, 0x05, 0x01, 0x20, 0x00]));
    }

    #[test]
    fn munger_keeps_sequence_continuous_across_a_layer_switch() {
        let mut m = Munger::default();
        let mut h = rtp::header::Header {
            sequence_number: 65534,
            timestamp: 1000,
            ..Default::default()
        };
        m.apply(&mut h);
        let mut h2 = rtp::header::Header {
            sequence_number: 65535,
            timestamp: 4000,
            ..Default::default()
        };
        m.apply(&mut h2);
        // New layer with unrelated numbering.
        let mut n = rtp::header::Header {
            sequence_number: 100,
            timestamp: 900_000,
            ..Default::default()
        };
        m.switch_to(&n, 3000);
        m.apply(&mut n);
        assert_eq!(n.sequence_number, 0);
        assert_eq!(n.timestamp, 7000);
        let mut n2 = rtp::header::Header {
            sequence_number: 101,
            timestamp: 903_000,
            ..Default::default()
        };
        m.apply(&mut n2);
        assert_eq!(n2.sequence_number, 1);
        assert_eq!(n2.timestamp, 10_000);
    }

    #[test]
    fn host_candidates_announce_the_public_ip() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\na=candidate:2 1 udp 1694498815 1.2.3.4 5000 typ srflx raddr 10.0.0.5 rport 40000\r\n";
        let out = announce_public_ip(sdp, Some("203.0.113.10".parse().unwrap()));
        assert_eq!(
            out,
            "v=0\r\na=candidate:1 1 udp 2130706431 203.0.113.10 40000 typ host\r\na=candidate:2 1 udp 1694498815 1.2.3.4 5000 typ srflx raddr 10.0.0.5 rport 40000\r\n"
        );
        assert_eq!(announce_public_ip(sdp, None), sdp);
    }

    #[test]
    fn ports_come_from_the_configured_range_round_robin() {
        let pool = PortPool::new(&LiveConfig {
            udp_port_min: Some(40000),
            udp_port_max: Some(40002),
            ..Default::default()
        });
        assert_eq!(pool.candidates(), vec![40000, 40001, 40002]);
        assert_eq!(pool.candidates(), vec![40001, 40002, 40000]);
        let any = PortPool::new(&LiveConfig::default());
        assert_eq!(any.candidates(), vec![0]);
    }

    #[test]
    fn silence_left_out_leaves_no_hole_in_sequence_numbers() {
        let mut m = Munger::default();
        let mut h = rtp::header::Header {
            sequence_number: 10,
            timestamp: 960,
            ..Default::default()
        };
        m.apply(&mut h);
        // Packets 11..=59 were silence and not forwarded.
        let mut next = rtp::header::Header {
            sequence_number: 60,
            timestamp: 48_000,
            ..Default::default()
        };
        m.skip_gap(&next);
        m.apply(&mut next);
        assert_eq!(next.sequence_number, 11);
        assert_eq!(next.timestamp, 48_000, "time passed: timestamps keep it");
    }

    #[test]
    fn audio_level_extension_id_is_read_from_the_offer() {
        let sdp = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n";
        assert_eq!(audio_level_ext_id(sdp), 1);
        assert_eq!(audio_level_ext_id("v=0\r\n"), 0);
    }
}
