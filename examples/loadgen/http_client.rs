//! A small HTTP/1.1 client for mode `http`: one keep-alive connection, requests written in one
//! piece, answers read into one reused buffer. Bodies to be measured are counted and dropped
//! (never copied, hashed or kept), so the client costs the same against the server's HTTP door
//! and against nginx. It understands `Content-Length` and chunked bodies, which is all either
//! server sends.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Size of the read buffer (bodies are read through it and dropped).
const READ_BUFFER: usize = 256 * 1024;

/// Longest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// How long any one read or write may take before the request counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// One keep-alive HTTP/1.1 connection.
pub struct HttpConn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

/// The status and headers of an answer.
#[derive(Debug)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the body of an answer ends.
enum Framing {
    Length(u64),
    Chunked,
}

impl HttpConn {
    /// Connects to `addr` (with `TCP_NODELAY`: every request is written whole).
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<HttpConn> {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .context("connecting timed out")?
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream,
            host: addr.to_string(),
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
        })
    }

    /// Writes a request: `headers` are added to `Host` (and `Content-Length` when there is a
    /// body).
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<()> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let write = async {
            if body.len() <= 64 * 1024 {
                let mut whole = head.into_bytes();
                whole.extend_from_slice(body);
                self.stream.write_all(&whole).await
            } else {
                self.stream.write_all(head.as_bytes()).await?;
                self.stream.write_all(body).await
            }
        };
        tokio::time::timeout(IO_TIMEOUT, write)
            .await
            .context("writing the request timed out")??;
        Ok(())
    }

    /// Sends a request and reads the whole answer, body kept.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<(Head, Vec<u8>)> {
        self.send(method, path, headers, body).await?;
        let head = self.read_head().await?;
        let mut kept = Vec::new();
        self.read_body(&head, method, Some(&mut kept)).await?;
        Ok((head, kept))
    }

    /// Sends a request and reads the answer, counting its body's bytes and dropping them.
    pub async fn discard(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(Head, u64)> {
        self.send(method, path, headers, &[]).await?;
        let head = self.read_head().await?;
        let len = self.read_body(&head, method, None).await?;
        Ok((head, len))
    }

    /// Sends `body` as JSON (with a bearer `token` if given, and this host as `Origin`, as a
    /// page of the site would: sign-up and login carry no token); the status and the JSON
    /// answer (`null` when the body is empty or not JSON).
    pub async fn json(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let origin = format!("http://{}", self.host);
        let mut headers = vec![("Content-Type", "application/json"), ("Origin", &origin)];
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer));
        }
        let body = serde_json::to_vec(body)?;
        let (head, answer) = self.request(method, path, &headers, &body).await?;
        let value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        Ok((head.status, value))
    }

    /// Reads more bytes into the buffer (after moving what is unread to its front when it is
    /// full); an error if the connection closed.
    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let read = tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut self.buf[self.end..]))
            .await
            .context("reading the answer timed out")??;
        ensure!(read > 0, "the server closed the connection");
        self.end += read;
        Ok(())
    }

    /// Reads up to the end of the next line (`\r\n`), returning it without the line end.
    async fn line(&mut self) -> anyhow::Result<String> {
        loop {
            if let Some(at) = self.buf[self.start..self.end]
                .windows(2)
                .position(|w| w == b"\r\n")
            {
                let line = String::from_utf8_lossy(&self.buf[self.start..self.start + at]);
                let line = line.into_owned();
                self.start += at + 2;
                return Ok(line);
            }
            ensure!(
                self.end - self.start < MAX_HEAD,
                "an answer line is too long"
            );
            self.fill().await?;
        }
    }

    /// Reads an answer's status line and headers.
    async fn read_head(&mut self) -> anyhow::Result<Head> {
        let status_line = self.line().await?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("not an HTTP status line: {status_line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line().await?;
            if line.is_empty() {
                return Ok(Head { status, headers });
            }
            let (name, value) = line
                .split_once(':')
                .with_context(|| format!("not a header: {line:?}"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }

    /// Reads the body `head` announces, into `keep` if given (else dropped); its length.
    async fn read_body(
        &mut self,
        head: &Head,
        method: &str,
        mut keep: Option<&mut Vec<u8>>,
    ) -> anyhow::Result<u64> {
        if method == "HEAD" || head.status == 204 || head.status == 304 {
            return Ok(0);
        }
        let framing = if head
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            Framing::Chunked
        } else {
            let len = head
                .header("content-length")
                .context("an answer with neither Content-Length nor chunks")?;
            Framing::Length(len.parse().context("a bad Content-Length")?)
        };
        match framing {
            Framing::Length(len) => {
                self.take(len, keep).await?;
                Ok(len)
            }
            Framing::Chunked => {
                let mut total = 0;
                loop {
                    let size_line = self.line().await?;
                    let digits = size_line.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(digits, 16)
                        .with_context(|| format!("a bad chunk size {size_line:?}"))?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        while !self.line().await?.is_empty() {}
                        return Ok(total);
                    }
                    self.take(size, keep.as_deref_mut()).await?;
                    ensure!(
                        self.line().await?.is_empty(),
                        "a chunk without its line end"
                    );
                    total += size;
                }
            }
        }
    }

    /// Consumes `len` body bytes, appending them to `keep` if given.
    async fn take(&mut self, mut len: u64, mut keep: Option<&mut Vec<u8>>) -> anyhow::Result<()> {
        while len > 0 {
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
                self.fill().await?;
            }
            let available = (self.end - self.start) as u64;
            let used = available.min(len) as usize;
            if let Some(keep) = keep.as_deref_mut() {
                keep.extend_from_slice(&self.buf[self.start..self.start + used]);
            }
            self.start += used;
            len -= used as u64;
        }
        Ok(())
    }
}

/// Checks that an answer has status `want`, with the JSON answer in the error otherwise.
pub fn expect(what: &str, want: u16, (status, answer): (u16, Value)) -> anyhow::Result<Value> {
    if status != want {
        bail!("{what}: status {status}, not {want}: {answer}");
    }
    Ok(answer)
}
