//! One actor per live session: the participants, their published tracks, chat, hands and
//! moderation. Media does not pass through here; the actor only tells each participant's task
//! what to subscribe to and sets the pause flags the forwarders read.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{mpsc, oneshot};

use crate::{
    db::Db,
    live::{
        limits::PersonLimits,
        nodes,
        protocol::{CHAT_MAX_CHARS, ChatLine, Moderation, ParticipantView, ServerMsg},
        sessions,
        sfu::{PcFactory, PublishedTrack, Source},
    },
    web::{state::Progress, time::now},
};

const CHAT_HISTORY: usize = 100;
/// How long an empty room stays before it is dropped.
const ROOM_LINGER: Duration = Duration::from_secs(10);
/// How often a room checks that its learners are still enrolled in the class (a withdrawal
/// may happen in another tab or on another process): one query per room.
pub const ENROLMENT_CHECK: Duration = Duration::from_secs(5);
const CLOSING: &str = "La sala se está cerrando; intentá de nuevo en unos segundos.";

/// What the room tells a participant's task.
pub enum PeerEvent {
    /// A message for the browser.
    Send(Box<ServerMsg>),
    /// Start forwarding this track to the participant.
    Subscribe(Arc<PublishedTrack>),
    /// Stop forwarding the track with this id.
    Unsubscribe(String),
    /// The participant must leave (removed, session ended); a `Bye` was sent before.
    Close,
}

fn say(m: ServerMsg) -> PeerEvent {
    PeerEvent::Send(Box::new(m))
}

/// A participant's identity when joining.
#[derive(Clone)]
pub struct Joining {
    pub person_id: i64,
    pub name: String,
    pub instructor: bool,
    pub events: mpsc::UnboundedSender<PeerEvent>,
}

/// The room's answer to a join.
pub struct Joined {
    pub id: u64,
    pub welcome: ServerMsg,
    /// What this person may still send (shared by all their connections to the room).
    pub limits: Arc<PersonLimits>,
}

/// Commands to a room actor.
pub enum RoomCmd {
    Join(Joining, oneshot::Sender<Result<Joined, String>>),
    Leave(u64),
    Publish(u64, Arc<PublishedTrack>),
    Media {
        id: u64,
        audio: bool,
        video: bool,
        screen: bool,
    },
    /// A chat line, already checked by the participant's task (length, limit, enrolment).
    Chat(u64, String),
    Hand(u64, bool),
    Moderate(u64, Moderation),
    /// These learners are no longer enrolled in the class (the room's own check).
    Unenrolled(Vec<u64>),
    /// The session was ended (from the page or by an instructor's moderation).
    End,
    /// Another node hosts the session now: everyone reconnects (and is relayed there).
    Moved,
    /// For tests and the load tool: number of participants and tracks.
    Stats(oneshot::Sender<(usize, usize)>),
}

#[derive(Clone)]
struct RoomHandle {
    tx: mpsc::UnboundedSender<RoomCmd>,
    generation: u64,
}

/// Every live room of this process, by session id.
#[derive(Clone)]
pub struct Rooms {
    rooms: Arc<Mutex<HashMap<i64, RoomHandle>>>,
    pub factory: Arc<PcFactory>,
    generation: Arc<AtomicU64>,
    ids: Arc<AtomicU64>,
    /// This node's address for the other nodes (see [`nodes`](super::nodes)).
    node: Arc<str>,
    /// Told when a session ends (attendance may complete learners' classes).
    progress: Arc<dyn Progress>,
}

impl Rooms {
    pub fn new(factory: PcFactory, node: String, progress: Arc<dyn Progress>) -> Rooms {
        Rooms {
            rooms: Arc::default(),
            factory: Arc::new(factory),
            generation: Arc::default(),
            ids: Arc::new(AtomicU64::new(1)),
            node: node.into(),
            progress,
        }
    }

    /// The live settings this process runs with.
    pub fn config(&self) -> &super::config::LiveConfig {
        &self.factory.cfg
    }

    /// This node's address, as other nodes reach it.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The sessions whose rooms run on this node.
    pub fn sessions(&self) -> Vec<i64> {
        self.rooms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Keeps this node's claims on its rooms fresh and closes the rooms of sessions ended
    /// through another node, until the process ends.
    pub async fn keep_claims(self, db: Db) {
        let mut tick = tokio::time::interval(nodes::REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let hosted = self.sessions();
            if hosted.is_empty() {
                continue;
            }
            match nodes::refresh(&db, &self.node, &hosted, now()).await {
                Ok(nodes::Refreshed { ended, lost }) => {
                    for id in ended {
                        self.send_here(id, RoomCmd::End);
                    }
                    for id in lost {
                        self.send_here(id, RoomCmd::Moved);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no se pudieron renovar las salas de este nodo")
                }
            }
        }
    }

    /// Tells the session's room on this node, if any, to end or move.
    fn send_here(&self, session_id: i64, cmd: RoomCmd) {
        let h = self
            .rooms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session_id)
            .cloned();
        if let Some(h) = h {
            let _ = h.tx.send(cmd);
        }
    }

    fn handle(&self, db: &Db, session_id: i64, class_id: i64) -> RoomHandle {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = rooms.get(&session_id)
            && !h.tx.is_closed()
        {
            return h.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let h = RoomHandle { tx, generation };
        rooms.insert(session_id, h.clone());
        let room = Room {
            session_id,
            class_id,
            me: h.tx.downgrade(),
            limits: HashMap::new(),
            checking: false,
            db: db.clone(),
            progress: self.progress.clone(),
            members: HashMap::new(),
            tracks: HashMap::new(),
            chat: VecDeque::new(),
            cams_allowed: true,
            mics_allowed: true,
            removed: HashSet::new(),
            speaker: None,
            recent: VecDeque::new(),
            ids: self.ids.clone(),
            last_n: self.factory.cfg.last_n,
        };
        let registry = self.rooms.clone();
        let (db, node) = (db.clone(), self.node.clone());
        tokio::spawn(async move {
            room.run(rx).await;
            let gone = {
                let mut rooms = registry.lock().unwrap_or_else(|e| e.into_inner());
                let ours = rooms
                    .get(&session_id)
                    .is_some_and(|h| h.generation == generation);
                if ours {
                    rooms.remove(&session_id);
                }
                ours
            };
            // The next connection may start the room on any node.
            if gone && let Err(e) = nodes::release(&db, session_id, &node).await {
                tracing::warn!(error = %e, "no se pudo liberar la sala");
            }
        });
        h
    }

    /// Joins the session's room (starting it if needed) of a session of `class_id`. A room whose
    /// last participant just left may be closing as we arrive: then a fresh one is started.
    pub async fn join(
        &self,
        db: &Db,
        session_id: i64,
        class_id: i64,
        joining: Joining,
    ) -> Result<(Joined, mpsc::UnboundedSender<RoomCmd>), String> {
        for _ in 0..3 {
            let h = self.handle(db, session_id, class_id);
            let (tx, rx) = oneshot::channel();
            if h.tx.send(RoomCmd::Join(joining.clone(), tx)).is_ok() {
                match rx.await {
                    Ok(Ok(j)) => return Ok((j, h.tx)),
                    Ok(Err(e)) => return Err(e),
                    // The actor ended with our join unread: try a fresh room.
                    Err(_) => {}
                }
            }
            self.forget(session_id, h.generation);
        }
        Err(CLOSING.into())
    }

    fn forget(&self, session_id: i64, generation: u64) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if rooms
            .get(&session_id)
            .is_some_and(|h| h.generation == generation)
        {
            rooms.remove(&session_id);
        }
    }

    /// Ends the session: in the database, and for everyone in its room.
    pub async fn end_session(&self, db: &Db, session_id: i64) -> Result<(), sqlx::Error> {
        sessions::end(db, &*self.progress, session_id).await?;
        // A room hosted on another node sees the end when it refreshes its claim.
        self.send_here(session_id, RoomCmd::End);
        Ok(())
    }

    /// Number of rooms alive (for tests and soak runs).
    pub fn count(&self) -> usize {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Participants and tracks of a session's room, if it is running.
    pub async fn stats(&self, session_id: i64) -> Option<(usize, usize)> {
        let h = self
            .rooms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session_id)
            .cloned()?;
        let (tx, rx) = oneshot::channel();
        h.tx.send(RoomCmd::Stats(tx)).ok()?;
        rx.await.ok()
    }
}

struct Member {
    view: ParticipantView,
    person_id: i64,
    events: mpsc::UnboundedSender<PeerEvent>,
    /// Muted by the instructor: their microphone stays off until they unmute themselves.
    muted: bool,
}

struct Room {
    session_id: i64,
    class_id: i64,
    /// The room's own address, for the answers of work it hands off (enrolment checks).
    me: mpsc::WeakUnboundedSender<RoomCmd>,
    /// What each person may still send, by person.
    limits: HashMap<i64, Arc<PersonLimits>>,
    /// An enrolment check is under way.
    checking: bool,
    db: Db,
    progress: Arc<dyn Progress>,
    members: HashMap<u64, Member>,
    tracks: HashMap<String, Arc<PublishedTrack>>,
    chat: VecDeque<ChatLine>,
    cams_allowed: bool,
    mics_allowed: bool,
    /// People removed by the instructor may not come back to this session.
    removed: HashSet<i64>,
    speaker: Option<u64>,
    /// Learners who spoke, most recent first (for last-N video).
    recent: VecDeque<u64>,
    ids: Arc<AtomicU64>,
    /// How many learners' cameras are forwarded at once (the most recent speakers first).
    last_n: usize,
}

impl Room {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<RoomCmd>) {
        // The session's recent chat, kept in the database, for whoever joins (the room may be
        // starting again after a restart or on another process). Joins wait in the channel.
        match sessions::recent_chat(&self.db, self.session_id, CHAT_HISTORY).await {
            Ok(lines) => self.chat = lines.into(),
            Err(e) => tracing::warn!(error = %e, "no se pudo leer el chat guardado"),
        }
        // So is the instructor's moderation: who was removed, cameras and microphones.
        match sessions::moderation(&self.db, self.session_id).await {
            Ok((removed, cams, mics)) => {
                self.removed.extend(removed);
                self.cams_allowed = cams;
                self.mics_allowed = mics;
            }
            Err(e) => tracing::error!(error = %e, "no se pudo leer la moderación guardada"),
        }
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut enrolment = tokio::time::interval(ENROLMENT_CHECK);
        enrolment.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // An empty room lingers a little: a reconnecting participant finds it as it was.
        let mut empty_since: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    if !self.handle(cmd) { break; }
                }
                _ = tick.tick() => self.detect_speaker(),
                _ = enrolment.tick() => self.check_enrolments(),
            }
            if !self.members.is_empty() {
                empty_since = None;
            } else if empty_since
                .get_or_insert_with(tokio::time::Instant::now)
                .elapsed()
                >= ROOM_LINGER
            {
                break;
            }
        }
        tracing::debug!(session = self.session_id, "sala cerrada");
    }

    /// Applies one command; false when the room must close.
    fn handle(&mut self, cmd: RoomCmd) -> bool {
        match cmd {
            RoomCmd::Join(j, reply) => {
                if self.removed.contains(&j.person_id) {
                    let _ = reply.send(Err(
                        "Tu docente te retiró de esta clase en vivo.".to_string()
                    ));
                    return true;
                }
                let id = self.ids.fetch_add(1, Ordering::Relaxed);
                let limits = self
                    .limits
                    .entry(j.person_id)
                    .or_insert_with(|| Arc::new(PersonLimits::new(std::time::Instant::now())))
                    .clone();
                for t in self.tracks.values() {
                    let _ = j.events.send(PeerEvent::Subscribe(t.clone()));
                }
                self.members.insert(
                    id,
                    Member {
                        view: ParticipantView {
                            id,
                            name: j.name,
                            instructor: j.instructor,
                            hand: false,
                            audio: false,
                            video: false,
                            screen: false,
                        },
                        person_id: j.person_id,
                        events: j.events,
                        muted: false,
                    },
                );
                let welcome = ServerMsg::Welcome {
                    me: id,
                    instructor: j.instructor,
                    ice_servers: vec![],
                    cams_allowed: self.cams_allowed,
                    mics_allowed: self.mics_allowed,
                    participants: self.views(),
                    chat: self.chat.iter().cloned().collect(),
                };
                let _ = reply.send(Ok(Joined {
                    id,
                    welcome,
                    limits,
                }));
                self.broadcast_participants();
            }
            RoomCmd::Leave(id) => {
                if self.members.remove(&id).is_some() {
                    let gone: Vec<String> = self
                        .tracks
                        .values()
                        .filter(|t| t.owner == id)
                        .map(|t| t.id.clone())
                        .collect();
                    for t in gone {
                        self.tracks.remove(&t);
                        self.each(|_| Some(PeerEvent::Unsubscribe(t.clone())));
                    }
                    self.recent.retain(|r| *r != id);
                    if self.speaker == Some(id) {
                        self.speaker = None;
                    }
                    self.broadcast_participants();
                    self.apply_pauses();
                }
            }
            RoomCmd::Publish(id, track) => {
                if !self.members.contains_key(&id) {
                    return true;
                }
                self.tracks.insert(track.id.clone(), track.clone());
                self.apply_pauses();
                for (mid, m) in &self.members {
                    if *mid != id {
                        let _ = m.events.send(PeerEvent::Subscribe(track.clone()));
                    }
                }
            }
            RoomCmd::Media {
                id,
                audio,
                video,
                screen,
            } => {
                if let Some(m) = self.members.get_mut(&id) {
                    if audio {
                        m.muted = false;
                    }
                    m.view.audio = audio;
                    m.view.video = video;
                    // Learners' screens are never forwarded: nobody is told they share one.
                    m.view.screen = screen && m.view.instructor;
                }
                self.apply_pauses();
                self.broadcast_participants();
            }
            RoomCmd::Chat(id, text) => {
                // Checked by the participant's task; never relayed otherwise.
                let fits = !text.is_empty() && text.chars().count() <= CHAT_MAX_CHARS;
                if let (Some(m), true) = (self.members.get(&id), fits) {
                    let line = ChatLine {
                        from: id,
                        name: m.view.name.clone(),
                        text,
                        at: chrono::Utc::now().timestamp_millis(),
                    };
                    if self.chat.len() == CHAT_HISTORY {
                        self.chat.pop_front();
                    }
                    self.chat.push_back(line.clone());
                    // Kept off the actor (it must not wait on I/O).
                    let (db, session, person) = (self.db.clone(), self.session_id, m.person_id);
                    let kept = line.clone();
                    tokio::spawn(async move {
                        if let Err(e) = sessions::keep_chat(&db, session, person, &kept).await {
                            tracing::error!(error = %e, "no se pudo guardar el mensaje del chat");
                        }
                    });
                    self.each(|_| Some(say(ServerMsg::Chat(line.clone()))));
                }
            }
            RoomCmd::Hand(id, raised) => {
                if let Some(m) = self.members.get_mut(&id) {
                    m.view.hand = raised;
                    self.broadcast_participants();
                }
            }
            RoomCmd::Moderate(id, action) => {
                let is_instructor = self.members.get(&id).is_some_and(|m| m.view.instructor);
                if !is_instructor {
                    if let Some(m) = self.members.get(&id) {
                        let _ = m.events.send(say(ServerMsg::Error {
                            message: "Solo tu docente puede moderar la clase.".into(),
                        }));
                    }
                    return true;
                }
                let by = self
                    .members
                    .get(&id)
                    .map(|m| m.person_id)
                    .unwrap_or_default();
                return self.moderate(by, action);
            }
            RoomCmd::Unenrolled(gone) => {
                self.checking = false;
                for id in gone {
                    if let Some(m) = self.members.get(&id) {
                        tracing::info!(
                            session = self.session_id,
                            participant = id,
                            "ya no está inscripto/a: sale de la sala"
                        );
                        let _ = m.events.send(say(ServerMsg::Bye {
                            reason: "unenrolled".into(),
                        }));
                        let _ = m.events.send(PeerEvent::Close);
                    }
                }
            }
            RoomCmd::Moved => {
                // No `bye`: the pages reconnect by themselves, and land in the one room.
                self.each(|_| {
                    Some(say(ServerMsg::Error {
                        message: "La sala pasó a otro servidor; reconectando…".into(),
                    }))
                });
                self.each(|_| Some(PeerEvent::Close));
                return false;
            }
            RoomCmd::End => {
                self.each(|_| {
                    Some(say(ServerMsg::Bye {
                        reason: "ended".into(),
                    }))
                });
                self.each(|_| Some(PeerEvent::Close));
                return false;
            }
            RoomCmd::Stats(reply) => {
                let _ = reply.send((self.members.len(), self.tracks.len()));
            }
        }
        true
    }

    /// Applies an instructor's (person `by`) moderation.
    fn moderate(&mut self, by: i64, action: Moderation) -> bool {
        match action {
            Moderation::Mute { target } => self.mute(target),
            Moderation::MuteAll => {
                let learners: Vec<u64> = self
                    .members
                    .iter()
                    .filter(|(_, m)| !m.view.instructor)
                    .map(|(id, _)| *id)
                    .collect();
                for id in learners {
                    self.mute(id);
                }
            }
            Moderation::LowerHands => {
                for m in self.members.values_mut() {
                    m.view.hand = false;
                }
            }
            Moderation::LowerHand { target } => {
                if let Some(m) = self.members.get_mut(&target) {
                    m.view.hand = false;
                }
            }
            Moderation::Remove { target } => {
                if let Some(m) = self.members.get(&target)
                    && !m.view.instructor
                {
                    self.removed.insert(m.person_id);
                    // Kept off the actor, so a room started again still refuses them.
                    let (db, session, person) = (self.db.clone(), self.session_id, m.person_id);
                    tokio::spawn(async move {
                        if let Err(e) = sessions::keep_removal(&db, session, person, by).await {
                            tracing::error!(error = %e, "no se pudo guardar el retiro");
                        }
                    });
                    let _ = m.events.send(say(ServerMsg::Bye {
                        reason: "removed".into(),
                    }));
                    let _ = m.events.send(PeerEvent::Close);
                }
            }
            Moderation::Permissions { cams, mics } => {
                self.cams_allowed = cams;
                self.mics_allowed = mics;
                let (db, session) = (self.db.clone(), self.session_id);
                tokio::spawn(async move {
                    if let Err(e) = sessions::keep_permissions(&db, session, cams, mics).await {
                        tracing::error!(error = %e, "no se pudieron guardar los permisos");
                    }
                });
                let msg = ServerMsg::Permissions {
                    cams_allowed: cams,
                    mics_allowed: mics,
                };
                self.each(|_| Some(say(msg.clone())));
            }
            Moderation::End => {
                // Recorded in the database off the actor (it must not wait on I/O), then
                // everyone leaves.
                let (db, progress) = (self.db.clone(), self.progress.clone());
                let id = self.session_id;
                tokio::spawn(async move {
                    if let Err(e) = sessions::end(&db, &*progress, id).await {
                        tracing::error!(error = %e, "no se pudo terminar la sesión");
                    }
                });
                return self.handle(RoomCmd::End);
            }
        }
        self.apply_pauses();
        self.broadcast_participants();
        true
    }

    /// Asks the database, off the actor, which learners here are still enrolled; the answer
    /// comes back as [`RoomCmd::Unenrolled`]. Only learners who were here when it asked can
    /// be sent out by it (one who joins meanwhile was authorised on joining).
    fn check_enrolments(&mut self) {
        if self.checking {
            return;
        }
        let learners: Vec<(u64, i64)> = self
            .members
            .iter()
            .filter(|(_, m)| !m.view.instructor)
            .map(|(id, m)| (*id, m.person_id))
            .collect();
        let Some(me) = self.me.upgrade() else { return };
        if learners.is_empty() {
            return;
        }
        self.checking = true;
        let (db, class_id) = (self.db.clone(), self.class_id);
        tokio::spawn(async move {
            let gone = match sessions::enrolled(&db, class_id).await {
                Ok(enrolled) => learners
                    .into_iter()
                    .filter(|(_, person)| !enrolled.contains(person))
                    .map(|(id, _)| id)
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "no se pudo revisar la inscripción de la sala");
                    vec![]
                }
            };
            let _ = me.send(RoomCmd::Unenrolled(gone));
        });
    }

    fn mute(&mut self, target: u64) {
        if let Some(m) = self.members.get_mut(&target)
            && !m.view.instructor
        {
            m.muted = true;
            m.view.audio = false;
            let _ = m.events.send(say(ServerMsg::Muted));
        }
    }

    fn views(&self) -> Vec<ParticipantView> {
        let mut v: Vec<ParticipantView> = self.members.values().map(|m| m.view.clone()).collect();
        v.sort_by_key(|p| (!p.instructor, p.id));
        v
    }

    fn each(&self, f: impl Fn(&Member) -> Option<PeerEvent>) {
        for m in self.members.values() {
            if let Some(ev) = f(m) {
                let _ = m.events.send(ev);
            }
        }
    }

    fn broadcast_participants(&self) {
        let msg = ServerMsg::Participants {
            participants: self.views(),
        };
        self.each(|_| Some(say(msg.clone())));
    }

    /// Sets which tracks are forwarded: learners' microphones unless muted or blocked, and
    /// the cameras of the last-N learners who spoke (all of them while there are few).
    fn apply_pauses(&self) {
        let learner_cams: Vec<&Arc<PublishedTrack>> = self
            .tracks
            .values()
            .filter(|t| !t.owner_is_instructor && t.source == Source::Camera)
            .collect();
        let mut shown: Vec<u64> = self
            .recent
            .iter()
            .copied()
            .filter(|id| learner_cams.iter().any(|t| t.owner == *id))
            .take(self.last_n)
            .collect();
        let mut rest: Vec<u64> = learner_cams
            .iter()
            .map(|t| t.owner)
            .filter(|o| !shown.contains(o))
            .collect();
        rest.sort_unstable();
        shown.extend(
            rest.into_iter()
                .take(self.last_n.saturating_sub(shown.len())),
        );
        for t in self.tracks.values() {
            if t.owner_is_instructor {
                t.paused.store(false, Ordering::Relaxed);
                continue;
            }
            let muted = self.members.get(&t.owner).is_none_or(|m| m.muted);
            let paused = match (t.kind, t.source) {
                (RtpCodecKind::Audio, _) => muted || !self.mics_allowed,
                (_, Source::Screen) => true,
                _ => !self.cams_allowed || !shown.contains(&t.owner),
            };
            t.paused.store(paused, Ordering::Relaxed);
        }
    }

    /// The loudest microphone above the speaking level becomes the speaker.
    fn detect_speaker(&mut self) {
        let loudest = self
            .tracks
            .values()
            .filter(|t| t.kind == RtpCodecKind::Audio && !t.paused.load(Ordering::Relaxed))
            .map(|t| (t.level.load(Ordering::Relaxed), t.owner))
            .filter(|(l, _)| *l >= crate::live::sfu::VOICE_LEVEL)
            .max()
            .map(|(_, owner)| owner);
        if loudest == self.speaker {
            return;
        }
        self.speaker = loudest;
        if let Some(id) = loudest
            && self.members.get(&id).is_some_and(|m| !m.view.instructor)
            && self.recent.front() != Some(&id)
        {
            self.recent.retain(|r| *r != id);
            self.recent.push_front(id);
            self.recent.truncate(32);
            self.apply_pauses();
        }
        let msg = ServerMsg::Speaker { id: loudest };
        self.each(|_| Some(say(msg.clone())));
    }
}
