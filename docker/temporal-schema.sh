#!/bin/sh
# Creates and migrates Temporal's two databases with temporal-sql-tool; safe to run again.
set -eu
tool() {
  temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" -pw "$SQL_PASSWORD" "$@"
}
for db in temporal temporal_visibility; do
  tool --db "$db" create-database || true
done
tool --db temporal setup-schema -v 0.0 || true
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility setup-schema -v 0.0 || true
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
