//! The connection: each case gets one answer, with one of the contract's codes (after the bytes
//! an upload announces, or followed by those a download sends), and the same connection then
//! still answers a valid request, except after `too_large`, which closes it as the contract says.

use serde_json::{Value, json};

use crate::contract::{CODES, Outcome, nd};
use crate::matrix::{Fixture, MAX_UPLOAD, content};
use crate::mutations::encode;
use crate::support::{Client, TestServer};

/// One protocol's connection to the server under test, reopened when a case closes it.
pub(crate) struct Door<'s> {
    pub(crate) server: &'s TestServer,
    pub(crate) youku: bool,
    pub(crate) client: Client,
}

impl Door<'_> {
    /// A fresh connection (logged in as the fixture's netdisk account on the netdisk door).
    pub(crate) async fn reconnect(&mut self, fixture: &Fixture) {
        self.client = if self.youku {
            self.server.youku().await
        } else {
            let mut client = self.server.netdisk_client().await;
            let login =
                json!({"api": "login", "data": {"username": fixture.nd_user, "password": "pw"}});
            assert_eq!(client.call(login).await["code"], 1);
            client
        };
        // An upload is a frame, then its bytes in a second write: without this, each waits
        // for the frame's delayed acknowledgement.
        self.client.stream.set_nodelay(true).unwrap();
    }

    /// Sends `request` (with the raw bytes an upload announces, as a client would) and reads
    /// the answer, and any bytes that follow it.
    pub(crate) async fn exchange(
        &mut self,
        request: &Value,
        n: usize,
    ) -> std::result::Result<Outcome, String> {
        let c = &mut self.client;
        c.send_bytes(encode(request).as_bytes()).await;
        let file_size = request
            .get("file_size")
            .or_else(|| request["data"].get("file_size"))
            .and_then(Value::as_u64);
        let bytes_for = |size: u64| {
            let mut bytes = content(n);
            bytes.resize(size as usize, b'.');
            bytes
        };
        if self.youku {
            let uploads = matches!(
                request["type"].as_str(),
                Some("upload_movie" | "upload_file")
            );
            if let Some(size) = file_size.filter(|&s| uploads && s <= MAX_UPLOAD) {
                c.send_raw(&bytes_for(size)).await;
            }
            let answer = c.recv().await.ok_or("no answer")?;
            if answer["flag"] == true {
                if let Some(size) = answer["file_size"].as_u64() {
                    c.recv_raw(size as usize).await;
                }
                return Ok(Outcome::Ok);
            }
            let code = answer["code"].as_str().unwrap_or_default();
            let code = *CODES
                .iter()
                .find(|known| **known == code)
                .ok_or(format!("not one of the contract's codes: {answer}"))?;
            if code == "too_large" {
                return Ok(if c.closed().await {
                    Outcome::CodeThenClose(code)
                } else {
                    Outcome::Code(code)
                });
            }
            Ok(Outcome::Code(code))
        } else {
            let answer = c.recv().await.ok_or("no answer")?;
            let code = answer["code"]
                .as_i64()
                .ok_or(format!("no code: {answer}"))?;
            if code != 99999 {
                return Ok(nd(code));
            }
            let size = file_size.ok_or("a go-ahead without a usable file_size")?;
            if request["api"] == "download" {
                c.recv_raw(size as usize).await;
                c.send(&json!("ok")).await;
            } else {
                c.send_raw(&bytes_for(size)).await;
            }
            let last = c.recv().await.ok_or("no answer after the go-ahead")?;
            let code = last["code"].as_i64().ok_or(format!("no code: {last}"))?;
            Ok(Outcome::Nd {
                code,
                go_ahead: true,
            })
        }
    }

    /// Whether the connection still answers a valid request.
    pub(crate) async fn still_serves(&mut self, fixture: &Fixture) -> bool {
        if self.youku {
            let check = json!({"type": "list_files", "session": fixture.user});
            self.client.send(&check).await;
            matches!(self.client.recv().await, Some(answer) if answer["flag"] == true)
        } else {
            let check = json!({"api": "check", "data": {"username": fixture.nd_user}});
            self.client.send(&check).await;
            matches!(self.client.recv().await, Some(answer) if answer["code"] == 1)
        }
    }
}
