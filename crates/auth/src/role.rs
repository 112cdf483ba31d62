//! The roles a token can grant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A procgate role, carried in a token's `roles` claim by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A finance system's service account: asks for purchase checks, reads its own purchases.
    Finance,
    /// IT staff: review held purchases, keep the catalog, log relationship work.
    ItStaff,
    /// Auditors: read everything, replay decisions, verify the log.
    Auditor,
    /// Administrators: everything IT staff can do, and configuration.
    Admin,
    /// The district's other systems: read the feed and subscribe to it, never write, never
    /// see personal data.
    Integration,
}

impl Role {
    /// Every role, from most to least privileged.
    pub const ALL: [Role; 5] =
        [Role::Admin, Role::ItStaff, Role::Auditor, Role::Finance, Role::Integration];

    /// The wire name (`it_staff`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Finance => "finance",
            Role::ItStaff => "it_staff",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Integration => "integration",
        }
    }

    /// Rank used to pick a principal's actor role: admin (3) > it_staff (2) > auditor (1) >
    /// finance (0) = integration (0). Writing roles outrank reading ones.
    pub fn privilege(self) -> u8 {
        match self {
            Role::Admin => 3,
            Role::ItStaff => 2,
            Role::Auditor => 1,
            Role::Finance | Role::Integration => 0,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of procgate's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; the roles are finance, it_staff, auditor, admin and integration")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "finance" => Ok(Role::Finance),
            "it_staff" => Ok(Role::ItStaff),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            "integration" => Ok(Role::Integration),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// The known roles among `names`, in order, without duplicates; unknown names are dropped (a
/// token may carry roles meant for other systems).
pub fn parse_roles<S: AsRef<str>>(names: &[S]) -> Vec<Role> {
    let mut roles = Vec::new();
    for role in names.iter().filter_map(|n| n.as_ref().parse::<Role>().ok()) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::json!(role.as_str()));
            let back: Role = serde_json::from_value(serde_json::json!(role.as_str())).unwrap();
            assert_eq!(back, role);
        }
    }

    #[test]
    fn unknown_roles_are_dropped() {
        assert_eq!(
            parse_roles(&["superuser", "auditor", "it_staff", "auditor", "IT_STAFF"]),
            vec![Role::Auditor, Role::ItStaff]
        );
        assert!("root".parse::<Role>().is_err());
    }
}
