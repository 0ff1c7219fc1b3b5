//! A tiny HTTP/1.1 client over `std::net::TcpStream` (keep-alive, Content-Length and chunked
//! bodies, trailers skipped). Enough for the gateway, `/health` and `/version`; no TLS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::error::{HarnessError, Result};

/// Read and write timeout of every connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Header (name, value) pairs in arrival order; names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunked encoding if needed (lossy UTF-8).
    pub body: String,
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A persistent (keep-alive) connection to one `host:port`.
pub struct HttpConnection {
    host: String,
    reader: BufReader<TcpStream>,
}

impl HttpConnection {
    /// Connects to `127.0.0.1:port`.
    pub fn connect(port: u16) -> Result<Self> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .map_err(|e| HarnessError::io(format!("connect {addr}"), e))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .and_then(|_| stream.set_nodelay(true))
            .map_err(|e| HarnessError::io("socket options", e))?;
        Ok(HttpConnection {
            host: format!("127.0.0.1:{port}"),
            reader: BufReader::new(stream),
        })
    }

    /// Sends one request and reads the whole response. `body` of `None` sends no body.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<HttpResponse> {
        self.request_with_headers(method, path, body, &[])
    }

    /// Like [`request`](Self::request), sending the extra `headers` (name, value) too, e.g.
    /// `("Authorization", token)` for the gateway.
    pub fn request_with_headers(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (name, value) in headers {
            if [name, value].iter().any(|t| t.contains(['\r', '\n'])) {
                return Err(HarnessError::Http(format!(
                    "bad header {name:?}: {value:?}"
                )));
            }
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(b) = body {
            req.push_str("Content-Type: application/json\r\n");
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        if let Some(b) = body {
            req.push_str(b);
        }
        let stream = self.reader.get_mut();
        stream
            .write_all(req.as_bytes())
            .and_then(|_| stream.flush())
            .map_err(|e| HarnessError::io(format!("send {method} {path}"), e))?;
        self.read_response(method == "HEAD")
    }

    /// `POST path` with a JSON body.
    pub fn post(&mut self, path: &str, body: &str) -> Result<HttpResponse> {
        self.request("POST", path, Some(body))
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> Result<HttpResponse> {
        self.request("GET", path, None)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| HarnessError::io("read response line", e))?;
        if n == 0 {
            return Err(HarnessError::Http("connection closed".into()));
        }
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        Ok(line)
    }

    fn read_response(&mut self, head_only: bool) -> Result<HttpResponse> {
        let status_line = self.read_line()?;
        let mut parts = status_line.splitn(3, ' ');
        let _version = parts.next();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HarnessError::Http(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let chunked = find("transfer-encoding")
            .map(|v| v.to_ascii_lowercase().contains("chunked"))
            .unwrap_or(false);
        let length = find("content-length").and_then(|v| v.parse::<usize>().ok());
        let mut body = Vec::new();
        if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
            // no body
        } else if chunked {
            loop {
                let size_line = self.read_line()?;
                let size_hex = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_hex, 16)
                    .map_err(|_| HarnessError::Http(format!("bad chunk size {size_line:?}")))?;
                if size == 0 {
                    // Trailers until an empty line.
                    while !self.read_line()?.is_empty() {}
                    break;
                }
                let mut chunk = vec![0u8; size];
                self.reader
                    .read_exact(&mut chunk)
                    .map_err(|e| HarnessError::io("read chunk", e))?;
                body.extend_from_slice(&chunk);
                let crlf = self.read_line()?;
                if !crlf.is_empty() {
                    return Err(HarnessError::Http("missing CRLF after chunk".into()));
                }
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader
                .read_exact(&mut body)
                .map_err(|e| HarnessError::io("read body", e))?;
        } else {
            self.reader
                .read_to_end(&mut body)
                .map_err(|e| HarnessError::io("read body to EOF", e))?;
        }
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// One-shot request on a fresh connection.
pub fn request(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<HttpResponse> {
    HttpConnection::connect(port)?.request(method, path, body)
}

/// One-shot request with extra headers on a fresh connection.
pub fn request_with_headers(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<HttpResponse> {
    HttpConnection::connect(port)?.request_with_headers(method, path, body, headers)
}
