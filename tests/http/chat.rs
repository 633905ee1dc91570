//! Chat rooms in the browser: the room list and the create-room form for those allowed, a
//! room page that shows names as text, and the room's WebSocket: history on entering, earlier
//! pages, live messages for members and guests, guests refused when they talk, and refused
//! handshakes (another site's page, a members-only room, an oversized frame).

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use netdisk_core::{LOBBY, Permission, UserType};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::Result;
use crate::web::{Web, location};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `room`'s socket with `headers` (a cookie, an origin).
async fn open(
    web: &Web,
    room: &str,
    headers: &[(&'static str, String)],
) -> std::result::Result<Socket, WsError> {
    let mut request = format!("ws://{}/chat/{room}/ws", web.addr)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// The next JSON message but presence, within two seconds.
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = next_any(socket, Duration::from_secs(2)).await;
        if message["type"] != "presence" {
            return message;
        }
    }
}

/// The next JSON message of any type, within `within`.
async fn next_any(socket: &mut Socket, within: Duration) -> Value {
    loop {
        let message = tokio::time::timeout(within, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// A socket read by a task of its own (so that it answers pings however long the test looks
/// elsewhere), its JSON messages passed on, until it is told to stop.
struct Followed {
    messages: tokio::sync::mpsc::UnboundedReceiver<Value>,
    stop: tokio::sync::oneshot::Sender<()>,
    reader: tokio::task::JoinHandle<Socket>,
}

fn follow(mut socket: Socket) -> Followed {
    let (pass, messages) = tokio::sync::mpsc::unbounded_channel();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => return socket,
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let _ = pass.send(serde_json::from_str(&text).unwrap());
                    }
                    Some(Ok(_)) => {}
                    _ => return socket,
                },
            }
        }
    });
    Followed {
        messages,
        stop,
        reader,
    }
}

/// Follows presence messages into `people` (account → nickname) until the account names are
/// `expected`, within `within`.
async fn people_become(
    followed: &mut Followed,
    people: &mut BTreeMap<String, String>,
    expected: &[&str],
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    while people.keys().map(String::as_str).collect::<Vec<_>>() != expected {
        let message = tokio::time::timeout_at(deadline, followed.messages.recv()).await;
        let message = message
            .unwrap_or_else(|_| panic!("{expected:?} within {within:?}; seen {people:?}"))
            .expect("the socket is open");
        if message["type"] != "presence" {
            continue;
        }
        for person in message["joined"].as_array().unwrap() {
            let user = person["user"].as_str().unwrap().to_owned();
            people.insert(user, person["nickname"].as_str().unwrap().to_owned());
        }
        for user in message["left"].as_array().unwrap() {
            people.remove(user.as_str().unwrap());
        }
    }
}

async fn rooms_can_be_made_by_those_allowed_and_show_names_as_text(t: &TestDb) -> Result {
    let web = Web::start(t).await;
    let guest = web.browser();
    let list = guest.page("/chat").await;
    assert!(list.contains("# lobby") && !list.contains("Make a room"));
    let alice = web.logged_in("alice", UserType::User).await;
    assert!(!alice.page("/chat").await.contains("Make a room"));
    let refused = alice.form("/chat/rooms", &[("name", "books")]).await;
    assert_eq!(refused.status(), 403);

    web.account("admin", UserType::Admin).await;
    let admin = web.caller("admin").await;
    web.server
        .netdisk
        .chat()
        .grant(&admin, "alice", Permission::CreateRoom)
        .await
        .unwrap();
    assert!(alice.page("/chat").await.contains("Make a room"));
    let made = alice
        .form(
            "/chat/rooms",
            &[
                ("name", "<i>books</i>"),
                ("description", "<script>x</script>"),
            ],
        )
        .await;
    assert_eq!(made.status(), 303);
    let page_address = location(&made).to_owned();
    assert_eq!(page_address, "/chat/%3Ci%3Ebooks%3C%2Fi%3E");
    let page = guest.page(&page_address).await;
    assert!(
        !page.contains("<i>books</i>") && !page.contains("<script>x"),
        "names are text"
    );
    assert!(
        page.contains("Log in</a> to talk"),
        "a guest is asked to log in"
    );
    let secret = alice
        .form("/chat/rooms", &[("name", "secret"), ("members_only", "1")])
        .await;
    assert_eq!(secret.status(), 303);
    assert!(!guest.page("/chat").await.contains("# secret"));
    assert_eq!(guest.get("/chat/secret").await.status(), 403);
    assert_eq!(alice.get("/chat/secret").await.status(), 200);
    let names = |rooms: Value| -> Vec<String> {
        let rooms = rooms.as_array().unwrap().iter();
        rooms
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = guest.get("/api/chat/rooms").await.json().await.unwrap();
    assert_eq!(
        names(listed),
        [LOBBY, "<i>books</i>"],
        "guests: public rooms"
    );
    let listed = alice.get("/api/chat/rooms").await.json().await.unwrap();
    assert_eq!(names(listed), [LOBBY, "<i>books</i>", "secret"]);

    // Avatars are made from names on the spot, and never carry the name.
    let avatar = guest.get("/avatars/alice").await;
    assert_eq!(avatar.headers()["content-type"], "image/svg+xml");
    let svg = avatar.text().await.unwrap();
    assert_eq!(
        svg,
        guest.page("/avatars/alice").await,
        "the same name, the same picture"
    );
    let hostile = guest
        .page("/avatars/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert!(hostile.starts_with("<svg") && !hostile.contains("script"));
    Ok(())
}

async fn a_room_socket_gives_history_then_everything_said(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.chat_burst = 1000).await;
    web.account("alice", UserType::User).await;
    let alice = web.caller("alice").await;
    let chat = web.server.netdisk.chat();
    for n in 1..=60 {
        chat.say(&alice, LOBBY, &format!("old {n}")).await.unwrap();
    }
    let origin = ("origin", format!("http://{}", web.addr));
    let cookie = (
        "cookie",
        format!("netdisk_session={}", web.token("alice").await),
    );
    let mut member = open(&web, LOBBY, &[origin.clone(), cookie]).await.unwrap();
    let mut guest = open(&web, LOBBY, &[origin]).await.unwrap();

    let welcome = next(&mut member).await;
    assert_eq!(
        (welcome["user"].clone(), welcome["can_talk"].clone()),
        (json!("alice"), json!(true))
    );
    let history = next(&mut member).await;
    let seqs: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (11..=60).collect::<Vec<_>>(),
        "the newest 50, oldest first"
    );
    assert_eq!(next(&mut guest).await["can_talk"], false);
    next(&mut guest).await;

    send(&mut member, json!({"type": "say", "text": "<b>hello</b>"})).await;
    for socket in [&mut member, &mut guest] {
        let heard = next(socket).await;
        assert_eq!(
            (heard["type"].clone(), heard["message"]["text"].clone()),
            (json!("message"), json!("<b>hello</b>"))
        );
        assert_eq!(heard["message"]["seq"], 61);
    }
    send(&mut guest, json!({"type": "say", "text": "let me in"})).await;
    assert_eq!(next(&mut guest).await["error"], "not_logged_in");
    send(&mut member, json!({"type": "earlier", "before": 11})).await;
    let earlier = next(&mut member).await;
    let texts: Vec<&str> = earlier["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.first(), Some(&"old 1"));
    assert_eq!(texts.len(), 10);
    send(&mut member, json!({"type": "dance"})).await;
    assert_eq!(next(&mut member).await["error"], "bad_request");
    member
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next(&mut member).await["error"], "bad_request");
    assert_eq!(
        chat.history(None, LOBBY, None, 1).await.unwrap()[0].seq,
        61,
        "nothing refused was said"
    );
    Ok(())
}

async fn the_room_socket_lists_who_is_here_as_they_come_and_go(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.chat_ping_secs = 1).await;
    let origin = ("origin", format!("http://{}", web.addr));
    let mut cookies = Vec::new();
    for name in ["alice", "bob", "carol"] {
        web.account(name, UserType::User).await;
        cookies.push((
            "cookie",
            format!("netdisk_session={}", web.token(name).await),
        ));
    }
    let bob = web.caller("bob").await;
    let chat = web.server.netdisk.chat();
    chat.set_nickname(&bob, "<b>Bobby</b>").await.unwrap();
    let mut sockets = Vec::new();
    for cookie in cookies {
        let socket = open(&web, LOBBY, &[origin.clone(), cookie]).await.unwrap();
        sockets.push(follow(socket));
    }
    let [mut alice, bob, carol] = <[Followed; 3]>::try_from(sockets).ok().unwrap();
    let mut guest = follow(open(&web, LOBBY, &[origin]).await.unwrap());

    let within = Duration::from_secs(5);
    let everyone = ["alice", "bob", "carol"];
    let mut seen_by_guest = BTreeMap::new();
    people_become(&mut guest, &mut seen_by_guest, &everyone, within).await;
    let mut seen_by_alice = BTreeMap::new();
    people_become(&mut alice, &mut seen_by_alice, &everyone, within).await;
    assert_eq!(seen_by_alice["bob"], "<b>Bobby</b>", "nicknames are shown");

    // Bob closes his socket: he leaves at once. Carol's client vanishes without closing (it
    // stops answering pings): she leaves within seconds.
    bob.reader.abort();
    people_become(&mut guest, &mut seen_by_guest, &["alice", "carol"], within).await;
    carol.stop.send(()).unwrap();
    let _still_open = carol.reader.await.unwrap();
    let dead_within = Duration::from_secs(8);
    people_become(&mut alice, &mut seen_by_alice, &["alice"], dead_within).await;
    people_become(&mut guest, &mut seen_by_guest, &["alice"], within).await;
    Ok(())
}

async fn an_open_socket_keeps_its_connection_slot(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.server.max_connections = 2).await;
    let origin = ("origin", format!("http://{}", web.addr));
    let first = follow(
        open(&web, LOBBY, std::slice::from_ref(&origin))
            .await
            .unwrap(),
    );
    let _second = follow(open(&web, LOBBY, &[origin]).await.unwrap());
    let page = || async {
        let fresh = reqwest::Client::new();
        fresh.get(web.url("/chat")).send().await.unwrap().status()
    };
    let waited = tokio::time::timeout(Duration::from_millis(1500), page()).await;
    assert!(
        waited.is_err(),
        "two open sockets are two connections: a third waits"
    );
    first.reader.abort();
    let served = tokio::time::timeout(Duration::from_secs(5), page()).await;
    assert_eq!(served.expect("served once a socket closed"), 200);
    Ok(())
}

async fn handshakes_from_elsewhere_or_into_closed_rooms_are_refused(t: &TestDb) -> Result {
    let web = Web::start_with(t, |c| c.chat_max_message_bytes = 1000).await;
    web.account("admin", UserType::Admin).await;
    web.account("bob", UserType::User).await;
    let admin = web.caller("admin").await;
    web.server
        .netdisk
        .chat()
        .create_room(&admin, "staff", "", true)
        .await
        .unwrap();
    let bob = (
        "cookie",
        format!("netdisk_session={}", web.token("bob").await),
    );
    let evil = ("origin", "http://evil.example".to_owned());
    let refused_status = |result: std::result::Result<Socket, WsError>| match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        other => panic!("not refused: {:?}", other.map(|_| ())),
    };
    assert_eq!(
        refused_status(open(&web, LOBBY, &[bob.clone(), evil]).await),
        403
    );
    assert_eq!(
        refused_status(open(&web, "staff", std::slice::from_ref(&bob)).await),
        403
    );
    assert_eq!(
        refused_status(open(&web, "no-such-room", std::slice::from_ref(&bob)).await),
        404
    );
    let ended = ("authorization", "Bearer no-such-session".to_owned());
    assert_eq!(
        refused_status(open(&web, LOBBY, &[ended]).await),
        401,
        "a bearer token that is no session is told so"
    );

    let mut socket = open(&web, LOBBY, std::slice::from_ref(&bob)).await.unwrap();
    next(&mut socket).await;
    next(&mut socket).await;
    let huge = json!({"type": "say", "text": "x".repeat(10_000)}).to_string();
    let _ = socket.send(Message::Text(huge.into())).await;
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "an oversized frame closes the socket");
    let mut again = open(&web, LOBBY, &[bob]).await.unwrap();
    assert_eq!(
        next(&mut again).await["type"],
        "welcome",
        "the room carries on"
    );
    Ok(())
}

backend_tests!(
    on [sqlite_memory, mysql]:
    rooms_can_be_made_by_those_allowed_and_show_names_as_text,
    a_room_socket_gives_history_then_everything_said,
    the_room_socket_lists_who_is_here_as_they_come_and_go,
    an_open_socket_keeps_its_connection_slot,
    handshakes_from_elsewhere_or_into_closed_rooms_are_refused,
);
