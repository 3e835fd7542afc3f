//! The person's training record ("Historia formativa"): one function gathers it (classes
//! with status and dates, lesson progress, quiz grades, live attendance, certificates), and
//! the page, the CSV and the API's JSON all show that same gathering.

use askama::Template;
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{
    db::Db,
    enrolment::queries::EnrolmentStatus,
    feed::api::{
        auth::ReadToken,
        error::{ApiError, ApiResult},
    },
    people::{domain::Dni, persons},
    web::{
        auth::{MaybeUser, User},
        error::{AppError, AppResult},
        layout::{Ctx, Page, render},
        spreadsheet::csv_download,
        state::AppState,
        time::{date, local, now},
    },
    with_db,
};

/// The whole record of one person.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TrainingRecord {
    pub persona: RecordPerson,
    /// Every class the person enrolled in (withdrawn ones included), newest first.
    pub clases: Vec<ClassRecord>,
    /// Certificates issued to the person.
    pub certificados: Vec<CertificateRecord>,
    /// When this record was gathered.
    pub generado_en: DateTime<Utc>,
}

/// Who the record is about.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RecordPerson {
    pub dni: String,
    pub cuil: String,
    pub nombre: String,
    pub apellido: String,
}

/// One class (comisión) of a course.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ClassRecord {
    pub clase_id: i64,
    /// The course's stable identifier (its folder name).
    pub curso: String,
    pub curso_titulo: String,
    pub comision: String,
    /// `confirmada`, `en_espera`, `baja` or `completada`.
    pub estado: &'static str,
    pub inicio: NaiveDate,
    pub fin: NaiveDate,
    /// When the person enrolled (or was enrolled).
    pub inscripcion: DateTime<Utc>,
    /// When the enrolment last changed state (for `completada`, when it was completed).
    pub actualizado: DateTime<Utc>,
    pub lecciones_total: i64,
    pub lecciones_completadas: i64,
    pub evaluaciones: Vec<QuizRecord>,
    pub asistencia: AttendanceRecord,
}

/// The person's grade in one quiz of the class.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct QuizRecord {
    pub clave: String,
    pub titulo: String,
    /// The final grade (0–100) by the quiz's grading method; `null` when the quiz's review
    /// rules do not let the person see it yet (only on the person's own page).
    pub porcentaje: Option<f64>,
    pub aprobada: Option<bool>,
    /// Attempts handed in.
    pub intentos: i64,
}

/// Live sessions of the class and how many of the held ones the person attended.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AttendanceRecord {
    pub sesiones_programadas: i64,
    pub sesiones_asistidas: i64,
}

/// A certificate, with the page where anyone can verify it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateRecord {
    pub codigo: String,
    pub curso_titulo: String,
    pub emitido: DateTime<Utc>,
    pub revocado: bool,
    pub verificacion_url: String,
}

/// Who is looking: the person themself sees grades only as their quizzes' review rules allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Own,
    Staff,
}

fn status_code(s: EnrolmentStatus) -> &'static str {
    match s {
        EnrolmentStatus::Confirmed => "confirmada",
        EnrolmentStatus::Waitlisted => "en_espera",
        EnrolmentStatus::Withdrawn => "baja",
        EnrolmentStatus::Completed => "completada",
    }
}

#[derive(sqlx::FromRow)]
struct ClassRow {
    class_id: i64,
    slug: String,
    title: String,
    class_name: String,
    #[sqlx(try_from = "String")]
    status: EnrolmentStatus,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    lessons_total: i64,
    lessons_done: i64,
}

#[derive(sqlx::FromRow)]
struct GradeRow {
    class_id: i64,
    key: String,
    title: String,
    percent: Option<f64>,
    passed: Option<bool>,
    review_score: String,
    closes_at: Option<DateTime<Utc>>,
    attempts: i64,
}

/// Gathers the training record of a person (by id).
pub async fn gather(
    db: &Db,
    base_url: &str,
    person_id: i64,
    audience: Audience,
) -> Result<Option<TrainingRecord>, sqlx::Error> {
    let Some(person) = persons::get(db, person_id).await? else {
        return Ok(None);
    };
    let rows: Vec<ClassRow> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT e.class_id, c.slug, c.title, k.name AS class_name, e.status, k.starts_on, k.ends_on,
            e.created_at, e.updated_at,
            (SELECT COUNT(*) FROM lessons l WHERE l.course_id = c.id AND NOT l.retired) AS lessons_total,
            (SELECT COUNT(*) FROM lessons l JOIN lesson_progress lp ON lp.lesson_id = l.id
               WHERE l.course_id = c.id AND NOT l.retired AND lp.person_id = e.person_id) AS lessons_done
         FROM enrolments e JOIN classes k ON k.id = e.class_id JOIN courses c ON c.id = k.course_id
         WHERE e.person_id = $1
         ORDER BY k.starts_on DESC, e.id DESC"
    )
    .bind(person_id)
    .fetch_all(p)
    .await
    })?;
    // Quizzes the person has a grade in or handed in an attempt of.
    let grades: Vec<GradeRow> = with_db!(db, |p| {
        sqlx::query_as(
        "SELECT t.class_id, q.key, q.title, g.percent, g.passed, q.review_score,
            COALESCE(w.closes_at, q.closes_at) AS closes_at, t.attempts
         FROM (SELECT a.quiz_id, a.class_id, COUNT(*) AS attempts FROM attempts a
                WHERE a.person_id = $1 AND a.state <> 'in_progress' GROUP BY a.quiz_id, a.class_id) t
         JOIN quizzes q ON q.id = t.quiz_id
         LEFT JOIN quiz_grades g ON g.quiz_id = t.quiz_id AND g.class_id = t.class_id AND g.person_id = $1
         LEFT JOIN quiz_windows w ON w.quiz_id = t.quiz_id AND w.class_id = t.class_id
         ORDER BY q.position, q.id"
    )
    .bind(person_id)
    .fetch_all(p)
    .await
    })?;
    let at = now();
    let mut clases = Vec::with_capacity(rows.len());
    for r in rows {
        let (scheduled, attended) =
            crate::completion::sessions_attended(db, r.class_id, person_id).await?;
        let evaluaciones = grades
            .iter()
            .filter(|g| g.class_id == r.class_id)
            .map(|g| {
                let visible = audience == Audience::Staff
                    || g.review_score == "after_submit"
                    || (g.review_score == "after_close" && g.closes_at.is_some_and(|c| c <= at));
                QuizRecord {
                    clave: g.key.clone(),
                    titulo: g.title.clone(),
                    porcentaje: g.percent.filter(|_| visible),
                    aprobada: g.passed.filter(|_| visible),
                    intentos: g.attempts,
                }
            })
            .collect();
        clases.push(ClassRecord {
            clase_id: r.class_id,
            curso: r.slug,
            curso_titulo: r.title,
            comision: r.class_name,
            estado: status_code(r.status),
            inicio: r.starts_on,
            fin: r.ends_on,
            inscripcion: r.created_at,
            actualizado: r.updated_at,
            lecciones_total: r.lessons_total,
            lecciones_completadas: r.lessons_done,
            evaluaciones,
            asistencia: AttendanceRecord {
                sesiones_programadas: scheduled,
                sesiones_asistidas: attended,
            },
        });
    }
    Ok(Some(TrainingRecord {
        persona: RecordPerson {
            dni: person.dni,
            cuil: person.cuil,
            nombre: person.first_name,
            apellido: person.last_name,
        },
        clases,
        certificados: certificates(db, base_url, person_id).await?,
        generado_en: at,
    }))
}

/// The person's certificates, newest first, each with its public verification page.
async fn certificates(
    db: &Db,
    base_url: &str,
    person_id: i64,
) -> Result<Vec<CertificateRecord>, sqlx::Error> {
    Ok(crate::certification::store::of_person(db, person_id)
        .await?
        .into_iter()
        .map(|c| CertificateRecord {
            verificacion_url: crate::certification::store::urls::verify(base_url, &c.code),
            codigo: c.code,
            curso_titulo: c.course,
            emitido: c.issued_at,
            revocado: c.revoked_at.is_some(),
        })
        .collect())
}

/// The label people read for an enrolment state code.
fn status_label(code: &str) -> &'static str {
    match code {
        "confirmada" => "Inscripto/a",
        "en_espera" => "En lista de espera",
        "baja" => "Dado/a de baja",
        _ => "Terminado",
    }
}

/// A class as the page and the CSV show it.
pub struct ClassView<'a> {
    pub c: &'a ClassRecord,
}

impl ClassView<'_> {
    pub fn status(&self) -> &'static str {
        status_label(self.c.estado)
    }
    pub fn dates(&self) -> String {
        format!("{} al {}", date(&self.c.inicio), date(&self.c.fin))
    }
    pub fn enrolled(&self) -> String {
        local(&self.c.inscripcion)
    }
    pub fn completed(&self) -> Option<String> {
        (self.c.estado == "completada").then(|| local(&self.c.actualizado))
    }
    pub fn lessons(&self) -> String {
        format!(
            "{} de {}",
            self.c.lecciones_completadas, self.c.lecciones_total
        )
    }
    pub fn attendance(&self) -> String {
        let a = &self.c.asistencia;
        if a.sesiones_programadas == 0 {
            "Sin clases en vivo".into()
        } else {
            format!(
                "{} de {} clases en vivo",
                a.sesiones_asistidas, a.sesiones_programadas
            )
        }
    }
    /// "Evaluación 1: 80 % (aprobada)" per quiz.
    pub fn quizzes(&self) -> Vec<String> {
        self.c
            .evaluaciones
            .iter()
            .map(|q| match (q.porcentaje, q.aprobada) {
                (Some(p), Some(ok)) => format!(
                    "{}: {} % ({})",
                    q.titulo,
                    format_percent(p),
                    if ok { "aprobada" } else { "no aprobada" }
                ),
                _ => format!("{}: entregada, la nota se publica más adelante", q.titulo),
            })
            .collect()
    }
}

fn format_percent(p: f64) -> String {
    let r = (p * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}").replace('.', ",")
    }
}

#[derive(Template)]
#[template(path = "feed/record.html")]
pub struct RecordPage<'a> {
    page: Page,
    record: &'a TrainingRecord,
    classes: Vec<ClassView<'a>>,
    csv_url: String,
    back: (&'static str, String),
}

fn render_record(
    ctx: &Ctx,
    record: &TrainingRecord,
    csv_url: String,
    back: (&'static str, String),
) -> AppResult<Response> {
    let title = format!(
        "Historia formativa de {} {}",
        record.persona.nombre, record.persona.apellido
    );
    let mut resp = render(&RecordPage {
        page: ctx.page(title),
        record,
        classes: record.clases.iter().map(|c| ClassView { c }).collect(),
        csv_url,
        back,
    })?;
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

fn record_csv(record: &TrainingRecord) -> AppResult<Response> {
    let header_row: Vec<String> = [
        "DNI",
        "Apellido",
        "Nombre",
        "Curso",
        "Comisión",
        "Estado",
        "Inicio",
        "Fin",
        "Inscripción",
        "Terminado",
        "Lecciones",
        "Evaluaciones",
        "Asistencia",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = record
        .clases
        .iter()
        .map(|c| {
            let v = ClassView { c };
            vec![
                record.persona.dni.clone(),
                record.persona.apellido.clone(),
                record.persona.nombre.clone(),
                c.curso_titulo.clone(),
                c.comision.clone(),
                v.status().to_string(),
                c.inicio.to_string(),
                c.fin.to_string(),
                v.enrolled(),
                v.completed().unwrap_or_default(),
                v.lessons(),
                v.quizzes().join("; "),
                v.attendance(),
            ]
        })
        .collect();
    csv_download(
        &format!("formacion-{}.csv", record.persona.dni),
        &header_row,
        rows,
    )
}

/// The person a staff member may see: admins any, operators those of their territory;
/// anyone else (or outside the territory) gets 404.
async fn staff_visible(
    state: &AppState,
    viewer: &crate::web::auth::CurrentUser,
    id: i64,
) -> AppResult<()> {
    let visible = if viewer.is_admin() {
        persons::get(&state.db, id).await?.is_some()
    } else if viewer.is_operator() {
        persons::get_in_territory(&state.db, viewer.user_id, id)
            .await?
            .is_some()
    } else {
        false
    };
    if visible {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// `GET /mi-aula/formacion`: the person's own record (printable).
pub async fn own_page(
    State(state): State<AppState>,
    ctx: Ctx,
    User(user): User,
) -> AppResult<Response> {
    let record = gather(
        &state.db,
        &state.settings.base_url,
        user.person_id,
        Audience::Own,
    )
    .await?
    .ok_or(AppError::NotFound)?;
    render_record(
        &ctx,
        &record,
        "/mi-aula/formacion.csv".into(),
        ("Volver a Mi aula", "/mi-aula".into()),
    )
}

/// `GET /mi-aula/formacion.csv`.
pub async fn own_csv(State(state): State<AppState>, User(user): User) -> AppResult<Response> {
    let record = gather(
        &state.db,
        &state.settings.base_url,
        user.person_id,
        Audience::Own,
    )
    .await?
    .ok_or(AppError::NotFound)?;
    record_csv(&record)
}

/// The record of person `id` for staff: admins, and operators of the person's territory
/// (others 404); a visitor is sent to log in and back to `path`.
async fn staff_record(
    state: &AppState,
    viewer: Option<crate::web::auth::CurrentUser>,
    id: i64,
    path: String,
) -> AppResult<(crate::web::auth::CurrentUser, TrainingRecord)> {
    let viewer = viewer.ok_or(AppError::LoginRequired(path))?;
    staff_visible(state, &viewer, id).await?;
    let record = gather(&state.db, &state.settings.base_url, id, Audience::Staff)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((viewer, record))
}

/// `GET /personas/{id}/formacion`: for admins, and operators of the person's territory.
pub async fn person_page(
    State(state): State<AppState>,
    ctx: Ctx,
    MaybeUser(viewer): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (viewer, record) =
        staff_record(&state, viewer, id, format!("/personas/{id}/formacion")).await?;
    let back = if viewer.is_operator() {
        ("Volver a la persona", format!("/oficina/personas/{id}"))
    } else {
        ("Volver al inicio", "/".to_string())
    };
    render_record(&ctx, &record, format!("/personas/{id}/formacion.csv"), back)
}

/// `GET /personas/{id}/formacion.csv`.
pub async fn person_csv(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (_, record) =
        staff_record(&state, viewer, id, format!("/personas/{id}/formacion.csv")).await?;
    record_csv(&record)
}

/// `GET /api/v1/personas/{dni}/formacion`: the record as JSON (scope `lectura`).
#[utoipa::path(
    get,
    path = "/api/v1/personas/{dni}/formacion",
    tag = "formacion",
    params(("dni" = String, Path, description = "DNI de la persona (7 u 8 números)")),
    responses(
        (status = 200, description = "La historia formativa", body = TrainingRecord),
        (status = 401, description = "Falta el token o no es válido", body = super::error::ErrorBody),
        (status = 403, description = "El token no tiene el permiso `lectura`", body = super::error::ErrorBody),
        (status = 404, description = "No hay una persona con ese DNI", body = super::error::ErrorBody),
        (status = 429, description = "Demasiadas solicitudes de este token", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn api_record(
    State(state): State<AppState>,
    _t: ReadToken,
    Path(dni): Path<String>,
) -> ApiResult<Response> {
    let dni = Dni::parse(&dni).map_err(|_| ApiError::NotFound)?;
    let found = persons::find_by_dni(&state.db, &dni)
        .await?
        .ok_or(ApiError::NotFound)?;
    let record = gather(
        &state.db,
        &state.settings.base_url,
        found.id,
        Audience::Staff,
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(Json(record).into_response())
}
