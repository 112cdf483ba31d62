-- The embedded event log: one writer, so positions and the hash chain are assigned at insert.
CREATE TABLE events (
    position    INTEGER PRIMARY KEY CHECK (position >= 1),
    event_id    TEXT NOT NULL UNIQUE,
    stream      TEXT NOT NULL,
    category    TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    event_type  TEXT NOT NULL,
    data        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    hash        BLOB NOT NULL,
    chain       BLOB NOT NULL,
    UNIQUE (stream, version)
);
CREATE INDEX events_category ON events (category, position);

-- The head and its chain link, kept apart from the events so that removing the last event
-- is noticed.
CREATE TABLE log_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    position  INTEGER NOT NULL,
    chain     BLOB NOT NULL
);
INSERT INTO log_head (singleton, position, chain) VALUES (1, 0, zeroblob(32));

CREATE TABLE checkpoints (
    name       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL CHECK (position >= 0),
    updated_at TEXT NOT NULL
);

CREATE TABLE documents (
    collection TEXT NOT NULL,
    key        TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (collection, key)
) WITHOUT ROWID;
