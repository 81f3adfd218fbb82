//! A fake OpenSesame for measurements: `--courses N` generated courses behind
//! the real wire format (token endpoint, bearer, `limit=50`, `paging.next`).
//!
//! cargo run --release -p coursebridge-sync --example fake_opensesame -- 50000 18090

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::collections::HashMap;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let port: u16 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(18090);
    let base = format!("http://127.0.0.1:{port}");
    let app = axum::Router::new()
        .route("/token", post(|| async { ([("content-type", "application/json")], r#"{"access_token":"perf","expires_in":3600}"#) }))
        .route(
            "/v1/content",
            get(move |headers: axum::http::HeaderMap, Query(q): Query<HashMap<String, String>>| {
                let base = base.clone();
                async move {
                    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer perf") {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                    let start = (page - 1) * 50;
                    let data: Vec<serde_json::Value> = (start..(start + 50).min(n))
                        .map(|i| {
                            serde_json::json!({"id": format!("perf-{i:06}"), "title": format!("Course {i}"),
                                "descriptionHtml": format!("<p>Course {i}: <b>practical</b> lessons.</p>"), "imageUrl": format!("https://img.example/{i}.jpg"),
                                "duration": "00:45:00", "languages": ["en", "fr"], "categories": ["|Business Skills|Leadership"], "publisherName": "Publisher",
                                "active": true, "quickLaunchUrl": format!("https://os.example/launch/{i}"), "dateUpdated": "2024-09-01T00:00:00Z",
                                "xApiActivityId": format!("https://www.opensesame.com/c/perf-{i:06}"), "type": "course"})
                        })
                        .collect();
                    let next = if start + 50 < n { format!("{base}/v1/content?customerIntegrationId=perf&limit=50&page={}", page + 1) } else { String::new() };
                    ([("content-type", "application/json")], serde_json::json!({"data": data, "paging": {"next": next}}).to_string()).into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
