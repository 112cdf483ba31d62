-- Data keys: each person's personal data is sealed in the log with a key of its own
-- (AES-256-GCM), kept here, outside the chained log, wrapped by the district's master key.
-- Destroying a key (wrapped set to NULL) erases what it sealed, everywhere, while the chain,
-- which covers the ciphertext, still verifies.
CREATE TABLE data_keys (
    subject        text PRIMARY KEY,
    -- The person the key belongs to: erasing them destroys it (a key of a person's own has
    -- the person as its subject and no owner).
    owner          text,
    -- What it seals: `person`, `conversation-notes`, `call-notes`.
    purpose        text NOT NULL,
    -- The day what it seals is about (a conversation's time), for retention.
    dated          timestamptz,
    wrapped        bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    destroyed_at   timestamptz,
    destroy_reason text,
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
CREATE INDEX data_keys_owner ON data_keys (owner) WHERE owner IS NOT NULL;
CREATE INDEX data_keys_dated ON data_keys (purpose, dated) WHERE wrapped IS NOT NULL;
