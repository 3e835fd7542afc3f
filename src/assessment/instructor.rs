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
    results::{self, Cell, ItemStats, Learner, QueueItem},
};
use crate::{
    accounts::auth::User,
    catalog::queries::ClassInfo,
    learning::handlers::taught_class,
    web::{
        csrf::redirect_with_notice,
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render},
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
    User(user): User,
    Path(class_id): Path<i64>,
    Query(q): Query<GradebookQuery>,
) -> AppResult<Response> {
    let class = taught_class(&state, &user, class_id).await?;
    let mut book = results::gradebook(&state.db, class_id, class.course_id).await?;
    if let Some(quiz_id) = q.sin_intentos
        && let Some(i) = book.quizzes.iter().position(|z| z.id == quiz_id)
    {
        book.rows.retain(|(_, cells)| cells[i].attempts == 0);
    }
    let pending = results::queue(&state.db, class_id).await?.len();
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
    User(user): User,
    Path(class_id): Path<i64>,
) -> AppResult<Response> {
    let class = taught_class(&state, &user, class_id).await?;
    let book = results::gradebook(&state.db, class_id, class.course_id).await?;
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
    User(user): User,
    Path(class_id): Path<i64>,
) -> AppResult<Response> {
    let class = taught_class(&state, &user, class_id).await?;
    let items = results::queue(&state.db, class_id).await?;
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
}

/// `POST /comisiones/{id}/corregir/{attempt}/{slot}`: grades one essay.
pub async fn grade(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
    Path((class_id, attempt_id, slot)): Path<(i64, i64, i64)>,
    Form(form): Form<GradeForm>,
) -> AppResult<Response> {
    let class = taught_class(&state, &user, class_id).await?;
    let items = results::queue(&state.db, class_id).await?;
    let max: f64 = match items
        .iter()
        .find(|i| i.attempt_id == attempt_id && i.slot == slot)
    {
        Some(i) => i.max_points,
        None => {
            return Ok(redirect_with_notice(
                &format!("/comisiones/{class_id}/corregir"),
                "Esa respuesta ya estaba corregida o no existe; no se cambió nada.",
            ));
        }
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
    }
    if !errors.is_empty() {
        return render(&QueuePage {
            page: ctx.page(format!("Para corregir — {}", class.name)),
            class,
            items,
            errors,
            error_at: Some((attempt_id, slot)),
            entered: (form.puntos.clone(), form.comentario.clone()),
        })
        .map(|r| (axum::http::StatusCode::UNPROCESSABLE_ENTITY, r).into_response());
    }
    let fraction = points.unwrap_or(0.0) / max;
    attempts::grade_manual(
        &state.db,
        class_id,
        attempt_id,
        slot,
        fraction,
        form.comentario.trim(),
        user.user_id,
        now(),
    )
    .await?;
    Ok(redirect_with_notice(
        &format!("/comisiones/{class_id}/corregir"),
        "Corrección guardada.",
    ))
}

#[derive(Template)]
#[template(path = "assessment/statistics.html")]
pub struct StatisticsPage {
    page: Page,
    class: ClassInfo,
    quiz: QuizRow,
    attempts: usize,
    items: Vec<ItemStats>,
}

/// `GET /comisiones/{id}/evaluaciones/{quiz}/estadisticas`
pub async fn statistics(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
    Path((class_id, quiz_key)): Path<(i64, String)>,
) -> AppResult<Response> {
    let class = taught_class(&state, &user, class_id).await?;
    let quiz = attempts::course_quizzes(&state.db, class.course_id)
        .await?
        .into_iter()
        .find(|q| q.key == quiz_key)
        .ok_or(AppError::NotFound)?;
    let (n, items) = results::statistics(&state.db, class_id, quiz.id).await?;
    render(&StatisticsPage {
        page: ctx.page(format!("Estadísticas — {}", quiz.title)),
        class,
        quiz,
        attempts: n,
        items,
    })
}
