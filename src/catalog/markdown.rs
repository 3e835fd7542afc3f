//! Markdown to safe HTML: pulldown-cmark (tables, footnotes, strikethrough, task lists,
//! heading anchors) and then ammonia, so no script or event handler survives.

use std::{collections::HashSet, sync::LazyLock};

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_tags(["input", "video", "source", "figure", "figcaption"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tag_attributes(
            "video",
            ["src", "controls", "preload", "width", "height", "poster"],
        )
        .add_tag_attributes("source", ["src", "type"])
        .add_tag_attributes("img", ["width", "height", "loading"])
        .add_tag_attributes("td", ["style"])
        .add_tag_attributes("th", ["style"])
        .add_generic_attributes(["id"])
        .add_allowed_classes("div", ["footnote-definition"])
        .add_allowed_classes("sup", ["footnote-reference", "footnote-definition-label"])
        .add_allowed_classes("span", ["footnote-definition-label"])
        .filter_style_properties(["text-align"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"));
    b
});

/// Lowercase ASCII slug of a heading text, for its `id`.
pub fn slugify(text: &str) -> String {
    let folded = crate::web::text::fold(text);
    let mut out = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Renders Markdown to sanitised HTML, giving every heading a unique `id`.
pub fn render(markdown: &str) -> String {
    render_with_media(markdown, &|_| None)
}

/// What a `/media/...` reference becomes once published: its address and, for links, what
/// following it costs («PDF · 1,2 MB»).
pub struct MediaLink {
    pub url: String,
    pub cost: String,
}

/// Like [`render`], with each image and link whose destination `resolve` knows pointing at its
/// published address, and each such link followed by its cost, so nobody spends data on a
/// download without knowing its size.
pub fn render_with_media(markdown: &str, resolve: &dyn Fn(&str) -> Option<MediaLink>) -> String {
    let events: Vec<Event> = Parser::new_ext(markdown, options()).collect();
    let mut pending_cost: Option<String> = None;
    let mut out_events = Vec::with_capacity(events.len());
    let mut used = HashSet::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading {
            level,
            id: None,
            classes,
            attrs,
        }) = &events[i]
        {
            let mut text = String::new();
            let mut j = i + 1;
            while j < events.len() && !matches!(events[j], Event::End(TagEnd::Heading(_))) {
                if let Event::Text(t) | Event::Code(t) = &events[j] {
                    text.push_str(t);
                }
                j += 1;
            }
            let mut slug = slugify(&text);
            if slug.is_empty() {
                slug = "seccion".into();
            }
            let base = slug.clone();
            let mut n = 2;
            while !used.insert(slug.clone()) {
                slug = format!("{base}-{n}");
                n += 1;
            }
            out_events.push(Event::Start(Tag::Heading {
                level: *level,
                id: Some(CowStr::from(slug)),
                classes: classes.clone(),
                attrs: attrs.clone(),
            }));
        } else if let Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) = &events[i]
            && let Some(found) = resolve(dest_url)
        {
            out_events.push(Event::Start(Tag::Image {
                link_type: *link_type,
                dest_url: CowStr::from(found.url),
                title: title.clone(),
                id: id.clone(),
            }));
        } else if let Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) = &events[i]
            && let Some(found) = resolve(dest_url)
        {
            pending_cost = Some(found.cost);
            out_events.push(Event::Start(Tag::Link {
                link_type: *link_type,
                dest_url: CowStr::from(found.url),
                title: title.clone(),
                id: id.clone(),
            }));
        } else if matches!(events[i], Event::End(TagEnd::Link))
            && let Some(cost) = pending_cost.take()
        {
            out_events.push(events[i].clone());
            out_events.push(Event::Text(CowStr::from(format!(" ({cost})"))));
        } else {
            out_events.push(events[i].clone());
        }
        i += 1;
    }
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, out_events.into_iter());
    SANITIZER.clean(&raw).to_string()
}

/// Every image destination in the Markdown (to check they exist under `media/`).
pub fn image_urls(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, options())
        .filter_map(|e| match e {
            Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

/// Every link destination under `/media/` (downloads that must exist and show their cost).
pub fn media_link_urls(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, options())
        .filter_map(|e| match e {
            Event::Start(Tag::Link { dest_url, .. }) if dest_url.starts_with("/media/") => {
                Some(dest_url.to_string())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_extensions() {
        let html = render(
            "## Título útil\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] hecho\n\n~~no~~ y nota[^1]\n\n[^1]: Al pie.\n",
        );
        assert!(html.contains(r#"<h2 id="titulo-util">"#), "{html}");
        assert!(html.contains("<table>"));
        assert!(html.contains(r#"type="checkbox""#));
        assert!(html.contains("<del>no</del>"));
        assert!(html.contains("footnote-definition"));
    }

    #[test]
    fn media_references_point_at_their_published_address_and_links_say_their_cost() {
        let html = render_with_media(
            "![Mapa](/media/c/mapa.svg)\n\n[La guía](/media/c/guia.pdf) y [otro sitio](https://ejemplo.gob.ar)\n",
            &|url| {
                url.strip_prefix("/media/c/").map(|f| MediaLink {
                    url: format!("/media/o/ab/{f}"),
                    cost: "PDF · 1,2 MB".into(),
                })
            },
        );
        assert!(html.contains(r#"src="/media/o/ab/mapa.svg""#), "{html}");
        assert!(
            html.contains(r#"href="/media/o/ab/guia.pdf" rel="noopener noreferrer">La guía</a> (PDF · 1,2 MB)"#),
            "{html}"
        );
        assert!(html.contains(r#"href="https://ejemplo.gob.ar""#), "{html}");
        assert!(!html.contains("otro sitio</a> ("), "{html}");
    }

    #[test]
    fn xss_payloads_do_not_survive() {
        let payloads = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<svg onload=alert(1)></svg>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<video src=x onerror=alert(1)></video>",
            "<a href=\"#\" onclick=\"alert(1)\">x</a>",
            "<object data=\"evil.swf\"></object>",
            "<form action=\"https://evil.example\"><input name=x></form>",
            "<details open ontoggle=alert(1)>",
            "![x](javascript:alert(1))",
            "<IMG SRC=JaVaScRiPt:alert('XSS')>",
            "<body onload=alert(1)>",
        ];
        for p in payloads {
            let html = render(p).to_lowercase();
            // Escaped text ("&lt;img ...") is inert; only real tags and attributes matter.
            let tags: Vec<&str> = html
                .split('<')
                .skip(1)
                .map(|t| t.split('>').next().unwrap_or(""))
                .collect();
            for tag in tags {
                for bad in [
                    "script",
                    "iframe",
                    "object",
                    "form",
                    "svg",
                    "javascript:",
                    "style=",
                    " on",
                ] {
                    assert!(!tag.contains(bad), "{p} -> {html}");
                }
            }
        }
    }
}
