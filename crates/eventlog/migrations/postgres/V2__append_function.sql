-- Appends a batch planned by a writer that knows the versions of the streams it continues,
-- in one statement: the writer's one-flight path (see the crate documentation).
--
-- Under the head-row lock (held to commit, as for every append) it numbers the events after
-- the head and chains them: link(p) = sha256(link(p-1) || p || version || hash(p)), with p
-- and the version as 8-byte big-endian integers, exactly as the crate's `hash::chain_link`.
-- The writer plans versions and content hashes; positions and links need the head, and are
-- given here, so a batch lands whatever other processes appended meanwhile.
--
-- It writes nothing and returns NULL when a stream it continues does not hold the version the
-- batch continues from; the unique keys refuse a version or an event id that exists (the
-- statement fails). Otherwise it returns the batch's first position.
CREATE FUNCTION procgate_append(
    p_ids uuid[],
    p_streams text[],
    p_categories text[],
    p_versions bigint[],
    p_types text[],
    p_data jsonb[],
    p_metadata jsonb[],
    p_recorded_at timestamptz,
    p_hashes bytea[],
    p_continued text[],
    p_continued_from bigint[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    head bigint;
    link bytea;
    links bytea[] := '{}';
    n int := cardinality(p_ids);
BEGIN
    -- Before the lock: a stored version stays stored, and the unique key on stream versions
    -- refuses the next one if another writer took it meanwhile.
    IF EXISTS (SELECT 1 FROM unnest(p_continued, p_continued_from) AS b(s, v)
               WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.stream = b.s AND e.version = b.v))
    THEN
        RETURN NULL;
    END IF;
    SELECT position, chain INTO head, link FROM log_head FOR UPDATE;
    FOR i IN 1 .. n LOOP
        link := sha256(link || int8send(head + i) || int8send(p_versions[i]) || p_hashes[i]);
        links := array_append(links, link);
    END LOOP;
    INSERT INTO events (position, event_id, stream, category, version, event_type, data,
                        metadata, recorded_at, hash, chain)
    SELECT head + r.k, r.i, r.s, r.c, r.v, r.t, r.d, r.m, p_recorded_at, r.h, r.l
    FROM unnest(p_ids, p_streams, p_categories, p_versions, p_types, p_data, p_metadata,
                p_hashes, links) WITH ORDINALITY AS r(i, s, c, v, t, d, m, h, l, k);
    UPDATE log_head SET position = head + n, chain = link;
    PERFORM pg_notify('procgate_events', (head + n)::text);
    RETURN head + 1;
END
$$;
