//! The HTTP client deliveries go out on, safe to point at URLs that outsiders choose.
//!
//! Webhook URLs come from API callers, so the feature must not become a way to probe the
//! district's internal network (server-side request forgery). Unless the operator allows
//! private targets (`PROCGATE_WEBHOOKS_ALLOW_PRIVATE`, for tests and closed networks):
//!
//! - a URL must be `https` with a host name or a public IP address ([`check_url`]);
//! - host names are resolved by [`PublicOnly`], which drops every non-public address, at
//!   connection time, so a name that resolves to a public address when registered and to a
//!   private one later (DNS rebinding) still cannot reach inside;
//! - redirects are not followed (a public endpoint could redirect inside), each attempt has
//!   a timeout, and only a short excerpt of an answer is read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether deliveries may go to `http` URLs and private, loopback or link-local addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Targets {
    /// `https` to public addresses only (the default).
    #[default]
    PublicOnly,
    /// Anything (`PROCGATE_WEBHOOKS_ALLOW_PRIVATE=true`).
    AllowPrivate,
}

/// Why a webhook URL is refused.
pub fn check_url(raw: &str, targets: Targets) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL must not carry credentials; the signature authenticates deliveries".into()
        );
    }
    if url.fragment().is_some() {
        return Err("the URL must not have a fragment (`#…`)".into());
    }
    let host = url.host_str().ok_or_else(|| format!("`{raw}` has no host"))?;
    if targets == Targets::AllowPrivate {
        return match url.scheme() {
            "https" | "http" => Ok(url),
            other => Err(format!("the URL's scheme is `{other}`; it must be https or http")),
        };
    }
    if url.scheme() != "https" {
        return Err(format!("the URL's scheme is `{}`; webhook URLs must be https", url.scheme()));
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>()
        && !is_public(ip)
    {
        return Err(format!("{ip} is not a public address; webhooks go to public addresses only"));
    }
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Err(
            "localhost is not a public address; webhooks go to public addresses only".into()
        );
    }
    Ok(url)
}

/// Whether `ip` is reachable on the public internet (not private, loopback, link-local,
/// shared, documentation, multicast or reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    // Addresses that carry an IPv4 address are as public as it is: NAT64 (64:ff9b::/96 and
    // 64:ff9b:1::/48), 6to4 (2002::/16) and the deprecated IPv4-compatible form (::a.b.c.d).
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if first == 0x0064 && segments[1] == 0xff9b {
        return is_public_v4(embedded(segments[6], segments[7]));
    }
    if first == 0x2002 {
        return is_public_v4(embedded(segments[1], segments[2]));
    }
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return is_public_v4(embedded(segments[6], segments[7]));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)) // documentation
}

/// A resolver that answers only public addresses.
#[derive(Debug)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves to no public address").into();
                return Err(e);
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The client every delivery uses.
pub fn client(targets: Targets, timeout: Duration) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("procgate-webhooks/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    if targets == Targets::PublicOnly {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().expect("the webhook client's settings are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_public_hosts_unless_private_targets_are_allowed() {
        let public = Targets::PublicOnly;
        assert!(check_url("https://erp.example.org/hooks", public).is_ok());
        assert!(check_url("https://93.184.215.14/x", public).is_ok());
        assert!(
            check_url("https://[64:ff9b::5db8:d70e]/x", public).is_ok(),
            "NAT64 of a public one"
        );
        assert!(check_url("https://[2606:4700::1111]/x", public).is_ok());
        for refused in [
            "http://erp.example.org/hooks",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.0.9/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://[64:ff9b::a00:5]/x",
            "https://[2002:a00:1::1]/x",
            "https://[::10.0.0.1]/x",
            "https://[fec0::1]/x",
            "https://localhost/x",
            "https://user:pw@erp.example.org/x",
            "ftp://erp.example.org/x",
            "not a url",
        ] {
            assert!(check_url(refused, public).is_err(), "{refused} was accepted");
        }
        assert!(check_url("http://127.0.0.1:9000/x", Targets::AllowPrivate).is_ok());
        assert!(check_url("ftp://127.0.0.1/x", Targets::AllowPrivate).is_err());
    }

    #[tokio::test]
    async fn the_resolver_answers_no_private_address() {
        let name: Name = "localhost".parse().unwrap();
        assert!(PublicOnly.resolve(name).await.is_err());
    }
}
