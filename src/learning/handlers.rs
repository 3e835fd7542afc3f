//! The lesson page, marking lessons done, the instructor's roster and its CSV export.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, Uri},
    response::Response,
};

use crate::{
    accounts::{self, session},
    catalog::classes::TaughtClass,
    catalog::queries::{self as catalog, ClassInfo, OutlineLesson},
    learning::{
        LearningState,
        queries::{self, LessonView, RosterRow},
    },
    web::auth::{CurrentUser, User},
    web::{
        cookies::cookie,
        error::{AppError, AppResult},
        layout::{Ctx, Page, render},
        notice::redirect_with_notice,
        spreadsheet::csv_download,
        state::AppState,
    },
};

#[derive(Template)]
#[template(path = "learning/lesson.html")]
pub struct LessonPage {
    page: Page,
    lesson: LessonView,
    /// The lesson's video with its renditions and what each costs.
    video: Option<crate::media::view::VideoView>,
    media_js: &'static str,
    outline: Vec<OutlineLesson>,
    done: bool,
    prev: Option<OutlineLesson>,
    next: Option<OutlineLesson>,
    done_count: usize,
    percent: i64,
}

/// The lesson with its course and the learner's class, in one query; 404 for an unknown
/// lesson, 409 (saying what to do) when the learner is not enrolled.
async fn load(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    key: &str,
) -> AppResult<(LessonView, i64)> {
    let view = queries::lesson_view(&state.db, slug, key, user.person_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(class_id) = view.class_id else {
        return Err(AppError::Conflict(format!(
            "Para ver las lecciones de «{}» tenés que estar inscripto/a en una comisión. Inscribite desde la página del curso.",
            view.course_title
        )));
    };
    Ok((view, class_id))
}

/// `GET /cursos/{slug}/lecciones/{key}`: only for learners enrolled (confirmed) in a class.
///
/// One round trip on a plain view: the session, the course's content hash, the learner's
/// class and done lessons in one query ([`queries::lesson_visit`]); the lesson's text and the
/// outline come from the content cache (read again only when an import changed the hash), the
/// video's renditions from a cache of [`crate::media::view::VIDEO_TTL`]. "Last activity" is
/// written at most every [`queries::ACTIVITY_RESOLUTION`].
pub async fn lesson(
    State(state): State<LearningState>,
    ctx: Ctx,
    headers: HeaderMap,
    uri: Uri,
    Path((slug, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let token = cookie(&headers, session::COOKIE).filter(|t| !t.is_empty());
    let visit = match token {
        Some(t) => queries::lesson_visit(&state.db, t, &slug).await?,
        None => None,
    };
    let (Some(token), Some(visit)) = (token, visit) else {
        // No live session, or no such course: which one takes a second query (rare path).
        let user = match token {
            Some(t) => accounts::auth::load(&state.db, t).await?,
            None => None,
        };
        return Err(match user {
            None => AppError::LoginRequired(
                uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            ),
            Some(_) => AppError::NotFound,
        });
    };
    let user = visit.viewer.clone().into_user(token);
    let content = state
        .contents
        .get(&state.db, visit.course_id, &visit.content_hash)
        .await?
        .ok_or(AppError::NotFound)?;
    let l = content.lesson(&key).ok_or(AppError::NotFound)?;
    let Some(class_id) = visit.class_id else {
        return Err(AppError::Conflict(format!(
            "Para ver las lecciones de «{}» tenés que estar inscripto/a en una comisión. Inscribite desde la página del curso.",
            content.title
        )));
    };
    queries::touch_if_stale(&state.db, class_id, user.person_id, visit.last_activity_at).await?;
    let done_ids = visit.done();
    let outline: Vec<OutlineLesson> = content
        .lessons
        .iter()
        .map(|o| OutlineLesson {
            id: o.id,
            key: o.key.clone(),
            title: o.title.clone(),
            minutes: o.minutes,
            done: done_ids.contains(&o.id),
        })
        .collect();
    let video = match &l.video {
        Some(key) => state.videos.get(&state.db, key).await?,
        None => None,
    };
    let lesson = LessonView {
        id: l.id,
        key: l.key.clone(),
        title: l.title.clone(),
        minutes: l.minutes,
        body_html: l.body_html.clone(),
        video: l.video.clone(),
        course_id: content.id,
        course_slug: content.slug.clone(),
        course_title: content.title.clone(),
        class_id: Some(class_id),
        last_activity_at: visit.last_activity_at,
    };
    let idx = outline.iter().position(|o| o.id == lesson.id).unwrap_or(0);
    let prev = idx.checked_sub(1).and_then(|i| outline.get(i)).cloned();
    let next = outline.get(idx + 1).cloned();
    let done = outline.get(idx).is_some_and(|o| o.done);
    let done_count = outline.iter().filter(|o| o.done).count();
    let percent = catalog::lessons_percent(done_count as i64, outline.len() as i64);
    render(&LessonPage {
        page: ctx
            .with_nav(accounts::auth::nav_user(&user))
            .page(format!("{} — {}", lesson.title, lesson.course_title)),
        lesson,
        video,
        media_js: crate::web::assets::media_js_href(),
        outline,
        done,
        prev,
        next,
        done_count,
        percent,
    })
}

/// `POST /cursos/{slug}/lecciones/{key}/completar`: marks done, goes to the next lesson.
pub async fn complete(
    State(state): State<AppState>,
    User(user): User,
    Path((slug, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let (lesson, class_id) = load(&state, &user, &slug, &key).await?;
    queries::mark_done(&state.db, user.person_id, lesson.id).await?;
    queries::touch(&state.db, class_id, user.person_id).await?;
    let finished = state
        .progress
        .changed(&state.db, class_id, user.person_id)
        .await?;
    let outline = catalog::outline(&state.db, lesson.course_id, user.person_id).await?;
    let next = outline.iter().skip_while(|l| l.id != lesson.id).nth(1);
    if finished {
        return Ok(redirect_with_notice(
            &format!("/cursos/{slug}"),
            "¡Felicitaciones! Completaste el curso.",
        ));
    }
    Ok(match next {
        Some(n) => redirect_with_notice(
            &format!("/cursos/{slug}/lecciones/{}", n.key),
            "Lección marcada como hecha.",
        ),
        None => redirect_with_notice(&format!("/cursos/{slug}"), "Lección marcada como hecha."),
    })
}

#[derive(Template)]
#[template(path = "learning/roster.html")]
pub struct RosterPage {
    page: Page,
    class: ClassInfo,
    rows: Vec<RosterRow>,
}

/// `GET /comisiones/{id}/participantes`
pub async fn roster(
    State(state): State<AppState>,
    ctx: Ctx,
    TaughtClass(class): TaughtClass,
) -> AppResult<Response> {
    let rows = queries::roster(&state.db, class.id).await?;
    render(&RosterPage {
        page: ctx.page(format!("Participantes — {}", class.name)),
        class,
        rows,
    })
}

/// `GET /comisiones/{id}/participantes.csv`: UTF-8 with BOM so spreadsheets show accents.
pub async fn roster_csv(
    State(state): State<AppState>,
    TaughtClass(class): TaughtClass,
) -> AppResult<Response> {
    let rows = queries::roster(&state.db, class.id).await?;
    let header_row = [
        "DNI",
        "Apellido",
        "Nombre",
        "Estado",
        "Lecciones hechas",
        "Lecciones totales",
        "Avance %",
        "Última actividad",
    ]
    .map(String::from);
    csv_download(
        &format!("participantes-comision-{}.csv", class.id),
        &header_row,
        rows.iter().map(|r| {
            [
                r.dni.clone(),
                r.last_name.clone(),
                r.first_name.clone(),
                r.status_label().to_string(),
                r.lessons_done.to_string(),
                r.lessons_total.to_string(),
                r.percent().to_string(),
                r.last_activity_at
                    .as_ref()
                    .map(crate::web::time::local)
                    .unwrap_or_default(),
            ]
        }),
    )
}
