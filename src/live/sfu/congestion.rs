//! Congestion control on the receiving side: a subscriber's bandwidth estimate (RTCP REMB)
//! that falls under what their layer needs steps them down a layer.

use std::time::{Duration, Instant};

use crate::live::protocol::Quality;

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
}
