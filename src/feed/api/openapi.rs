//! The API's description, generated from the code by utoipa (OpenAPI 3.1): the handlers'
//! `#[utoipa::path]` and the JSON types' `ToSchema`. Served as `/api/v1/openapi.json`, and as
//! a page for people (`/api/v1/docs`) rendered on the server from the same description.

use askama::Template;
use axum::{
    Json,
    response::{IntoResponse, Response},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::web::{
    error::AppResult,
    layout::{Ctx, Page, render},
};

use super::{error, events, persons, record};

/// The bearer scheme every operation uses.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Token creado por un administrador en /admin/api/tokens, con sus permisos \
                         (`lectura`, `personas:escritura`).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Aula — API para SIPE",
        description = "La formación de las personas, el registro de eventos y el alta de personas \
                       desde el sistema de empleo (SIPE). Ver docs/api-sipe.md.",
        version = "1"
    ),
    paths(record::api_record, events::list, persons::put, persons::bulk),
    components(schemas(
        error::ErrorBody,
        error::FieldError,
        record::TrainingRecord,
        events::EventsPage,
        persons::PersonData,
        persons::BulkPerson,
        persons::PersonResult,
        persons::BulkReport,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "formacion", description = "La historia formativa de una persona"),
        (name = "eventos", description = "Los cambios que SIPE debe conocer, en orden"),
        (name = "personas", description = "Alta y actualización de personas desde SIPE"),
    )
)]
pub struct ApiDoc;

/// The generated description.
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/v1/openapi.json` (public: the description holds no data).
pub async fn json() -> Response {
    Json(spec()).into_response()
}

/// One operation as the page lists it.
pub struct OperationView {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub responses: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "feed/api_docs.html")]
pub struct ApiDocsPage {
    page: Page,
    version: String,
    operations: Vec<OperationView>,
}

/// The operations of the generated description, in path order.
pub fn operations() -> Vec<OperationView> {
    let value = serde_json::to_value(spec()).unwrap_or_default();
    let mut out = vec![];
    if let Some(paths) = value["paths"].as_object() {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                let text = |k: &str| op[k].as_str().unwrap_or("").trim().to_string();
                let responses = op["responses"]
                    .as_object()
                    .map(|r| {
                        r.iter()
                            .map(|(code, v)| {
                                (
                                    code.clone(),
                                    v["description"].as_str().unwrap_or("").to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(OperationView {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text("summary"),
                    description: text("description"),
                    responses,
                });
            }
        }
    }
    out
}

/// `GET /api/v1/docs`: the operations for people, from the same description.
pub async fn page(ctx: Ctx) -> AppResult<Response> {
    render(&ApiDocsPage {
        page: ctx.page("API para SIPE"),
        version: serde_json::to_value(spec())
            .ok()
            .and_then(|v| v["openapi"].as_str().map(str::to_string))
            .unwrap_or_default(),
        operations: operations(),
    })
}
