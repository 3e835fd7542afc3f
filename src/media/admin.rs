//! `/admin/medios`: the administrators' media page. It lists the latest objects with their
//! costs and the state of their renditions, and uploads a file through the same building
//! block instructors' class materials and essay attachments will use.

use askama::Template;
use axum::{
    extract::{Multipart, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};

use super::{
    objects::{self, MediaObject, Visibility},
    renditions::{self, JobStatus},
    upload::{self, Kind, Refusal, UploadPolicy},
    view::{format_duration, format_size, kind_label},
};
use crate::{
    media::MediaState,
    web::auth::Admin,
    web::{
        cookies::cookie,
        error::AppResult,
        forms::FieldErrors,
        layout::{Ctx, render, render_status},
        notice::redirect_with_notice,
    },
};

/// One line of the list.
pub struct Row {
    pub name: String,
    pub url: String,
    pub kind: &'static str,
    pub size: String,
    pub duration: Option<String>,
    pub private: bool,
    pub status: Option<String>,
}

#[derive(Template)]
#[template(path = "media/admin.html")]
pub struct MediaPage {
    page: crate::web::layout::Page,
    rows: Vec<Row>,
    errors: FieldErrors,
    renditions: bool,
    accepted: String,
}

fn policy(visibility: Visibility) -> UploadPolicy {
    UploadPolicy {
        field: "archivo",
        kinds: vec![Kind::Document, Kind::Image, Kind::Audio, Kind::Video],
        visibility,
    }
}

async fn page_with(state: &MediaState, ctx: &Ctx, errors: FieldErrors) -> AppResult<MediaPage> {
    let objects: Vec<MediaObject> = objects::recent(&state.db, 50).await?;
    let ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
    let statuses = renditions::statuses(&state.db, &ids).await?;
    let rows = objects
        .into_iter()
        .map(|o| Row {
            status: statuses
                .iter()
                .find(|(id, _)| *id == o.id)
                .map(|(_, s): &(i64, JobStatus)| s.label()),
            url: o.url(),
            kind: kind_label(&o.mime),
            size: format_size(o.size.max(0) as u64),
            duration: o.duration_ms.map(format_duration),
            private: o.visibility == Visibility::Private,
            name: o.original_name,
        })
        .collect();
    let limits = &state.media.config.limits;
    let accepted = [Kind::Document, Kind::Image, Kind::Audio, Kind::Video]
        .iter()
        .map(|k| format!("{} hasta {}", k.label(), format_size(k.limit(limits))))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(MediaPage {
        page: ctx.page("Medios"),
        rows,
        errors,
        renditions: state.media.renditions_enabled(),
        accepted,
    })
}

/// `GET /admin/medios`
pub async fn page(State(state): State<MediaState>, ctx: Ctx, _a: Admin) -> AppResult<Response> {
    render(&page_with(&state, &ctx, FieldErrors::default()).await?)
}

/// `POST /admin/medios/subir` (multipart: `csrf`, `visibilidad`, `archivo`).
pub async fn upload(
    State(state): State<MediaState>,
    ctx: Ctx,
    Admin(user): Admin,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> AppResult<Response> {
    upload::check_csrf(&headers, &mut multipart).await?;
    let limits = state.media.config.limits;
    let mut errors = FieldErrors::default();
    let refusal = if upload::declared_too_big(&headers, &policy(Visibility::Private), &limits) {
        Some(Refusal::TooBig {
            kind: Kind::Video,
            limit: Kind::Video.limit(&limits),
        })
    } else {
        None
    };
    // Private unless the form's `visibilidad` (before the file) says public: the safe default.
    let outcome = match refusal {
        Some(r) => Err(r),
        None => {
            upload::receive(
                &state.db,
                &state.media,
                multipart,
                &policy(Visibility::Private),
                user.user_id,
            )
            .await?
        }
    };
    match outcome {
        Ok(received) => {
            let mut object = received.object;
            let public = received
                .fields
                .iter()
                .any(|(k, v)| k == "visibilidad" && v == "publico");
            if public {
                object = objects::make_public(&state.db, object.id).await?;
            }
            Ok(redirect_with_notice(
                "/admin/medios",
                &format!(
                    "Guardamos «{}» ({}).",
                    object.original_name,
                    format_size(object.size.max(0) as u64)
                ),
            ))
        }
        Err(refusal) => {
            errors.add("archivo", refusal.message(&policy(Visibility::Private)));
            let mut page = page_with(&state, &ctx, errors).await?;
            // Outside the site-wide CSRF layer the page has no token of its own: reuse the
            // cookie's, which was just checked.
            page.page.csrf = cookie(&headers, "aula_csrf")
                .unwrap_or_default()
                .to_string();
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
