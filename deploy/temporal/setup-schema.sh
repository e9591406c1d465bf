#!/bin/sh
# Temporal's schema in PostgreSQL, run by the one-shot temporal-schema service (the
# temporalio/admin-tools image) before the server starts. Idempotent: creating a database that
# exists is a no-op, setup-schema keeps a newer version, and update-schema applies only the
# versions not applied yet, so the same script upgrades the schema after a Temporal upgrade.
# The connection comes from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu
schema=/etc/temporal/schema/postgresql/v12

for database in temporal temporal_visibility; do
    case "$database" in
        temporal) versions="$schema/temporal/versioned" ;;
        *) versions="$schema/visibility/versioned" ;;
    esac
    # Connects to the maintenance database "postgres" to create its own (the role may, CREATEDB).
    temporal-sql-tool --db "$database" create-database --defaultdb postgres
    temporal-sql-tool --db "$database" setup-schema -v 0.0
    temporal-sql-tool --db "$database" update-schema -d "$versions"
done
echo "Temporal schema is up to date"
