//! Pages of live classes: the class's sessions (and the instructor's scheduling form), opening
//! and ending a room, the room page itself, and the attendance sheet.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use crate::{
    catalog::queries::{self as catalog, ClassInfo},
    live::LiveState,
    live::{
        attendance::{self, SheetRow},
        bitrates::{self, Costs},
        sessions::{self, LiveSession, NewSession, Role},
    },
    web::auth::User,
    web::{
        error::{AppError, AppResult},
        forms::FieldErrors,
        layout::{Ctx, Page, render, render_status},
        notice::redirect_with_notice,
        time::{local_input, now, parse_local_input},
    },
};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ScheduleForm {
    pub title: String,
    pub starts_at: String,
    pub duration_minutes: String,
}

#[derive(Template)]
#[template(path = "live/class.html")]
pub struct ClassLivePage {
    page: Page,
    class: ClassInfo,
    sessions: Vec<LiveSession>,
    instructor: bool,
    early_minutes: i64,
    input: ScheduleForm,
    errors: FieldErrors,
}

impl ClassLivePage {
    fn can_enter(&self, s: &LiveSession) -> bool {
        if self.instructor {
            !s.is_ended()
        } else {
            s.learner_can_join(now(), self.early_minutes)
        }
    }
}

async fn class_page(
    state: &LiveState,
    ctx: &Ctx,
    class_id: i64,
    role: Role,
    input: ScheduleForm,
    errors: FieldErrors,
) -> AppResult<ClassLivePage> {
    let class = catalog::class(&state.db, class_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(ClassLivePage {
        page: ctx.page(format!("Clases en vivo — {}", class.name)),
        sessions: sessions::of_class(&state.db, class_id).await?,
        class,
        instructor: role == Role::Instructor,
        early_minutes: state.rooms.config().early_join_minutes,
        input,
        errors,
    })
}

async fn role_or_404(
    state: &LiveState,
    user: &crate::web::auth::CurrentUser,
    class_id: i64,
) -> AppResult<Role> {
    sessions::role_in_class(&state.db, user, class_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /comisiones/{id}/en-vivo`: the class's live sessions, for its learners and instructors.
pub async fn class_sessions(
    State(state): State<LiveState>,
    ctx: Ctx,
    User(user): User,
    Path(class_id): Path<i64>,
) -> AppResult<Response> {
    let role = role_or_404(&state, &user, class_id).await?;
    let start = now() + chrono::Duration::days(1);
    let input = ScheduleForm {
        starts_at: local_input(&start),
        duration_minutes: "90".into(),
        ..Default::default()
    };
    render(&class_page(&state, &ctx, class_id, role, input, FieldErrors::default()).await?)
}

fn validate(f: &ScheduleForm, errors: &mut FieldErrors) -> Option<NewSession> {
    let title = f.title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() || title.chars().count() > 200 {
        errors.add("title", "Poné un título a la clase (hasta 200 letras).");
    }
    let starts_at = parse_local_input(&f.starts_at);
    if starts_at.is_none() {
        errors.add("starts_at", "Indicá la fecha y la hora de la clase.");
    }
    let duration = f
        .duration_minutes
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (5..=600).contains(d));
    if duration.is_none() {
        errors.add(
            "duration_minutes",
            "La duración es un número de minutos entre 5 y 600.",
        );
    }
    Some(NewSession {
        title,
        starts_at: starts_at?,
        duration_minutes: duration?,
    })
    .filter(|_| errors.is_empty())
}

/// `POST /comisiones/{id}/en-vivo`: the instructor schedules a session.
pub async fn schedule(
    State(state): State<LiveState>,
    ctx: Ctx,
    User(user): User,
    Path(class_id): Path<i64>,
    Form(form): Form<ScheduleForm>,
) -> AppResult<Response> {
    if role_or_404(&state, &user, class_id).await? != Role::Instructor {
        return Err(AppError::NotFound);
    }
    let mut errors = FieldErrors::default();
    if let Some(s) = validate(&form, &mut errors) {
        sessions::schedule(&state.db, class_id, &s, user.user_id).await?;
        return Ok(redirect_with_notice(
            &format!("/comisiones/{class_id}/en-vivo"),
            "Clase en vivo programada.",
        ));
    }
    let page = class_page(&state, &ctx, class_id, Role::Instructor, form, errors).await?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// `POST /en-vivo/{id}/abrir`: the instructor opens the room and enters it.
pub async fn open(
    State(state): State<LiveState>,
    User(user): User,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (s, role) = sessions::authorise(&state.db, &user, id).await?;
    if role != Role::Instructor {
        return Err(AppError::NotFound);
    }
    if !sessions::open(&state.db, s.id).await? {
        return Err(AppError::Conflict("Esta clase ya terminó.".into()));
    }
    Ok(redirect_with_notice(
        &format!("/en-vivo/{}", s.id),
        "La sala está abierta: tus estudiantes ya pueden entrar.",
    ))
}

/// `POST /en-vivo/{id}/terminar`: ends the session for everyone (also possible from the room).
pub async fn end(
    State(state): State<LiveState>,
    User(user): User,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (s, role) = sessions::authorise(&state.db, &user, id).await?;
    if role != Role::Instructor {
        return Err(AppError::NotFound);
    }
    state.rooms.end_session(&state.db, s.id).await?;
    Ok(redirect_with_notice(
        &format!("/en-vivo/{}/asistencia", s.id),
        "La clase terminó.",
    ))
}

#[derive(Template)]
#[template(path = "live/room.html")]
pub struct RoomPage {
    page: Page,
    session: LiveSession,
    instructor: bool,
    js: &'static str,
    /// What an hour of each quality costs, in MB.
    costs: Costs,
    /// The caps the page sends with (bits per second): the instructor's layers `q`, `h`, `f`,
    /// a learner's camera, and Opus.
    layers: String,
    learner_camera: u64,
    opus: u64,
}

/// `GET /en-vivo/{id}`: the room (the JavaScript connects to the signalling socket).
pub async fn room(
    State(state): State<LiveState>,
    ctx: Ctx,
    User(user): User,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (s, role) = sessions::authorise(&state.db, &user, id).await?;
    if s.is_ended() {
        return Err(AppError::Conflict(format!(
            "La clase «{}» ya terminó.",
            s.title
        )));
    }
    if role == Role::Learner && !s.learner_can_join(now(), state.rooms.config().early_join_minutes)
    {
        return Err(AppError::Conflict(format!(
            "La clase «{}» todavía no empezó: la sala se abre cuando entra tu docente o {} minutos antes del inicio.",
            s.title,
            state.rooms.config().early_join_minutes
        )));
    }
    render(&RoomPage {
        page: ctx.page(s.title.clone()),
        session: s,
        instructor: role == Role::Instructor,
        js: crate::web::assets::live_js_href(),
        costs: Costs::per_hour(),
        layers: format!("{},{},{}", bitrates::BAJA, bitrates::MEDIA, bitrates::ALTA),
        learner_camera: bitrates::LEARNER_CAMERA,
        opus: bitrates::OPUS,
    })
}

#[derive(Template)]
#[template(path = "live/attendance.html")]
pub struct AttendancePage {
    page: Page,
    session: LiveSession,
    rows: Vec<SheetRow>,
    errors: FieldErrors,
}

async fn instructor_session(
    state: &LiveState,
    user: &crate::web::auth::CurrentUser,
    id: i64,
) -> AppResult<LiveSession> {
    let (s, role) = sessions::authorise(&state.db, user, id).await?;
    if role != Role::Instructor {
        return Err(AppError::NotFound);
    }
    Ok(s)
}

async fn attendance_page(
    state: &LiveState,
    ctx: &Ctx,
    s: LiveSession,
    errors: FieldErrors,
) -> AppResult<AttendancePage> {
    let rows =
        attendance::sheet(&state.db, s.id, s.class_id, s.duration_minutes, s.ended_at).await?;
    Ok(AttendancePage {
        page: ctx.page(format!("Asistencia — {}", s.title)),
        session: s,
        rows,
        errors,
    })
}

/// `GET /en-vivo/{id}/asistencia`: minutes per learner, for the class's instructors.
pub async fn attendance_sheet(
    State(state): State<LiveState>,
    ctx: Ctx,
    User(user): User,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let s = instructor_session(&state, &user, id).await?;
    render(&attendance_page(&state, &ctx, s, FieldErrors::default()).await?)
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CorrectionForm {
    pub person_id: String,
    pub minutes: String,
    pub reason: String,
}

/// `POST /en-vivo/{id}/asistencia`: corrects one learner's minutes, with a reason.
pub async fn correct_attendance(
    State(state): State<LiveState>,
    ctx: Ctx,
    User(user): User,
    Path(id): Path<i64>,
    Form(form): Form<CorrectionForm>,
) -> AppResult<Response> {
    let s = instructor_session(&state, &user, id).await?;
    let mut errors = FieldErrors::default();
    let rows =
        attendance::sheet(&state.db, s.id, s.class_id, s.duration_minutes, s.ended_at).await?;
    let person = form
        .person_id
        .parse::<i64>()
        .ok()
        .filter(|p| rows.iter().any(|r| r.person_id == *p));
    if person.is_none() {
        errors.add("person_id", "Elegí una persona inscripta en la comisión.");
    }
    let minutes = form
        .minutes
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| (0..=s.duration_minutes).contains(m));
    if minutes.is_none() {
        errors.add(
            "minutes",
            format!(
                "Los minutos van de 0 a {} (la duración de la clase).",
                s.duration_minutes
            ),
        );
    }
    let reason = form.reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if reason.chars().count() < 3 || reason.chars().count() > 500 {
        errors.add(
            "reason",
            "Contá el motivo de la corrección (entre 3 y 500 letras).",
        );
    }
    if let (Some(p), Some(m), true) = (person, minutes, errors.is_empty()) {
        attendance::correct(&state.db, s.id, p, m, &reason, user.user_id).await?;
        state.progress.changed(&state.db, s.class_id, p).await?;
        return Ok(redirect_with_notice(
            &format!("/en-vivo/{}/asistencia", s.id),
            "Asistencia corregida.",
        ));
    }
    let page = attendance_page(&state, &ctx, s, errors).await?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}
