//! One kept-alive HTTP/1.1 connection, each request in one write with TCP_NODELAY: a client
//! that writes head and body separately without it waits ~40 ms per call for a delayed ACK.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    stream: TcpStream,
}

/// A response's status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Conn {
    pub async fn open(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Self { stream }
    }

    /// Sends `request` (head and body) in one write; the whole response.
    pub async fn call(&mut self, request: &[u8]) -> Response {
        self.stream.write_all(request).await.unwrap();
        read_response(&mut self.stream).await
    }

    /// Sends head and body in two writes on a connection without TCP_NODELAY.
    pub async fn call_in_two_writes(
        port: u16,
        head: &[u8],
        body: &[u8],
        conn: &mut Option<TcpStream>,
    ) -> Response {
        if conn.is_none() {
            *conn = Some(TcpStream::connect(("127.0.0.1", port)).await.expect("connect"));
        }
        let stream = conn.as_mut().unwrap();
        stream.write_all(head).await.unwrap();
        stream.write_all(body).await.unwrap();
        read_response(stream).await
    }
}

/// An HTTP/1.1 request's head for `body` to 127.0.0.1:`port` (the Host header names the port:
/// Keycloak checks a token's issuer against it).
pub fn head(port: u16, method: &str, path: &str, extra_headers: &str, body_len: usize) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: {body_len}\r\n\r\n"
    )
    .into_bytes()
}

pub fn request(port: u16, method: &str, path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = head(port, method, path, extra_headers, body.len());
    request.extend_from_slice(body);
    request
}

async fn read_response(stream: &mut TcpStream) -> Response {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the server closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
            return Response { status, body: buf[end + 4..end + 4 + len].to_vec() };
        }
    }
}
