//! Every API Gateway event in events/ goes through the real handler against the local stack
//! with the demo seed and gets its documented status; a new file needs an entry here.

mod common;

use common::Harness;

/// The documented outcome of each event in events/ (README, "Events").
const EXPECTED: &[(&str, u16)] = &[
    ("send-link.json", 200),
    ("send-link-org-override.json", 200),
    ("send-link-missing-identity.json", 401),
    ("send-link-forbidden.json", 403),
    ("send-link-other-tenant.json", 403),
    ("send-link-unknown-user.json", 404),
    ("rest-v1-cognito.json", 200),
    ("rest-v1-lambda-authorizer.json", 200),
];

#[tokio::test]
async fn every_event_file_gets_its_documented_status() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected = EXPECTED
            .iter()
            .find(|(file, _)| *file == name)
            .unwrap_or_else(|| panic!("events/{name} has no expected status in tests/events.rs"))
            .1;
        // A fresh table per file: the seed's state is what each event is written against.
        let h = Harness::new().await;
        let event = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (status, body) = h.call(&event).await;
        assert_eq!(status, expected, "events/{name}: {body}");
        seen += 1;
    }
    assert_eq!(seen, EXPECTED.len(), "every expectation has its file");
}
