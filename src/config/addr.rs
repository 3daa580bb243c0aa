//! Network-address leaves of the config: listener addresses and trusted relay networks.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A listener address: `"IP:port"` to listen, or `""` to disable the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<SocketAddr>);

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListenVisitor;

        impl Visitor<'_> for ListenVisitor {
            type Value = ListenAddr;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an \"IP:port\" string, or \"\" to disable the listener")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListenAddr, E> {
                if v.is_empty() {
                    return Ok(ListenAddr(None));
                }
                v.parse::<SocketAddr>()
                    .map(|a| ListenAddr(Some(a)))
                    .map_err(|_| {
                        E::custom(format!(
                            "invalid listen address '{}' (expected IP:port such as \
                         \"127.0.0.1:2525\" or \"[::1]:2525\", or \"\" to disable)",
                            v.escape_debug()
                        ))
                    })
            }
        }

        deserializer.deserialize_str(ListenVisitor)
    }
}

/// A trusted network: `"127.0.0.0/8"`, `"::1/128"`, or a bare IP meaning just that host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedNet(pub IpNet);

impl std::str::FromStr for TrustedNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shown = text.escape_debug();
        if let Ok(net) = text.parse::<IpNet>() {
            // Host bits past the prefix usually mean a typo ("10.0.0.1/8" for "10.0.0.0/8");
            // silently widening or narrowing a relay grant is the wrong failure mode.
            if net.trunc() != net {
                return Err(format!(
                    "network '{shown}' has host bits set (did you mean '{}'?)",
                    net.trunc()
                ));
            }
            return Ok(TrustedNet(net));
        }
        text.parse::<IpAddr>()
            .map(|ip| TrustedNet(IpNet::from(ip)))
            .map_err(|_| {
                format!(
                    "invalid network '{shown}' (expected CIDR such as \"127.0.0.0/8\" or an IP)"
                )
            })
    }
}

impl<'de> Deserialize<'de> for TrustedNet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// `deserialize_with` adapter: a [`ListenAddr`] stored as `Option<SocketAddr>`.
pub(crate) fn de_listen<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    ListenAddr::deserialize(deserializer).map(|a| a.0)
}

/// `deserialize_with` adapter: a list of [`TrustedNet`] stored as `Vec<IpNet>`.
pub(crate) fn de_networks<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<IpNet>, D::Error> {
    Vec::<TrustedNet>::deserialize(deserializer).map(|v| v.into_iter().map(|n| n.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Result<IpNet, String> {
        text.parse::<TrustedNet>().map(|n| n.0)
    }

    #[test]
    fn networks_and_bare_hosts() {
        assert_eq!(net("127.0.0.0/8"), Ok("127.0.0.0/8".parse().unwrap()));
        assert_eq!(net("10.1.2.3"), Ok("10.1.2.3/32".parse().unwrap()));
        assert_eq!(net("::1"), Ok("::1/128".parse().unwrap()));
        assert_eq!(net("fd00::/8"), Ok("fd00::/8".parse().unwrap()));
        assert_eq!(net("0.0.0.0/0"), Ok("0.0.0.0/0".parse().unwrap()));
    }

    #[test]
    fn hostile_networks_are_rejected() {
        assert_eq!(
            net("10.0.0.1/8"),
            Err("network '10.0.0.1/8' has host bits set (did you mean '10.0.0.0/8'?)".into())
        );
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "localhost",
            "10.0.0",
            "10.0.0.0/-1",
            "1.2.3.4 ",
        ] {
            assert!(
                net(bad).unwrap_err().starts_with("invalid network"),
                "{bad}"
            );
        }
        assert_eq!(
            net("a\0b"),
            Err("invalid network 'a\\0b' (expected CIDR such as \"127.0.0.0/8\" or an IP)".into())
        );
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "de_listen")]
        addr: Option<SocketAddr>,
    }

    #[test]
    fn listen_addresses() {
        let h: Holder = toml::from_str("addr = \"0.0.0.0:25\"").unwrap();
        assert_eq!(h.addr, Some("0.0.0.0:25".parse().unwrap()));
        let h: Holder = toml::from_str("addr = \"[::1]:2525\"").unwrap();
        assert_eq!(h.addr, Some("[::1]:2525".parse().unwrap()));
        let h: Holder = toml::from_str("addr = \"\"").unwrap();
        assert_eq!(h.addr, None);
        for bad in [
            "addr = \"localhost:25\"",
            "addr = \"127.0.0.1\"",
            "addr = \"127.0.0.1:65536\"",
            "addr = \"::1:25\"",
            "addr = \" \"",
        ] {
            let e = toml::from_str::<Holder>(bad).unwrap_err();
            assert!(
                e.message().starts_with("invalid listen address"),
                "{bad}: {e}"
            );
        }
        let e = toml::from_str::<Holder>("addr = 25").unwrap_err();
        assert!(e.message().contains("an \"IP:port\" string"), "{e}");
    }
}
