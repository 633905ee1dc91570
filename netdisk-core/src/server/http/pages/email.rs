//! The pages around an account's e-mail address: "check your mail" after sign-up (with a button
//! that sends the link again), `/confirm/{token}` (the link in the mail), "forgot your password"
//! and `/reset/{token}` (the form the reset link opens), and the account's settings (change the
//! address or the password, each with the current password). The services check every rule;
//! these pages only show their answers.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::super::App;
use super::super::auth::{Member, Visitor};
use super::super::failure;
use super::{Nav, render};
use crate::{Caller, EmailStatus, ServiceError};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/check-mail", get(check_mail_page))
        .route("/confirm/{token}", get(confirm))
        .route("/forgot", get(forgot_page).post(forgot))
        .route("/reset/{token}", get(reset_page).post(reset))
        .route("/settings", get(settings_page))
        .route("/settings/resend", post(resend))
        .route("/settings/email", post(change_email))
        .route("/settings/password", post(change_password))
}

/// A page that says how something went, with one way on.
#[derive(Template)]
#[template(path = "done.html")]
struct DonePage {
    nav: Nav,
    title: &'static str,
    message: String,
    next: &'static str,
    next_label: &'static str,
}

/// The navigation of whoever is looking, on an account page.
fn nav_of(visitor: Option<&Caller>) -> Nav {
    visitor.map_or_else(|| Nav::anonymous("settings"), |c| Nav::of(c, "settings"))
}

#[derive(Template)]
#[template(path = "check_mail.html")]
struct CheckMailPage {
    nav: Nav,
    email: Option<EmailStatus>,
}

async fn check_mail_page(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "settings");
    match app.netdisk.accounts().email(&caller).await {
        Ok(email) => render(&CheckMailPage { nav, email }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

async fn confirm(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(token): Path<String>,
) -> Response {
    let nav = nav_of(visitor.as_ref());
    match app.netdisk.accounts().confirm_email(&token).await {
        Ok(address) => render(&DonePage {
            nav,
            title: "Address confirmed",
            message: format!("{address} is your account's e-mail address."),
            next: if visitor.is_some() {
                "/movies"
            } else {
                "/login"
            },
            next_label: if visitor.is_some() {
                "Go to the movies"
            } else {
                "Log in"
            },
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    nav: Nav,
    address: String,
    error: Option<String>,
}

async fn forgot_page(Visitor(visitor): Visitor) -> Response {
    render(&ForgotPage {
        nav: nav_of(visitor.as_ref()),
        address: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct ForgotForm {
    address: String,
}

async fn forgot(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Form(form): Form<ForgotForm>,
) -> Response {
    let nav = nav_of(visitor.as_ref());
    match app
        .netdisk
        .accounts()
        .request_password_reset(&form.address)
        .await
    {
        Ok(()) => render(&DonePage {
            nav,
            title: "Check your mail",
            message: "If an account has this confirmed address, a link to set a new password is \
                      on its way to it. The link works once, for an hour."
                .into(),
            next: "/login",
            next_label: "Back to the login",
        }),
        Err(error) if !error.is_unexpected() => {
            let page = ForgotPage {
                nav,
                address: form.address,
                error: Some(error.to_string()),
            };
            (failure::status(&error), render(&page)).into_response()
        }
        Err(error) => failure::page(error, Some(nav)),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    nav: Nav,
    token: String,
    error: Option<String>,
}

async fn reset_page(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(token): Path<String>,
) -> Response {
    let nav = nav_of(visitor.as_ref());
    match app.netdisk.accounts().check_reset_link(&token).await {
        Ok(()) => render(&ResetPage {
            nav,
            token,
            error: None,
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    password: String,
    again: String,
}

async fn reset(
    State(app): State<App>,
    Visitor(visitor): Visitor,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Response {
    let nav = nav_of(visitor.as_ref());
    let accounts = app.netdisk.accounts();
    let outcome = if form.password != form.again {
        Err(ServiceError::BadRequest("the two passwords differ".into()))
    } else {
        accounts
            .reset_password_by_link(&token, &form.password)
            .await
    };
    match outcome {
        // The account's sessions ended, this browser's too: log in afresh.
        Ok(()) => render(&DonePage {
            nav: Nav::anonymous("login"),
            title: "Password changed",
            message: "Your new password is set, and every session of your account has ended."
                .into(),
            next: "/login",
            next_label: "Log in",
        }),
        // The form again, unless the link itself is the problem.
        Err(error @ ServiceError::BadRequest(_))
            if accounts.check_reset_link(&token).await.is_ok() =>
        {
            let page = ResetPage {
                nav,
                token,
                error: Some(error.to_string()),
            };
            (StatusCode::BAD_REQUEST, render(&page)).into_response()
        }
        Err(error) => failure::page(error, Some(nav)),
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Nav,
    email: Option<EmailStatus>,
    /// What the last action did, when it worked.
    done: Option<&'static str>,
    /// Why the last action was refused.
    error: Option<String>,
}

/// The settings page after an action: `outcome` says what happened.
async fn settings_after(
    app: &App,
    caller: &Caller,
    outcome: crate::Result<&'static str>,
) -> Response {
    let nav = Nav::of(caller, "settings");
    let (done, refusal) = match outcome {
        Ok(done) => (Some(done), None),
        Err(error) if error.is_unexpected() => return failure::page(error, Some(nav)),
        Err(error) => (None, Some(error)),
    };
    match app.netdisk.accounts().email(caller).await {
        Ok(email) => {
            let page = SettingsPage {
                nav,
                email,
                done,
                error: refusal.as_ref().map(ToString::to_string),
            };
            match refusal {
                // A refusal that passes with time says when (`Retry-After`).
                Some(error) => failure::with_retry_after(
                    &error,
                    (failure::status(&error), render(&page)).into_response(),
                ),
                None => render(&page),
            }
        }
        Err(error) => failure::page(error, Some(nav)),
    }
}

async fn settings_page(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "settings");
    match app.netdisk.accounts().email(&caller).await {
        Ok(email) => render(&SettingsPage {
            nav,
            email,
            done: None,
            error: None,
        }),
        Err(error) => failure::page(error, Some(nav)),
    }
}

async fn resend(State(app): State<App>, Member(caller): Member) -> Response {
    let sent = app.netdisk.accounts().resend_confirmation(&caller).await;
    let outcome = sent.map(|()| "A new link is on its way: look in your mail.");
    settings_after(&app, &caller, outcome).await
}

#[derive(Deserialize)]
struct EmailForm {
    address: String,
    password: String,
}

async fn change_email(
    State(app): State<App>,
    Member(caller): Member,
    Form(form): Form<EmailForm>,
) -> Response {
    let accounts = app.netdisk.accounts();
    let asked = accounts
        .change_email(&caller, &form.password, &form.address)
        .await;
    let outcome = asked.map(
        |()| "A link is on its way to the new address: your address changes when you follow it.",
    );
    settings_after(&app, &caller, outcome).await
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    password: String,
    again: String,
}

async fn change_password(
    State(app): State<App>,
    Member(caller): Member,
    Form(form): Form<PasswordForm>,
) -> Response {
    let outcome = if form.password != form.again {
        Err(ServiceError::BadRequest(
            "the two new passwords differ".into(),
        ))
    } else {
        let accounts = app.netdisk.accounts();
        let changed = accounts
            .change_password(&caller, &form.current, &form.password)
            .await;
        changed.map(|()| "Your password is changed; your other sessions have ended.")
    };
    settings_after(&app, &caller, outcome).await
}
