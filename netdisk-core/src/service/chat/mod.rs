//! Chat rooms, one service for every chat door (the C/S chat room's lobby, the browser, the
//! terminal client): rooms, public or members-only, with `lobby` always there; the
//! `create_room` permission, which admins grant and revoke; nicknames; and messages, each
//! stored before it is sent out as the next event of its room's topic (`chat.room.<id>`), so
//! that every server process delivers it once, in order, and history is the topic read back.
//!
//! Rules the service enforces whatever the door: only the logged-in talk, in rooms they may
//! enter; a message has 1 to `chat_max_message_bytes` bytes; each person gets a burst of
//! `chat_burst` messages and then `chat_per_second` a second ([`ServiceError::TooFast`]).
//!
//! Presence (who is in a room now, across processes) is `presence`'s: a connection holds a
//! [`Here`] from [`Chat::arrive`] while it is open, and a page follows [`Chat::people`].

mod limiter;
mod presence;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use mini_orm::Model;
use serde::{Deserialize, Serialize};

use super::{Caller, Shared, UserType, check_text};
use crate::error::{Result, ServiceError};
use crate::models::{ChatRoom, Nickname, RoomMember, User, UserPermission};
use crate::topics::{Subscription, Topics};
use limiter::Limiter;
use presence::Presence;
pub use presence::{Here, People, PeopleNow, Person, RoomPeople};

/// The room that always exists, and the C/S chat door's only room.
pub const LOBBY: &str = "lobby";

/// Longest room name and nickname, in characters.
const MAX_NAME_CHARS: usize = 32;
/// Longest room description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 255;
/// Largest page of history.
const MAX_HISTORY: u64 = 200;

/// A permission an admin grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Making rooms.
    CreateRoom,
}

impl Permission {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CreateRoom => "create_room",
        }
    }
}

/// A room as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomView {
    /// Its id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Members only, or public.
    pub members_only: bool,
    /// When it was made.
    pub created_at: String,
}

impl From<ChatRoom> for RoomView {
    fn from(room: ChatRoom) -> Self {
        RoomView {
            id: room.id,
            name: room.name,
            description: room.description,
            members_only: room.members_only,
            created_at: room.created_at,
        }
    }
}

/// A message said in a room, as its topic carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Its place in the room: 1 for the first message.
    #[serde(skip_deserializing)]
    pub seq: i64,
    /// The sender's account name.
    pub user: String,
    /// The sender's display name when it was said.
    pub nickname: String,
    /// What was said.
    pub text: String,
    /// When, in milliseconds since the Unix epoch (each reader shows it in their own time).
    #[serde(skip_deserializing)]
    pub sent_at_ms: i64,
}

/// The messages said in a room from the moment it was made, in order, each once.
pub struct RoomSubscription(Subscription);

impl RoomSubscription {
    /// The next message; waits until there is one. Cancel-safe.
    pub async fn next(&mut self) -> Result<ChatMessage> {
        message(&self.0.next().await?)
    }

    /// The next message, rendered as `form` by `render`: once for every listener in this
    /// process that hears it, and then shared (a room of a thousand sockets renders each
    /// message once, not a thousand times; make `T` cheap to clone). Cancel-safe.
    pub async fn next_rendered<T: Clone + Send + Sync + 'static>(
        &mut self,
        form: &'static str,
        render: fn(&ChatMessage) -> T,
    ) -> Result<T> {
        rendered(&self.0.next().await?, form, render)
    }

    /// The next message as [`RoomSubscription::next_rendered`] gives it, if it is here already
    /// (`None` otherwise, or when it must be read from the database first: `next_rendered`
    /// does). For taking, without waiting, what else came with the message just heard.
    pub fn try_next_rendered<T: Clone + Send + Sync + 'static>(
        &mut self,
        form: &'static str,
        render: fn(&ChatMessage) -> T,
    ) -> Option<Result<T>> {
        Some(rendered(&self.0.try_next()?, form, render))
    }
}

fn rendered<T: Clone + Send + Sync + 'static>(
    event: &crate::topics::Event,
    form: &'static str,
    render: fn(&ChatMessage) -> T,
) -> Result<T> {
    event.rendered(form, |event| message(event).map(|said| render(&said)))
}

fn message(event: &crate::topics::Event) -> Result<ChatMessage> {
    let mut message: ChatMessage = event
        .payload_as()
        .map_err(|error| ServiceError::Internal(Box::new(error)))?;
    message.seq = event.seq();
    message.sent_at_ms = event.created_at();
    Ok(message)
}

fn topic(room: &ChatRoom) -> String {
    format!("chat.room.{}", room.id)
}

/// The chat service. Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    shared: Arc<Shared>,
    topics: Topics,
    limiter: Arc<Limiter>,
    presence: Presence,
}

impl Chat {
    /// The service, making the lobby if it is missing.
    pub(super) async fn open(shared: Arc<Shared>, topics: Topics) -> Result<Chat> {
        let mut lobby = ChatRoom {
            id: 0,
            name: LOBBY.to_owned(),
            description: "Everyone's room".to_owned(),
            creator_id: None,
            created_at: shared.now_text(),
            members_only: false,
        };
        lobby.insert_if_absent(&shared.db).await?;
        let config = &shared.config;
        let limiter = Arc::new(Limiter::new(config.chat_burst, config.chat_per_second));
        Ok(Chat {
            presence: Presence::start(shared.clone()),
            shared,
            topics,
            limiter,
        })
    }

    /// Every room `viewer` may enter (guests: the public ones), the lobby first, then by name.
    pub async fn rooms(&self, viewer: Option<&Caller>) -> Result<Vec<RoomView>> {
        let mut rooms = ChatRoom::query()
            .order_by(ChatRoom::NAME.asc())
            .all(&self.shared.db)
            .await?;
        rooms.sort_by_key(|room| room.name != LOBBY);
        let member_of: HashSet<i64> = match viewer {
            Some(viewer) if viewer.user_type() != UserType::Admin => RoomMember::query()
                .filter(RoomMember::USER_ID.eq(viewer.user_id()))
                .all(&self.shared.db)
                .await?
                .into_iter()
                .map(|member| member.room_id)
                .collect(),
            _ => HashSet::new(),
        };
        let is_admin = viewer.is_some_and(|v| v.user_type() == UserType::Admin);
        Ok(rooms
            .into_iter()
            .filter(|room| !room.members_only || is_admin || member_of.contains(&room.id))
            .map(RoomView::from)
            .collect())
    }

    /// A room `viewer` may enter; one they may not is [`ServiceError::Forbidden`], one that does
    /// not exist [`ServiceError::NotFound`].
    pub async fn room(&self, viewer: Option<&Caller>, name: &str) -> Result<RoomView> {
        Ok(self.enter(viewer, name).await?.into())
    }

    async fn enter(&self, viewer: Option<&Caller>, name: &str) -> Result<ChatRoom> {
        let room = ChatRoom::query()
            .filter(ChatRoom::NAME.eq(name))
            .first(&self.shared.db)
            .await?
            .ok_or(ServiceError::NotFound("no such room"))?;
        if !self.may_enter(viewer, &room).await? {
            return Err(ServiceError::Forbidden("this room is for its members"));
        }
        Ok(room)
    }

    async fn may_enter(&self, viewer: Option<&Caller>, room: &ChatRoom) -> Result<bool> {
        if !room.members_only {
            return Ok(true);
        }
        let Some(viewer) = viewer else {
            return Ok(false);
        };
        if viewer.user_type() == UserType::Admin {
            return Ok(true);
        }
        let membership = RoomMember::ROOM_ID.eq(room.id) & RoomMember::USER_ID.eq(viewer.user_id());
        Ok(RoomMember::query()
            .filter(membership)
            .exists(&self.shared.db)
            .await?)
    }

    /// Makes a room; the caller needs the `create_room` permission (admins have every
    /// permission) and becomes its first member. A name in use is [`ServiceError::Conflict`].
    pub async fn create_room(
        &self,
        caller: &Caller,
        name: &str,
        description: &str,
        members_only: bool,
    ) -> Result<RoomView> {
        if !self.has(caller, Permission::CreateRoom).await? {
            return Err(ServiceError::Forbidden(
                "making rooms needs the create_room permission",
            ));
        }
        check_text("a room name", name, MAX_NAME_CHARS)?;
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ServiceError::bad_request(format!(
                "a description has at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        let mut room = ChatRoom {
            id: 0,
            name: name.to_owned(),
            description: description.to_owned(),
            creator_id: Some(caller.user_id()),
            created_at: self.shared.now_text(),
            members_only,
        };
        let mut tx = self.shared.db.begin().await?;
        match room.save(&mut tx).await {
            Err(e) if e.is_unique_violation() => {
                return Err(ServiceError::Conflict("a room with this name exists"));
            }
            other => other?,
        }
        let mut member = RoomMember {
            id: 0,
            room_id: room.id,
            user_id: caller.user_id(),
        };
        member.save(&mut tx).await?;
        tx.commit().await?;
        Ok(room.into())
    }

    /// Lets account `user` into members-only room `room`. Its creator or an admin only.
    pub async fn add_member(&self, caller: &Caller, room: &str, user: &str) -> Result<()> {
        let room = self.enter(Some(caller), room).await?;
        let is_creator = room.creator_id == Some(caller.user_id());
        if !is_creator && caller.user_type() != UserType::Admin {
            return Err(ServiceError::Forbidden(
                "only the room's creator or an admin adds members",
            ));
        }
        let mut member = RoomMember {
            id: 0,
            room_id: room.id,
            user_id: self.account(user).await?.id,
        };
        member.insert_if_absent(&self.shared.db).await?;
        Ok(())
    }

    /// Whether `caller` holds `permission` (admins hold them all).
    pub async fn has(&self, caller: &Caller, permission: Permission) -> Result<bool> {
        if caller.user_type() == UserType::Admin {
            return Ok(true);
        }
        let held = UserPermission::USER_ID.eq(caller.user_id())
            & UserPermission::PERMISSION.eq(permission.as_str());
        Ok(UserPermission::query()
            .filter(held)
            .exists(&self.shared.db)
            .await?)
    }

    /// Grants `permission` to account `user` (idempotent). Admins only.
    pub async fn grant(&self, caller: &Caller, user: &str, permission: Permission) -> Result<()> {
        caller.require(UserType::Admin)?;
        let mut granted = UserPermission {
            id: 0,
            user_id: self.account(user).await?.id,
            permission: permission.as_str().to_owned(),
        };
        granted.insert_if_absent(&self.shared.db).await?;
        Ok(())
    }

    /// Revokes `permission` from account `user` (idempotent). Admins only.
    pub async fn revoke(&self, caller: &Caller, user: &str, permission: Permission) -> Result<()> {
        caller.require(UserType::Admin)?;
        let user_id = self.account(user).await?.id;
        UserPermission::query()
            .filter(
                UserPermission::USER_ID.eq(user_id)
                    & UserPermission::PERMISSION.eq(permission.as_str()),
            )
            .delete(&self.shared.db)
            .await?;
        Ok(())
    }

    async fn account(&self, name: &str) -> Result<User> {
        User::query()
            .filter(User::NAME.eq(name))
            .first(&self.shared.db)
            .await?
            .ok_or(ServiceError::NotFound("no such account"))
    }

    /// The name shown for the caller: their nickname, or their account name.
    pub async fn nickname(&self, caller: &Caller) -> Result<String> {
        let set = Nickname::query()
            .filter(Nickname::USER_ID.eq(caller.user_id()))
            .first(&self.shared.db)
            .await?;
        Ok(set.map_or_else(|| caller.name().to_owned(), |n| n.nickname))
    }

    /// Sets the caller's display name (1 to 32 characters).
    pub async fn set_nickname(&self, caller: &Caller, nickname: &str) -> Result<()> {
        check_text("a nickname", nickname, MAX_NAME_CHARS)?;
        let mut row = Nickname {
            id: 0,
            user_id: caller.user_id(),
            nickname: nickname.to_owned(),
        };
        let mine = Nickname::USER_ID.eq(caller.user_id());
        let rename = [Nickname::NICKNAME.set(nickname.to_owned())];
        row.upsert(&self.shared.db, mine, rename).await?;
        Ok(())
    }

    /// Says `text` in room `room`: stored, then sent to everyone in it on every server
    /// process. The caller must be able to enter the room.
    pub async fn say(&self, caller: &Caller, room: &str, text: &str) -> Result<ChatMessage> {
        let max = self.shared.config.chat_max_message_bytes;
        if text.is_empty() || text.len() > max {
            return Err(ServiceError::bad_request(format!(
                "a message has 1 to {max} bytes"
            )));
        }
        let room = self.enter(Some(caller), room).await?;
        if let Err(wait) = self.limiter.take(caller.user_id(), Instant::now()) {
            return Err(ServiceError::TooFast {
                retry_after_ms: wait.as_millis().max(1) as u64,
            });
        }
        let said = ChatMessage {
            seq: 0,
            user: caller.name().to_owned(),
            nickname: self.nickname(caller).await?,
            text: text.to_owned(),
            sent_at_ms: 0,
        };
        let event = self.topics.publish(&topic(&room), &said).await?;
        message(&event)
    }

    /// At most `limit` (≤ 200) messages of room `room` before `before` (the newest when
    /// `None`), newest first.
    pub async fn history(
        &self,
        viewer: Option<&Caller>,
        room: &str,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<ChatMessage>> {
        let room = self.enter(viewer, room).await?;
        let events = self
            .topics
            .history(&topic(&room), before, limit.min(MAX_HISTORY))
            .await?;
        events.iter().map(message).collect()
    }

    /// Everything said in room `room` from now on.
    pub async fn listen(&self, viewer: Option<&Caller>, room: &str) -> Result<RoomSubscription> {
        let room = self.enter(viewer, room).await?;
        Ok(RoomSubscription(
            self.topics.subscribe(&topic(&room)).await?,
        ))
    }

    /// Lists the caller among the people of room `room` (on every server process) until the
    /// returned [`Here`] is dropped: a connection holds it while it is open. Several
    /// connections of one person make one entry. The caller must be able to enter the room.
    pub async fn arrive(&self, caller: &Caller, room: &str) -> Result<Here> {
        let room = self.enter(Some(caller), room).await?;
        Ok(self.presence.arrive(room.id, caller.user_id()))
    }

    /// The people logged in and in room `room` now, on every server process, kept current:
    /// changes made through this process show within moments, other processes' within a
    /// second, and the people of a process that died leave within about eight seconds.
    pub async fn people(&self, viewer: Option<&Caller>, room: &str) -> Result<RoomPeople> {
        let room = self.enter(viewer, room).await?;
        Ok(self.presence.watch(room.id))
    }
}
