//! The bitrates a room uses, in one place: the room page hands them to `static/live.js`, which
//! caps what the browser sends with them (the instructor's simulcast layers, a learner's camera,
//! every microphone); the server's congestion control picks a layer by them; and the page tells
//! learners what each quality costs per hour of class, many of whom pay for every megabyte.

use crate::live::protocol::Quality;

/// The instructor's camera, simulcast layer `f` (picture quality «alta»).
pub const ALTA: u64 = 1_200_000;
/// Layer `h` («media»): half the resolution.
pub const MEDIA: u64 = 500_000;
/// Layer `q` («baja»): a quarter of the resolution.
pub const BAJA: u64 = 150_000;
/// A learner's camera (one layer, half resolution).
pub const LEARNER_CAMERA: u64 = 250_000;
/// Opus cap of every microphone (the page sets it on its audio sender).
pub const OPUS: u64 = 32_000;
/// One audio stream on the wire: Opus at its cap plus its packet headers (50 packets a second
/// of RTP, SRTP, UDP and IPv4 headers, about 50 bytes each: 20 kbit/s).
pub const AUDIO_ON_WIRE: u64 = OPUS + 20_000;

/// The bitrate the instructor's camera needs at a quality (0: no video).
pub fn layer(q: Quality) -> u64 {
    match q {
        Quality::Alta => ALTA,
        Quality::Media => MEDIA,
        Quality::Baja => BAJA,
        Quality::Audio => 0,
    }
}

/// Megabytes an hour at `bps`, as people read them: two significant digits (563 → 560,
/// 91 → 91, 23 → 23).
pub fn mb_per_hour(bps: u64) -> u64 {
    let mb = bps as f64 * 3600.0 / 8.0 / 1e6;
    if mb < 1.0 {
        return 1;
    }
    let digits = mb.log10().floor() as i32;
    let unit = 10f64.powi((digits - 1).max(0));
    ((mb / unit).round() * unit) as u64
}

/// What one hour of class costs a learner at each quality, at most: the instructor's layer
/// at its cap plus the instructor's voice. Learners' cameras come on top (see
/// [`Costs::learner_camera`]); screen sharing replaces nothing and is not counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    pub alta: u64,
    pub media: u64,
    pub baja: u64,
    pub audio: u64,
    /// Each learner's camera the learner sees (up to `last_n` of them).
    pub learner_camera: u64,
}

impl Costs {
    /// The costs of this room's bitrates, in MB per hour.
    pub fn per_hour() -> Costs {
        let with_voice = |q| mb_per_hour(layer(q) + AUDIO_ON_WIRE);
        Costs {
            alta: with_voice(Quality::Alta),
            media: with_voice(Quality::Media),
            baja: with_voice(Quality::Baja),
            audio: with_voice(Quality::Audio),
            learner_camera: mb_per_hour(LEARNER_CAMERA),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_of_each_quality_in_megabytes() {
        assert_eq!(
            Costs::per_hour(),
            Costs {
                alta: 560,
                media: 250,
                baja: 91,
                audio: 23,
                learner_camera: 110,
            }
        );
        assert_eq!(mb_per_hour(34_000), 15);
        assert_eq!(mb_per_hour(1_000), 1);
    }
}
