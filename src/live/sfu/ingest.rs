//! Receiving what a participant publishes: each packet of a published track is read once,
//! tagged (keyframe, audio level) and fanned out to the track's forwarders.

use std::sync::{Arc, atomic::Ordering};

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;

use super::{
    rtp::{audio_level, strip_extensions, vp8_keyframe},
    track::{Forwarded, PublishedTrack, VOICE_LEVEL, clock_ms},
};

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
