//! The administrator's pages: uploading a movie (resumable, with a progress bar, speed and time
//! left; the page computes the whole file's MD5, which the upload checks as the Youku door
//! does), and the accounts (add a user with the password typed twice, lock and unlock, reset a
//! password, grant and revoke `create_room`, set the role on the photo site). Deleting movies is on each movie's page,
//! releasing notices on the notices page.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::super::App;
use super::super::auth::Member;
use super::super::failure;
use super::{Nav, render, see};
use crate::{AccountSummary, Caller, Permission, Role, ServiceError, UserType};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/admin", get(admin_page))
        .route("/admin/users", get(users_page).post(add_user))
        .route("/admin/users/{name}/{action}", post(account_action))
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    max_bytes: u64,
}

async fn admin_page(State(app): State<App>, Member(caller): Member) -> Response {
    let nav = Nav::of(&caller, "admin");
    if caller.user_type() != UserType::Admin {
        let refused = ServiceError::Forbidden("this page is for administrators");
        return failure::page(refused, Some(nav));
    }
    render(&AdminPage {
        nav,
        max_bytes: app.netdisk.config().max_movie_bytes,
    })
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    nav: Nav,
    accounts: Vec<AccountSummary>,
    me: String,
    error: Option<String>,
}

impl UsersPage {
    /// The address of an action on account `name`.
    fn action(&self, name: &str, action: &str) -> String {
        let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        format!("/admin/users/{name}/{action}")
    }

    /// The roles an administrator may give (administrators are the admin accounts).
    fn roles(&self) -> [Role; 3] {
        [Role::Locked, Role::User, Role::Moderator]
    }

    fn can_create_rooms(&self, account: &AccountSummary) -> bool {
        account.user_type == UserType::Admin
            || account
                .permissions
                .iter()
                .any(|p| p == Permission::CreateRoom.as_str())
    }
}

/// The users page, with `error` from a refused action shown at its top.
async fn users_page_with(app: &App, caller: &Caller, error: Option<ServiceError>) -> Response {
    let nav = Nav::of(caller, "users");
    let accounts = match app.netdisk.accounts().accounts(caller).await {
        Ok(accounts) => accounts,
        Err(error) => return failure::page(error, Some(nav)),
    };
    let status = error.as_ref().map_or(StatusCode::OK, failure::status);
    let page = UsersPage {
        nav,
        accounts,
        me: caller.name().to_owned(),
        error: error.map(|e| e.to_string()),
    };
    (status, render(&page)).into_response()
}

async fn users_page(State(app): State<App>, Member(caller): Member) -> Response {
    users_page_with(&app, &caller, None).await
}

/// After an action: back to the list, or the list with the refusal.
async fn done(app: &App, caller: &Caller, outcome: crate::Result<()>) -> Response {
    match outcome {
        Ok(()) => see("/admin/users"),
        Err(error) if error.is_unexpected() => failure::page(error, Some(Nav::of(caller, "users"))),
        Err(error) => users_page_with(app, caller, Some(error)).await,
    }
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    password: String,
    again: String,
}

async fn add_user(
    State(app): State<App>,
    Member(caller): Member,
    Form(form): Form<NewUser>,
) -> Response {
    let added = app
        .netdisk
        .accounts()
        .add_user(&caller, &form.name, &form.password, &form.again)
        .await;
    done(&app, &caller, added).await
}

#[derive(Deserialize)]
struct ActionForm {
    /// The new password, for `password`.
    password: Option<String>,
    /// The new role on the photo site, for `role`.
    role: Option<String>,
}

async fn account_action(
    State(app): State<App>,
    Member(caller): Member,
    Path((name, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let accounts = app.netdisk.accounts();
    let chat = app.netdisk.chat();
    let outcome = match action.as_str() {
        "lock" => accounts.lock(&caller, &name).await,
        "unlock" => accounts.unlock(&caller, &name).await,
        "password" => {
            let password = form.password.unwrap_or_default();
            accounts.reset_password(&caller, &name, &password).await
        }
        "grant" => chat.grant(&caller, &name, Permission::CreateRoom).await,
        "revoke" => chat.revoke(&caller, &name, Permission::CreateRoom).await,
        "role" => match form.role.as_deref().and_then(Role::parse) {
            Some(role) => accounts.set_role(&caller, &name, role).await,
            None => Err(ServiceError::bad_request(
                "choose locked, user or moderator",
            )),
        },
        _ => Err(ServiceError::NotFound("no such action")),
    };
    done(&app, &caller, outcome).await
}
