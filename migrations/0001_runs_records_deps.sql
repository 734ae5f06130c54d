-- Runs, records and the dependency edges between them: the state of every migration.
--
-- A run is one (Zephyr project -> qTest project) migration; enqueuing the same pair again
-- reuses it, which is what makes enqueue idempotent. A record is one source item migrated as
-- one unit of work; record_deps says "child waits for parent". pending_deps counts the
-- parents that are not done yet, so a parent's success releases its children in O(edges).

CREATE TABLE runs (
    id               bigserial PRIMARY KEY,
    zephyr_url       text        NOT NULL,
    project_key      text        NOT NULL,
    qtest_url        text        NOT NULL,
    qtest_project_id bigint      NOT NULL,
    -- Resolved at enqueue (field ids, status map): never a secret.
    settings         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    enqueued_at      timestamptz,
    -- Set by a worker when an API refuses the credentials; cleared when work succeeds again.
    paused_reason    text,
    UNIQUE (zephyr_url, project_key, qtest_url, qtest_project_id)
);

CREATE TABLE records (
    id           bigserial   PRIMARY KEY,
    run_id       bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    source_id    bigint      NOT NULL,
    -- Human-readable source identity for reports: a key (ACME-T12) or a name.
    source_key   text        NOT NULL,
    state        text        NOT NULL DEFAULT 'waiting'
                 CHECK (state IN ('waiting', 'ready', 'done', 'failed', 'blocked')),
    pending_deps integer     NOT NULL DEFAULT 0,
    -- Failed attempts so far (transient errors); reset by `ztoq retry`.
    attempts     integer     NOT NULL DEFAULT 0,
    -- Generation of the record's queue job; part of the job's idempotency key.
    job_seq      integer     NOT NULL DEFAULT 0,
    last_error   text,
    -- The failed record this one waits on, when blocked.
    blocked_by   bigint,
    qtest_id     bigint,
    -- What dependents need besides the id (test-case version and step ids, test-run id).
    qtest_data   jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz,
    UNIQUE (run_id, kind, source_id)
) WITH (fillfactor = 80);

CREATE INDEX records_run_state_kind ON records (run_id, state, kind);

CREATE TABLE record_deps (
    parent_id bigint NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    child_id  bigint NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    PRIMARY KEY (parent_id, child_id)
);

CREATE INDEX record_deps_child ON record_deps (child_id);
