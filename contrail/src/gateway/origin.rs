//! Who the local stack answers: requests must name it by its listen address or `localhost` (a page on
//! another name that resolves here is a DNS-rebinding attack), and the dev token in `/config.js` goes
//! only to the board's own pages.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::{HOST, ORIGIN, REFERER};

/// The address `up` listens on, and the names that reach it.
#[derive(Debug, Clone, Copy)]
pub struct LocalOrigin {
    addr: SocketAddr,
}

impl LocalOrigin {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// The board's own origins: the listen address and `localhost`, on the listen port (the default
    /// `ALLOWED_ORIGINS` of `up`).
    pub fn board_origins(&self) -> Vec<String> {
        let port = self.addr.port();
        let listen = match self.addr.ip() {
            IpAddr::V6(ip) => format!("http://[{ip}]:{port}"),
            IpAddr::V4(ip) => format!("http://{ip}:{port}"),
        };
        let localhost = format!("http://localhost:{port}");
        if listen == localhost { vec![listen] } else { vec![listen, localhost] }
    }

    /// The request's authority (`Host`, or the URI's for HTTP/2) when it names this server: the listen
    /// address or `localhost` with the listen port (port 80 may be left out). Listening on every interface
    /// (`0.0.0.0`, `::`), any IP address is the listen address; a DNS name other than `localhost` never is.
    pub fn host_of<'a>(&self, uri: &'a http::Uri, headers: &'a HeaderMap) -> Option<&'a str> {
        let host = match uri.authority() {
            Some(a) => a.as_str(),
            None => headers.get(HOST)?.to_str().ok()?,
        };
        let (name, port) = split_host_port(host)?;
        if port != self.addr.port() {
            return None;
        }
        let named = if name.eq_ignore_ascii_case("localhost") {
            true
        } else {
            match name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                Ok(ip) => ip == self.addr.ip() || self.addr.ip().is_unspecified(),
                Err(_) => false,
            }
        };
        named.then_some(host)
    }

    /// Whether a request for `/config.js` provably comes from a page served under `host` (already checked
    /// by [`Self::host_of`]). Every signal the browser sent must say so, and there must be one: a
    /// `Sec-Fetch-Site` of `same-origin` (not `same-site`: another port of localhost is same-site), an
    /// `Origin` equal to `http://{host}`, a `Referer` on that origin. Pages cannot forge these headers;
    /// a request with none of them (an old browser under a no-referrer policy, curl) gets no token.
    pub fn is_same_origin(&self, host: &str, headers: &HeaderMap) -> bool {
        let own = format!("http://{host}");
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
        let fetch_site = header("sec-fetch-site").map(|v| v == "same-origin");
        let origin = headers.get(ORIGIN).map(|v| v.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(&own)));
        let referer = headers.get(REFERER).map(|v| {
            v.to_str().is_ok_and(|r| {
                r.get(..own.len()).is_some_and(|head| head.eq_ignore_ascii_case(&own))
                    && matches!(r.as_bytes().get(own.len()), None | Some(b'/'))
            })
        });
        let signals = [fetch_site, origin, referer];
        signals.iter().any(Option::is_some) && signals.iter().flatten().all(|same| *same)
    }
}

/// `name:port`, `[v6]:port`, or a name alone (port 80).
fn split_host_port(host: &str) -> Option<(&str, u16)> {
    if host.is_empty() {
        return None;
    }
    let (name, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        let (name, rest) = host.split_at(end + 1);
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 80,
    };
    (!name.is_empty()).then_some((name, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn local(addr: &str) -> LocalOrigin {
        LocalOrigin::new(addr.parse().unwrap())
    }

    fn host_ok(origin: &LocalOrigin, host: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(host).unwrap());
        origin.host_of(&"/".parse().unwrap(), &headers).is_some()
    }

    #[test]
    fn only_the_listen_address_and_localhost_on_its_port_are_this_server() {
        let o = local("127.0.0.1:3000");
        for good in ["127.0.0.1:3000", "localhost:3000", "LocalHost:3000"] {
            assert!(host_ok(&o, good), "{good}");
        }
        for bad in [
            "evil.example:3000",
            "127.0.0.1:3001",
            "localhost",
            "127.0.0.1",
            "localhost.:3000",
            "localhost.evil.example:3000",
            "10.0.0.1:3000",
            "[::1]:3000",
            "127.0.0.1:3000:1",
            ":3000",
        ] {
            assert!(!host_ok(&o, bad), "{bad}");
        }
        let v6 = local("[::1]:8080");
        assert!(host_ok(&v6, "[::1]:8080") && host_ok(&v6, "localhost:8080") && !host_ok(&v6, "127.0.0.1:8080"));
        let any = local("0.0.0.0:80");
        assert!(host_ok(&any, "192.168.1.20") && host_ok(&any, "localhost") && !host_ok(&any, "rebind.example"));
        assert_eq!(o.board_origins(), ["http://127.0.0.1:3000", "http://localhost:3000"]);
    }

    #[test]
    fn the_token_goes_only_to_requests_that_prove_they_come_from_the_board() {
        let o = local("127.0.0.1:3000");
        let same = |pairs: &[(&'static str, &str)]| {
            let mut headers = HeaderMap::new();
            for (k, v) in pairs {
                headers.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            o.is_same_origin("127.0.0.1:3000", &headers)
        };
        assert!(same(&[("sec-fetch-site", "same-origin"), ("referer", "http://127.0.0.1:3000/")]));
        assert!(same(&[("referer", "http://127.0.0.1:3000/index.html")]));
        assert!(same(&[("origin", "http://127.0.0.1:3000")]));
        assert!(!same(&[]), "no proof");
        assert!(!same(&[("sec-fetch-site", "cross-site")]));
        assert!(!same(&[("sec-fetch-site", "same-site"), ("referer", "http://localhost:5173/")]));
        assert!(!same(&[("sec-fetch-site", "none")]));
        assert!(!same(&[("sec-fetch-site", "same-origin"), ("origin", "https://evil.example")]));
        assert!(!same(&[("referer", "http://127.0.0.1:30000/")]));
        assert!(!same(&[("referer", "http://127.0.0.1:3000.evil.example/")]));
        assert!(!same(&[("origin", "null")]));
    }
}
