-- Installation-wide settings every node must agree on (e.g. a check that all nodes seal
-- secrets with the same master key). The first node to start writes them.
CREATE TABLE cluster_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
