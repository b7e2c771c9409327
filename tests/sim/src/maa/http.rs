//! Just enough HTTP/1.1 for the simulated MAA: one request per connection (answered with
//! `Connection: close`), a bounded head, a body of a bounded `Content-Length`, and
//! `Expect: 100-continue` (curl sends it with larger bodies). httparse parses the head.

use std::io::{self, Read, Write};

/// Bytes of request line and headers accepted.
const HEAD_MAX: usize = 16 * 1024;
/// Headers accepted.
const HEADERS_MAX: usize = 64;

/// A request as read.
#[derive(Debug)]
pub(super) struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first query parameter of this name, percent-decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// A response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON body, as MAA sends it (`application/json; charset=utf-8`).
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Response::raw(status, "application/json; charset=utf-8", body.to_string().into_bytes())
    }

    pub fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response { status, headers: vec![("Content-Type".to_owned(), content_type.to_owned())], body }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// Why no request was read.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    /// The client closed before sending a whole head.
    #[error("the connection closed")]
    Closed,
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Answered with this status and message, then the connection closes.
    #[error("HTTP {status}: {message}")]
    Refused { status: u16, code: &'static str, message: String },
}

impl ReadError {
    fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ReadError::Refused { status, code, message: message.into() }
    }
}

/// Read one request, its body at most `body_max` bytes.
pub(super) fn read_request<S: Read + Write>(stream: &mut S, body_max: usize) -> Result<Request, ReadError> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let (mut request, head_len) = loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(ReadError::Closed);
        }
        buffer.extend_from_slice(chunk.get(..read).unwrap_or_default());
        if let Some(parsed) = parse_head(&buffer)? {
            break parsed;
        }
        if buffer.len() > HEAD_MAX {
            return Err(ReadError::refused(
                431,
                "RequestHeaderFieldsTooLarge",
                format!("the request line and headers exceed {HEAD_MAX} bytes"),
            ));
        }
    };
    if request.header("Transfer-Encoding").is_some() {
        return Err(ReadError::refused(411, "LengthRequired", "send the body with a Content-Length"));
    }
    let length = match request.header("Content-Length") {
        None => 0,
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            ReadError::refused(400, "InvalidParameter", format!("Content-Length {text:?} is not a number"))
        })?,
    };
    if length > body_max {
        return Err(ReadError::refused(
            413,
            "RequestEntityTooLarge",
            format!("the body of {length} bytes exceeds the limit of {body_max} bytes"),
        ));
    }
    let mut body = buffer.split_off(head_len.min(buffer.len()));
    if body.len() < length
        && request.header("Expect").is_some_and(|value| value.eq_ignore_ascii_case("100-continue"))
    {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        stream.flush()?;
    }
    if body.len() > length {
        body.truncate(length);
    }
    let missing = length - body.len();
    let start = body.len();
    body.resize(length, 0);
    if missing > 0 {
        stream.read_exact(body.get_mut(start..).unwrap_or_default()).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                ReadError::refused(400, "InvalidParameter", "the body is shorter than its Content-Length")
            } else {
                ReadError::Io(e)
            }
        })?;
    }
    request.body = body;
    Ok(request)
}

/// The request head in `buffer`, with its length, once complete.
fn parse_head(buffer: &[u8]) -> Result<Option<(Request, usize)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut parsed = httparse::Request::new(&mut headers);
    let malformed = |reason: String| ReadError::refused(400, "InvalidParameter", reason);
    let head_len = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ReadError::refused(
                431,
                "RequestHeaderFieldsTooLarge",
                format!("more than {HEADERS_MAX} headers"),
            ));
        }
        Err(e) => return Err(malformed(format!("not an HTTP/1.1 request: {e}"))),
    };
    let (Some(method), Some(target)) = (parsed.method, parsed.path) else {
        return Err(malformed("no request line".to_owned()));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect();
    let headers = parsed
        .headers
        .iter()
        .map(|header| (header.name.to_owned(), String::from_utf8_lossy(header.value).into_owned()))
        .collect();
    let request =
        Request { method: method.to_owned(), path: percent_decode(path), query, headers, body: Vec::new() };
    Ok(Some((request, head_len)))
}

/// `%XX` and `+` decoded; an invalid escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (_, Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (_, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Write a whole response, then close (no keep-alive).
pub(super) fn write_response(stream: &mut impl Write, response: &Response) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", response.body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that reads `chunks` one per read (as a client's packets arrive) and records what is
    /// written.
    struct Duplex {
        chunks: std::collections::VecDeque<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut chunk) = self.chunks.pop_front() else { return Ok(0) };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.chunks.push_front(chunk.split_off(n));
            }
            Ok(n)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn read_chunks(chunks: &[&[u8]], body_max: usize) -> (Result<Request, ReadError>, Vec<u8>) {
        let chunks = chunks.iter().map(|chunk| chunk.to_vec()).collect();
        let mut duplex = Duplex { chunks, output: Vec::new() };
        let result = read_request(&mut duplex, body_max);
        (result, duplex.output)
    }

    fn read(input: &[u8], body_max: usize) -> (Result<Request, ReadError>, Vec<u8>) {
        read_chunks(&[input], body_max)
    }

    #[test]
    fn reads_query_headers_and_body() {
        let (request, written) = read(
            b"POST /attest/SevSnpVm?api-version=2022-08-01&x=a%20b+c HTTP/1.1\r\nHost: h\r\n\
              content-length: 5\r\n\r\nhello",
            100,
        );
        let request = request.expect("a request");
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/attest/SevSnpVm"));
        assert_eq!(request.query("api-version"), Some("2022-08-01"));
        assert_eq!(request.query("x"), Some("a b c"));
        assert_eq!(request.header("Content-Length"), Some("5"));
        assert_eq!(request.body, b"hello");
        assert!(written.is_empty(), "no 100 Continue without Expect");
    }

    #[test]
    fn answers_expect_continue_before_reading_the_body() {
        let head: &[u8] = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        let (request, written) = read_chunks(&[head, b"hi"], 100);
        assert_eq!(request.expect("a request").body, b"hi");
        assert_eq!(written, b"HTTP/1.1 100 Continue\r\n\r\n");
        // A client that sent the body without waiting gets no interim response.
        let (request, written) = read_chunks(&[[head, b"hi"].concat().as_slice()], 100);
        assert_eq!(request.expect("a request").body, b"hi");
        assert!(written.is_empty());
    }

    #[test]
    fn bounds_the_body_and_the_head() {
        let (result, _) = read(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 100);
        assert!(matches!(result, Err(ReadError::Refused { status: 413, .. })), "{result:?}");
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', HEAD_MAX + 10));
        let (result, _) = read(&huge, 100);
        assert!(matches!(result, Err(ReadError::Refused { status: 431, .. })), "{result:?}");
        let (result, _) = read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 100);
        assert!(matches!(result, Err(ReadError::Refused { status: 411, .. })), "{result:?}");
        let (result, _) = read(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort", 100);
        assert!(matches!(result, Err(ReadError::Refused { status: 400, .. })), "{result:?}");
        let (result, _) = read(b"GET / HTTP/1.1\r\nHost", 100);
        assert!(matches!(result, Err(ReadError::Closed)), "{result:?}");
    }

    #[test]
    fn writes_length_and_close() {
        let mut out = Vec::new();
        let response = Response::json(200, &serde_json::json!({"token": "t"})).header("X-A", "b");
        write_response(&mut out, &response).expect("written");
        let text = String::from_utf8(out).expect("ASCII");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("\r\nX-A: b\r\n") && text.contains("Content-Length: 13\r\nConnection: close\r\n")
        );
        assert!(text.ends_with("\r\n\r\n{\"token\":\"t\"}"), "{text}");
    }
}
