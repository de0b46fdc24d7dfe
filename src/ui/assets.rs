//! The pages' stylesheets, scripts and icon, compiled into the binary: `app.*` on every page,
//! `form.*` on the console's forms.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::api::error::{ApiError, ErrorCode};

/// Each asset: its name, media type and bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    ("icon.svg", "image/svg+xml", include_str!("assets/icon.svg")),
    (
        "form.css",
        "text/css; charset=utf-8",
        include_str!("assets/form.css"),
    ),
    (
        "form.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/form.js"),
    ),
];

pub async fn serve(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let Some((_, media_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name.as_str()) else {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            format!("no such asset: {}", name.as_str()),
        ));
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, *media_type))
        // Revalidated each time: a new binary may bring new assets under the same name.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(*body))
}
