//! Course folders as a whole: `courses/<slug>/` holds `course.toml` and lessons (the
//! catalogue's part) and question banks and quizzes (the assessment's part). This module reads
//! both, ties the completion rules to the quizzes, and stores a course in one transaction.
//!
//! Every error is reported with file and line, and a course with any error is not imported
//! at all. Re-importing an unchanged course changes nothing (its content hash is equal); a
//! changed course keeps learners' progress (lessons, questions and quizzes keep their rows).

use std::{
    collections::{HashMap, HashSet},
    fmt,
    path::{Path, PathBuf},
};

use axum::{
    Router,
    extract::{FromRef, State},
    response::Response,
    routing::post,
};
use sha2::{Digest, Sha256};

use crate::{
    assessment::{self, files::CourseAssessments},
    catalog::{
        import::{self as catalog_import, CourseFile, RENDER_VERSION},
        markdown,
    },
    db::Db,
    media::{self, Media, MediaRef, publish_file},
    web::{
        auth::Admin,
        error::{AppError, AppResult},
        notice::redirect_with_notice,
        source::ImportError,
        state::AppState,
    },
};

/// A validated course folder, ready to store.
#[derive(Clone, Debug)]
pub struct CourseFolder {
    pub course: CourseFile,
    pub assessments: CourseAssessments,
    /// SHA-256 of everything read (and of the rendering version), hex.
    pub content_hash: String,
}

/// The result of reading a folder of courses.
#[derive(Debug, Default)]
pub struct Parsed {
    pub courses: Vec<CourseFolder>,
    pub errors: Vec<ImportError>,
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
        match load_folder(&folder, media_dir) {
            Ok(c) => {
                if slugs.insert(c.course.slug.clone()) {
                    parsed.courses.push(c);
                } else {
                    parsed.errors.push(ImportError {
                        file: folder.join("course.toml"),
                        line: None,
                        message: format!(
                            "el slug «{}» está repetido en otra carpeta",
                            c.course.slug
                        ),
                    });
                }
            }
            Err(mut errs) => parsed.errors.append(&mut errs),
        }
    }
    parsed
}

/// Reads and validates one course folder; any error rejects the whole course.
pub fn load_folder(folder: &Path, media_dir: &Path) -> Result<CourseFolder, Vec<ImportError>> {
    let mut errors = Vec::new();
    let mut hasher = Sha256::new();
    hasher.update(RENDER_VERSION);
    let course = catalog_import::load_course(folder, media_dir, &mut hasher, &mut errors);
    let Some(course) = course else {
        return Err(errors);
    };
    let mut assessments = assessment::files::load(folder, &mut errors, &mut hasher);
    let toml_path = folder.join("course.toml");
    let mut ruled = HashSet::new();
    for rule in &course.quiz_rules {
        let mut err = |line, message| {
            errors.push(ImportError {
                file: toml_path.clone(),
                line,
                message,
            })
        };
        match assessments.quizzes.iter_mut().find(|q| q.key == rule.quiz) {
            Some(quiz) => {
                let percent = rule.min_percent.unwrap_or(quiz.passing_percent);
                if !(0..=100).contains(&percent) {
                    err(
                        rule.min_percent_line,
                        "«min_percent» debe estar entre 0 y 100".into(),
                    );
                } else if !ruled.insert(rule.quiz.clone()) {
                    err(
                        rule.line,
                        format!(
                            "la evaluación «{}» está dos veces en [completion]",
                            rule.quiz
                        ),
                    );
                }
                quiz.completion_percent = Some(percent);
            }
            None => err(
                rule.line,
                format!(
                    "la regla de aprobación nombra la evaluación «{}», que no existe en quizzes/",
                    rule.quiz
                ),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CourseFolder {
        course,
        assessments,
        content_hash: hex::encode(hasher.finalize()),
    })
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

/// Stores validated courses: unchanged ones are skipped, changed ones updated in place, each
/// in one transaction (course, lessons, banks and quizzes together or not at all). Their media
/// are published to the store first (once per content: an unchanged file is not uploaded
/// again), and lessons point at the published addresses.
pub async fn store(
    db: &Db,
    media: &Media,
    folders: &[CourseFolder],
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    for f in folders {
        let f = &publish_media(db, media, f).await?;
        let slug = f.course.slug.clone();
        match catalog_import::stored_hash(db, &slug).await? {
            Some(h) if h == f.content_hash => {
                report.unchanged.push(slug);
                continue;
            }
            Some(_) => report.updated.push(slug),
            None => report.created.push(slug),
        }
        let mut tx = db.begin().await?;
        let course_id = catalog_import::store_course(&mut tx, &f.course, &f.content_hash).await?;
        assessment::store::store(&mut tx, course_id, &f.assessments).await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// Publishes every media file the course references (cover, lesson videos, images and
/// download links) and returns the folder pointing at their addresses. The addresses join
/// the content hash, so a changed media file re-stores the course even if its text did not
/// change.
async fn publish_media(db: &Db, media: &Media, f: &CourseFolder) -> anyhow::Result<CourseFolder> {
    let c = &f.course;
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
    hasher.update(&f.content_hash);
    for rel in rels {
        if !catalog_import::media_exists(&c.media_root, &rel) {
            anyhow::bail!("{}: «{rel}» no existe en media/", c.slug);
        }
        let r = publish_file(db, media, &c.media_root.join(&rel))
            .await
            .map_err(|e| anyhow::anyhow!("{}: no se pudo publicar «{rel}»: {e}", c.slug))?;
        hasher.update(&rel);
        hasher.update(&r.key);
        published.insert(rel, r);
    }
    let mut out = f.clone();
    out.content_hash = hex::encode(hasher.finalize());
    let key_of = |rel: &Option<String>| {
        rel.as_ref().map(|r| {
            published
                .get(r)
                .map_or_else(|| r.clone(), |m| m.key.clone())
        })
    };
    out.course.cover = key_of(&c.cover);
    let resolve = |url: &str| {
        let m = published.get(url.strip_prefix("/media/")?)?;
        Some(markdown::MediaLink {
            url: m.url.clone(),
            cost: format!(
                "{} · {}",
                media::view::kind_label(&m.mime),
                media::view::format_size(m.size)
            ),
        })
    };
    for l in &mut out.course.lessons {
        l.video = key_of(&l.video);
        l.body_html = markdown::render_with_media(&l.body_md, &resolve);
    }
    Ok(out)
}

/// Where course folders and their media are read from.
#[derive(Clone, Debug)]
pub struct CourseFiles {
    pub courses_dir: PathBuf,
    pub media_dir: PathBuf,
}

/// Routes of this module: the administrator's re-import button.
pub fn routes(app: AppState, files: CourseFiles, media: Media) -> Router<AppState> {
    Router::new()
        .route("/admin/cursos/importar", post(import_courses))
        .with_state(ImportState { app, files, media })
}

#[derive(Clone)]
struct ImportState {
    app: AppState,
    files: CourseFiles,
    media: Media,
}

impl FromRef<ImportState> for Media {
    fn from_ref(s: &ImportState) -> Media {
        s.media.clone()
    }
}

impl FromRef<ImportState> for AppState {
    fn from_ref(s: &ImportState) -> AppState {
        s.app.clone()
    }
}

impl FromRef<ImportState> for CourseFiles {
    fn from_ref(s: &ImportState) -> CourseFiles {
        s.files.clone()
    }
}

/// `POST /admin/cursos/importar`: re-imports the course folders on demand.
async fn import_courses(
    State(state): State<AppState>,
    State(files): State<CourseFiles>,
    State(media): State<Media>,
    _a: Admin,
) -> AppResult<Response> {
    let parsed = load_dir(&files.courses_dir, &files.media_dir);
    let report = store(&state.db, &media, &parsed.courses).await?;
    if !parsed.errors.is_empty() {
        let list: Vec<String> = parsed
            .errors
            .iter()
            .take(5)
            .map(ToString::to_string)
            .collect();
        return Err(AppError::Conflict(format!(
            "{report}. Hay errores en los archivos: {}",
            list.join(" · ")
        )));
    }
    Ok(redirect_with_notice("/admin", &format!("Listo: {report}.")))
}
