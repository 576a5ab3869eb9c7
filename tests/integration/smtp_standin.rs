//! A local stand-in for a mail server: speaks enough SMTP (RFC 5321) for a real client to
//! hand it messages, keeps what it received, and can refuse messages with a temporary
//! error (451) to test retries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as it arrived: the envelope and the raw data (headers and body).
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// A header's value (the first one named so), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The body with quoted-printable soft line breaks undone.
    pub fn body(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        body.replace("=\r\n", "").replace("\r\n", "\n")
    }
}

pub struct SmtpStandIn {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpStandIn {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let (received, refuse) = (received.clone(), refuse.clone());
            async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(session(socket, received.clone(), refuse.clone()));
                }
            }
        });
        Self { port, received, refuse, task }
    }

    /// `smtp_url` for an app that should send here.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next `n` messages are refused with 451 (try again later).
    pub fn refuse_next(&self, n: usize) {
        self.refuse.store(n, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn session(socket: tokio::net::TcpStream, received: Arc<Mutex<Vec<Received>>>, refuse: Arc<AtomicUsize>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut say = async |text: &str| write.write_all(text.as_bytes()).await.is_ok();
    if !say("220 standin.test ESMTP ready\r\n").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_string();
        let verb = command.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => "250-standin.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".to_string(),
            "HELO" => "250 standin.test\r\n".to_string(),
            "MAIL" => {
                from = address(&command);
                to.clear();
                "250 OK\r\n".to_string()
            }
            "RCPT" => {
                to.push(address(&command));
                "250 OK\r\n".to_string()
            }
            "DATA" => {
                if !say("354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    // Dot-stuffing undone.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let refused = refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                if refused {
                    "451 4.3.0 Try again later\r\n".to_string()
                } else {
                    received.lock().unwrap().push(Received { from: from.clone(), to: to.clone(), data });
                    "250 OK queued\r\n".to_string()
                }
            }
            "RSET" | "NOOP" => "250 OK\r\n".to_string(),
            "QUIT" => {
                say("221 Bye\r\n").await;
                return;
            }
            _ => "502 Command not implemented\r\n".to_string(),
        };
        if !say(&reply).await {
            return;
        }
    }
}

/// The address in `MAIL FROM:<a>` or `RCPT TO:<a>`.
fn address(command: &str) -> String {
    command.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a.to_string()).unwrap_or_default()
}
