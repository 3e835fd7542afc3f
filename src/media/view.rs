//! What a page shows of a media object before anyone spends data on it: its renditions and
//! what each costs («Video 1 min · liviano 2 MB · alta 8 MB · solo audio 0,4 MB»).

use super::objects::{self, MediaObject, Rendition};
use crate::db::Db;

/// A size as people read it on a phone, es-AR: «850 KB», «1,2 MB», «26 MB», «1,3 GB».
pub fn format_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    let decimal = |v: f64, unit: &str| {
        if v < 10.0 {
            // One decimal, with a comma; 9,96 rounds to «10».
            let r = (v * 10.0).round() / 10.0;
            if r >= 10.0 {
                format!("10 {unit}")
            } else {
                format!("{r:.1} {unit}").replace('.', ",")
            }
        } else {
            format!("{} {unit}", v.round() as u64)
        }
    };
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{} KB", (b / KB).round().max(1.0) as u64)
    } else if b < KB * KB * KB {
        decimal(b / (KB * KB), "MB")
    } else {
        decimal(b / (KB * KB * KB), "GB")
    }
}

/// A length as «45 s», «1 min», «12 min», «1 h 05 min».
pub fn format_duration(ms: i64) -> String {
    let s = (ms + 500) / 1000;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", (s + 30) / 60)
    } else {
        let m = (s + 30) / 60;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// The kind of a file as a short word for a link («PDF», «imagen», «video»).
pub fn kind_label(mime: &str) -> &'static str {
    match mime {
        "application/pdf" => "PDF",
        m if m.starts_with("image/") => "imagen",
        m if m.starts_with("video/") => "video",
        m if m.starts_with("audio/") => "audio",
        m if m.contains("word") || m.contains("opendocument.text") => "documento",
        m if m.contains("sheet") || m.contains("excel") => "planilla",
        m if m.contains("presentation") || m.contains("powerpoint") => "presentación",
        _ => "archivo",
    }
}

/// One playable file.
#[derive(Clone, Debug)]
pub struct Source {
    pub url: String,
    pub mime: String,
    pub size: String,
}

impl Source {
    fn of(o: &MediaObject) -> Source {
        Source {
            url: o.url(),
            mime: o.mime.clone(),
            size: format_size(o.size.max(0) as u64),
        }
    }
}

/// A lesson's video with its renditions and their costs.
#[derive(Clone, Debug)]
pub struct VideoView {
    pub duration: Option<String>,
    pub original: Source,
    pub light: Option<Source>,
    pub audio: Option<Source>,
    pub poster: Option<String>,
}

impl VideoView {
    /// «Video 1 min · liviano 2 MB · alta 8 MB · solo audio 0,4 MB».
    pub fn cost(&self) -> String {
        let mut parts = vec![match &self.duration {
            Some(d) => format!("Video {d}"),
            None => "Video".to_string(),
        }];
        if let Some(l) = &self.light {
            parts.push(format!("liviano {}", l.size));
            parts.push(format!("alta {}", self.original.size));
        } else {
            parts.push(self.original.size.clone());
        }
        if let Some(a) = &self.audio {
            parts.push(format!("solo audio {}", a.size));
        }
        parts.join(" · ")
    }
}

/// The video stored under `key` and its renditions, in one query; none if there is no such
/// object.
pub async fn video(db: &Db, key: &str) -> Result<Option<VideoView>, sqlx::Error> {
    let Some((source, renditions)) = objects::with_renditions(db, key).await? else {
        return Ok(None);
    };
    let find = |r: Rendition| {
        renditions
            .iter()
            .find(|o| o.rendition.0 == Some(r))
            .map(Source::of)
    };
    Ok(Some(VideoView {
        duration: source.duration_ms.map(format_duration),
        original: Source::of(&source),
        light: find(Rendition::Light),
        audio: find(Rendition::Audio),
        poster: find(Rendition::Poster).map(|s| s.url),
    }))
}

/// How long a video's view is kept in process: a rendition that a job finishes (here or in
/// another process) shows on the lesson page at most this late.
pub const VIDEO_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Videos' views by media key, each kept for [`VIDEO_TTL`], so a lesson page does not read
/// the renditions on every view; clones share one cache.
#[derive(Clone)]
pub struct Videos(
    std::sync::Arc<quick_cache::sync::Cache<String, (std::time::Instant, Option<VideoView>)>>,
);

impl Default for Videos {
    fn default() -> Videos {
        Videos(std::sync::Arc::new(quick_cache::sync::Cache::new(1024)))
    }
}

impl Videos {
    /// [`video`], at most [`VIDEO_TTL`] old.
    pub async fn get(&self, db: &Db, key: &str) -> Result<Option<VideoView>, sqlx::Error> {
        if let Some((at, view)) = self.0.get(key)
            && at.elapsed() < VIDEO_TTL
        {
            return Ok(view);
        }
        let view = video(db, key).await?;
        self.0
            .insert(key.to_string(), (std::time::Instant::now(), view.clone()));
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_phone_in_spanish() {
        assert_eq!(format_size(500), "500 B");
        assert_eq!(format_size(118_541), "116 KB");
        assert_eq!(format_size(400 * 1024), "400 KB");
        assert_eq!(format_size(1_258_291), "1,2 MB");
        assert_eq!(format_size(2 * 1024 * 1024), "2,0 MB");
        assert_eq!(format_size(10_433_332), "10 MB");
        assert_eq!(format_size(27_262_976), "26 MB");
        assert_eq!(format_size(1_395_864_371), "1,3 GB");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(format_duration(4_200), "4 s");
        assert_eq!(format_duration(59_400), "59 s");
        assert_eq!(format_duration(61_000), "1 min");
        assert_eq!(format_duration(12 * 60_000 + 10_000), "12 min");
        assert_eq!(format_duration(65 * 60_000), "1 h 05 min");
    }
}
