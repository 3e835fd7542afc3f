//! The catalogue's part of a course folder: `course.toml` and the lessons (`lessons/*.md`),
//! parsed and validated, then stored inside the import's transaction. The folder as a whole
//! (with its banks and quizzes) is read and stored by the `courses` module.
//!
//! Every error is reported with file and line. A changed course keeps learners' progress
//! because lessons are matched by their stable `id`, never by position.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    catalog::markdown,
    db::{Db, Tx},
    web::{
        source::{ImportError, line_of_key, line_of_offset, valid_slug},
        text::fold,
        time::now,
    },
    with_db, with_tx,
};

/// Bump when rendering changes, so stored HTML is regenerated on the next import.
/// 3: media referenced by their published (content) addresses.
pub const RENDER_VERSION: &str = "3";

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
    /// `[completion] quizzes`: resolved against the folder's quizzes by the `courses` module.
    pub quiz_rules: Vec<QuizRule>,
    /// The media folder the course's references were checked against (`media/`).
    pub media_root: PathBuf,
}

/// A quiz that must be passed to complete the course, as `course.toml` names it.
#[derive(Clone, Debug)]
pub struct QuizRule {
    pub quiz: String,
    pub min_percent: Option<i64>,
    /// Where the rule and its percentage are written, for errors.
    pub line: Option<usize>,
    pub min_percent_line: Option<usize>,
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

/// Reads and validates `course.toml` and the lessons of one course folder, adding what it
/// read to `hasher` and every problem to `errors`; `None` when nothing usable was read.
pub fn load_course(
    folder: &Path,
    media_dir: &Path,
    hasher: &mut Sha256,
    errors: &mut Vec<ImportError>,
) -> Option<CourseFile> {
    let toml_path = folder.join("course.toml");
    let errors_before = errors.len();
    let text = match std::fs::read_to_string(&toml_path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ImportError {
                file: toml_path,
                line: None,
                message: format!("no se pudo leer: {e}"),
            });
            return None;
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
            errors.push(ImportError {
                file: toml_path.clone(),
                line: e.span().map(|s| line_of_offset(&text, s.start)),
                message: format!("TOML inválido: {}", e.message()),
            });
            return None;
        }
    };
    let folder_name = folder.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !valid_slug(&course.slug) {
        err(
            errors,
            "slug",
            "slug inválido: usá minúsculas sin acentos, números y guiones".into(),
        );
    } else if course.slug != folder_name {
        err(
            errors,
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
            err(errors, key, format!("«{key}» no puede estar vacío"));
        } else if n > max {
            err(
                errors,
                key,
                format!("«{key}» tiene {n} caracteres; el máximo es {max}"),
            );
        }
    }
    if !(1..=1000).contains(&course.hours) {
        err(errors, "hours", "«hours» debe estar entre 1 y 1000".into());
    }
    if !["virtual", "presencial", "semipresencial"].contains(&course.modality.as_str()) {
        err(
            errors,
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
            errors,
            "min_attendance_percent",
            "«min_attendance_percent» debe estar entre 1 y 100".into(),
        );
    }
    if !(1..=100).contains(&course.completion.min_lessons_percent) {
        err(
            errors,
            "min_lessons_percent",
            "«min_lessons_percent» debe estar entre 1 y 100".into(),
        );
    }
    if let Some(cover) = &course.cover
        && !media_exists(media_dir, cover)
    {
        err(
            errors,
            "cover",
            format!("la imagen de portada «{cover}» no existe en media/"),
        );
    }
    if course.competencies.is_empty() {
        err(
            errors,
            "completion",
            "el curso necesita al menos una competencia ([[competencies]] con code y name)".into(),
        );
    }
    let mut codes = HashSet::new();
    for c in &course.competencies {
        if c.code.trim().is_empty() || c.name.trim().is_empty() {
            err(
                errors,
                "code",
                "cada competencia necesita «code» y «name»".into(),
            );
        } else if !codes.insert(c.code.clone()) {
            err(
                errors,
                "code",
                format!("el código de competencia «{}» está repetido", c.code),
            );
        }
    }
    let lessons = load_lessons(folder, media_dir, errors, hasher);
    let quiz_rules = course
        .completion
        .quizzes
        .iter()
        .map(|r| QuizRule {
            quiz: r.quiz.clone(),
            min_percent: r.min_percent,
            line: line_of_key(&text, "quiz"),
            min_percent_line: line_of_key(&text, "min_percent"),
        })
        .collect();
    if lessons.is_empty() && errors.len() == errors_before {
        errors.push(ImportError {
            file: folder.join("lessons"),
            line: None,
            message: "el curso no tiene lecciones (lessons/*.md)".into(),
        });
    }
    Some(CourseFile {
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
        quiz_rules,
        media_root: media_dir.to_path_buf(),
    })
}

pub fn media_exists(media_dir: &Path, rel: &str) -> bool {
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

/// The content hash of the stored course with this slug (equal hash: nothing to import).
pub async fn stored_hash(db: &Db, slug: &str) -> Result<Option<String>, sqlx::Error> {
    with_db!(db, |p| sqlx::query_scalar(
        "SELECT content_hash FROM courses WHERE slug = $1"
    )
    .bind(slug)
    .fetch_optional(p)
    .await)
}

/// Stores (creates or updates in place) the course, its competencies and lessons in the
/// import's transaction; returns the course id.
pub async fn store_course(
    tx: &mut Tx,
    course: &CourseFile,
    content_hash: &str,
) -> Result<i64, sqlx::Error> {
    let search_text = fold(&format!(
        "{} {} {} {}",
        course.title, course.summary, course.category, course.audience
    ));
    let now = now();
    with_tx!(tx, |c| {
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
        .bind(&course.slug)
        .bind(&course.title)
        .bind(&course.summary)
        .bind(&course.category)
        .bind(course.hours)
        .bind(&course.modality)
        .bind(&course.audience)
        .bind(&course.description_html)
        .bind(&course.cover)
        .bind(course.min_lessons_percent)
        .bind(&search_text)
        .bind(content_hash)
        .bind(now)
        .bind(course.min_attendance_percent)
        .fetch_one(&mut *c)
        .await?;
        sqlx::query("DELETE FROM competencies WHERE course_id = $1")
            .bind(course_id)
            .execute(&mut *c)
            .await?;
        for (i, (code, name)) in course.competencies.iter().enumerate() {
            sqlx::query("INSERT INTO competencies (course_id, code, name, position) VALUES ($1, $2, $3, $4)")
                .bind(course_id)
                .bind(code)
                .bind(name)
                .bind(i as i64)
                .execute(&mut *c)
                .await?;
        }
        // Retire everything, then revive (or create) the lessons present in the files: a
        // lesson's row and id survive edits and reordering, so progress stays attached.
        sqlx::query("UPDATE lessons SET retired = TRUE WHERE course_id = $1")
            .bind(course_id)
            .execute(&mut *c)
            .await?;
        for l in &course.lessons {
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
            .execute(&mut *c)
            .await?;
        }
        Ok(course_id)
    })
}
