//! A scripted participant: connects to a room's signalling socket like the browser does,
//! publishes pre-encoded VP8 (from an IVF file) and Opus, and counts what it receives.
//! No encoder involved. Test tooling, kept out of the `aula` binary: the integration tests
//! (`tests/it/live.rs`) and the live load generator (`examples/liveload.rs`) include this file
//! with `#[path]`, each using part of it.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};
use webrtc::{
    media_stream::{
        MediaStreamTrack,
        track_local::{
            TrackLocal, TrackLocalEvent, static_rtp::TrackLocalStaticRTP,
            static_sample::TrackLocalStaticSample,
        },
        track_remote::{TrackRemote, TrackRemoteEvent},
    },
    peer_connection::{
        PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
        RTCSessionDescription,
    },
};

use aula::live::{
    protocol::{ClientMsg, ServerMsg},
    sfu::{MIME_OPUS, MIME_VP8, interceptors, media_engine, vp8_keyframe},
};

/// VP8 frames read from an IVF file.
#[derive(Clone)]
pub struct Ivf {
    pub frames: Vec<Bytes>,
    pub frame_duration: Duration,
}

impl Ivf {
    /// Parses an IVF file (32-byte header, then 12-byte frame headers).
    pub fn parse(data: &[u8]) -> anyhow::Result<Ivf> {
        anyhow::ensure!(
            data.len() >= 32 && &data[..4] == b"DKIF",
            "no es un archivo IVF"
        );
        let header_len = u16::from_le_bytes([data[6], data[7]]) as usize;
        let rate = u32::from_le_bytes(data[16..20].try_into()?);
        let scale = u32::from_le_bytes(data[20..24].try_into()?);
        let mut frames = vec![];
        let mut i = header_len;
        while i + 12 <= data.len() {
            let size = u32::from_le_bytes(data[i..i + 4].try_into()?) as usize;
            let start = i + 12;
            anyhow::ensure!(start + size <= data.len(), "IVF truncado");
            frames.push(Bytes::copy_from_slice(&data[start..start + size]));
            i = start + size;
        }
        anyhow::ensure!(!frames.is_empty(), "IVF sin cuadros");
        let frame_duration = if rate > 0 && scale > 0 {
            Duration::from_secs_f64(scale as f64 / rate as f64)
        } else {
            Duration::from_millis(33)
        };
        Ok(Ivf {
            frames,
            frame_duration,
        })
    }
}

/// What a participant received, per forwarded track (keyed by the egress SSRC).
#[derive(Default)]
pub struct Received {
    pub tracks: Mutex<HashMap<u32, TrackCounters>>,
    pub opened: AtomicU64,
    /// The tracks themselves, to send feedback on (bandwidth estimates).
    remotes: Mutex<Vec<Arc<dyn TrackRemote>>>,
}

/// Counters of one received track.
#[derive(Clone, Debug, Default)]
pub struct TrackCounters {
    pub kind: String,
    pub stream: String,
    pub packets: u64,
    pub bytes: u64,
    pub keyframes: u64,
    /// Gaps in sequence numbers (packets missing).
    pub lost: u64,
    pub last_seq: Option<u16>,
    /// Audio one-way latency (publisher in this process): sum, maximum and count, in ms.
    pub latency_sum_ms: f64,
    pub latency_max_ms: f64,
    pub latency_count: u64,
    pub first_at: Option<Instant>,
    pub last_at: Option<Instant>,
}

impl Received {
    /// A snapshot of every track's counters.
    pub fn snapshot(&self) -> HashMap<u32, TrackCounters> {
        self.tracks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

struct Handler {
    gathering: watch::Sender<RTCIceGatheringState>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        let _ = self.gathering.send(s);
    }
    async fn on_track(&self, t: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(t);
    }
}

async fn new_pc(
    bind: &str,
) -> anyhow::Result<(
    Arc<dyn PeerConnection>,
    watch::Receiver<RTCIceGatheringState>,
    mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
)> {
    let mut me = media_engine()?;
    let registry = interceptors(&mut me)?;
    let (gtx, grx) = watch::channel(RTCIceGatheringState::New);
    let (ttx, trx) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler {
            gathering: gtx,
            tracks: ttx,
        }))
        .with_udp_addrs(vec![format!("{bind}:0")])
        .build()
        .await?;
    Ok((Arc::new(pc), grx, trx))
}

async fn gathered(
    pc: &Arc<dyn PeerConnection>,
    g: &mut watch::Receiver<RTCIceGatheringState>,
) -> anyhow::Result<RTCSessionDescription> {
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        g.wait_for(|s| *s == RTCIceGatheringState::Complete),
    )
    .await;
    pc.local_description()
        .await
        .context("sin descripción local")
}

/// A connected scripted participant.
pub struct ClientPeer {
    send: mpsc::UnboundedSender<ClientMsg>,
    /// Every server message except the ones the client handles itself (answers, offers).
    pub inbox: mpsc::UnboundedReceiver<ServerMsg>,
    pub received: Arc<Received>,
    /// Keyframe requests (PLI/FIR) that reached this participant as a publisher.
    pub keyframe_requests: Arc<AtomicU64>,
    /// Every SDP the server sent (answers and offers), newest last.
    pub server_sdps: Arc<Mutex<Vec<String>>>,
    /// Audio level sent with each Opus packet (RFC 6464 −dBov: 0 loudest, 127 silence).
    pub loudness: Arc<std::sync::atomic::AtomicU8>,
    bind: String,
    publish_pc: Option<Arc<dyn PeerConnection>>,
    sub_pc: Arc<tokio::sync::Mutex<Option<Arc<dyn PeerConnection>>>>,
    publish_answer:
        Arc<tokio::sync::Mutex<Option<tokio::sync::oneshot::Sender<RTCSessionDescription>>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClientPeer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ClientPeer {
    /// Connects to `ws_url` with the session cookie (`aula_sesion=...`), binding media
    /// sockets on `bind` (e.g. `127.0.0.1`). Fails if the server refuses the handshake.
    pub async fn connect(ws_url: &str, cookie: &str, bind: &str) -> anyhow::Result<ClientPeer> {
        let mut req = ws_url.into_client_request()?;
        req.headers_mut()
            .insert("cookie", HeaderValue::from_str(cookie)?);
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .context("el servidor rechazó la conexión de señalización")?;
        let (mut sink, mut stream) = ws.split();
        let (send, mut send_rx) = mpsc::unbounded_channel::<ClientMsg>();
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        let received = Arc::new(Received::default());
        let sub_pc: Arc<tokio::sync::Mutex<Option<Arc<dyn PeerConnection>>>> = Arc::default();
        let publish_answer: Arc<
            tokio::sync::Mutex<Option<tokio::sync::oneshot::Sender<RTCSessionDescription>>>,
        > = Arc::default();
        let writer = tokio::spawn(async move {
            while let Some(m) = send_rx.recv().await {
                let Ok(t) = serde_json::to_string(&m) else {
                    continue;
                };
                if sink.send(Message::Text(t.into())).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let server_sdps: Arc<Mutex<Vec<String>>> = Arc::default();
        let sdps2 = server_sdps.clone();
        let (sub_pc2, pa2, recv2, send2, bind2) = (
            sub_pc.clone(),
            publish_answer.clone(),
            received.clone(),
            send.clone(),
            bind.to_string(),
        );
        let reader = tokio::spawn(async move {
            let mut sub_gathering = None;
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(t) = msg else { continue };
                let Ok(m) = serde_json::from_str::<ServerMsg>(t.as_str()) else {
                    continue;
                };
                match m {
                    ServerMsg::PublishAnswer { sdp } => {
                        sdps2
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(sdp.sdp.clone());
                        if let Some(tx) = pa2.lock().await.take() {
                            let _ = tx.send(sdp);
                        }
                    }
                    ServerMsg::Offer { sdp, .. } => {
                        sdps2
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(sdp.sdp.clone());
                        let mut guard = sub_pc2.lock().await;
                        if guard.is_none() {
                            let Ok((pc, g, tracks)) = new_pc(&bind2).await else {
                                break;
                            };
                            tokio::spawn(count_tracks(tracks, recv2.clone()));
                            sub_gathering = Some(g);
                            *guard = Some(pc);
                        }
                        let (Some(pc), Some(g)) = (guard.as_ref(), sub_gathering.as_mut()) else {
                            break;
                        };
                        let answered = async {
                            pc.set_remote_description(sdp).await?;
                            let a = pc.create_answer(None).await?;
                            pc.set_local_description(a).await?;
                            gathered(pc, g).await
                        }
                        .await;
                        match answered {
                            Ok(sdp) => {
                                let _ = send2.send(ClientMsg::Answer { sdp });
                            }
                            Err(e) => tracing::warn!(error = %e, "no se pudo responder la oferta"),
                        }
                    }
                    other => {
                        if inbox_tx.send(other).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(ClientPeer {
            send,
            inbox,
            received,
            keyframe_requests: Arc::default(),
            server_sdps,
            loudness: Arc::new(std::sync::atomic::AtomicU8::new(127)),
            bind: bind.to_string(),
            publish_pc: None,
            sub_pc,
            publish_answer,
            tasks: vec![writer, reader],
        })
    }

    /// Reports a receiver bandwidth estimate (RTCP REMB, as Chrome does) of `bps` for the
    /// video this participant receives. False if it receives no video yet.
    pub async fn report_bandwidth(&self, bps: u64) -> anyhow::Result<bool> {
        let remotes = self
            .received
            .remotes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut video = vec![];
        for t in &remotes {
            if t.kind().await == RtpCodecKind::Video {
                video.push((t.clone(), t.ssrcs().await));
            }
        }
        let Some((track, _)) = video.first() else {
            return Ok(false);
        };
        let remb = rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 1,
            bitrate: bps as f32,
            ssrcs: video.iter().flat_map(|(_, s)| s.iter().copied()).collect(),
        };
        track.write_rtcp(vec![Box::new(remb)]).await?;
        Ok(true)
    }

    /// Sends a protocol message.
    pub fn send(&self, m: ClientMsg) {
        let _ = self.send.send(m);
    }

    /// Waits for the next inbox message that `pick` accepts (others are skipped).
    pub async fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&ServerMsg) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let m = tokio::time::timeout_at(deadline, self.inbox.recv())
                .await
                .context("tiempo agotado esperando un mensaje")?
                .context("la conexión se cerró")?;
            if let Some(t) = pick(&m) {
                return Ok(t);
            }
        }
    }

    /// Publishes video (looping `ivf`'s inter frames, its first frame again whenever a
    /// keyframe is requested) and, if `audio`, 20 ms Opus frames whose RTP timestamps carry
    /// the send time (see [`audio_latency_ms`]). With `simulcast`, the video goes out as three
    /// layers `q`, `h`, `f` at a quarter, half and full frame rate.
    pub async fn publish(&mut self, ivf: Option<Ivf>, audio: bool) -> anyhow::Result<()> {
        self.publish_with(ivf, false, audio).await
    }

    /// [`publish`](Self::publish) with a choice of simulcast.
    pub async fn publish_with(
        &mut self,
        ivf: Option<Ivf>,
        simulcast: bool,
        audio: bool,
    ) -> anyhow::Result<()> {
        let (pc, mut g, _tracks) = new_pc(&self.bind).await?;
        let stream = format!("s{}", rand::random::<u32>());
        let mut video = None;
        if let Some(ivf) = ivf {
            let layers: Vec<(&str, u32, usize)> = if simulcast {
                vec![
                    ("q", rand::random(), 4),
                    ("h", rand::random(), 2),
                    ("f", rand::random(), 1),
                ]
            } else {
                vec![("", rand::random(), 1)]
            };
            let encodings = layers
                .iter()
                .map(|(rid, ssrc, _)| encoding(rid, *ssrc, MIME_VP8, 90000, 0))
                .collect();
            let track = Arc::new(TrackLocalStaticSample::new(
                Instant::now(),
                MediaStreamTrack::new(
                    stream.clone(),
                    format!("{stream}-video"),
                    "video".into(),
                    RtpCodecKind::Video,
                    encodings,
                ),
            )?);
            let sender = pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
            video = Some((track, sender, layers, ivf));
        }
        let mut sound = None;
        if audio {
            let ssrc: u32 = rand::random();
            let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                stream.clone(),
                format!("{stream}-audio"),
                "audio".into(),
                RtpCodecKind::Audio,
                vec![encoding("", ssrc, MIME_OPUS, 48000, 2)],
            )));
            let sender = pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
            sound = Some((track, sender, ssrc));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        *self.publish_answer.lock().await = Some(tx);
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let sdp = gathered(&pc, &mut g).await?;
        self.send(ClientMsg::Publish {
            sdp,
            screen_stream: None,
        });
        let answer = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .context("sin respuesta a la publicación")??;
        pc.set_remote_description(answer).await?;
        if let Some((track, sender, layers, ivf)) = video {
            let pt = negotiated_pt(&sender).await?;
            let wants: Vec<Arc<AtomicBool>> = layers
                .iter()
                .map(|_| Arc::new(AtomicBool::new(true)))
                .collect();
            let (t2, w2, kr) = (track.clone(), wants.clone(), self.keyframe_requests.clone());
            // A keyframe request for any layer restarts every layer at a keyframe.
            self.tasks.push(tokio::spawn(async move {
                while let Some(ev) = t2.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(_) = ev {
                        kr.fetch_add(1, Ordering::Relaxed);
                        for w in &w2 {
                            w.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }));
            let mid = sender_mid(&pc, &sender).await;
            for ((rid, ssrc, every), want) in layers.into_iter().zip(wants) {
                self.tasks.push(tokio::spawn(send_video(
                    track.clone(),
                    VideoLayer {
                        ssrc,
                        pt,
                        rid: rid.to_string(),
                        mid: mid.clone(),
                        every,
                    },
                    ivf.clone(),
                    want,
                )));
            }
        }
        if let Some((track, sender, ssrc)) = sound {
            let pt = negotiated_pt(&sender).await?;
            let t2 = track.clone();
            // Drain feedback events so their queue never fills.
            self.tasks.push(tokio::spawn(
                async move { while t2.poll().await.is_some() {} },
            ));
            self.tasks.push(tokio::spawn(send_audio(
                track,
                ssrc,
                pt,
                self.loudness.clone(),
            )));
        }
        self.publish_pc = Some(pc);
        Ok(())
    }

    /// Closes both media connections and keeps the signalling socket open, as a page whose
    /// peer connections died would.
    pub async fn close_media(&mut self) {
        if let Some(pc) = self.publish_pc.take() {
            let _ = pc.close().await;
        }
        if let Some(pc) = self.sub_pc.lock().await.take() {
            let _ = pc.close().await;
        }
    }

    /// Closes the socket and both connections.
    pub async fn leave(mut self) {
        self.send(ClientMsg::Leave);
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(pc) = self.publish_pc.take() {
            let _ = pc.close().await;
        }
        if let Some(pc) = self.sub_pc.lock().await.take() {
            let _ = pc.close().await;
        }
    }
}

fn encoding(
    rid: &str,
    ssrc: u32,
    mime: &str,
    clock_rate: u32,
    channels: u16,
) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            rid: rid.into(),
            ssrc: Some(ssrc),
            ..Default::default()
        },
        codec: RTCRtpCodec {
            mime_type: mime.into(),
            clock_rate,
            channels,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn negotiated_pt(sender: &Arc<dyn webrtc::rtp_transceiver::RtpSender>) -> anyhow::Result<u8> {
    sender
        .get_parameters()
        .await?
        .rtp_parameters
        .codecs
        .first()
        .map(|c| c.payload_type)
        .context("sin códec negociado")
}

/// The shared clock of audio timestamps: publishers and subscribers of one process agree.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn audio_clock_now() -> u32 {
    (epoch().elapsed().as_micros() as u64 * 48 / 1000) as u32
}

/// One-way latency of an audio packet sent by a [`ClientPeer`] of this same process, in ms.
pub fn audio_latency_ms(rtp_timestamp: u32) -> f64 {
    audio_clock_now().wrapping_sub(rtp_timestamp) as i32 as f64 / 48.0
}

/// One simulcast layer (or the only stream) of a published video.
struct VideoLayer {
    ssrc: u32,
    pt: u8,
    /// Empty without simulcast.
    rid: String,
    mid: Option<String>,
    /// Sends every `every`-th frame time (lower layers: lower frame rate).
    every: usize,
}

/// An RTP header extension with a raw value (the `sdes:mid` and `sdes:rtp-stream-id` texts).
struct RawExtension(Bytes);

impl rtc::shared::marshal::MarshalSize for RawExtension {
    fn marshal_size(&self) -> usize {
        self.0.len()
    }
}

impl rtc::shared::marshal::Marshal for RawExtension {
    fn marshal_to(&self, buf: &mut [u8]) -> rtc::shared::error::Result<usize> {
        let n = self.0.len();
        if buf.len() < n {
            return Err(rtc::shared::error::Error::ErrBufferTooSmall);
        }
        buf[..n].copy_from_slice(&self.0);
        Ok(n)
    }
}

fn text_extension(uri: &'static str, value: &str) -> rtc::rtp::extension::HeaderExtension {
    rtc::rtp::extension::HeaderExtension::Custom {
        uri: uri.into(),
        extension: Box::new(RawExtension(Bytes::copy_from_slice(value.as_bytes()))),
    }
}

/// The mid of the transceiver carrying `sender`, once negotiated.
async fn sender_mid(
    pc: &Arc<dyn PeerConnection>,
    sender: &Arc<dyn webrtc::rtp_transceiver::RtpSender>,
) -> Option<String> {
    for t in pc.get_transceivers().await {
        if let Ok(Some(s)) = t.sender().await
            && s.id() == sender.id()
        {
            return t.mid().await.ok().flatten();
        }
    }
    None
}

async fn send_video(
    track: Arc<TrackLocalStaticSample>,
    layer: VideoLayer,
    ivf: Ivf,
    want_key: Arc<AtomicBool>,
) {
    let VideoLayer {
        ssrc,
        pt,
        rid,
        mid,
        every,
    } = layer;
    let duration = ivf.frame_duration * every as u32;
    let mut tick = tokio::time::interval(duration);
    // Frame 0 is the keyframe; the rest loop so keyframes come only when asked for.
    let mut next = 1usize;
    loop {
        tick.tick().await;
        let i = if want_key.swap(false, Ordering::Relaxed) {
            0
        } else {
            let i = next;
            next = if next + 1 >= ivf.frames.len() {
                1
            } else {
                next + 1
            };
            i
        };
        let sample = rtc::media::Sample {
            data: ivf.frames[i].clone(),
            timestamp: Instant::now(),
            duration,
            packet_timestamp: 0,
            prev_dropped_packets: 0,
            prev_padding_packets: 0,
        };
        // webrtc-rs does not tag simulcast packets itself: without mid and rid the receiver
        // cannot tell the layers apart (and drops them all).
        let mut writer = track.sample_writer(ssrc, pt);
        if !rid.is_empty() {
            writer = writer.with_extension(text_extension(
                "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
                &rid,
            ));
            if let Some(m) = &mid {
                writer =
                    writer.with_extension(text_extension("urn:ietf:params:rtp-hdrext:sdes:mid", m));
            }
        }
        if writer.write_sample(&sample).await.is_err() && i == 0 {
            // Not bound yet right after negotiation: the keyframe is still owed.
            want_key.store(true, Ordering::Relaxed);
        }
    }
}

async fn send_audio(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pt: u8,
    loudness: Arc<std::sync::atomic::AtomicU8>,
) {
    // An Opus TOC for a 20 ms SILK frame followed by a few bytes: valid enough to forward.
    let frame = Bytes::from_static(&[0x78, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut seq: u16 = rand::random();
    loop {
        tick.tick().await;
        seq = seq.wrapping_add(1);
        let pkt = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                timestamp: audio_clock_now(),
                ssrc,
                marker: false,
                ..Default::default()
            },
            payload: frame.clone(),
        };
        let level = loudness.load(Ordering::Relaxed).min(127);
        let ext = rtc::rtp::extension::HeaderExtension::AudioLevel(
            rtc::rtp::extension::audio_level_extension::AudioLevelExtension {
                level,
                voice: level < 127,
            },
        );
        let _ = track.write_rtp_with_extensions(pkt, &[ext]).await;
    }
}

async fn count_tracks(
    mut tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
    received: Arc<Received>,
) {
    while let Some(t) = tracks.recv().await {
        received.opened.fetch_add(1, Ordering::Relaxed);
        received
            .remotes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(t.clone());
        let r = received.clone();
        tokio::spawn(async move {
            let kind = format!("{:?}", t.kind().await).to_lowercase();
            let stream = t.stream_id().await.to_string();
            while let Some(ev) = t.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = ev {
                    let mut all = r.tracks.lock().unwrap_or_else(|e| e.into_inner());
                    let c = all.entry(p.header.ssrc).or_insert_with(|| TrackCounters {
                        kind: kind.clone(),
                        stream: stream.clone(),
                        ..Default::default()
                    });
                    let now = Instant::now();
                    c.packets += 1;
                    c.bytes += p.payload.len() as u64;
                    if kind == "video" && vp8_keyframe(&p.payload) {
                        c.keyframes += 1;
                    }
                    if kind == "audio" {
                        let l = audio_latency_ms(p.header.timestamp);
                        if (0.0..10_000.0).contains(&l) {
                            c.latency_sum_ms += l;
                            c.latency_max_ms = c.latency_max_ms.max(l);
                            c.latency_count += 1;
                        }
                    }
                    if let Some(last) = c.last_seq {
                        let gap = p.header.sequence_number.wrapping_sub(last);
                        if gap > 1 && gap < 1000 {
                            c.lost += (gap - 1) as u64;
                        }
                    }
                    c.last_seq = Some(p.header.sequence_number);
                    c.first_at.get_or_insert(now);
                    c.last_at = Some(now);
                }
            }
        });
    }
}
