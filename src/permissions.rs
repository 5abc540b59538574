//! Which roles hold which permissions, and whether a caller holds one in an organisation.
//!
//! Mirrors ZITADEL's defaults: instance roles (`IAM_*`) apply in every organisation, org
//! roles (`ORG_*`) only in the organisation whose membership carries them.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

/// ZITADEL's permission for mailing a passwordless registration link (v1 `_send_link`).
pub const USER_WRITE: &str = "user.write";
/// ZITADEL's permission for reading users; the defaults grant it, nothing here checks it.
pub const USER_READ: &str = "user.read";
/// ZITADEL's permission for being handed a registration link (v1 `_link`): whoever holds it
/// can register a passkey for the user, so the user managers do not hold it by default.
pub const USER_CREDENTIAL_WRITE: &str = "user.credential.write";
/// ZITADEL's permission for the v2 passkey calls (CreatePasskeyRegistrationLink).
pub const USER_PASSKEY_WRITE: &str = "user.passkey.write";

/// ZITADEL's permissions for an organisation's message texts (management text API); reset
/// needs `policy.delete`, as in ZITADEL.
pub const POLICY_READ: &str = "policy.read";
pub const POLICY_WRITE: &str = "policy.write";
pub const POLICY_DELETE: &str = "policy.delete";
/// ZITADEL's permissions for the instance's message texts (admin text API); only instance
/// roles hold them.
pub const IAM_POLICY_READ: &str = "iam.policy.read";
pub const IAM_POLICY_WRITE: &str = "iam.policy.write";
pub const IAM_POLICY_DELETE: &str = "iam.policy.delete";

/// The permission names a mapping may grant: a misspelt one would silently grant nothing.
const KNOWN_PERMISSIONS: [&str; 10] = [
    USER_WRITE,
    USER_READ,
    USER_CREDENTIAL_WRITE,
    USER_PASSKEY_WRITE,
    POLICY_READ,
    POLICY_WRITE,
    POLICY_DELETE,
    IAM_POLICY_READ,
    IAM_POLICY_WRITE,
    IAM_POLICY_DELETE,
];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    instance: HashMap<String, HashSet<String>>,
    org: HashMap<String, HashSet<String>>,
}

impl Default for RolePermissions {
    fn default() -> Self {
        let grant = |pairs: &[(&str, &[&str])]| {
            pairs
                .iter()
                .map(|(role, perms)| (role.to_string(), perms.iter().map(|p| p.to_string()).collect()))
                .collect()
        };
        const POLICY: [&str; 3] = [POLICY_READ, POLICY_WRITE, POLICY_DELETE];
        const USERS: [&str; 4] = [USER_WRITE, USER_READ, USER_CREDENTIAL_WRITE, USER_PASSKEY_WRITE];
        Self {
            instance: grant(&[
                (
                    "IAM_OWNER",
                    &[&USERS[..], &POLICY, &[IAM_POLICY_READ, IAM_POLICY_WRITE, IAM_POLICY_DELETE]].concat(),
                ),
                ("IAM_ORG_MANAGER", &[&USERS[..], &POLICY].concat()),
                ("IAM_LOGIN_CLIENT", &[&USERS[..], &[POLICY_READ, IAM_POLICY_READ]].concat()),
                ("IAM_USER_MANAGER", &[USER_WRITE, USER_READ, USER_PASSKEY_WRITE]),
                ("IAM_OWNER_VIEWER", &[USER_READ, POLICY_READ, IAM_POLICY_READ]),
            ]),
            org: grant(&[
                ("ORG_OWNER", &[&USERS[..], &POLICY].concat()),
                ("ORG_USER_MANAGER", &[USER_WRITE, USER_READ, POLICY_READ]),
                ("ORG_OWNER_VIEWER", &[USER_READ, POLICY_READ]),
                ("ORG_USER_PERMISSION_EDITOR", &[USER_READ, POLICY_READ]),
                ("ORG_PROJECT_PERMISSION_EDITOR", &[POLICY_READ]),
                ("ORG_PROJECT_CREATOR", &[POLICY_READ]),
                ("ORG_SETTINGS_MANAGER", &POLICY),
            ]),
        }
    }
}

impl RolePermissions {
    /// A complete mapping replacing the defaults, e.g.
    /// `{"instance":{"IAM_OWNER":["user.write"]},"org":{"ORG_OWNER":["user.write"]}}`.
    /// Permission names must be known ([`USER_WRITE`], [`USER_READ`]).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let mapping: Self = serde_json::from_str(text).map_err(|e| format!("not a role mapping: {e}"))?;
        for (level, table) in [("instance", &mapping.instance), ("org", &mapping.org)] {
            for (role, permissions) in table {
                if let Some(unknown) = permissions.iter().find(|p| !KNOWN_PERMISSIONS.contains(&p.as_str())) {
                    return Err(format!(
                        "unknown permission {unknown:?} for {level} role {role:?} (known: {})",
                        KNOWN_PERMISSIONS.join(", ")
                    ));
                }
            }
        }
        Ok(mapping)
    }

    /// Whether `role` is an instance role of this mapping (one an instance membership may hold).
    pub fn knows_instance_role(&self, role: &str) -> bool {
        self.instance.contains_key(role)
    }

    /// Whether `role` is an organisation role of this mapping.
    pub fn knows_org_role(&self, role: &str) -> bool {
        self.org.contains_key(role)
    }

    /// `instance_roles` are the caller's instance membership; `org_roles` its membership in
    /// the organisation acted in (never another one).
    pub fn grants(&self, instance_roles: &[String], org_roles: &[String], permission: &str) -> bool {
        let holds = |table: &HashMap<String, HashSet<String>>, roles: &[String]| {
            roles.iter().any(|r| table.get(r).is_some_and(|p| p.contains(permission)))
        };
        holds(&self.instance, instance_roles) || holds(&self.org, org_roles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn zitadel_defaults() {
        let p = RolePermissions::default();
        assert!(p.grants(&roles(&["IAM_OWNER"]), &[], USER_WRITE));
        assert!(p.grants(&roles(&["IAM_USER_MANAGER"]), &[], USER_WRITE));
        assert!(p.grants(&[], &roles(&["ORG_OWNER"]), USER_WRITE));
        assert!(p.grants(&[], &roles(&["ORG_USER_MANAGER"]), USER_WRITE));
        assert!(!p.grants(
            &[],
            &roles(&["ORG_USER_PERMISSION_EDITOR", "ORG_PROJECT_PERMISSION_EDITOR"]),
            USER_WRITE
        ));
        assert!(!p.grants(&roles(&["IAM_OWNER_VIEWER"]), &[], USER_WRITE));
        assert!(!p.grants(&[], &[], USER_WRITE));
    }

    #[test]
    fn credential_and_passkey_permissions_follow_zitadel_roles() {
        let p = RolePermissions::default();
        for role in ["IAM_OWNER", "IAM_ORG_MANAGER", "IAM_LOGIN_CLIENT"] {
            assert!(p.grants(&roles(&[role]), &[], USER_CREDENTIAL_WRITE), "{role}");
            assert!(p.grants(&roles(&[role]), &[], USER_PASSKEY_WRITE), "{role}");
        }
        assert!(p.grants(&[], &roles(&["ORG_OWNER"]), USER_CREDENTIAL_WRITE));
        assert!(p.grants(&[], &roles(&["ORG_OWNER"]), USER_PASSKEY_WRITE));
        // Handing out a usable link is more than mailing it to the user's own address.
        assert!(!p.grants(&roles(&["IAM_USER_MANAGER"]), &[], USER_CREDENTIAL_WRITE));
        assert!(!p.grants(&[], &roles(&["ORG_USER_MANAGER"]), USER_CREDENTIAL_WRITE));
        assert!(p.grants(&roles(&["IAM_USER_MANAGER"]), &[], USER_PASSKEY_WRITE));
        assert!(!p.grants(&[], &roles(&["ORG_USER_MANAGER"]), USER_PASSKEY_WRITE));
    }

    #[test]
    fn a_configured_mapping_replaces_the_defaults() {
        let p = RolePermissions::from_json(r#"{"instance":{},"org":{"HELPDESK":["user.write"]}}"#).unwrap();
        assert!(p.grants(&[], &roles(&["HELPDESK"]), USER_WRITE));
        assert!(!p.grants(&roles(&["IAM_OWNER"]), &roles(&["ORG_OWNER"]), USER_WRITE));
        for bad in [
            "",
            "[]",
            r#"{"instance":{}}"#,
            r#"{"instance":{},"org":{},"x":{}}"#,
            r#"{"instance":{"A":"user.write"},"org":{}}"#,
        ] {
            assert!(RolePermissions::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_permissions_are_refused_by_name() {
        let err =
            RolePermissions::from_json(r#"{"instance":{},"org":{"HELPDESK":["user.wirte"]}}"#).unwrap_err();
        assert!(err.contains("\"user.wirte\"") && err.contains("HELPDESK"), "{err}");
        assert!(RolePermissions::from_json(r#"{"instance":{"A":["user.read"]},"org":{}}"#).is_ok());
    }

    #[test]
    fn roles_are_known_per_level() {
        let p = RolePermissions::default();
        assert!(p.knows_instance_role("IAM_OWNER") && !p.knows_instance_role("ORG_OWNER"));
        assert!(p.knows_org_role("ORG_PROJECT_CREATOR") && !p.knows_org_role("IAM_OWNER"));
    }

    #[test]
    fn org_roles_held_at_instance_level_grant_nothing() {
        let p = RolePermissions::default();
        assert!(!p.grants(&roles(&["ORG_OWNER"]), &[], USER_WRITE));
        assert!(!p.grants(&[], &roles(&["IAM_OWNER"]), USER_WRITE));
    }
}
