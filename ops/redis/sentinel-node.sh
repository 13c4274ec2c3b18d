#!/bin/sh
# Start one Sentinel of tsp-celery's Redis: writes /data/sentinel.conf on first start (from
# sentinel.conf next to this script, PRIMARY_HOST filled in), then runs as the image's redis
# user. The sentinels require the Redis password themselves, and use it for the primary and for
# each other; it is read from AUTH_FILE ("requirepass ...", the redis-auth secret), never argv.
# Usage: sentinel-node.sh AUTH_FILE PRIMARY_HOST [PRIMARY_PORT]
set -eu
auth=$1
primary=$2
port=${3:-6379}
conf=${REDIS_DATA_DIR:-/data}/sentinel.conf  # the volume
if [ ! -f "$conf" ]; then  # later starts keep what this sentinel learned (the current primary)
    umask 077
    password=$(sed -n 's/^requirepass //p' "$auth")
    {
        sed "s/PRIMARY_HOST 6379/$primary $port/" "$(dirname "$0")/sentinel.conf"
        echo "requirepass $password"
        echo "sentinel auth-pass mymaster $password"
        echo "sentinel sentinel-pass $password"
    } > "$conf"
fi
# The official image's entrypoint drops root; an image without it (ops/docker/redis.Dockerfile)
# already runs as redis.
entrypoint=$(command -v docker-entrypoint.sh || true)
exec $entrypoint redis-server "$conf" --sentinel
