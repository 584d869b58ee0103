//! The broker's URL: `mqtt://[user@]host[:port]` or `mqtts://…` (TLS).
//!
//! No password in the URL (it would show in `ps` and in shell histories): it comes from a
//! file. A URL that holds one is refused without being echoed.

use std::fmt;
use std::str::FromStr;

use super::MqttError;

/// The plain MQTT port.
pub const PORT: u16 = 1883;
/// The MQTT over TLS port.
pub const TLS_PORT: u16 = 8883;

/// Where the broker is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    /// `mqtts://`: TLS.
    pub tls: bool,
    /// Host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name, if any.
    pub user: Option<String>,
}

impl FromStr for Broker {
    type Err = MqttError;

    fn from_str(url: &str) -> Result<Broker, MqttError> {
        let err = |why: &str| MqttError::Url {
            url: shown(url),
            why: why.to_owned(),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| err("no scheme"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(err("the scheme must be mqtt:// or mqtts://")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(err(
                "no path, query or fragment: the topic prefix is --mqtt-topic",
            ));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => {
                if u.contains(':') {
                    return Err(err(
                        "the URL holds a password: put it in a file given with --mqtt-password-file",
                    ));
                }
                if u.is_empty() {
                    return Err(err("empty user name before @"));
                }
                (Some(u.to_owned()), h)
            }
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| err("an IPv6 address needs its closing ]"))?;
            match after {
                "" => (h, None),
                p => (
                    h,
                    Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| err("expected :PORT after ]"))?,
                    ),
                ),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(err("no host"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(err(
                "the host may hold letters, digits, '.', '-' and '_' only",
            ));
        }
        let port = match port {
            None => {
                if tls {
                    TLS_PORT
                } else {
                    PORT
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(err("the port must be a number from 1 to 65535")),
            },
        };
        Ok(Broker {
            tls,
            host: host.to_owned(),
            port,
            user,
        })
    }
}

/// `url` as an error may show it: never what is between the scheme (or the start) and the
/// last `@` (user info, which may hold a password: `tic:hunter2@broker`, scheme forgotten),
/// and, without an `@`, never what follows the first `:` (`mqtt://tic:hunter2`: a password
/// whose `@host` was forgotten, read as a port).
fn shown(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r))
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (format!("{s}://"), r)
        }
        _ => (String::new(), url),
    };
    let body = match rest.rsplit_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => match rest.split_once(':') {
            Some((before, _)) => format!("{before}:…"),
            None => rest.to_owned(),
        },
    };
    scheme + &body
}

impl fmt::Display for Broker {
    /// `mqtt[s]://[user@]host:port`: never a password (the URL has none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let b = |tls, host: &str, port, user: Option<&str>| Broker {
            tls,
            host: host.into(),
            port,
            user: user.map(Into::into),
        };
        let cases = [
            ("mqtt://localhost", b(false, "localhost", 1883, None)),
            ("mqtt://ha.local:1884/", b(false, "ha.local", 1884, None)),
            ("mqtts://me@broker", b(true, "broker", 8883, Some("me"))),
            (
                "MQTTS://me@10.0.0.2:9000",
                b(true, "10.0.0.2", 9000, Some("me")),
            ),
            ("mqtt://[::1]:1999", b(false, "::1", 1999, None)),
            ("mqtt://[::1]", b(false, "::1", 1883, None)),
        ];
        for (url, want) in cases {
            assert_eq!(url.parse::<Broker>().unwrap(), want, "{url}");
        }
        assert_eq!(
            "mqtts://me@[::1]".parse::<Broker>().unwrap().to_string(),
            "mqtts://me@[::1]:8883"
        );
    }

    #[test]
    fn bad_urls_say_why_and_never_echo_a_password() {
        let cases = [
            ("localhost", "no scheme"),
            ("http://x", "mqtt:// or mqtts://"),
            ("mqtt://", "no host"),
            ("mqtt://h:0", "port"),
            ("mqtt://h:99999", "port"),
            ("mqtt://h/topic", "--mqtt-topic"),
            ("mqtt://@h", "empty user"),
            ("mqtt://[::1", "closing ]"),
            ("mqtt://h st", "host may hold"),
            ("mqtt://me:hunter2@h", "--mqtt-password-file"),
        ];
        for (url, why) in cases {
            let e = url.parse::<Broker>().unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn a_password_is_never_echoed_whatever_is_missing() {
        let cases = [
            // The scheme forgotten.
            ("tic:hunter2@broker.lan", "no scheme", "…@broker.lan"),
            (
                "tic:hunter2@broker.lan:1883",
                "no scheme",
                "…@broker.lan:1883",
            ),
            // No @: the password read as a port.
            ("mqtt://tic:hunter2", "port", "mqtt://tic:…"),
            ("tic:hunter2", "no scheme", "\"tic:…\""),
            // A password with an @ or a / in it.
            (
                "mqtt://tic:hun@ter2@h",
                "--mqtt-password-file",
                "mqtt://…@h",
            ),
            ("mqtt://tic:hunter2/x@h", "no path", "mqtt://…@h"),
            ("tic:hunter2@mqtt://h", "mqtt:// or mqtts://", "…@mqtt://h"),
            ("http://tic:hunter2@h", "mqtt:// or mqtts://", "http://…@h"),
            ("mqtt://[tic:hunter2", "closing ]", "mqtt://[tic:…"),
        ];
        for (url, why, shows) in cases {
            let e = url.parse::<Broker>().unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
            assert!(e.contains(shows), "{url}: {e}");
            assert!(!e.contains("hunter2") && !e.contains("ter2"), "{url}: {e}");
        }
        // What holds no secret is shown as it is.
        let e = "localhost".parse::<Broker>().unwrap_err().to_string();
        assert!(e.contains("\"localhost\""), "{e}");
    }
}
