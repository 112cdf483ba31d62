-- The event log. One writer at a time (the lock on the log_head row) gives positions and
-- chain links at insert; each process batches the appends waiting at that moment into one
-- such transaction, so concurrency fills batches instead of queueing commits.

CREATE TABLE events (
    position    BIGINT PRIMARY KEY CHECK (position >= 1),
    event_id    UUID NOT NULL,
    stream      TEXT NOT NULL,
    category    TEXT NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    event_type  TEXT NOT NULL,
    data        JSONB NOT NULL,
    metadata    JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    hash        BYTEA NOT NULL,
    chain       BYTEA NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version)
);
CREATE INDEX events_category ON events (category, position);

-- The head and its chain link, kept apart from the events so that removing the last event is
-- noticed, and so that the writer finds them without scanning.
CREATE TABLE log_head (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    position  BIGINT NOT NULL,
    chain     BYTEA NOT NULL
);
INSERT INTO log_head (position, chain) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE TABLE checkpoints (
    name       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL CHECK (position >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Read models kept by projections, as JSON documents, written in the same transaction as the
-- projection's checkpoint.
CREATE TABLE documents (
    collection TEXT NOT NULL,
    key        TEXT NOT NULL,
    doc        JSONB NOT NULL,
    PRIMARY KEY (collection, key)
);
