//! Remote-address patterns of `plain_acl.yml` (`globalWhiteRemoteAddresses`, an account's
//! `whiteRemoteAddress`), with the forms Java's `RemoteAddressStrategyFactory` accepts:
//! blank (matches nothing), `*` / `*.*.*.*` / `*:*:*:*:*:*:*:*` (everything), one address
//! (IPv4 or IPv6), a comma list (`a,b,c`), a brace list on the last part (`192.168.1.{1,2}`,
//! `1:2:3:4:5:6:7:{8,9}`), and ranges (`192.168.1.*`, `192.168.1-5.*`, `10.*.*.*`,
//! `1:2:3:4:5:6:7:*`, `1:2:3:4:5:6:7:1-ff`): the first part that is `*` or `a-b` is checked
//! against its range, parts before it must be equal, parts after it are not looked at (as Java).

use std::collections::HashSet;
use std::net::IpAddr;

/// A compiled address pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPattern {
    /// Blank: matches nothing.
    Nothing,
    /// `*`: matches every address.
    Any,
    /// One or more exact addresses.
    Set(HashSet<IpAddr>),
    /// IPv4: the first `prefix.len()` octets equal, the next one in `start..=end`.
    RangeV4 {
        prefix: Vec<u8>,
        start: u16,
        end: u16,
    },
    /// IPv6: the first `prefix.len()` groups equal, the next one in `start..=end`.
    RangeV6 {
        prefix: Vec<u16>,
        start: u32,
        end: u32,
    },
}

fn invalid(pattern: &str) -> String {
    format!("Netaddress examine Exception netaddress is {pattern}")
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse::<IpAddr>().ok()
}

impl AddressPattern {
    /// Compiles `pattern`; an address Java refuses is an error naming it.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let p = pattern.trim();
        if p.is_empty() {
            return Ok(AddressPattern::Nothing);
        }
        if p == "*" || p == "*.*.*.*" || p == "*:*:*:*:*:*:*:*" {
            return Ok(AddressPattern::Any);
        }
        if p.ends_with('}') {
            let open = p.find('{').ok_or_else(|| invalid(p))?;
            let head = &p[..open];
            let is_v6 = p.contains(':');
            let last_part_starts = if is_v6 {
                head.ends_with(':')
            } else {
                head.ends_with('.') && p.split('.').filter(|s| !s.is_empty()).count() >= 4
            };
            if !last_part_starts {
                return Err(format!(
                    "MultipleRemoteAddressStrategy netaddress examine scope Exception netaddress {p}"
                ));
            }
            let mut set = HashSet::new();
            for tail in p[open + 1..p.len() - 1]
                .split(',')
                .filter(|s| !s.is_empty())
            {
                let full = format!("{head}{tail}");
                set.insert(parse_ip(&full).ok_or_else(|| invalid(&full))?);
            }
            return Ok(AddressPattern::Set(set));
        }
        if p.contains(',') {
            let mut set = HashSet::new();
            for one in p.split(',').filter(|s| !s.is_empty()) {
                set.insert(parse_ip(one).ok_or_else(|| invalid(one))?);
            }
            return Ok(AddressPattern::Set(set));
        }
        if p.contains('*') || p.contains('-') {
            return if p.contains(':') {
                parse_range_v6(p)
            } else {
                parse_range_v4(p)
            };
        }
        let ip = parse_ip(p).ok_or_else(|| invalid(p))?;
        Ok(AddressPattern::Set(HashSet::from([ip])))
    }

    /// Whether the peer address `ip` matches.
    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match self {
            AddressPattern::Nothing => false,
            AddressPattern::Any => true,
            AddressPattern::Set(set) => set.iter().any(|a| canonical(*a) == ip),
            AddressPattern::RangeV4 { prefix, start, end } => match ip {
                IpAddr::V4(v4) => {
                    let o = v4.octets();
                    o[..prefix.len()] == prefix[..] && {
                        let v = u16::from(o[prefix.len()]);
                        *start <= v && v <= *end
                    }
                }
                IpAddr::V6(_) => false,
            },
            AddressPattern::RangeV6 { prefix, start, end } => match ip {
                IpAddr::V6(v6) => {
                    let g = v6.segments();
                    g[..prefix.len()] == prefix[..] && {
                        let v = u32::from(g[prefix.len()]);
                        *start <= v && v <= *end
                    }
                }
                IpAddr::V4(_) => false,
            },
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// `(start, end)` of one `*` or `a-b` part, in `radix`, bounded by `max`.
fn part_range(
    part: &str,
    radix: u32,
    max: u32,
    pattern: &str,
) -> Result<Option<(u32, u32)>, String> {
    let part = part.trim();
    if part == "*" {
        return Ok(Some((0, max)));
    }
    if let Some((a, b)) = part.split_once('-') {
        if a.is_empty() {
            return Err(format!(
                "RangeRemoteAddressStrategy netaddress examine scope Exception value {part} "
            ));
        }
        let s = u32::from_str_radix(a.trim(), radix).map_err(|_| invalid(pattern))?;
        let e = u32::from_str_radix(b.trim(), radix).map_err(|_| invalid(pattern))?;
        if !(s <= e && e <= max) {
            return Err(format!(
                "RangeRemoteAddressStrategy netaddress examine scope Exception start is {s} , end is {e}"
            ));
        }
        return Ok(Some((s, e)));
    }
    Ok(None)
}

fn parse_range_v4(p: &str) -> Result<AddressPattern, String> {
    let parts: Vec<&str> = p.split('.').filter(|s| !s.is_empty()).collect();
    if parts.len() != 4 {
        return Err(invalid(p));
    }
    for (i, part) in parts.iter().enumerate().skip(1) {
        if let Some((start, end)) = part_range(part, 10, 255, p)? {
            let mut prefix = Vec::with_capacity(i);
            for fixed in &parts[..i] {
                prefix.push(fixed.trim().parse::<u8>().map_err(|_| invalid(p))?);
            }
            return Ok(AddressPattern::RangeV4 {
                prefix,
                start: start as u16,
                end: end as u16,
            });
        }
    }
    Err(invalid(p))
}

fn parse_range_v6(p: &str) -> Result<AddressPattern, String> {
    // The groups before the first `*`/range group, with `::` expanded so that they and the
    // remaining groups make eight (Java's `v6ipProcess`).
    let tokens: Vec<&str> = p.split(':').collect();
    let Some(at) = tokens
        .iter()
        .position(|t| t.trim() == "*" || t.contains('-'))
    else {
        return Err(invalid(p));
    };
    let (start, end) = part_range(tokens[at], 16, 0xffff, p)?.ok_or_else(|| invalid(p))?;
    let groups_after = tokens.len() - at;
    let head = tokens[..at].join(":");
    let prefix_len = 8usize.checked_sub(groups_after).ok_or_else(|| invalid(p))?;
    let prefix = expand_v6_prefix(&head, prefix_len).ok_or_else(|| invalid(p))?;
    Ok(AddressPattern::RangeV6 { prefix, start, end })
}

/// `head` (which may hold one `::`) as exactly `n` 16-bit groups.
fn expand_v6_prefix(head: &str, n: usize) -> Option<Vec<u16>> {
    let parse = |s: &str| -> Option<Vec<u16>> {
        s.split(':')
            .filter(|g| !g.is_empty())
            .map(|g| u16::from_str_radix(g.trim(), 16).ok())
            .collect()
    };
    let groups = match head.split_once("::") {
        Some((l, r)) => {
            let (l, r) = (parse(l)?, parse(r)?);
            let zeros = n.checked_sub(l.len() + r.len())?;
            let mut g = l;
            g.resize(g.len() + zeros, 0);
            g.extend(r);
            g
        }
        None => parse(head)?,
    };
    (groups.len() == n).then_some(groups)
}

/// The address Java matches patterns against: the peer's IP without the port.
pub fn peer_ip(addr: std::net::SocketAddr) -> IpAddr {
    canonical(addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, ip: &str) -> bool {
        AddressPattern::parse(pattern)
            .unwrap()
            .matches(ip.parse().unwrap())
    }

    #[test]
    fn blank_and_star() {
        assert!(!m("", "10.0.0.1"));
        assert!(m("*", "10.0.0.1"));
        assert!(m("*.*.*.*", "10.0.0.1"));
        assert!(m("*:*:*:*:*:*:*:*", "::1"));
    }

    #[test]
    fn single_and_lists() {
        assert!(m("192.168.0.1", "192.168.0.1"));
        assert!(!m("192.168.0.1", "192.168.0.2"));
        assert!(m("192.168.1.{1,2,3}", "192.168.1.2"));
        assert!(!m("192.168.1.{1,2,3}", "192.168.1.4"));
        assert!(m("10.0.0.1,10.0.0.2", "10.0.0.2"));
        assert!(m("1:2:3:4:5:6:7:{8,9}", "1:2:3:4:5:6:7:9"));
        assert!(m("::1", "0:0:0:0:0:0:0:1"));
        assert!(m("127.0.0.1", "::ffff:127.0.0.1"));
    }

    #[test]
    fn ranges() {
        assert!(m("192.168.0.*", "192.168.0.77"));
        assert!(!m("192.168.0.*", "192.168.1.77"));
        assert!(m("10.10.103.*", "10.10.103.5"));
        assert!(m("192.168.1-5.*", "192.168.3.200"));
        assert!(!m("192.168.1-5.*", "192.168.6.1"));
        assert!(m("192.*.*.*", "192.1.2.3"));
        assert!(m("192.168.0.10-20", "192.168.0.15"));
        assert!(!m("192.168.0.10-20", "192.168.0.21"));
        assert!(m("1:2:3:4:5:6:7:*", "1:2:3:4:5:6:7:abcd"));
        assert!(m("1:2:3:4:5:6:7:1-ff", "1:2:3:4:5:6:7:fe"));
        assert!(!m("1:2:3:4:5:6:7:1-ff", "1:2:3:4:5:6:7:100"));
        assert!(m("2::ac5:78:1-200:*", "2:0:0:0:ac5:78:150:9"));
        assert!(!m("192.168.0.*", "::1"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for p in [
            "300.1.1.1",
            "hello",
            "192.168.1.300-400",
            "192.168.{1,2}.1",
            "10.0.0.{1,x}",
            "192.168.-5.*",
        ] {
            assert!(AddressPattern::parse(p).is_err(), "{p}");
        }
    }
}
