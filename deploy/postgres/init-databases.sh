#!/bin/sh
# Runs once, when the PostgreSQL volume is initialised (docker-entrypoint-initdb.d): a role and
# database for Orderflow, and a role for Temporal that may create its own two databases
# (temporal, temporal_visibility; deploy/temporal/setup-schema.sh does). Neither can read the
# other's data. To change a password later: ALTER ROLE ... PASSWORD ... (README).
set -eu
: "${ORDERFLOW_DB_PASSWORD:?ORDERFLOW_DB_PASSWORD is not set}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set orderflow_password="$ORDERFLOW_DB_PASSWORD" --set temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE orderflow LOGIN PASSWORD :'orderflow_password';
CREATE DATABASE orderflow OWNER orderflow;
REVOKE ALL ON DATABASE orderflow FROM PUBLIC;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
SQL
