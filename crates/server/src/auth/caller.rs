//! [`Caller`]: who a request runs as, and how that travels in a proposal's header.

use oxcd_proto::oxcdpb::RequestHeader;

/// Who a request runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The member itself: never checked (etcd runs these as root).
    System,
    /// No credentials, or auth was off when the request arrived.
    Anonymous,
    /// An authenticated user and the auth revision its request is checked against.
    User {
        /// The user name.
        name: String,
        /// The auth revision the token resolved to.
        revision: u64,
    },
}

impl Caller {
    /// The proposal header for request `id` made by this caller.
    pub fn header(&self, id: u64) -> RequestHeader {
        let (username, auth_revision) = self.user_and_revision();
        RequestHeader {
            id,
            username: username.to_string(),
            auth_revision,
            internal: matches!(self, Caller::System),
        }
    }

    /// The caller a proposal header names (`None` header: an anonymous request).
    pub fn from_header(h: Option<&RequestHeader>) -> Caller {
        match h {
            Some(h) if h.internal => Caller::System,
            Some(h) if !h.username.is_empty() => Caller::User {
                name: h.username.clone(),
                revision: h.auth_revision,
            },
            _ => Caller::Anonymous,
        }
    }

    /// The user name and auth revision a permission check takes (`("", 0)` for no user,
    /// which a check refuses with "user name is empty" while auth is on).
    pub fn user_and_revision(&self) -> (&str, u64) {
        match self {
            Caller::User { name, revision } => (name, *revision),
            Caller::System | Caller::Anonymous => ("", 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        for c in [
            Caller::System,
            Caller::Anonymous,
            Caller::User {
                name: "alice".into(),
                revision: 7,
            },
        ] {
            let h = c.header(42);
            assert_eq!(h.id, 42);
            assert_eq!(Caller::from_header(Some(&h)), c);
        }
        assert_eq!(Caller::from_header(None), Caller::Anonymous);
    }
}
