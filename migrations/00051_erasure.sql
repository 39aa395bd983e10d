-- +goose Up

-- One row per GDPR erasure request, written by the EraseCustomer workflow.
-- It records what was done, when and for which request, and never the
-- customer's identifiers: pseudonym is what the customer's rows now carry
-- (derived from the request id), rows counts the rows changed per table.
CREATE TABLE erasure_audit (
    request_id      text        PRIMARY KEY,
    pseudonym       text        NOT NULL,
    requested_at    timestamptz NOT NULL,
    deadline_at     timestamptz NOT NULL,
    erased_at       timestamptz,
    finished_at     timestamptz,
    rows            jsonb       NOT NULL DEFAULT '{}',
    recomputed_days jsonb       NOT NULL DEFAULT '[]',
    overdue         boolean     NOT NULL DEFAULT false,
    workflow_id     text        NOT NULL,
    run_id          text        NOT NULL
);

-- +goose Down
DROP TABLE erasure_audit;
