#!/usr/bin/env bash
# Run once by the postgres image on a new data folder (/docker-entrypoint-initdb.d):
# lets the compose profile's streaming replica (postgres-replica) connect for
# replication with the same password as every other client.
set -euo pipefail
echo 'host replication all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
