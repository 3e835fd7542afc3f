//! The learner's side: the quiz page, taking an attempt (page by page without JavaScript,
//! autosaved with it), submitting, and the result with its review.

use askama::Template;
use axum::{
    Form, Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::{
    attempts::{
        self, AnswerRow, AttemptRow, Closer, QuizRow, QuizView, Saved, StartError, Started,
    },
    draw::{parse_response, read_response},
    grading::Response as Answer,
    question::Question,
    view::{QuestionView, ReviewView, question_view, review},
};
use crate::{
    accounts::{self, session},
    assessment::QuizState,
    web::auth::{CurrentUser, User},
    web::{
        cookies::cookie,
        error::{AppError, AppResult},
        layout::{Ctx, Page, render},
        notice::redirect_with_notice,
        time::now,
    },
};

fn grace(state: &QuizState) -> Duration {
    state.quiz.grace
}

/// The quiz for a learner enrolled in a class of its course; 404 for unknown quizzes.
async fn learner_quiz(
    state: &QuizState,
    user: &CurrentUser,
    slug: &str,
    key: &str,
) -> AppResult<(QuizView, i64)> {
    let view = attempts::quiz_view(&state.db, slug, key, user.person_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(class_id) = view.class_id else {
        return Err(AppError::Conflict(format!(
            "Para hacer las evaluaciones de «{}» tenés que estar inscripto/a en una comisión. Inscribite desde la página del curso.",
            view.course_title
        )));
    };
    Ok((view, class_id))
}

/// An attempt line of the quiz page, with what the review rules let the learner see.
pub struct AttemptLine {
    pub attempt: AttemptRow,
    pub show_score: bool,
    pub show_review: bool,
}

#[derive(Template)]
#[template(path = "assessment/quiz.html")]
pub struct QuizPage {
    page: Page,
    view: QuizView,
    lines: Vec<AttemptLine>,
    open_attempt: Option<i64>,
    can_start: bool,
    why_not: Option<String>,
    grade: Option<String>,
}

/// `GET /cursos/{slug}/evaluaciones/{key}`
pub async fn quiz(
    State(state): State<QuizState>,
    ctx: Ctx,
    User(user): User,
    Path((slug, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let (view, class_id) = learner_quiz(&state, &user, &slug, &key).await?;
    let now = now();
    // Attempts in every class of the course: the allowance is per person and quiz.
    let mut list = attempts::attempts_of(&state.db, view.quiz.id, user.person_id).await?;
    // An attempt left past its deadline is closed before it is shown, so the page never
    // offers to resume what the server no longer accepts.
    let mut closed_any = false;
    for a in &list {
        if a.overdue(now, grace(&state)) {
            closed_any |=
                attempts::close(&state.db, &*state.progress, a.id, Closer::Deadline, now).await?;
        }
    }
    if closed_any {
        list = attempts::attempts_of(&state.db, view.quiz.id, user.person_id).await?;
    }
    let open_attempt = list
        .iter()
        .find(|a| a.in_progress() && a.class_id == class_id)
        .map(|a| a.id);
    let q = &view.quiz;
    let used = list.len() as i64;
    let why_not = if let Some(o) = q.opens_at.filter(|o| now < *o) {
        Some(format!(
            "La evaluación abre el {}.",
            crate::web::time::local(&o)
        ))
    } else if q.closes_at.is_some_and(|c| c <= now) {
        Some("La evaluación ya cerró.".to_string())
    } else if q.attempts_allowed > 0 && used >= q.attempts_allowed {
        Some(format!(
            "Ya usaste todos los intentos permitidos ({}).",
            q.attempts_allowed
        ))
    } else {
        None
    };
    let can_start = open_attempt.is_none() && why_not.is_none();
    let grade = quiz_grade_label(&state, q, class_id, user.person_id, &list, now).await?;
    let lines = list
        .into_iter()
        .map(|a| AttemptLine {
            show_score: q.score_visible(a.finished(), now),
            show_review: q.answers_visible(a.finished(), now),
            attempt: a,
        })
        .collect();
    render(&QuizPage {
        page: ctx.page(format!("{} — {}", view.quiz.title, view.course_title)),
        view,
        lines,
        open_attempt,
        can_start,
        why_not,
        grade,
    })
}

/// "Calificación: 80 % — aprobada", when the scores may be seen.
async fn quiz_grade_label(
    state: &QuizState,
    q: &QuizRow,
    class_id: i64,
    person_id: i64,
    list: &[AttemptRow],
    now: DateTime<Utc>,
) -> AppResult<Option<String>> {
    if !list.iter().any(|a| q.score_visible(a.finished(), now)) {
        return Ok(None);
    }
    let grade: Option<(f64, bool)> = crate::with_db!(&state.db, |p| {
        sqlx::query_as(
        "SELECT percent, passed FROM quiz_grades WHERE quiz_id = $1 AND class_id = $2 AND person_id = $3"
    )
    .bind(q.id)
    .bind(class_id)
    .bind(person_id)
    .fetch_optional(p)
    .await
    })?;
    Ok(grade.map(|(percent, passed)| {
        format!(
            "{} — {}",
            attempts::fmt_percent(percent),
            if passed { "aprobada" } else { "no aprobada" }
        )
    }))
}

/// `POST /cursos/{slug}/evaluaciones/{key}/comenzar`: starts or resumes the attempt.
pub async fn start(
    State(state): State<QuizState>,
    User(user): User,
    Path((slug, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let (view, class_id) = learner_quiz(&state, &user, &slug, &key).await?;
    match attempts::start(
        &state.db,
        &*state.progress,
        &view,
        &state.banks,
        class_id,
        user.person_id,
        now(),
        grace(&state),
    )
    .await
    {
        Ok(Started::New(id)) => Ok(redirect_with_notice(
            &format!("/intentos/{id}"),
            "Comenzó tu intento. Cada respuesta se guarda al avanzar.",
        )),
        Ok(Started::Resumed(id)) => Ok(redirect_with_notice(
            &format!("/intentos/{id}"),
            "Seguís con tu intento en curso, con todas tus respuestas guardadas.",
        )),
        Err(StartError::Db(e)) => Err(e.into()),
        Err(e) => Ok(redirect_with_notice(
            &format!("/cursos/{slug}/evaluaciones/{key}"),
            &e.to_string(),
        )),
    }
}

/// The learner's own attempt (without its quiz); anyone else's is 404.
async fn own_attempt_row(state: &QuizState, user: &CurrentUser, id: i64) -> AppResult<AttemptRow> {
    attempts::attempt_row(&state.db, id, Some(user.person_id))
        .await?
        .ok_or(AppError::NotFound)
}

/// The learner's own attempt with its quiz and course slug; anyone else's is 404.
async fn own_attempt(
    state: &QuizState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(AttemptRow, QuizRow, String)> {
    attempts::attempt_of(&state.db, id, Some(user.person_id))
        .await?
        .ok_or(AppError::NotFound)
}

/// Closes the attempt if it is past its deadline; returns whether it is (now) finished.
async fn settle(state: &QuizState, a: &AttemptRow) -> AppResult<bool> {
    let now = now();
    if a.overdue(now, grace(state)) {
        attempts::close(&state.db, &*state.progress, a.id, Closer::Deadline, now).await?;
        return Ok(true);
    }
    Ok(a.finished())
}

fn result_url(id: i64) -> String {
    format!("/intentos/{id}/resultado")
}

const TIME_UP: &str =
    "Se terminó el tiempo: tu intento se entregó con las respuestas guardadas hasta el final.";

const NOT_ENROLLED: &str = "Ya no estás inscripto/a en la comisión de esta evaluación: no se guardó ni se entregó nada. \
     Si te diste de baja por error, volvé a inscribirte desde la página del curso.";

/// Where a learner who withdrew from the attempt's class is sent, and what they are told.
fn not_enrolled() -> Response {
    redirect_with_notice("/mi-aula", NOT_ENROLLED)
}

/// How a learner's own submit closes an attempt (the grace decides whether time closed it).
fn by_learner(state: &QuizState) -> Closer {
    Closer::Learner {
        grace: grace(state),
    }
}

/// What to tell a learner who acts on an attempt that is already closed.
fn already_closed(a: &AttemptRow) -> &'static str {
    if a.closed_by.as_deref() == Some("deadline") {
        TIME_UP
    } else {
        "Este intento ya estaba entregado; no se cambió nada."
    }
}

#[derive(Template)]
#[template(path = "assessment/attempt.html")]
pub struct AttemptPage {
    page: Page,
    attempt: AttemptRow,
    quiz: QuizRow,
    slug: String,
    questions: Vec<QuestionView>,
    page_no: i64,
    pages: i64,
    remaining: Option<i64>,
}

impl AttemptPage {
    pub fn quiz_js(&self) -> &'static str {
        crate::web::assets::quiz_js_href()
    }
    pub fn remaining_label(&self) -> String {
        self.remaining
            .map(|s| format!("{}:{:02}", s / 60, s % 60))
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    pagina: Option<i64>,
}

/// How many pages an attempt has.
async fn page_count(state: &QuizState, id: i64) -> AppResult<i64> {
    let n: Option<i64> = crate::with_db!(&state.db, |p| sqlx::query_scalar(
        "SELECT MAX(page) FROM attempt_answers WHERE attempt_id = $1"
    )
    .bind(id)
    .fetch_one(p)
    .await)?;
    Ok(n.unwrap_or(0) + 1)
}

fn parse_question(row: &AnswerRow) -> AppResult<Question> {
    row.question()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("pregunta ilegible: {e}")))
}

/// `GET /intentos/{id}?pagina=N`: one page of questions with the saved answers.
pub async fn attempt(
    State(state): State<QuizState>,
    ctx: Ctx,
    User(user): User,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let (attempt, quiz, slug) = own_attempt(&state, &user, id).await?;
    if settle(&state, &attempt).await? {
        return Ok(if attempt.finished() {
            axum::response::Redirect::to(&result_url(id)).into_response()
        } else {
            redirect_with_notice(&result_url(id), TIME_UP)
        });
    }
    let pages = page_count(&state, id).await?;
    let page_no = q.pagina.unwrap_or(1).clamp(1, pages);
    let rows = attempts::answers(&state.db, id, Some(page_no - 1)).await?;
    let mut questions = Vec::with_capacity(rows.len());
    for row in &rows {
        questions.push(question_view(row, &parse_question(row)?));
    }
    render(&AttemptPage {
        page: ctx.page(format!(
            "{} — pregunta(s) de la página {page_no}",
            quiz.title
        )),
        remaining: attempt.remaining(now()),
        attempt,
        quiz,
        slug,
        questions,
        page_no,
        pages,
    })
}

/// Saves the answers of the page the form came from. When the form names `slot`s (the
/// autosave names the questions the learner changed), only those are saved: a page left open
/// on another phone must not write its stale answers over the ones given since.
async fn save_page(
    state: &QuizState,
    user: &CurrentUser,
    attempt: &AttemptRow,
    fields: &[(String, String)],
) -> AppResult<Saved> {
    let page = fields
        .iter()
        .find(|(k, _)| k == "pagina")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .unwrap_or(1)
        - 1;
    let only: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "slot")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let rows = attempts::answers(&state.db, attempt.id, Some(page)).await?;
    let mut responses = Vec::with_capacity(rows.len());
    for row in rows
        .iter()
        .filter(|r| only.is_empty() || only.contains(&r.slot))
    {
        let question = parse_question(row)?;
        responses.push((
            row.slot,
            parse_response(&question.kind, &row.order(), row.slot, fields),
        ));
    }
    Ok(attempts::save(
        &state.db,
        attempt.id,
        user.person_id,
        &responses,
        now(),
        grace(state),
    )
    .await?)
}

/// `POST /intentos/{id}`: saves the page, then goes where the learner asked (`ir`): another
/// page, the summary, or submitting.
pub async fn answer(
    State(state): State<QuizState>,
    User(user): User,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let attempt = own_attempt_row(&state, &user, id).await?;
    if attempt.finished() {
        return Ok(redirect_with_notice(
            &result_url(id),
            already_closed(&attempt),
        ));
    }
    match save_page(&state, &user, &attempt, &fields).await? {
        Saved::At(..) => {}
        Saved::NotEnrolled => return Ok(not_enrolled()),
        Saved::Closed => {
            // Past the deadline, or closed meanwhile (another tab submitted): say which.
            settle(&state, &attempt).await?;
            let now_closed = own_attempt_row(&state, &user, id).await?;
            return Ok(redirect_with_notice(
                &result_url(id),
                already_closed(&now_closed),
            ));
        }
    }
    let go = fields
        .iter()
        .find(|(k, _)| k == "ir")
        .map(|(_, v)| v.as_str())
        .unwrap_or("resumen");
    Ok(match go {
        "entregar" => {
            attempts::close(&state.db, &*state.progress, id, by_learner(&state), now()).await?;
            let closed = own_attempt_row(&state, &user, id).await?;
            redirect_with_notice(
                &result_url(id),
                if closed.closed_by.as_deref() == Some("deadline") {
                    TIME_UP
                } else {
                    "Entregaste la evaluación."
                },
            )
        }
        "resumen" => {
            redirect_with_notice(&format!("/intentos/{id}/resumen"), "Respuestas guardadas.")
        }
        n => match n.parse::<i64>() {
            Ok(page) => redirect_with_notice(
                &format!("/intentos/{id}?pagina={page}"),
                "Respuestas guardadas.",
            ),
            Err(_) => {
                redirect_with_notice(&format!("/intentos/{id}/resumen"), "Respuestas guardadas.")
            }
        },
    })
}

/// `POST /intentos/{id}/guardar`: the background autosave of the attempt page (same fields
/// as the form). Answers JSON: `{"guardado": "14:03:12", "restante": 512}` or, when nothing
/// could be saved, a 409 with `{"error": "...", "ir": "/intentos/7/resultado"}`.
///
/// The hot path of an exam: no session lookup of its own (this route is outside the session
/// middleware), the attempt's question shapes from memory, and one write that checks the
/// session, the owner, the deadline and the enrolment ([`attempts::autosave`]). Only when
/// nothing was saved does it look at why.
pub async fn autosave(
    State(state): State<QuizState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let token = cookie(&headers, session::COOKIE).unwrap_or_default();
    let frozen = state.frozen.slots(&state.db, id).await?;
    let page = fields
        .iter()
        .find(|(k, _)| k == "pagina")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .unwrap_or(1)
        - 1;
    let only: Vec<i64> = fields
        .iter()
        .filter(|(k, _)| k == "slot")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let responses: Vec<(i64, Option<Answer>)> = frozen
        .iter()
        .filter(|s| s.page == page && (only.is_empty() || only.contains(&s.slot)))
        .map(|s| (s.slot, read_response(s.shape, &s.order, s.slot, &fields)))
        .collect();
    let saved = if token.is_empty() || frozen.is_empty() {
        None
    } else {
        attempts::autosave(
            &state.db,
            id,
            &session::token_hash(token),
            &responses,
            now(),
            grace(&state),
        )
        .await?
    };
    let outcome = match saved {
        Some(s) => s,
        // Nothing saved: find out why, the slow way (who asks, whose attempt, what state).
        None => {
            let user = match accounts::auth::load(&state.db, token).await? {
                Some(u) if !token.is_empty() => u,
                _ => return Err(AppError::LoginRequired(uri.path().to_string())),
            };
            let attempt = own_attempt_row(&state, &user, id).await?;
            if attempt.finished() {
                Saved::Closed
            } else {
                save_page(&state, &user, &attempt, &fields).await?
            }
        }
    };
    let closed = || {
        (
            StatusCode::CONFLICT,
            Json(serde_json::json!({
                "error": "El intento ya está cerrado: no se guardó este cambio.",
                "ir": result_url(id),
            })),
        )
            .into_response()
    };
    match outcome {
        Saved::At(at, deadline) => Ok(Json(serde_json::json!({
            "guardado": at
                .with_timezone(&chrono_tz::America::Argentina::Tucuman)
                .format("%H:%M:%S")
                .to_string(),
            "restante": deadline.map(|d| (d - at).num_seconds().max(0)),
        }))
        .into_response()),
        Saved::Closed => {
            if let Some(user) = accounts::auth::load(&state.db, token).await?
                && let Ok(attempt) = own_attempt_row(&state, &user, id).await
            {
                settle(&state, &attempt).await?;
            }
            Ok(closed())
        }
        Saved::NotEnrolled => Ok((
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": NOT_ENROLLED, "ir": "/mi-aula" })),
        )
            .into_response()),
    }
}

#[derive(Template)]
#[template(path = "assessment/summary.html")]
pub struct SummaryPage {
    page: Page,
    attempt: AttemptRow,
    quiz: QuizRow,
    questions: Vec<QuestionView>,
    per_page: i64,
    remaining: Option<i64>,
}

impl SummaryPage {
    pub fn unanswered(&self) -> usize {
        self.questions.iter().filter(|q| !q.answered).count()
    }
    pub fn page_of(&self, q: &QuestionView) -> i64 {
        q.slot / self.per_page.max(1) + 1
    }
}

/// `GET /intentos/{id}/resumen`: which questions have an answer, and the button to submit.
pub async fn summary(
    State(state): State<QuizState>,
    ctx: Ctx,
    User(user): User,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (attempt, quiz, _) = own_attempt(&state, &user, id).await?;
    if settle(&state, &attempt).await? {
        return Ok(axum::response::Redirect::to(&result_url(id)).into_response());
    }
    let rows = attempts::answers(&state.db, id, None).await?;
    let mut questions = Vec::with_capacity(rows.len());
    for row in &rows {
        questions.push(question_view(row, &parse_question(row)?));
    }
    render(&SummaryPage {
        page: ctx.page(format!("Resumen — {}", quiz.title)),
        per_page: quiz.per_page,
        remaining: attempt.remaining(now()),
        attempt,
        quiz,
        questions,
    })
}

/// `POST /intentos/{id}/entregar`: closes and grades. Submitting twice is harmless.
pub async fn submit(
    State(state): State<QuizState>,
    User(user): User,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let attempt = own_attempt_row(&state, &user, id).await?;
    let closed =
        attempts::close(&state.db, &*state.progress, id, by_learner(&state), now()).await?;
    let after = own_attempt_row(&state, &user, id).await?;
    if !closed && after.in_progress() {
        return Ok(not_enrolled());
    }
    let message = if closed {
        if after.closed_by.as_deref() == Some("deadline") {
            TIME_UP
        } else {
            "Entregaste la evaluación."
        }
    } else {
        already_closed(&attempt)
    };
    Ok(redirect_with_notice(&result_url(id), message))
}

#[derive(Template)]
#[template(path = "assessment/result.html")]
pub struct ResultPage {
    page: Page,
    attempt: AttemptRow,
    quiz: QuizRow,
    slug: String,
    show_score: bool,
    passed: bool,
    review: Vec<ReviewView>,
}

/// `GET /intentos/{id}/resultado`: the result and, when the quiz allows it, the review.
pub async fn result(
    State(state): State<QuizState>,
    ctx: Ctx,
    User(user): User,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (mut attempt, quiz, slug) = own_attempt(&state, &user, id).await?;
    if attempt.in_progress() {
        if !settle(&state, &attempt).await? {
            return Ok(
                axum::response::Redirect::to(&format!("/intentos/{id}/resumen")).into_response(),
            );
        }
        attempt = own_attempt_row(&state, &user, id).await?;
    }
    let now = now();
    let show_score = quiz.score_visible(true, now) && attempt.state == "graded";
    let mut review_list = Vec::new();
    if quiz.answers_visible(true, now) {
        for row in attempts::answers(&state.db, id, None).await? {
            review_list.push(review(&row, &parse_question(&row)?));
        }
    }
    let passed = attempt
        .percent
        .is_some_and(|p| p + 1e-9 >= quiz.passing_percent as f64);
    render(&ResultPage {
        page: ctx.page(format!("Resultado — {}", quiz.title)),
        attempt,
        quiz,
        slug,
        show_score,
        passed,
        review: review_list,
    })
}
