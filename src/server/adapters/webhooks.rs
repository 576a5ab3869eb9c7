//! Webhooks out, over HTTP: where an endpoint may be, and sending one signed delivery.
//!
//! An endpoint's URL is parsed into a [`WebhookUrl`] (http or https, a host, no user or
//! password). Before each delivery its host is resolved and every address checked: an
//! address on loopback, a private network, link-local, or otherwise not public is refused
//! unless `webhooks_allow_private` is set. The request is then pinned to the checked
//! address, so a name that resolves differently a moment later cannot redirect it, and
//! redirects are not followed.
//!
//! Deliveries are signed like Stripe's: `Tollgate-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use url::Url;

use crate::server::infra::crypto::{hex, hmac_sha256};

/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A webhook endpoint's address, checked for form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// Parses `raw`: an absolute http(s) URL with a host and no credentials.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() > 2000 {
            return Err("The URL is too long (2,000 characters at most).".into());
        }
        let url = Url::parse(raw).map_err(|_| format!("`{raw}` is not a URL like https://example.com/hooks."))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("Only http and https URLs can receive webhooks.".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("The URL needs a host.".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("The URL may not carry a user name or password.".into());
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host, for logs (never the path or query, which may carry a token).
    pub fn host(&self) -> Option<&str> {
        self.0.host_str()
    }

    /// The addresses the host resolves to, all of them allowed; else why not.
    pub async fn resolve(&self, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
        let host = self.0.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        let port = self.0.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(format!("{host} has no address"));
        }
        if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "{host} is at {}, a private or local address; webhooks go only to public addresses \
                 unless webhooks_allow_private is set",
                bad.ip()
            ));
        }
        Ok(addrs)
    }
}

/// Whether `ip` is an ordinary public address (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            let first = seg[0];
            // Addresses that carry an IPv4 address (NAT64, 6to4, IPv4-compatible) are as
            // public as that address.
            let embedded = |a: u16, b: u16| std::net::Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || seg[..6] == [0; 6] {
                return !v6.is_unspecified() && !v6.is_loopback() && is_public(IpAddr::V4(embedded(seg[6], seg[7])));
            }
            if first == 0x2002 {
                return is_public(IpAddr::V4(embedded(seg[1], seg[2])));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && seg[1] == 0x0db8)
        }
    }
}

/// The signature header's value for `body` sent at `unix_secs`.
pub fn signature(secret: &str, unix_secs: i64, body: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), &[unix_secs.to_string().as_bytes(), b".", body.as_bytes()]);
    format!("t={unix_secs},v1={}", hex(&mac))
}

/// What the receiver said: its status, or why it could not be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Answered(u16),
    Unreachable(String),
}

/// POSTs one delivery to `url` at the checked address `addr`, signed with `secret`.
pub async fn send(
    url: &WebhookUrl,
    addr: SocketAddr,
    secret: &str,
    (event_id, delivery_id): (&str, &str),
    body: &str,
    unix_secs: i64,
) -> Sent {
    let host = url.0.host_str().unwrap_or_default().to_string();
    let client = match reqwest::Client::builder()
        .resolve(&host, addr)
        // A proxy would resolve the name again, past the address checked here.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("Tollgate-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Sent::Unreachable(format!("cannot make the HTTP client: {e}")),
    };
    let request = client
        .post(url.0.clone())
        .header("content-type", "application/json")
        .header("tollgate-signature", signature(secret, unix_secs, body))
        .header("tollgate-event-id", event_id)
        .header("tollgate-delivery-id", delivery_id)
        .body(body.to_string());
    match request.send().await {
        Ok(res) => Sent::Answered(res.status().as_u16()),
        Err(e) if e.is_timeout() => Sent::Unreachable("no answer in time".into()),
        Err(e) => Sent::Unreachable(format!(
            "could not be reached ({})",
            if e.is_connect() { "connection" } else { "request" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        assert!(WebhookUrl::parse("https://hooks.example.com/tollgate").is_ok());
        assert!(WebhookUrl::parse("http://hooks.example.com:8080/x?y=1").is_ok());
        for bad in ["ftp://example.com/", "file:///etc/passwd", "https://user:pw@example.com/", "not a url", "https://"]
        {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_and_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "fec0::1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_signature_is_an_hmac_of_the_time_and_body() {
        let s = signature("whsec_test", 1_700_000_000, "{\"a\":1}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, signature("whsec_other", 1_700_000_000, "{\"a\":1}"));
    }

    #[tokio::test]
    async fn a_loopback_address_is_refused_unless_allowed() {
        let url = WebhookUrl::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(url.resolve(false).await.unwrap_err().contains("private or local"));
        assert_eq!(url.resolve(true).await.unwrap(), vec!["127.0.0.1:9".parse().unwrap()]);
    }
}
