//! Sending a published track on to one subscriber: the layer of their quality, switched on a
//! keyframe, the voice gate for learners' microphones, and the rewriting every packet needs
//! (SSRC, payload type, and sequence numbers and timestamps kept continuous by the munger);
//! and the subscriber's feedback (keyframe requests, bandwidth estimates) sent back.

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use rtc::{
    rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate,
    rtp, rtp_transceiver::rtp_sender::RtpCodecKind,
};
use tokio::sync::{broadcast, watch};

use super::track::{PublishedTrack, VOICE_HANGOVER_MS, clock_ms};
use crate::live::protocol::Quality;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
