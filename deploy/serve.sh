#!/bin/sh
# The container's command. GAR_SERVE chooses what runs:
#   testbed (default) — the three services in one process, prepared on start (`gar-testbed up`);
#   broker            — the broker alone, GAR_WORKERS uvicorn worker processes, for production
#                       behind a load balancer. It does not migrate: run `gar-testbed seed`
#                       (migrations, keys) once as a one-off job before starting instances, so
#                       that several instances starting together never race on the schema.
set -eu
case "${GAR_SERVE:-testbed}" in
  testbed)
    exec gar-testbed up
    ;;
  broker)
    exec uvicorn --factory broker.app:create_app \
      --host "${GAR_HOST:-0.0.0.0}" --port "${GAR_BROKER_PORT:-8000}" \
      --workers "${GAR_WORKERS:-2}" --proxy-headers --forwarded-allow-ips "${GAR_FORWARDED_ALLOW_IPS:-127.0.0.1}" \
      --no-access-log
    ;;
  *)
    echo "GAR_SERVE must be testbed or broker, not '${GAR_SERVE}'" >&2
    exit 2
    ;;
esac
