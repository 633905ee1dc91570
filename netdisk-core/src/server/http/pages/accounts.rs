//! Sign up, log in, log out. The same accounts, lockout and sessions as the TCP doors; a failed
//! login says only that the name, password or account type is wrong. Signing up here takes an
//! e-mail address, and mails it a link to confirm it (the pages around it are in `email`).

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::super::App;
use super::super::auth::{Visitor, expired_cookie, safe_next, session_cookie};
use super::super::failure;
use super::{Nav, render, see};
use crate::{NewAccount, ServiceError};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/signup", get(signup_page).post(signup))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    name: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    nav: Nav,
    name: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(Visitor(visitor): Visitor, Query(query): Query<NextQuery>) -> Response {
    let next = safe_next(query.next.as_deref()).to_owned();
    if visitor.is_some() {
        return see(&next);
    }
    render(&LoginPage {
        nav: Nav::anonymous("login"),
        name: String::new(),
        next,
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    match app
        .netdisk
        .accounts()
        .login(&form.name, &form.password, None)
        .await
    {
        Ok(outcome) => logged_in(&outcome.token, &headers, &next),
        Err(error) if !error.is_unexpected() => {
            let status = failure::status(&error);
            let page = LoginPage {
                nav: Nav::anonymous("login"),
                name: form.name,
                next,
                error: Some(error.to_string()),
            };
            (status, render(&page)).into_response()
        }
        Err(error) => failure::page(error, None),
    }
}

/// Starts the browser session and goes on to `next`.
fn logged_in(token: &str, headers: &HeaderMap, next: &str) -> Response {
    let cookie = session_cookie(token, headers);
    ([(header::SET_COOKIE, cookie)], see(next)).into_response()
}

async fn signup_page(Visitor(visitor): Visitor) -> Response {
    if visitor.is_some() {
        return see("/movies");
    }
    render(&SignupPage {
        nav: Nav::anonymous("signup"),
        name: String::new(),
        email: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct SignupForm {
    name: String,
    /// Required here, though the services let the TCP doors register without one.
    #[serde(default)]
    email: String,
    password: String,
    confirm: String,
}

async fn signup(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<SignupForm>,
) -> Response {
    let refuse = |form: SignupForm, error: String, status: StatusCode| {
        let page = SignupPage {
            nav: Nav::anonymous("signup"),
            name: form.name,
            email: form.email,
            error: Some(error),
        };
        (status, render(&page)).into_response()
    };
    let problem = if form.email.trim().is_empty() {
        Some("give your e-mail address: the link to confirm it goes there")
    } else if form.password.is_empty() {
        Some("choose a password")
    } else if form.password != form.confirm {
        Some("the two passwords differ")
    } else {
        None
    };
    if let Some(problem) = problem {
        return refuse(form, problem.into(), StatusCode::BAD_REQUEST);
    }
    let accounts = app.netdisk.accounts();
    let account = NewAccount::user(&form.name, &form.password);
    let registered = match accounts.register_with_email(account, &form.email).await {
        Ok(_) => accounts.login(&form.name, &form.password, None).await,
        Err(error) => Err(error),
    };
    match registered {
        Ok(outcome) => logged_in(&outcome.token, &headers, "/check-mail"),
        Err(error) if !error.is_unexpected() => {
            let status = failure::status(&error);
            refuse(form, error.to_string(), status)
        }
        Err(error) => failure::page(error, None),
    }
}

async fn logout(State(app): State<App>, Visitor(visitor): Visitor, headers: HeaderMap) -> Response {
    if let Some(caller) = visitor
        && let Err(error) = app.netdisk.accounts().logout(&caller).await
        && !matches!(error, ServiceError::NotLoggedIn)
    {
        return failure::page(error, None);
    }
    (
        [(header::SET_COOKIE, expired_cookie(&headers))],
        see("/login"),
    )
        .into_response()
}
