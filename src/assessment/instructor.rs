//! The instructor's side: gradebook (page and CSV), essay grading queue, item statistics.
//! Only the class's instructors and admins; anyone else gets 404.

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    attempts::{self, QuizRow, fmt_number},
    files::ReviewWhen,
    results::{self, Analysed, Cell, ItemStats, Learner, QueueItem},
};
use crate::{
    catalog::classes::TaughtClass,
    catalog::queries::ClassInfo,
    web::auth::User,
    web::{
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render},
        notice::redirect_with_notice,
        spreadsheet::csv_download,
        state::AppState,
        time::now,
    },
};

#[derive(Deserialize)]
pub struct GradebookQuery {
    /// Only learners without any attempt at this quiz.
    sin_intentos: Option<i64>,
}

#[derive(Template)]
#[template(path = "assessment/gradebook.html")]
pub struct GradebookPage {
    page: Page,
    class: ClassInfo,
    quizzes: Vec<QuizRow>,
    rows: Vec<(Learner, Vec<Cell>)>,
    filter: Option<i64>,
    pending: usize,
}

/// `GET /comisiones/{id}/calificaciones[?sin_intentos=<quiz>]`
pub async fn gradebook(
    State(state): State<AppState>,
    ctx: Ctx,
    TaughtClass(class): TaughtClass,
    Query(q): Query<GradebookQuery>,
) -> AppResult<Response> {
    let mut book = results::gradebook(&state.db, class.id, class.course_id).await?;
    if let Some(quiz_id) = q.sin_intentos
        && let Some(i) = book.quizzes.iter().position(|z| z.id == quiz_id)
    {
        book.rows.retain(|(_, cells)| cells[i].attempts == 0);
    }
    let pending = results::queue(&state.db, class.id).await?.len();
    render(&GradebookPage {
        page: ctx.page(format!("Calificaciones — {}", class.name)),
        class,
        quizzes: book.quizzes,
        rows: book.rows,
        filter: q.sin_intentos,
        pending,
    })
}

/// `GET /comisiones/{id}/calificaciones.csv`: UTF-8 with BOM and `;`-free commas, one row per
/// learner, per quiz its grade, attempts and status.
pub async fn gradebook_csv(
    State(state): State<AppState>,
    TaughtClass(class): TaughtClass,
) -> AppResult<Response> {
    let book = results::gradebook(&state.db, class.id, class.course_id).await?;
    let mut header_row = vec![
        "DNI".to_string(),
        "Apellido".to_string(),
        "Nombre".to_string(),
    ];
    for q in &book.quizzes {
        header_row.push(format!("{} — calificación %", q.title));
        header_row.push(format!("{} — intentos", q.title));
        header_row.push(format!("{} — estado", q.title));
    }
    csv_download(
        &format!("calificaciones-comision-{}.csv", class.id),
        &header_row,
        book.rows.iter().map(|(l, cells)| {
            let mut rec = vec![l.dni.clone(), l.last_name.clone(), l.first_name.clone()];
            for c in cells {
                // A plain number with a decimal comma, as Spanish-locale spreadsheets read it.
                rec.push(c.grade.map(fmt_number).unwrap_or_default());
                rec.push(c.attempts.to_string());
                rec.push(c.status().to_string());
            }
            rec
        }),
    )
}

#[derive(Template)]
#[template(path = "assessment/queue.html")]
pub struct QueuePage {
    page: Page,
    class: ClassInfo,
    items: Vec<QueueItem>,
    errors: FieldErrors,
    /// The essay the errors belong to, and what was typed, to show them at that form.
    error_at: Option<(i64, i64)>,
    entered: (String, String),
}

impl QueuePage {
    pub fn has_error(&self, item: &QueueItem) -> bool {
        self.error_at == Some((item.attempt_id, item.slot))
    }
}

/// `GET /comisiones/{id}/corregir`: essays waiting for a grade, oldest first.
pub async fn queue(
    State(state): State<AppState>,
    ctx: Ctx,
    TaughtClass(class): TaughtClass,
) -> AppResult<Response> {
    let items = results::queue(&state.db, class.id).await?;
    render(&QueuePage {
        page: ctx.page(format!("Para corregir — {}", class.name)),
        class,
        items,
        errors: FieldErrors::default(),
        error_at: None,
        entered: Default::default(),
    })
}

#[derive(Deserialize)]
pub struct GradeForm {
    puntos: String,
    #[serde(default)]
    comentario: String,
    /// `intento`: the form is on the attempt's review page (a regrade); else the queue.
    #[serde(default)]
    volver: String,
}

/// `POST /comisiones/{id}/corregir/{attempt}/{slot}`: grades one essay.
pub async fn grade(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
    TaughtClass(class): TaughtClass,
    Path((class_id, attempt_id, slot)): Path<(i64, i64, i64)>,
    Form(form): Form<GradeForm>,
) -> AppResult<Response> {
    let from_review = form.volver == "intento";
    let back = if from_review {
        format!("/comisiones/{class_id}/intentos/{attempt_id}")
    } else {
        format!("/comisiones/{class_id}/corregir")
    };
    let Some(max) = results::essay_max_points(&state.db, class_id, attempt_id, slot).await? else {
        return Ok(redirect_with_notice(
            &back,
            "Esa respuesta no existe o no se corrige a mano; no se cambió nada.",
        ));
    };
    let points = super::grading::parse_number(&form.puntos);
    let field = "puntos";
    let mut errors = FieldErrors::default();
    match points {
        Some(p) if (0.0..=max + 1e-9).contains(&p) => {}
        _ => errors.add(
            field,
            format!(
                "Escribí un puntaje entre 0 y {} (podés usar coma decimal).",
                fmt_number(max)
            ),
        ),
    }
    if form.comentario.chars().count() > 5000 {
        errors.add(
            "comentario",
            "El comentario es muy largo: hasta 5000 caracteres.".to_string(),
        );
    } else if crate::web::text::has_control_beyond_lines(&form.comentario) {
        errors.add(
            "comentario",
            "El comentario tiene símbolos de control que no se pueden guardar: borralos."
                .to_string(),
        );
    }
    if !errors.is_empty() {
        let entered = (form.puntos.clone(), form.comentario.clone());
        let page = if from_review {
            let mut page = review_page(&state, &ctx, class, attempt_id).await?;
            page.errors = errors;
            page.error_slot = Some(slot);
            page.entered = entered;
            render(&page)
        } else {
            render(&QueuePage {
                page: ctx.page(format!("Para corregir — {}", class.name)),
                items: results::queue(&state.db, class_id).await?,
                class,
                errors,
                error_at: Some((attempt_id, slot)),
                entered,
            })
        };
        return page.map(|r| (axum::http::StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
    }
    let fraction = points.unwrap_or(0.0) / max;
    attempts::grade_manual(
        &state.db,
        &*state.progress,
        class_id,
        attempt_id,
        slot,
        fraction,
        form.comentario.trim(),
        user.user_id,
        now(),
    )
    .await?;
    Ok(redirect_with_notice(&back, "Corrección guardada."))
}

#[derive(Template)]
#[template(path = "assessment/statistics.html")]
pub struct StatisticsPage {
    page: Page,
    class: ClassInfo,
    quiz: QuizRow,
    attempts: usize,
    items: Vec<ItemStats>,
    analysed: Analysed,
}

#[derive(Deserialize)]
pub struct StatisticsQuery {
    #[serde(default)]
    intentos: Option<String>,
}

/// `GET /comisiones/{id}/evaluaciones/{quiz}/estadisticas`
pub async fn statistics(
    State(state): State<AppState>,
    ctx: Ctx,
    TaughtClass(class): TaughtClass,
    Path((class_id, quiz_key)): Path<(i64, String)>,
    Query(q): Query<StatisticsQuery>,
) -> AppResult<Response> {
    let quiz = attempts::course_quiz(&state.db, class.course_id, Some(class_id), &quiz_key)
        .await?
        .ok_or(AppError::NotFound)?;
    let analysed = q
        .intentos
        .as_deref()
        .and_then(Analysed::parse)
        .unwrap_or_else(|| Analysed::for_grading(quiz.grading()));
    let (n, items) = results::statistics(&state.db, class_id, quiz.id, analysed).await?;
    render(&StatisticsPage {
        page: ctx.page(format!("Estadísticas — {}", quiz.title)),
        class,
        quiz,
        attempts: n,
        items,
        analysed,
    })
}

#[derive(Template)]
#[template(path = "assessment/window.html")]
pub struct WindowPage {
    page: Page,
    class: ClassInfo,
    quiz: QuizRow,
    /// The course file's times, shown for reference.
    file_opens: String,
    file_closes: String,
    custom: bool,
    opens: String,
    closes: String,
    errors: FieldErrors,
}

/// The class's quiz (by key) with its window applied, and the course file's own row.
async fn class_quiz(
    state: &AppState,
    class: &ClassInfo,
    key: &str,
) -> AppResult<(QuizRow, QuizRow, bool)> {
    let with_window = attempts::course_quiz(&state.db, class.course_id, Some(class.id), key)
        .await?
        .ok_or(AppError::NotFound)?;
    let file = attempts::course_quiz(&state.db, class.course_id, None, key)
        .await?
        .ok_or(AppError::NotFound)?;
    let custom: bool = crate::with_db!(&state.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) > 0 FROM quiz_windows WHERE quiz_id = $1 AND class_id = $2"
    )
    .bind(file.id)
    .bind(class.id)
    .fetch_one(p)
    .await)?;
    Ok((with_window, file, custom))
}

fn input_value(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.as_ref()
        .map(crate::web::time::local_input)
        .unwrap_or_default()
}

/// `GET /comisiones/{id}/evaluaciones/{quiz}/fechas`: this class's opening and closing times.
pub async fn window_form(
    State(state): State<AppState>,
    ctx: Ctx,
    TaughtClass(class): TaughtClass,
    Path((_, key)): Path<(i64, String)>,
) -> AppResult<Response> {
    let (quiz, file, custom) = class_quiz(&state, &class, &key).await?;
    render(&WindowPage {
        page: ctx.page(format!("Fechas — {}", quiz.title)),
        opens: input_value(quiz.opens_at),
        closes: input_value(quiz.closes_at),
        file_opens: file.opens(),
        file_closes: file.closes(),
        custom,
        class,
        quiz,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct WindowForm {
    #[serde(default)]
    abre: String,
    #[serde(default)]
    cierra: String,
    #[serde(default)]
    accion: String,
}

/// `POST /comisiones/{id}/evaluaciones/{quiz}/fechas`: sets this class's times, or goes back
/// to the course file's (`accion=restablecer`). Attempts in progress follow the new closing time.
pub async fn window_save(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
    TaughtClass(class): TaughtClass,
    Path((class_id, key)): Path<(i64, String)>,
    Form(form): Form<WindowForm>,
) -> AppResult<Response> {
    let (quiz, file, custom) = class_quiz(&state, &class, &key).await?;
    let back = format!("/comisiones/{class_id}/calificaciones");
    if form.accion == "restablecer" {
        let moved =
            attempts::set_window(&state.db, &file, class_id, None, user.user_id, now()).await?;
        return Ok(redirect_with_notice(
            &back,
            &format!(
                "«{}» vuelve a usar las fechas del curso.{}",
                quiz.title,
                moved_notice(moved)
            ),
        ));
    }
    let mut errors = FieldErrors::default();
    let mut parse = |field: &'static str, value: &str| {
        if value.trim().is_empty() {
            return None;
        }
        let t = crate::web::time::parse_local_input(value);
        if t.is_none() {
            errors.add(field, "Escribí fecha y hora, por ejemplo 01/12/2026 08:00.");
        }
        t
    };
    let opens = parse("abre", &form.abre);
    let closes = parse("cierra", &form.cierra);
    if let (Some(o), Some(c)) = (opens, closes)
        && c <= o
    {
        errors.add("cierra", "El cierre tiene que ser posterior a la apertura.");
    }
    let needs_close = [quiz.review_answers, quiz.review_score].contains(&ReviewWhen::AfterClose);
    if needs_close && closes.is_none() && errors.get("cierra").is_none() {
        errors.add(
            "cierra",
            "Esta evaluación muestra los resultados al cerrar: necesita una fecha de cierre.",
        );
    }
    if !errors.is_empty() {
        return render(&WindowPage {
            page: ctx.page(format!("Fechas — {}", quiz.title)),
            opens: form.abre.clone(),
            closes: form.cierra.clone(),
            file_opens: file.opens(),
            file_closes: file.closes(),
            custom,
            class,
            quiz,
            errors,
        })
        .map(|r| (axum::http::StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
    }
    let moved = attempts::set_window(
        &state.db,
        &file,
        class_id,
        Some((opens, closes)),
        user.user_id,
        now(),
    )
    .await?;
    Ok(redirect_with_notice(
        &back,
        &format!(
            "Fechas de «{}» guardadas para esta comisión.{}",
            quiz.title,
            moved_notice(moved)
        ),
    ))
}

/// Tells the instructor how many attempts in progress follow the new closing time.
fn moved_notice(moved: u64) -> String {
    match moved {
        0 => String::new(),
        1 => " Se ajustó el plazo del intento en curso.".into(),
        n => format!(" Se ajustó el plazo de los {n} intentos en curso."),
    }
}

#[derive(Template)]
#[template(path = "assessment/class_attempts.html")]
pub struct ClassAttemptsPage {
    page: Page,
    class: ClassInfo,
    quiz: QuizRow,
    items: Vec<results::AttemptListItem>,
}

/// `GET /comisiones/{id}/evaluaciones/{quiz}/intentos`: every attempt, to audit or review.
pub async fn class_attempts(
    State(state): State<AppState>,
    ctx: Ctx,
    TaughtClass(class): TaughtClass,
    Path((class_id, key)): Path<(i64, String)>,
) -> AppResult<Response> {
    let quiz = attempts::course_quiz(&state.db, class.course_id, Some(class_id), &key)
        .await?
        .ok_or(AppError::NotFound)?;
    let items = results::class_attempts(&state.db, class_id, quiz.id).await?;
    render(&ClassAttemptsPage {
        page: ctx.page(format!("Intentos — {}", quiz.title)),
        class,
        quiz,
        items,
    })
}

#[derive(Template)]
#[template(path = "assessment/attempt_review.html")]
pub struct AttemptReviewPage {
    page: Page,
    class: ClassInfo,
    quiz: QuizRow,
    attempt: attempts::AttemptRow,
    learner: String,
    review: Vec<super::view::ReviewView>,
    errors: FieldErrors,
    /// The essay the errors belong to, and what was typed there.
    error_slot: Option<i64>,
    entered: (String, String),
}

impl AttemptReviewPage {
    pub fn has_error(&self, slot: &i64) -> bool {
        self.error_slot == Some(*slot)
    }
}

async fn review_page(
    state: &AppState,
    ctx: &Ctx,
    class: ClassInfo,
    attempt_id: i64,
) -> AppResult<AttemptReviewPage> {
    let (attempt, quiz, _) = attempts::attempt_of(&state.db, attempt_id, None)
        .await?
        .filter(|(a, _, _)| a.class_id == class.id)
        .ok_or(AppError::NotFound)?;
    let learner: (String, String, String) = crate::with_db!(&state.db, |p| sqlx::query_as(
        "SELECT dni, first_name, last_name FROM persons WHERE id = $1"
    )
    .bind(attempt.person_id)
    .fetch_one(p)
    .await)?;
    let mut review = Vec::new();
    for row in attempts::answers(&state.db, attempt_id, None).await? {
        let q = row
            .question()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("pregunta ilegible: {e}")))?;
        review.push(super::view::review(&row, &q));
    }
    Ok(AttemptReviewPage {
        page: ctx.page(format!("Intento {} — {}", attempt.number, quiz.title)),
        learner: format!("{}, {} (DNI {})", learner.2, learner.1, learner.0),
        class,
        quiz,
        attempt,
        review,
        errors: FieldErrors::default(),
        error_slot: None,
        entered: Default::default(),
    })
}

/// `GET /comisiones/{id}/intentos/{attempt}`: an attempt of the class with every answer, the
/// key and the grades (instructors always see it; learners only as the review rules allow),
/// and the essays' grades, which can be changed here.
pub async fn attempt_review(
    State(state): State<AppState>,
    ctx: Ctx,
    TaughtClass(class): TaughtClass,
    Path((_, attempt_id)): Path<(i64, i64)>,
) -> AppResult<Response> {
    render(&review_page(&state, &ctx, class, attempt_id).await?)
}
