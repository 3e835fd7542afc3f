//! One task per connected participant: it owns the participant's two peer connections
//! (publishing: the participant offers; receiving: the server offers, so there is never
//! glare), applies the signalling messages in order, and keeps the receiving connection's
//! subscriptions in step with the room, renegotiating one offer at a time.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};
use webrtc::{
    media_stream::{
        MediaStreamTrack,
        track_local::{TrackLocal, static_rtp::TrackLocalStaticRTP},
        track_remote::TrackRemote,
    },
    peer_connection::{
        PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
        RTCSessionDescription,
    },
    rtp_transceiver::RtpSender,
};

use crate::{
    db::Db,
    live::{
        limits::PersonLimits,
        protocol::{CHAT_MAX_CHARS, ClientMsg, PcKind, Quality, ServerMsg, TrackView},
        room::{PeerEvent, RoomCmd},
        sessions,
        sfu::{self, Egress, PcFactory, PublishedTrack, Source},
    },
};

/// Batches subscription changes (many learners joining at once) into one offer.
const NEGOTIATION_DEBOUNCE: Duration = Duration::from_millis(50);
const GATHERING_TIMEOUT: Duration = Duration::from_secs(3);
/// A participant that does not answer an offer within this time is disconnected (the page
/// reconnects from scratch), so subscriptions never queue up behind a dead negotiation.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Peer connection events, handed off without blocking the connection's driver.
struct Handler {
    gathering: watch::Sender<RTCIceGatheringState>,
    events: mpsc::UnboundedSender<PcEvent>,
    kind: PcKind,
}

/// What a participant's peer connections report to its task.
pub enum PcEvent {
    Track(Arc<dyn TrackRemote>),
    State(PcKind, RTCPeerConnectionState),
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        let _ = self.gathering.send(s);
    }
    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        let _ = self.events.send(PcEvent::State(self.kind, s));
    }
    async fn on_track(&self, t: Arc<dyn TrackRemote>) {
        let _ = self.events.send(PcEvent::Track(t));
    }
}

struct Pc {
    pc: Arc<dyn PeerConnection>,
    gathering: watch::Receiver<RTCIceGatheringState>,
    public_ip: Option<std::net::IpAddr>,
}

impl Pc {
    async fn new(
        factory: &PcFactory,
        kind: PcKind,
        events: mpsc::UnboundedSender<PcEvent>,
    ) -> anyhow::Result<Pc> {
        let (gtx, grx) = watch::channel(RTCIceGatheringState::New);
        let pc = factory
            .build(Arc::new(Handler {
                gathering: gtx,
                events,
                kind,
            }))
            .await?;
        Ok(Pc {
            pc,
            gathering: grx,
            public_ip: factory.cfg.public_ip,
        })
    }

    /// The local description once candidates are gathered (the server does not trickle:
    /// its candidates are host ones, known at once).
    async fn local_after_gathering(&mut self) -> anyhow::Result<RTCSessionDescription> {
        let _ = tokio::time::timeout(
            GATHERING_TIMEOUT,
            self.gathering
                .wait_for(|s| *s == RTCIceGatheringState::Complete),
        )
        .await;
        let mut sdp = self
            .pc
            .local_description()
            .await
            .ok_or_else(|| anyhow::anyhow!("sin descripción local"))?;
        sdp.sdp = sfu::announce_public_ip(&sdp.sdp, self.public_ip);
        Ok(sdp)
    }
}

/// Aborts its tasks when dropped, so nothing outlives a subscription or a participant.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

struct Subscription {
    sender: Arc<dyn RtpSender>,
    /// Negotiated and waiting for the connection before forwarding starts.
    negotiated: bool,
    egress: Arc<Egress>,
    track: Arc<PublishedTrack>,
    view: TrackView,
    _tasks: Tasks,
}

/// Who this participant is, for the task.
pub struct PeerInfo {
    pub id: u64,
    pub instructor: bool,
    /// A learner's enrolment, asked again before each chat line or raised hand (instructors:
    /// none).
    pub enrolment: Option<Enrolment>,
    /// What this person may still send (shared by their connections to the room).
    pub limits: Arc<PersonLimits>,
}

/// Where to ask whether a learner is still enrolled.
pub struct Enrolment {
    pub db: Db,
    pub class_id: i64,
    pub person_id: i64,
}

/// The participant's side of the conversation, driven by [`run`].
pub struct Peer {
    info: PeerInfo,
    factory: Arc<PcFactory>,
    room: mpsc::UnboundedSender<RoomCmd>,
    out: mpsc::UnboundedSender<ServerMsg>,
    pc_events_tx: mpsc::UnboundedSender<PcEvent>,
    publish: Option<Pc>,
    screen_stream: Option<String>,
    audio_level_ext: u8,
    ingests: Vec<Tasks>,
    published: usize,
    subscribe: Option<Pc>,
    subs: HashMap<String, Subscription>,
    pending: VecDeque<PeerEvent>,
    offer_in_flight: bool,
    /// When the outstanding offer was sent.
    offer_sent_at: Option<Instant>,
    /// The receiving connection is up (packets written before that are lost, keyframe too).
    sub_connected: bool,
    negotiate_at: Option<Instant>,
    quality: watch::Sender<Quality>,
    /// The receiving connection's bandwidth estimates (bits per second), from its forwarders.
    estimates_tx: mpsc::UnboundedSender<u64>,
    estimates: Option<mpsc::UnboundedReceiver<u64>>,
    congestion: sfu::Congestion,
}

/// Why a participant's task ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// The socket closed (or went silent) or the client said `leave`.
    Left,
    /// The room told this participant to go.
    Closed,
    /// A media connection failed or was closed by the other side: the page reconnects.
    MediaLost,
    /// No longer enrolled in the class.
    Unenrolled,
    /// An offer was left unanswered.
    NoAnswer,
}

impl Peer {
    pub fn new(
        info: PeerInfo,
        factory: Arc<PcFactory>,
        room: mpsc::UnboundedSender<RoomCmd>,
        out: mpsc::UnboundedSender<ServerMsg>,
    ) -> (Peer, mpsc::UnboundedReceiver<PcEvent>) {
        let (pc_events_tx, pc_events_rx) = mpsc::unbounded_channel();
        let (quality, _) = watch::channel(Quality::Alta);
        let (estimates_tx, estimates) = mpsc::unbounded_channel();
        (
            Peer {
                info,
                factory,
                room,
                out,
                pc_events_tx,
                publish: None,
                screen_stream: None,
                audio_level_ext: 0,
                ingests: vec![],
                published: 0,
                subscribe: None,
                subs: HashMap::new(),
                pending: VecDeque::new(),
                offer_in_flight: false,
                offer_sent_at: None,
                sub_connected: false,
                negotiate_at: None,
                quality,
                estimates_tx,
                estimates: Some(estimates),
                congestion: sfu::Congestion::default(),
            },
            pc_events_rx,
        )
    }

    /// Runs until the client leaves, the socket drops or the room closes this participant.
    pub async fn run(
        mut self,
        mut client: mpsc::Receiver<ClientMsg>,
        mut room_events: mpsc::UnboundedReceiver<PeerEvent>,
        mut pc_events: mpsc::UnboundedReceiver<PcEvent>,
    ) -> Exit {
        let mut estimates = self
            .estimates
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1);
        let exit = loop {
            let deadline = self.negotiate_at;
            tokio::select! {
                Some(bps) = estimates.recv() => self.on_estimate(bps).await,
                msg = client.recv() => match msg {
                    None | Some(ClientMsg::Leave) => break Exit::Left,
                    Some(m) => if let Some(exit) = self.on_client(m).await {
                        break exit;
                    },
                },
                ev = room_events.recv() => match ev {
                    None | Some(PeerEvent::Close) => break Exit::Closed,
                    Some(ev) => self.on_room(ev).await,
                },
                Some(ev) = pc_events.recv() => if let Some(exit) = self.on_pc(ev).await {
                    break exit;
                },
                _ = sleep_until(deadline) => {
                    self.negotiate_at = None;
                    if let Err(e) = self.negotiate().await {
                        tracing::warn!(error = %e, "renegociación fallida");
                    }
                }
                _ = sleep_until(self.offer_sent_at.map(|t| t + ANSWER_TIMEOUT)) => {
                    tracing::warn!(participant = self.info.id, "sin respuesta a la oferta: se desconecta");
                    self.tell("Tu navegador no respondió a tiempo; reconectando.");
                    break Exit::NoAnswer;
                }
            }
        };
        self.close().await;
        exit
    }

    /// Sends the participant an error message (Spanish, for the person).
    fn tell(&self, message: &str) {
        let _ = self.out.send(ServerMsg::Error {
            message: message.into(),
        });
    }

    /// Whether the person may change their hand, media or quality now (see `limits`).
    fn may_change(&self) -> bool {
        let ok = self.info.limits.change(std::time::Instant::now());
        if !ok {
            self.tell("Demasiados cambios seguidos: esperá un momento.");
        }
        ok
    }

    /// Whether the participant may still be in the room: instructors, and learners still
    /// enrolled. A database error lets them stay (the room's periodic check asks again).
    async fn still_enrolled(&self) -> bool {
        let Some(e) = &self.info.enrolment else {
            return true;
        };
        match sessions::is_enrolled(&e.db, e.class_id, e.person_id).await {
            Ok(enrolled) => enrolled,
            Err(err) => {
                tracing::warn!(error = %err, "no se pudo revisar la inscripción");
                true
            }
        }
    }

    /// Sends a learner who is no longer enrolled out of the room.
    fn unenrolled(&self) -> Exit {
        tracing::info!(
            participant = self.info.id,
            "ya no está inscripto/a: sale de la sala"
        );
        let _ = self.out.send(ServerMsg::Bye {
            reason: "unenrolled".into(),
        });
        Exit::Unenrolled
    }

    /// A chat line goes to the room only if it fits, the person has not written too much
    /// lately, and (learners) they are still enrolled, which is asked now: a withdrawal may
    /// have happened a moment ago, in another tab. Refused lines are told to this participant
    /// alone, and neither relayed nor kept.
    async fn on_chat(&mut self, text: String) -> Option<Exit> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if text.chars().count() > CHAT_MAX_CHARS {
            self.tell(&format!(
                "Tu mensaje tiene más de {CHAT_MAX_CHARS} caracteres y no se envió: acortalo o mandalo en partes."
            ));
            return None;
        }
        if !self.info.limits.chat(std::time::Instant::now()) {
            self.tell(
                "Estás escribiendo muy seguido: esperá un momento y volvé a enviar tu mensaje.",
            );
            return None;
        }
        if !self.still_enrolled().await {
            return Some(self.unenrolled());
        }
        let _ = self
            .room
            .send(RoomCmd::Chat(self.info.id, text.to_string()));
        None
    }

    async fn on_client(&mut self, msg: ClientMsg) -> Option<Exit> {
        let res = match msg {
            ClientMsg::Publish { sdp, screen_stream } => self.on_publish(sdp, screen_stream).await,
            ClientMsg::Answer { sdp } => self.on_answer(sdp).await,
            ClientMsg::Candidate { pc, candidate } => {
                let target = match pc {
                    PcKind::Pub => self.publish.as_ref(),
                    PcKind::Sub => self.subscribe.as_ref(),
                };
                if let Some(p) = target
                    && let Err(e) = p.pc.add_ice_candidate(candidate).await
                {
                    tracing::debug!(error = %e, "candidato ICE rechazado");
                }
                Ok(())
            }
            ClientMsg::Media {
                audio,
                video,
                screen,
            } => {
                if self.may_change() {
                    let _ = self.room.send(RoomCmd::Media {
                        id: self.info.id,
                        audio,
                        video,
                        screen,
                    });
                }
                Ok(())
            }
            ClientMsg::Chat { text } => return self.on_chat(text).await,
            ClientMsg::Hand { raised } => {
                if !self.may_change() {
                    return None;
                }
                if raised && !self.still_enrolled().await {
                    return Some(self.unenrolled());
                }
                let _ = self.room.send(RoomCmd::Hand(self.info.id, raised));
                Ok(())
            }
            ClientMsg::Quality { quality } => {
                if self.may_change() {
                    self.set_quality(quality).await;
                }
                Ok(())
            }
            ClientMsg::Moderate(m) => {
                let _ = self.room.send(RoomCmd::Moderate(self.info.id, m));
                Ok(())
            }
            ClientMsg::Leave => Ok(()),
        };
        if let Err(e) = res {
            tracing::warn!(error = %e, "error de señalización");
            self.tell("No se pudo establecer la conexión de medios.");
        }
        None
    }

    async fn on_publish(
        &mut self,
        sdp: RTCSessionDescription,
        screen_stream: Option<String>,
    ) -> anyhow::Result<()> {
        if self.publish.is_none() {
            self.publish =
                Some(Pc::new(&self.factory, PcKind::Pub, self.pc_events_tx.clone()).await?);
        }
        self.screen_stream = screen_stream;
        self.audio_level_ext = sfu::audio_level_ext_id(&sdp.sdp);
        let p = self.publish.as_mut().expect("just created");
        p.pc.set_remote_description(sdp).await?;
        let answer = p.pc.create_answer(None).await?;
        p.pc.set_local_description(answer).await?;
        let sdp = p.local_after_gathering().await?;
        let _ = self.out.send(ServerMsg::PublishAnswer { sdp });
        Ok(())
    }

    async fn on_answer(&mut self, sdp: RTCSessionDescription) -> anyhow::Result<()> {
        let Some(p) = self.subscribe.as_ref() else {
            return Ok(());
        };
        if !self.offer_in_flight {
            return Ok(());
        }
        p.pc.set_remote_description(sdp).await?;
        self.offer_in_flight = false;
        self.offer_sent_at = None;
        for s in self.subs.values_mut() {
            s.negotiated = true;
        }
        self.start_forwarding().await?;
        while let Some(ev) = self.pending.pop_front() {
            self.apply_subscription(ev).await;
        }
        Ok(())
    }

    /// Gives each negotiated subscription its payload type once the receiving connection is
    /// up, and asks for a keyframe so the picture starts at once.
    async fn start_forwarding(&mut self) -> anyhow::Result<()> {
        if !self.sub_connected {
            return Ok(());
        }
        let quality = *self.quality.borrow();
        for s in self.subs.values() {
            if !s.negotiated || s.egress.pt.load(Ordering::Relaxed) != 0 {
                continue;
            }
            let params = s.sender.get_parameters().await?;
            let pt = params
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| {
                    c.rtp_codec
                        .mime_type
                        .eq_ignore_ascii_case(&s.track.codec.mime_type)
                })
                .map(|c| c.payload_type)
                .unwrap_or(0);
            s.egress.pt.store(pt, Ordering::Relaxed);
            if s.track.kind == RtpCodecKind::Video
                && let Some(ssrc) = s.track.ssrc_for(quality)
            {
                s.track.request_keyframe(ssrc).await;
            }
        }
        Ok(())
    }

    async fn on_room(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::Send(m) => {
                let _ = self.out.send(*m);
            }
            PeerEvent::Subscribe(_) | PeerEvent::Unsubscribe(_) => {
                // Never touch the receiving connection while our offer is unanswered.
                if self.offer_in_flight {
                    self.pending.push_back(ev);
                } else {
                    self.apply_subscription(ev).await;
                }
            }
            PeerEvent::Close => {}
        }
    }

    async fn apply_subscription(&mut self, ev: PeerEvent) {
        let res = match ev {
            PeerEvent::Subscribe(t) => self.subscribe_to(t).await,
            PeerEvent::Unsubscribe(id) => self.unsubscribe(&id).await,
            _ => Ok(()),
        };
        match res {
            Ok(()) => {
                if self.negotiate_at.is_none() {
                    self.negotiate_at = Some(Instant::now() + NEGOTIATION_DEBOUNCE);
                }
            }
            Err(e) => tracing::warn!(error = %e, "suscripción fallida"),
        }
    }

    async fn subscribe_to(&mut self, track: Arc<PublishedTrack>) -> anyhow::Result<()> {
        if self.subs.contains_key(&track.id) || track.owner == self.info.id {
            return Ok(());
        }
        if self.subscribe.is_none() {
            self.subscribe =
                Some(Pc::new(&self.factory, PcKind::Sub, self.pc_events_tx.clone()).await?);
        }
        let pc = &self.subscribe.as_ref().expect("just created").pc;
        let out_ssrc: u32 = rand::random();
        let stream = format!("p{}-{}", track.owner, track.source.as_str());
        let local = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            stream.clone(),
            track.id.clone(),
            track.source.as_str().to_string(),
            track.kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(out_ssrc),
                    ..Default::default()
                },
                codec: track.codec.clone(),
                ..Default::default()
            }],
        )));
        let sender = pc.add_track(local.clone() as Arc<dyn TrackLocal>).await?;
        let egress = Arc::new(Egress {
            out_ssrc,
            pt: AtomicU8::new(0),
            quality: self.quality.subscribe(),
        });
        let tasks = Tasks(vec![
            tokio::spawn(sfu::forward(track.clone(), local.clone(), egress.clone())),
            tokio::spawn(sfu::relay_keyframe_requests(
                track.clone(),
                local,
                egress.clone(),
                self.estimates_tx.clone(),
            )),
        ]);
        let view = TrackView {
            stream,
            owner: track.owner,
            source: track.source.as_str().into(),
        };
        self.subs.insert(
            track.id.clone(),
            Subscription {
                sender,
                negotiated: false,
                egress,
                track,
                view,
                _tasks: tasks,
            },
        );
        Ok(())
    }

    async fn unsubscribe(&mut self, id: &str) -> anyhow::Result<()> {
        if let (Some(s), Some(p)) = (self.subs.remove(id), self.subscribe.as_ref()) {
            p.pc.remove_track(&s.sender).await?;
        }
        Ok(())
    }

    /// Sends one offer on the receiving connection with every current subscription.
    async fn negotiate(&mut self) -> anyhow::Result<()> {
        if self.offer_in_flight {
            return Ok(());
        }
        let Some(p) = self.subscribe.as_mut() else {
            return Ok(());
        };
        let offer = p.pc.create_offer(None).await?;
        p.pc.set_local_description(offer).await?;
        let sdp = p.local_after_gathering().await?;
        self.offer_in_flight = true;
        self.offer_sent_at = Some(Instant::now());
        let tracks = self.subs.values().map(|s| s.view.clone()).collect();
        let _ = self.out.send(ServerMsg::Offer { sdp, tracks });
        Ok(())
    }

    /// Switches the layer this participant receives (a new layer starts at a keyframe).
    async fn set_quality(&mut self, quality: Quality) {
        self.quality.send_replace(quality);
        for s in self.subs.values() {
            if s.track.kind == RtpCodecKind::Video
                && let Some(ssrc) = s.track.ssrc_for(quality)
            {
                s.track.request_keyframe(ssrc).await;
            }
        }
    }

    /// The receiving connection's bandwidth estimate dropped under what its layer needs:
    /// a lower layer, and the page is told.
    async fn on_estimate(&mut self, bps: u64) {
        let current = *self.quality.borrow();
        if let Some(lower) = self
            .congestion
            .on_estimate(bps, current, std::time::Instant::now())
        {
            tracing::debug!(
                participant = self.info.id,
                bps,
                ?lower,
                "congestión: baja la calidad"
            );
            self.set_quality(lower).await;
            let _ = self.out.send(ServerMsg::Quality { quality: lower });
        }
    }

    async fn on_pc(&mut self, ev: PcEvent) -> Option<Exit> {
        match ev {
            PcEvent::Track(remote) => {
                if let Err(e) = self.on_track(remote).await {
                    tracing::warn!(error = %e, "pista publicada inválida");
                }
            }
            PcEvent::State(kind, s) => {
                tracing::debug!(participant = self.info.id, ?kind, state = %s, "estado de conexión");
                // No ICE restart: a connection that failed (no packets for ICE's timeout) or
                // that the other side closed is rebuilt by the page reconnecting; until then
                // the participant would sit in the list receiving nothing.
                if matches!(
                    s,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                ) {
                    tracing::info!(participant = self.info.id, ?kind, state = %s, "conexión de medios perdida");
                    self.tell("Se perdió la conexión de audio y video; reconectando…");
                    return Some(Exit::MediaLost);
                }
                if kind == PcKind::Sub {
                    self.sub_connected = s == RTCPeerConnectionState::Connected;
                    if let Err(e) = self.start_forwarding().await {
                        tracing::warn!(error = %e, "no se pudo empezar a reenviar");
                    }
                }
            }
        }
        None
    }

    async fn on_track(&mut self, remote: Arc<dyn TrackRemote>) -> anyhow::Result<()> {
        let kind = remote.kind().await;
        let ssrc = *remote
            .ssrcs()
            .await
            .first()
            .ok_or_else(|| anyhow::anyhow!("pista sin SSRC"))?;
        let codec = remote
            .codec(ssrc)
            .await
            .ok_or_else(|| anyhow::anyhow!("pista sin códec"))?;
        let stream = remote.stream_id().await;
        let source = match kind {
            RtpCodecKind::Audio => Source::Mic,
            _ if self.screen_stream.as_deref() == Some(stream.as_str()) => Source::Screen,
            _ => Source::Camera,
        };
        if source == Source::Screen && !self.info.instructor {
            return Ok(());
        }
        self.published += 1;
        let track = Arc::new(PublishedTrack::new(
            format!("t{}-{}", self.info.id, self.published),
            self.info.id,
            self.info.instructor,
            source,
            kind,
            codec,
            remote,
        ));
        self.ingests.push(Tasks(vec![tokio::spawn(sfu::ingest(
            track.clone(),
            self.audio_level_ext,
        ))]));
        let _ = self.room.send(RoomCmd::Publish(self.info.id, track));
        Ok(())
    }

    async fn close(&mut self) {
        self.subs.clear();
        self.pending.clear();
        self.ingests.clear();
        for p in [self.publish.take(), self.subscribe.take()]
            .into_iter()
            .flatten()
        {
            let _ = p.pc.close().await;
        }
        let _ = self.room.send(RoomCmd::Leave(self.info.id));
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
