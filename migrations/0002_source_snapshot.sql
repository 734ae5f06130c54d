-- The canonical snapshot of the Zephyr source, one set of rows per run, shaped after the
-- original design's schema (Project, Folder, TestCase, TestStep, TestCycle, TestExecution,
-- Attachment, lookups) so that operators can review it with SQL. `raw` keeps the whole item
-- as the API sent it, for fields the typed columns do not hold yet.
--
-- Lists are written by ztoq-enqueue; details that cost one request per item (steps, step
-- results, attachment lists) are written by the worker in the transaction that marks the
-- owning record done.

CREATE TABLE src_projects (
    run_id          bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    id              bigint NOT NULL,
    key             text   NOT NULL,
    jira_project_id bigint NOT NULL,
    raw             jsonb  NOT NULL
);

-- Statuses (by status_type), priorities and environments.
CREATE TABLE src_lookups (
    run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    lookup      text   NOT NULL CHECK (lookup IN ('status', 'priority', 'environment')),
    status_type text   NOT NULL DEFAULT '',
    id          bigint NOT NULL,
    name        text   NOT NULL,
    raw         jsonb  NOT NULL,
    PRIMARY KEY (run_id, lookup, id)
);

CREATE TABLE src_folders (
    run_id      bigint  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    id          bigint  NOT NULL,
    parent_id   bigint,
    name        text    NOT NULL,
    folder_type text    NOT NULL,
    idx         bigint  NOT NULL,
    raw         jsonb   NOT NULL,
    PRIMARY KEY (run_id, id)
);

CREATE TABLE src_test_cases (
    run_id            bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    id                bigint NOT NULL,
    key               text   NOT NULL,
    name              text   NOT NULL,
    folder_id         bigint,
    priority_id       bigint,
    status_id         bigint,
    objective         text,
    precondition      text,
    estimated_time_ms bigint,
    labels            text[] NOT NULL DEFAULT '{}',
    owner_account_id  text,
    created_on        text,
    custom_fields     jsonb  NOT NULL DEFAULT '{}'::jsonb,
    raw               jsonb  NOT NULL,
    PRIMARY KEY (run_id, id)
);

CREATE UNIQUE INDEX src_test_cases_key ON src_test_cases (run_id, key);

CREATE TABLE src_test_steps (
    run_id               bigint  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    test_case_id         bigint  NOT NULL,
    idx                  integer NOT NULL,
    step_id              bigint,
    description          text,
    test_data            text,
    expected_result      text,
    called_test_case_key text,
    raw                  jsonb   NOT NULL,
    PRIMARY KEY (run_id, test_case_id, idx)
);

CREATE TABLE src_test_cycles (
    run_id             bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    id                 bigint NOT NULL,
    key                text   NOT NULL,
    name               text   NOT NULL,
    folder_id          bigint,
    status_id          bigint,
    description        text,
    planned_start_date text,
    planned_end_date   text,
    jira_version_id    bigint,
    owner_account_id   text,
    custom_fields      jsonb  NOT NULL DEFAULT '{}'::jsonb,
    raw                jsonb  NOT NULL,
    PRIMARY KEY (run_id, id)
);

CREATE TABLE src_test_executions (
    run_id            bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    id                bigint NOT NULL,
    key               text,
    test_case_key     text,
    test_case_version bigint,
    test_cycle_id     bigint,
    status_id         bigint NOT NULL,
    environment_id    bigint,
    actual_end_date   text,
    execution_time_ms bigint,
    executed_by       text,
    assigned_to       text,
    comment           text,
    custom_fields     jsonb  NOT NULL DEFAULT '{}'::jsonb,
    raw               jsonb  NOT NULL,
    PRIMARY KEY (run_id, id)
);

CREATE TABLE src_execution_steps (
    run_id          bigint  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    execution_id    bigint  NOT NULL,
    idx             integer NOT NULL,
    step_id         bigint,
    description     text,
    expected_result text,
    actual_result   text,
    status_id       bigint,
    raw             jsonb   NOT NULL,
    PRIMARY KEY (run_id, execution_id, idx)
);

CREATE TABLE src_attachments (
    run_id       bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    id           bigint NOT NULL,
    -- 'test_case' or 'execution', and the owner's Zephyr id.
    owner_kind   text   NOT NULL,
    owner_id     bigint NOT NULL,
    name         text   NOT NULL,
    PRIMARY KEY (run_id, id)
);

-- Finds the previous execution of the same (cycle, test case) pair, which a later execution
-- waits for (its test log goes on the same test run, after the earlier ones).
CREATE INDEX src_test_executions_pair
    ON src_test_executions (run_id, test_cycle_id, test_case_key, id);
