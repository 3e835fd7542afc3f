//! Packet-level helpers: VP8 keyframes, header extensions, the RFC 6464 audio level.

use rtc::rtp;

pub(super) const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

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

/// Header extension ids are negotiated per leg: forwarding them makes the egress sender
/// drop the packet ("extension not found"), silently.
pub fn strip_extensions(h: &mut rtp::header::Header) {
    h.extension = false;
    h.extensions.clear();
    h.extensions_padding = 0;
    h.extension_profile = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn audio_level_extension_id_is_read_from_the_offer() {
        let sdp = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n";
        assert_eq!(audio_level_ext_id(sdp), 1);
        assert_eq!(audio_level_ext_id("v=0\r\n"), 0);
    }
}
