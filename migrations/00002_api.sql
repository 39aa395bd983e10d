-- +goose Up

-- API keys. A key is shown once, as sp_<id>_<secret>; only the SHA-256 of the
-- secret is kept (the secret is 256 random bits, so a plain hash is enough:
-- there is nothing to brute-force). scopes is a subset of ingest, read,
-- operate, admin. A revoked key stays for the audit trail.
CREATE TABLE api_keys (
    id           text        PRIMARY KEY,
    name         text        NOT NULL,
    secret_hash  bytea       NOT NULL,
    scopes       text[]      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- last_used_at is updated at most once a minute per key.
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CHECK (scopes <@ ARRAY['ingest', 'read', 'operate', 'admin']::text[])
);

-- Event ids the ingest API has accepted, so a repeated id is sent to Kafka
-- once. Rows older than the API's id retention (api.event_id_retention,
-- default 7 days) are deleted by the API server: a retry later than that is
-- accepted again (and the hot path's per-event-id primary keys still keep the
-- facts exact).
CREATE TABLE ingest_event_ids (
    event_id    text        PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingest_event_ids_received_at ON ingest_event_ids (received_at);

-- +goose Down
DROP TABLE ingest_event_ids;
DROP TABLE api_keys;
