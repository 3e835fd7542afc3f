//! Building the SFU's peer connections: the room codecs, the interceptors (with the one that
//! lets keyframe requests reach the application), the UDP port range, the bind address, and
//! the public address announced behind a 1:1 NAT.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU16, Ordering},
    },
    time::Instant,
};

use rtc::{
    interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket},
    rtcp::payload_feedbacks::{
        full_intra_request::FullIntraRequest, picture_loss_indication::PictureLossIndication,
        receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate,
    },
    rtp_transceiver::rtp_sender::{
        RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability,
        RtpCodecKind,
    },
    sansio::Protocol,
};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateType, Registry, SettingEngineBuilder,
    register_default_interceptors,
};

use super::rtp::AUDIO_LEVEL_URI;
use crate::live::config::LiveConfig;

pub const MIME_VP8: &str = "video/VP8";
pub const MIME_OPUS: &str = "audio/opus";
pub const MIME_RTX: &str = "video/rtx";

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
