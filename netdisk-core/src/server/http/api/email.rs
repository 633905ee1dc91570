//! E-mail and passwords over JSON, the same operations as the pages in `pages/email.rs`: the
//! caller's address (see it, change it, send its confirmation link again), a confirmation
//! link's token, a forgotten password's link and the reset it leads to, a password change.
//! `POST /api/signup` takes an optional `email` (in `mod.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::super::App;
use super::super::auth::ApiCaller;
use super::{answer, done, ok};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/me/email", get(email).post(change_email))
        .route("/me/email/resend", post(resend))
        .route("/me/password", post(change_password))
        .route("/confirm", post(confirm))
        .route("/password/forgot", post(forgot))
        .route("/password/reset", post(reset))
}

async fn email(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    ok(app.netdisk.accounts().email(&caller).await)
}

#[derive(Deserialize)]
struct NewEmail {
    address: String,
    password: String,
}

async fn change_email(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Json(body): Json<NewEmail>,
) -> Response {
    let accounts = app.netdisk.accounts();
    let asked = accounts
        .change_email(&caller, &body.password, &body.address)
        .await;
    answer(StatusCode::ACCEPTED, asked.map(|()| json!({})))
}

async fn resend(State(app): State<App>, ApiCaller(caller): ApiCaller) -> Response {
    let sent = app.netdisk.accounts().resend_confirmation(&caller).await;
    answer(StatusCode::ACCEPTED, sent.map(|()| json!({})))
}

#[derive(Deserialize)]
struct NewPassword {
    current: String,
    password: String,
}

async fn change_password(
    State(app): State<App>,
    ApiCaller(caller): ApiCaller,
    Json(body): Json<NewPassword>,
) -> Response {
    let accounts = app.netdisk.accounts();
    done(
        accounts
            .change_password(&caller, &body.current, &body.password)
            .await,
    )
}

#[derive(Deserialize)]
struct Link {
    token: String,
}

async fn confirm(State(app): State<App>, Json(body): Json<Link>) -> Response {
    let confirmed = app.netdisk.accounts().confirm_email(&body.token).await;
    ok(confirmed.map(|address| json!({ "address": address, "confirmed": true })))
}

#[derive(Deserialize)]
struct Forgot {
    address: String,
}

async fn forgot(State(app): State<App>, Json(body): Json<Forgot>) -> Response {
    let asked = app
        .netdisk
        .accounts()
        .request_password_reset(&body.address)
        .await;
    answer(StatusCode::ACCEPTED, asked.map(|()| json!({})))
}

#[derive(Deserialize)]
struct Reset {
    token: String,
    password: String,
}

async fn reset(State(app): State<App>, Json(body): Json<Reset>) -> Response {
    let accounts = app.netdisk.accounts();
    done(
        accounts
            .reset_password_by_link(&body.token, &body.password)
            .await,
    )
}
