//! Change notices between nodes. A node that changes something other nodes hold in memory (what
//! the gateway serves, the revoked token families, a pool's signing keys) announces it; every
//! other node sharing the store hears the topic and re-reads that part. With the embedded SQLite
//! store there is one node, so announcing is silent; with PostgreSQL it is LISTEN/NOTIFY
//! (`postgres::PgChangeFeed`).

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// APIs, stages, deployments, domain names, mappings, API keys: what the gateway serves.
    Apis,
    /// The revocation journal grew.
    Revocations,
    /// A pool was deleted or its signing keys changed.
    Pools,
    /// The feed lost its connection and may have missed notices: re-read everything.
    Resync,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Apis => "apis",
            Topic::Revocations => "revocations",
            Topic::Pools => "pools",
            Topic::Resync => "resync",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "apis" => Topic::Apis,
            "revocations" => Topic::Revocations,
            "pools" => Topic::Pools,
            "resync" => Topic::Resync,
            _ => return None,
        })
    }
}

/// Tells the other nodes that something changed. Never blocks and never fails the change it
/// follows: a notice that cannot be sent is dropped, and the nodes that missed it re-read
/// everything when their own feed reconnects (`Topic::Resync`).
pub trait Announce: Send + Sync {
    fn announce(&self, topic: Topic);
}

/// The announcer of a store no other node shares.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Announce for Silent {
    fn announce(&self, _topic: Topic) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        for t in [Topic::Apis, Topic::Revocations, Topic::Pools, Topic::Resync] {
            assert_eq!(Topic::parse(t.as_str()), Some(t));
        }
        assert_eq!(Topic::parse("nope"), None);
    }
}
