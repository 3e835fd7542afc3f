//! Courses as files: parse and validate `courses/<slug>/`, then store them.
//!
//! Every error is reported with file and line, and a course with any error is not imported
//! at all. Re-importing an unchanged course changes nothing (its content hash is equal);
//! a changed course keeps learners' progress because lessons are matched by their stable
//! `id`, never by position.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    assessment::files::{self as assessment_files, CourseAssessments},
    catalog::markdown,
    db::Db,
    media::{Media, MediaRef},
    web::text::fold,
    web::time::now,
    with_db,
};

/// Bump when rendering changes, so stored HTML is regenerated on the next import.
/// 3: media referenced by their published (content) addresses.
const RENDER_VERSION: &str = "3";

/// One problem in a course folder.
#[derive(Clone, Debug)]
pub struct ImportError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseToml {
    slug: String,
    title: String,
    summary: String,
    category: String,
    hours: i64,
    modality: String,
    audience: String,
    #[serde(default)]
    cover: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    competencies: Vec<CompetencyToml>,
    completion: CompletionToml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompetencyToml {
    code: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionToml {
    min_lessons_percent: i64,
    /// Share of the class's held live sessions the learner must attend.
    #[serde(default)]
    min_attendance_percent: Option<i64>,
    /// "Pass quiz X with at least N%": every rule must hold to complete the course.
    #[serde(default)]
    quizzes: Vec<QuizRuleToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuizRuleToml {
    quiz: String,
    #[serde(default)]
    min_percent: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonFront {
    id: String,
    title: String,
    order: i64,
    minutes: i64,
    #[serde(default)]
    video: Option<String>,
}

/// A validated course, ready to store.
#[derive(Clone, Debug)]
pub struct CourseFile {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub category: String,
    pub hours: i64,
    pub modality: String,
    pub audience: String,
    pub cover: Option<String>,
    pub description_html: String,
    pub competencies: Vec<(String, String)>,
    pub min_lessons_percent: i64,
    pub min_attendance_percent: Option<i64>,
    pub lessons: Vec<LessonFile>,
    pub assessments: CourseAssessments,
    pub content_hash: String,
    /// The media folder the course's references were checked against (`media/`).
    pub media_root: PathBuf,
}

/// A validated lesson.
#[derive(Clone, Debug)]
pub struct LessonFile {
    pub key: String,
    pub title: String,
    pub order: i64,
    pub minutes: i64,
    pub video: Option<String>,
    pub body_html: String,
    /// The Markdown, rendered again once its media are published.
    pub body_md: String,
}

/// The result of reading a folder of courses.
#[derive(Debug, Default)]
pub struct Parsed {
    pub courses: Vec<CourseFile>,
    pub errors: Vec<ImportError>,
}

pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Line where `key = ...` is first written, to point at semantic errors.
pub(crate) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

pub(crate) fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Reads every course folder under `dir` (a folder with a `course.toml`).
pub fn load_dir(dir: &Path, media_dir: &Path) -> Parsed {
    let mut parsed = Parsed::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            parsed.errors.push(ImportError {
                file: dir.into(),
                line: None,
                message: format!("no se pudo leer la carpeta: {e}"),
            });
            return parsed;
        }
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("course.toml").is_file())
        .collect();
    folders.sort();
    let mut slugs = HashSet::new();
    for folder in folders {
        match load_course(&folder, media_dir) {
            Ok(course) => {
                if slugs.insert(course.slug.clone()) {
                    parsed.courses.push(course);
                } else {
                    parsed.errors.push(ImportError {
                        file: folder.join("course.toml"),
                        line: None,
                        message: format!("el slug «{}» está repetido en otra carpeta", course.slug),
                    });
                }
            }
            Err(mut errs) => parsed.errors.append(&mut errs),
        }
    }
    parsed
}

/// Reads and validates one course folder; any error rejects the whole course.
pub fn load_course(folder: &Path, media_dir: &Path) -> Result<CourseFile, Vec<ImportError>> {
    let mut errors = Vec::new();
    let toml_path = folder.join("course.toml");
    let mut hasher = Sha256::new();
    hasher.update(RENDER_VERSION);
    let text = match std::fs::read_to_string(&toml_path) {
        Ok(t) => t,
        Err(e) => {
            return Err(vec![ImportError {
                file: toml_path,
                line: None,
                message: format!("no se pudo leer: {e}"),
            }]);
        }
    };
    hasher.update(&text);
    let err = |errors: &mut Vec<ImportError>, key: &str, msg: String| {
        errors.push(ImportError {
            file: toml_path.clone(),
            line: line_of_key(&text, key),
            message: msg,
        })
    };
    let course: CourseToml = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            return Err(vec![ImportError {
                file: toml_path.clone(),
                line: e.span().map(|s| line_of_offset(&text, s.start)),
                message: format!("TOML inválido: {}", e.message()),
            }]);
        }
    };
    let folder_name = folder.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !valid_slug(&course.slug) {
        err(
            &mut errors,
            "slug",
            "slug inválido: usá minúsculas sin acentos, números y guiones".into(),
        );
    } else if course.slug != folder_name {
        err(
            &mut errors,
            "slug",
            format!(
                "el slug «{}» debe ser igual al nombre de la carpeta «{folder_name}»",
                course.slug
            ),
        );
    }
    for (key, value, max) in [
        ("title", &course.title, 200),
        ("summary", &course.summary, 300),
        ("category", &course.category, 60),
        ("audience", &course.audience, 300),
    ] {
        let n = value.trim().chars().count();
        if n == 0 {
            err(&mut errors, key, format!("«{key}» no puede estar vacío"));
        } else if n > max {
            err(
                &mut errors,
                key,
                format!("«{key}» tiene {n} caracteres; el máximo es {max}"),
            );
        }
    }
    if !(1..=1000).contains(&course.hours) {
        err(
            &mut errors,
            "hours",
            "«hours» debe estar entre 1 y 1000".into(),
        );
    }
    if !["virtual", "presencial", "semipresencial"].contains(&course.modality.as_str()) {
        err(
            &mut errors,
            "modality",
            format!(
                "modalidad «{}» desconocida: usá virtual, presencial o semipresencial",
                course.modality
            ),
        );
    }
    if course
        .completion
        .min_attendance_percent
        .is_some_and(|p| !(1..=100).contains(&p))
    {
        err(
            &mut errors,
            "min_attendance_percent",
            "«min_attendance_percent» debe estar entre 1 y 100".into(),
        );
    }
    if !(1..=100).contains(&course.completion.min_lessons_percent) {
        err(
            &mut errors,
            "min_lessons_percent",
            "«min_lessons_percent» debe estar entre 1 y 100".into(),
        );
    }
    if let Some(cover) = &course.cover
        && !media_exists(media_dir, cover)
    {
        err(
            &mut errors,
            "cover",
            format!("la imagen de portada «{cover}» no existe en media/"),
        );
    }
    if course.competencies.is_empty() {
        err(
            &mut errors,
            "completion",
            "el curso necesita al menos una competencia ([[competencies]] con code y name)".into(),
        );
    }
    let mut codes = HashSet::new();
    for c in &course.competencies {
        if c.code.trim().is_empty() || c.name.trim().is_empty() {
            err(
                &mut errors,
                "code",
                "cada competencia necesita «code» y «name»".into(),
            );
        } else if !codes.insert(c.code.clone()) {
            err(
                &mut errors,
                "code",
                format!("el código de competencia «{}» está repetido", c.code),
            );
        }
    }
    let lessons = load_lessons(folder, media_dir, &mut errors, &mut hasher);
    let mut assessments = assessment_files::load(folder, &mut errors, &mut hasher);
    let mut ruled = HashSet::new();
    for rule in &course.completion.quizzes {
        match assessments.quizzes.iter_mut().find(|q| q.key == rule.quiz) {
            Some(quiz) => {
                let percent = rule.min_percent.unwrap_or(quiz.passing_percent);
                if !(0..=100).contains(&percent) {
                    err(
                        &mut errors,
                        "min_percent",
                        "«min_percent» debe estar entre 0 y 100".into(),
                    );
                } else if !ruled.insert(rule.quiz.clone()) {
                    err(
                        &mut errors,
                        "quiz",
                        format!(
                            "la evaluación «{}» está dos veces en [completion]",
                            rule.quiz
                        ),
                    );
                }
                quiz.completion_percent = Some(percent);
            }
            None => err(
                &mut errors,
                "quiz",
                format!(
                    "la regla de aprobación nombra la evaluación «{}», que no existe en quizzes/",
                    rule.quiz
                ),
            ),
        }
    }
    if lessons.is_empty() && errors.is_empty() {
        errors.push(ImportError {
            file: folder.join("lessons"),
            line: None,
            message: "el curso no tiene lecciones (lessons/*.md)".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CourseFile {
        slug: course.slug,
        title: course.title.trim().into(),
        summary: course.summary.trim().into(),
        category: course.category.trim().into(),
        hours: course.hours,
        modality: course.modality,
        audience: course.audience.trim().into(),
        cover: course.cover,
        description_html: markdown::render(&course.description),
        competencies: course
            .competencies
            .into_iter()
            .map(|c| (c.code, c.name))
            .collect(),
        min_lessons_percent: course.completion.min_lessons_percent,
        min_attendance_percent: course.completion.min_attendance_percent,
        lessons,
        assessments,
        content_hash: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        media_root: media_dir.to_path_buf(),
    })
}

fn media_exists(media_dir: &Path, rel: &str) -> bool {
    !rel.contains("..") && !rel.starts_with('/') && media_dir.join(rel).is_file()
}

fn load_lessons(
    folder: &Path,
    media_dir: &Path,
    errors: &mut Vec<ImportError>,
    hasher: &mut Sha256,
) -> Vec<LessonFile> {
    let dir = folder.join("lessons");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(e) => e
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let mut lessons = Vec::new();
    let mut keys = HashSet::new();
    let mut orders = HashSet::new();
    for path in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ImportError {
                    file: path,
                    line: None,
                    message: format!("no se pudo leer: {e}"),
                });
                continue;
            }
        };
        hasher.update(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        hasher.update(&text);
        let mut push = |line: Option<usize>, message: String| {
            errors.push(ImportError {
                file: path.clone(),
                line,
                message,
            })
        };
        let Some(rest) = text
            .strip_prefix("+++\n")
            .or_else(|| text.strip_prefix("+++\r\n"))
        else {
            push(
                Some(1),
                "falta el encabezado: la primera línea debe ser +++".into(),
            );
            continue;
        };
        let Some(end) = rest.find("\n+++") else {
            push(
                Some(1),
                "el encabezado no se cierra: falta una línea +++".into(),
            );
            continue;
        };
        let front = &rest[..end + 1];
        let body = rest[end + 4..].trim_start_matches(['\r', '\n']);
        let body_first_line = text.len() - body.len();
        let front_line = |key: &str| line_of_key(front, key).map(|l| l + 1);
        let meta: LessonFront = match toml::from_str(front) {
            Ok(m) => m,
            Err(e) => {
                push(
                    e.span().map(|s| line_of_offset(front, s.start) + 1),
                    format!("encabezado inválido: {}", e.message()),
                );
                continue;
            }
        };
        if !valid_slug(&meta.id) {
            push(
                front_line("id"),
                "id inválido: usá minúsculas sin acentos, números y guiones".into(),
            );
        } else if !keys.insert(meta.id.clone()) {
            push(
                front_line("id"),
                format!("el id «{}» está repetido en otra lección", meta.id),
            );
        }
        if !orders.insert(meta.order) {
            push(
                front_line("order"),
                format!("el orden {} está repetido en otra lección", meta.order),
            );
        }
        if meta.title.trim().is_empty() || meta.title.chars().count() > 200 {
            push(
                front_line("title"),
                "«title» no puede estar vacío ni superar 200 caracteres".into(),
            );
        }
        if !(1..=600).contains(&meta.minutes) {
            push(
                front_line("minutes"),
                "«minutes» debe estar entre 1 y 600".into(),
            );
        }
        if let Some(v) = &meta.video
            && !media_exists(media_dir, v)
        {
            push(
                front_line("video"),
                format!("el video «{v}» no existe en media/"),
            );
        }
        for url in markdown::image_urls(body) {
            let ok = url
                .strip_prefix("/media/")
                .is_some_and(|rel| media_exists(media_dir, rel));
            if !ok {
                let line = body
                    .find(&url)
                    .map(|o| line_of_offset(&text, body_first_line + o));
                push(
                    line,
                    format!(
                        "la imagen «{url}» debe estar en media/ y referirse como /media/<ruta>"
                    ),
                );
            }
        }
        for url in markdown::media_link_urls(body) {
            let ok = url
                .strip_prefix("/media/")
                .is_some_and(|rel| media_exists(media_dir, rel));
            if !ok {
                let line = body
                    .find(&url)
                    .map(|o| line_of_offset(&text, body_first_line + o));
                push(
                    line,
                    format!("el archivo «{url}» del enlace no existe en media/"),
                );
            }
        }
        lessons.push(LessonFile {
            key: meta.id,
            title: meta.title.trim().into(),
            order: meta.order,
            minutes: meta.minutes,
            video: meta.video,
            body_html: markdown::render(body),
            body_md: body.to_string(),
        });
    }
    lessons.sort_by_key(|l| l.order);
    lessons
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cursos importados: {} nuevos, {} actualizados, {} sin cambios",
            self.created.len(),
            self.updated.len(),
            self.unchanged.len()
        )
    }
}

/// Stores validated courses: unchanged ones are skipped, changed ones updated in place. Their
/// media are published to the store first (once per content: an unchanged file is not
/// uploaded again), and lessons point at the published addresses.
pub async fn store(db: &Db, media: &Media, courses: &[CourseFile]) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    for c in courses {
        let c = &publish_media(db, media, c).await?;
        let existing: Option<String> = with_db!(db, |p| sqlx::query_scalar(
            "SELECT content_hash FROM courses WHERE slug = $1"
        )
        .bind(&c.slug)
        .fetch_optional(p)
        .await)?;
        match existing {
            Some(h) if h == c.content_hash => {
                report.unchanged.push(c.slug.clone());
                continue;
            }
            Some(_) => report.updated.push(c.slug.clone()),
            None => report.created.push(c.slug.clone()),
        }
        store_one(db, c).await?;
    }
    Ok(report)
}

/// Publishes every media file the course references (cover, lesson videos, images and
/// download links) and returns the course pointing at their addresses. The addresses join
/// the content hash, so a changed media file re-stores the course even if its text did not
/// change.
async fn publish_media(db: &Db, media: &Media, c: &CourseFile) -> anyhow::Result<CourseFile> {
    let mut rels: Vec<String> = Vec::new();
    rels.extend(c.cover.clone());
    for l in &c.lessons {
        rels.extend(l.video.clone());
        for url in markdown::image_urls(&l.body_md)
            .into_iter()
            .chain(markdown::media_link_urls(&l.body_md))
        {
            if let Some(rel) = url.strip_prefix("/media/") {
                rels.push(rel.to_string());
            }
        }
    }
    rels.sort();
    rels.dedup();
    let mut published: HashMap<String, MediaRef> = HashMap::new();
    let mut hasher = Sha256::new();
    hasher.update(&c.content_hash);
    for rel in rels {
        if !media_exists(&c.media_root, &rel) {
            anyhow::bail!("{}: «{rel}» no existe en media/", c.slug);
        }
        let r = crate::media::publish_file(db, media, &c.media_root.join(&rel))
            .await
            .map_err(|e| anyhow::anyhow!("{}: no se pudo publicar «{rel}»: {e}", c.slug))?;
        hasher.update(&rel);
        hasher.update(&r.key);
        published.insert(rel, r);
    }
    let mut out = c.clone();
    out.content_hash = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let key_of = |rel: &Option<String>| {
        rel.as_ref().map(|r| {
            published
                .get(r)
                .map_or_else(|| r.clone(), |m| m.key.clone())
        })
    };
    out.cover = key_of(&c.cover);
    let resolve = |url: &str| {
        let m = published.get(url.strip_prefix("/media/")?)?;
        Some(markdown::MediaLink {
            url: m.url.clone(),
            cost: format!(
                "{} · {}",
                crate::media::view::kind_label(&m.mime),
                crate::media::view::format_size(m.size)
            ),
        })
    };
    for l in &mut out.lessons {
        l.video = key_of(&l.video);
        l.body_html = markdown::render_with_media(&l.body_md, &resolve);
    }
    Ok(out)
}

async fn store_one(db: &Db, c: &CourseFile) -> Result<(), sqlx::Error> {
    let search_text = fold(&format!(
        "{} {} {} {}",
        c.title, c.summary, c.category, c.audience
    ));
    let now = now();
    with_db!(db, |p| {
        let mut tx = p.begin().await?;
        let course_id: i64 = sqlx::query_scalar(
            "INSERT INTO courses (slug, title, summary, category, hours, modality, audience, description_html, cover,
                                  min_lessons_percent, search_text, content_hash, imported_at, min_attendance_percent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (slug) DO UPDATE SET title = excluded.title, summary = excluded.summary,
                category = excluded.category, hours = excluded.hours, modality = excluded.modality,
                audience = excluded.audience, description_html = excluded.description_html, cover = excluded.cover,
                min_lessons_percent = excluded.min_lessons_percent, search_text = excluded.search_text,
                content_hash = excluded.content_hash, imported_at = excluded.imported_at,
                min_attendance_percent = excluded.min_attendance_percent
             RETURNING id",
        )
        .bind(&c.slug)
        .bind(&c.title)
        .bind(&c.summary)
        .bind(&c.category)
        .bind(c.hours)
        .bind(&c.modality)
        .bind(&c.audience)
        .bind(&c.description_html)
        .bind(&c.cover)
        .bind(c.min_lessons_percent)
        .bind(&search_text)
        .bind(&c.content_hash)
        .bind(now)
        .bind(c.min_attendance_percent)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM competencies WHERE course_id = $1")
            .bind(course_id)
            .execute(&mut *tx)
            .await?;
        for (i, (code, name)) in c.competencies.iter().enumerate() {
            sqlx::query("INSERT INTO competencies (course_id, code, name, position) VALUES ($1, $2, $3, $4)")
                .bind(course_id)
                .bind(code)
                .bind(name)
                .bind(i as i64)
                .execute(&mut *tx)
                .await?;
        }
        // Retire everything, then revive (or create) the lessons present in the files: a
        // lesson's row and id survive edits and reordering, so progress stays attached.
        sqlx::query("UPDATE lessons SET retired = TRUE WHERE course_id = $1")
            .bind(course_id)
            .execute(&mut *tx)
            .await?;
        for l in &c.lessons {
            sqlx::query(
                "INSERT INTO lessons (course_id, key, title, position, minutes, body_html, video, retired)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE)
                 ON CONFLICT (course_id, key) DO UPDATE SET title = excluded.title, position = excluded.position,
                    minutes = excluded.minutes, body_html = excluded.body_html, video = excluded.video, retired = FALSE",
            )
            .bind(course_id)
            .bind(&l.key)
            .bind(&l.title)
            .bind(l.order)
            .bind(l.minutes)
            .bind(&l.body_html)
            .bind(&l.video)
            .execute(&mut *tx)
            .await?;
        }
        crate::assessment::store::store_assessments!(tx, course_id, c.assessments);
        tx.commit().await
    })
}
