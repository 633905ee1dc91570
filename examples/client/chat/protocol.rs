//! The chat WebSocket's JSON messages (`docs/http-api.md`, "Chat rooms"), as typed values: what
//! the server sends ([`Incoming`]) and what a client may ask ([`Outgoing`]).

use serde::{Deserialize, Serialize};

/// One message said in a room.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Said {
    /// Its place in the room: 1, 2, 3… without gaps.
    pub seq: i64,
    /// The sender's account name.
    pub user: String,
    /// The sender's display name when it was said.
    pub nickname: String,
    /// What was said, exactly as sent (it may hold control characters: clean it before showing).
    pub text: String,
    /// When, in milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
}

/// Someone in a room, as presence messages name them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Person {
    /// The account name (the key: a nickname may change or repeat).
    pub user: String,
    /// The name to show.
    pub nickname: String,
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Incoming {
    /// The first message on a socket.
    Welcome {
        /// The room's name.
        room: String,
        /// The account the server took the handshake for; `None` for a guest.
        user: Option<String>,
        /// Whether this socket may say anything.
        can_talk: bool,
    },
    /// The second: the newest messages, oldest first.
    History {
        /// The messages.
        messages: Vec<Said>,
    },
    /// Something said in the room (by anyone, this client included).
    Message {
        /// What was said.
        message: Said,
    },
    /// The answer to [`Outgoing::Earlier`]: the page before the asked `seq`, oldest first.
    Earlier {
        /// The messages (none when the room's start was reached).
        messages: Vec<Said>,
    },
    /// Who came and went. The first one on a socket lists everyone in the room then.
    Presence {
        /// Those who came in.
        #[serde(default)]
        joined: Vec<Person>,
        /// The account names of those who left.
        #[serde(default)]
        left: Vec<String>,
    },
    /// A refusal of something asked; the socket stays open.
    Error {
        /// The services' code (`too_fast`, `not_logged_in`, `bad_request`, ...).
        error: String,
        /// The server's explanation.
        message: String,
    },
}

impl Incoming {
    /// The message in a text frame; `None` for anything this client does not know (a type added
    /// later, or a malformed message), which is skipped rather than taken for an error.
    pub fn parse(text: &str) -> Option<Incoming> {
        serde_json::from_str(text).ok()
    }
}

/// A request from the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// Say `text` in the room; it comes back as an [`Incoming::Message`].
    Say {
        /// What to say.
        text: String,
    },
    /// Ask for the page of messages before `before`.
    Earlier {
        /// The `seq` the page ends below.
        before: i64,
    },
}

impl Outgoing {
    /// The request as the text of a frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("requests serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_message_of_the_api_document_parses() {
        let welcome = r#"{"type":"welcome","room":"lobby","user":"alice","can_talk":true}"#;
        assert_eq!(
            Incoming::parse(welcome),
            Some(Incoming::Welcome {
                room: "lobby".into(),
                user: Some("alice".into()),
                can_talk: true
            })
        );
        let guest = r#"{"type":"welcome","room":"lobby","user":null,"can_talk":false}"#;
        assert!(matches!(
            Incoming::parse(guest),
            Some(Incoming::Welcome { user: None, .. })
        ));
        let message = r#"{"type":"message","message":{"seq":7,"user":"bob","nickname":"Bob",
            "text":"hi","sent_at_ms":1700000000000}}"#;
        let Some(Incoming::Message { message }) = Incoming::parse(message) else {
            panic!("a message")
        };
        assert_eq!((message.seq, message.nickname.as_str()), (7, "Bob"));
        let presence =
            r#"{"type":"presence","joined":[{"user":"bob","nickname":"Bob"}],"left":["eve"]}"#;
        assert_eq!(
            Incoming::parse(presence),
            Some(Incoming::Presence {
                joined: vec![Person {
                    user: "bob".into(),
                    nickname: "Bob".into()
                }],
                left: vec!["eve".into()]
            })
        );
        let error = r#"{"type":"error","error":"too_fast","message":"slow down"}"#;
        assert!(
            matches!(Incoming::parse(error), Some(Incoming::Error { error, .. }) if error == "too_fast")
        );
    }

    #[test]
    fn unknown_and_malformed_messages_are_skipped() {
        assert_eq!(Incoming::parse(r#"{"type":"typing","user":"bob"}"#), None);
        assert_eq!(Incoming::parse("not json"), None);
        assert_eq!(Incoming::parse(r#"{"type":"history"}"#), None);
    }

    #[test]
    fn requests_are_the_documented_json() {
        let say = Outgoing::Say { text: "hi".into() };
        assert_eq!(say.to_json(), r#"{"type":"say","text":"hi"}"#);
        let earlier = Outgoing::Earlier { before: 51 };
        assert_eq!(earlier.to_json(), r#"{"type":"earlier","before":51}"#);
    }
}
