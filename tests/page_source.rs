//! The page's per-source limit, through the real handler on the local stack: an IPv4 address
//! counts alone, an IPv6 address with the rest of its /64; behind the page's CloudFront edge
//! (`PAGE_EDGE_SECRET_SHA256`) the viewer's address counts, and only there.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::passkeys::*;
use common::*;
use send_passkey_link::config::Config;
use send_passkey_link::link::hash_code;

/// A page request for an unknown link from `ip`: its status (404 unknown, 429 limited).
async fn open_from(h: &Harness, ip: &str, n: usize) -> u16 {
    open_with(h, ip, &[], n).await
}

/// The same, with request headers.
async fn open_with(h: &Harness, ip: &str, headers: &[(&str, &str)], n: usize) -> u16 {
    let mut e = request("GET", PAGE, None, None);
    e["rawQueryString"] = format!("userID={ALICE}&codeID=00000000-0000-4000-8000-{n:012}&code=x").into();
    e["requestContext"]["http"]["sourceIp"] = ip.into();
    for (name, value) in headers {
        e["headers"][*name] = (*value).into();
    }
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

/// The secret infra/page-edge.yaml's distribution adds as `x-passkeys-edge`.
const EDGE_SECRET: &str = "k5Q2nW8rT1vX4zB7cF0hJ3mP6sU9yA2d";

/// Three a minute, with the function configured as infra/template.yaml does behind the edge.
async fn behind_the_edge() -> Harness {
    let mut h = three_a_minute().await;
    let config = Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some("unused".into()),
        "MAIL_FROM" => Some("no-reply@demo.example".into()),
        "PAGE_EDGE_SECRET_SHA256" => Some(hash_code(EDGE_SECRET)),
        _ => None,
    })
    .unwrap();
    h.api.links.registration.page_limits.edge_secret_sha256 = config.page_limits.edge_secret_sha256;
    h
}

/// A request as the distribution forwards it: the secret and the viewer's address and port.
fn from_the_edge(viewer: &str) -> [(&str, &str); 2] {
    [("x-passkeys-edge", EDGE_SECRET), ("cloudfront-viewer-address", viewer)]
}

#[tokio::test]
async fn behind_the_edge_one_viewer_shares_the_limit_whatever_edge_address_it_comes_through() {
    let h = behind_the_edge().await;
    // CloudFront's own addresses, one per edge server: API Gateway's sourceIp.
    for (n, edge) in ["130.176.0.1", "130.176.0.2", "130.176.0.3"].into_iter().enumerate() {
        assert_eq!(open_with(&h, edge, &from_the_edge(&format!("198.51.100.7:{}", 40000 + n)), n).await, 404);
    }
    assert_eq!(open_with(&h, "130.176.0.4", &from_the_edge("198.51.100.7:40100"), 3).await, 429);
    // Another viewer through the same edge address is someone else.
    assert_eq!(open_with(&h, "130.176.0.1", &from_the_edge("198.51.100.8:40000"), 4).await, 404);
}

#[tokio::test]
async fn behind_the_edge_an_ipv6_viewer_counts_with_its_64() {
    let h = behind_the_edge().await;
    // CloudFront writes an IPv6 viewer unbracketed, the port after the last colon.
    for n in 0..3 {
        let viewer = format!("2001:db8:1:2::{n}:443");
        assert_eq!(open_with(&h, &format!("130.176.0.{n}"), &from_the_edge(&viewer), n).await, 404);
    }
    assert_eq!(open_with(&h, "130.176.0.9", &from_the_edge("2001:db8:1:2:ffff::1:443"), 3).await, 429);
    assert_eq!(open_with(&h, "130.176.0.9", &from_the_edge("2001:db8:1:3::1:443"), 4).await, 404);
}

#[tokio::test]
async fn a_viewer_address_without_the_edge_secret_is_ignored() {
    let h = behind_the_edge().await;
    let attacker = "203.0.113.9";
    // A caller straight to the API names whatever viewer it likes, with a wrong secret or none:
    // it still counts as the address API Gateway saw.
    let forged: [&[(&str, &str)]; 4] = [
        &[("cloudfront-viewer-address", "198.51.100.1:443")],
        &[("x-passkeys-edge", "guessed"), ("cloudfront-viewer-address", "198.51.100.2:443")],
        &[("x-passkeys-edge", ""), ("cloudfront-viewer-address", "198.51.100.3:443")],
        &[("x-passkeys-edge", &EDGE_SECRET[1..]), ("cloudfront-viewer-address", "198.51.100.4:443")],
    ];
    for (n, headers) in forged[..3].iter().enumerate() {
        assert_eq!(open_with(&h, attacker, headers, n).await, 404);
    }
    assert_eq!(open_with(&h, attacker, forged[3], 3).await, 429);
    // The addresses it named were never charged.
    assert_eq!(open_from(&h, "198.51.100.1", 4).await, 404);
    assert_eq!(open_with(&h, "130.176.0.1", &from_the_edge("198.51.100.2:443"), 5).await, 404);
}

#[tokio::test]
async fn without_the_hash_configured_the_edge_headers_are_ignored() {
    let h = three_a_minute().await;
    for n in 0..3 {
        let viewer = format!("198.51.100.{n}:443");
        assert_eq!(open_with(&h, "130.176.0.1", &from_the_edge(&viewer), n).await, 404);
    }
    assert_eq!(open_with(&h, "130.176.0.1", &from_the_edge("198.51.100.9:443"), 3).await, 429);
}

#[tokio::test]
async fn a_malformed_viewer_address_from_the_edge_counts_as_the_edge_address() {
    let h = behind_the_edge().await;
    for (n, viewer) in ["198.51.100.7", "garbage", "[198.51.100.7]:443"].into_iter().enumerate() {
        assert_eq!(open_with(&h, "130.176.0.1", &from_the_edge(viewer), n).await, 404);
    }
    assert_eq!(open_from(&h, "130.176.0.1", 3).await, 429);
    assert_eq!(open_with(&h, "130.176.0.1", &from_the_edge("198.51.100.7:443"), 4).await, 404);
}
