#!/bin/sh
# Start one Redis of the Sentinel topology (primary or replica) with ops/redis/redis.conf, as the
# image's redis user. Any node may be a replica after a failover, so each also authenticates to
# its primary: masterauth is derived from AUTH_FILE ("requirepass ...", the redis-auth secret)
# into a private file, never argv. Extra arguments go to redis-server (e.g. --replicaof HOST 6379).
# Usage: redis-node.sh AUTH_FILE [redis-server options...]
set -eu
auth=$1
shift
masterauth=${TMPDIR:-/tmp}/masterauth.conf
umask 077
sed -n 's/^requirepass /masterauth /p' "$auth" > "$masterauth"
chown redis "$masterauth" 2>/dev/null || true  # as root (compose): for the redis user
# The official image's entrypoint drops root; an image without it (ops/docker/redis.Dockerfile)
# already runs as redis.
entrypoint=$(command -v docker-entrypoint.sh || true)
exec $entrypoint redis-server "$(dirname "$0")/redis.conf" \
    --dir "${REDIS_DATA_DIR:-/data}" --include "$auth" --include "$masterauth" "$@"
