use super::*;

const LIMIT: RateLimit = RateLimit { links: 3, window: Duration::from_secs(60) };

fn at(code_id: &str, at_ms: i64) -> RecentLink {
    RecentLink { code_id: code_id.into(), at_ms }
}

#[test]
fn admits_up_to_the_limit_inside_the_window() {
    assert_eq!(admit(LIMIT, None, at("a", 1_000)).unwrap(), WindowChange::Create(vec![at("a", 1_000)]));
    let recent = [at("a", 1_000), at("b", 1_001)];
    assert_eq!(
        admit(LIMIT, Some(&recent), at("c", 1_002)).unwrap(),
        WindowChange::Edit { add: at("c", 1_002), expired: vec![] }
    );
    let full = [at("a", 1_000), at("b", 1_001), at("c", 1_002)];
    match admit(LIMIT, Some(&full), at("d", 2_000)) {
        Err(Error::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 59),
        other => panic!("{other:?}"),
    }
}

#[test]
fn entries_from_the_future_count_as_now_or_are_dropped() {
    // Skew: a little ahead counts as now, and Retry-After never exceeds the window.
    let skewed = [at("a", 10_000), at("b", 10_000), at("c", 15_000)];
    match admit(LIMIT, Some(&skewed), at("d", 10_000)) {
        Err(Error::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 60),
        other => panic!("{other:?}"),
    }
    // Corrupt: far ahead, it leaves the window like an expired entry.
    let corrupt = [at("a", 1_000), at("b", 1_001), at("x", i64::MAX)];
    assert_eq!(
        admit(LIMIT, Some(&corrupt), at("d", 1_002)).unwrap(),
        WindowChange::Edit { add: at("d", 1_002), expired: vec!["x".into()] }
    );
}

#[test]
fn tag_values_keep_ids_readable_and_reversible() {
    assert_eq!(tag_value("69629023906488334"), "69629023906488334");
    assert_eq!(tag_value("c0a6d565-4b2e-4630-b479-e6b120612da2"), "c0a6d565-4b2e-4630-b479-e6b120612da2");
    assert_eq!(tag_value("alice@example.com"), "alice_40example_2Ecom");
    assert_eq!(tag_value("a_b"), "a_5Fb");
    assert_ne!(tag_value("a_2Eb"), tag_value("a.b"));
    for id in ["69629023906488334", "alice@example.com", "a_b", "a_2Eb", "x.y-z"] {
        assert_eq!(tag_id(&tag_value(id)).as_deref(), Some(id));
    }
    for bad in ["a_", "a_4", "a_zz", "a_41", "a_2e", "a.b", "a b", ""] {
        assert!(tag_id(bad).filter(|id| !id.is_empty()).is_none(), "{bad:?}");
    }
}

#[test]
fn old_entries_leave_the_window_by_key() {
    let recent = [at("a", 0), at("b", 1), at("c", 2)];
    assert_eq!(
        admit(LIMIT, Some(&recent), at("d", 60_001)).unwrap(),
        WindowChange::Edit { add: at("d", 60_001), expired: vec!["a".into(), "b".into()] }
    );
}
