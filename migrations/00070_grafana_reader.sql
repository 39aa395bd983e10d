-- +goose Up

-- shoppulse_grafana: the read-only role Grafana's PostgreSQL datasource uses
-- (deploy/grafana). SELECT on every table and view of this schema, now and
-- later (default privileges of the role that runs the migrations), nothing
-- else. A role belongs to the whole cluster, so it is created only when
-- missing; its password is set outside the migrations (database
-- .grafana_password, or ALTER ROLE by hand), never stored here.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shoppulse_grafana') THEN
        CREATE ROLE shoppulse_grafana LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created meanwhile by another database's migration
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO shoppulse_grafana', current_schema());
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO shoppulse_grafana', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO shoppulse_grafana', current_schema());
END
$$;
-- +goose StatementEnd

-- Dashboards scan minute tables over hours, never the whole history: bound
-- a runaway panel.
ALTER ROLE shoppulse_grafana SET statement_timeout = '30s';

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE SELECT ON TABLES FROM shoppulse_grafana', current_schema());
    EXECUTE format('REVOKE SELECT ON ALL TABLES IN SCHEMA %I FROM shoppulse_grafana', current_schema());
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM shoppulse_grafana', current_schema());
END
$$;
-- +goose StatementEnd
