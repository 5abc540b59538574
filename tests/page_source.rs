//! The page's per-source limit, through the real handler on the local stack: an IPv4 address
//! counts alone, an IPv6 address with the rest of its /64.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::passkeys::*;
use common::*;

/// A page request for an unknown link from `ip`: its status (404 unknown, 429 limited).
async fn open_from(h: &Harness, ip: &str, n: usize) -> u16 {
    let mut e = request("GET", PAGE, None, None);
    e["rawQueryString"] = format!("userID={ALICE}&codeID=00000000-0000-4000-8000-{n:012}&code=x").into();
    e["requestContext"]["http"]["sourceIp"] = ip.into();
    let response = h.invoke(e).await;
    let status = response["statusCode"].as_u64().unwrap() as u16;
    assert!(status == 404 || status == 429, "{status}: {response}");
    status
}

/// A harness that admits three page requests a minute from one source, and the time to start
/// within one minute's window (the limit counts in fixed one-minute windows).
async fn three_a_minute() -> Harness {
    let mut h = Harness::new().await;
    h.api.links.registration.page_limits.per_source = 3;
    let into_minute = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 60;
    if into_minute > 45 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }
    h
}

#[tokio::test]
async fn ipv6_addresses_of_one_64_share_the_limit_and_another_64_does_not() {
    let h = three_a_minute().await;
    for n in 0..3 {
        assert_eq!(open_from(&h, "2001:db8:1:2::1", n).await, 404);
    }
    assert_eq!(open_from(&h, "2001:db8:1:2::1", 3).await, 429);
    // Another address of the same /64: the same client, as far as the limit knows.
    assert_eq!(open_from(&h, "2001:db8:1:2:ffff:ffff:ffff:ffff", 4).await, 429);
    assert_eq!(open_from(&h, "2001:db8:1:2:abcd::9", 5).await, 429);
    // The next /64 is someone else.
    assert_eq!(open_from(&h, "2001:db8:1:3::1", 6).await, 404);
}

#[tokio::test]
async fn ipv4_addresses_count_one_by_one() {
    let h = three_a_minute().await;
    for n in 0..3 {
        assert_eq!(open_from(&h, "198.51.100.7", n).await, 404);
    }
    assert_eq!(open_from(&h, "198.51.100.7", 3).await, 429);
    assert_eq!(open_from(&h, "198.51.100.8", 4).await, 404);
    // An IPv4-mapped IPv6 address is that IPv4 address.
    assert_eq!(open_from(&h, "::ffff:198.51.100.7", 5).await, 429);
}
