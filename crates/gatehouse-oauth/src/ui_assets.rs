//! The hosted UI's logos (SetUICustomization's ImageFile), at the ImageUrl GetUICustomization
//! gives: `/{poolId}/ui/{clientId|ALL}/logo.{png|jpg}?v={version}`. A URL naming the current
//! version may be cached for good; any other gets a short lifetime and an ETag.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::Directory;
use serde_json::json;

pub fn router(directory: Arc<Directory>) -> Router {
    Router::new()
        .route("/{pool_id}/ui/{client_id}/{file}", get(logo))
        .with_state(directory)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "message": "No such image." })),
    )
        .into_response()
}

/// The `v` query parameter, if any.
fn requested_version(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("v="))
}

async fn logo(
    State(dir): State<Arc<Directory>>,
    Path((pool_id, client_id, file)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let logo = match dir.ui_logo(&pool_id, &client_id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found(),
        Err(e) => return crate::error(e),
    };
    if file != format!("logo.{}", logo.extension) {
        return not_found();
    }
    let etag = format!("\"{}\"", logo.version);
    let cache = if requested_version(&uri) == Some(logo.version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        logo.bytes.into_response()
    };
    let h = resp.headers_mut();
    if !fresh {
        if let Ok(v) = HeaderValue::from_str(&logo.content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}
