# Redis from Debian packages, for hosts that cannot pull redis:*-alpine from Docker Hub (the e2e
# in CI builds it on its debootstrap base). It runs docker-compose.yml's Redis command as is:
#   docker build --build-arg BASE_IMAGE=debian:bookworm-slim -t tsp-celery-redis:local \
#       - < ops/docker/redis.Dockerfile
#   TSP_CELERY_REDIS_IMAGE=tsp-celery-redis:local docker-compose up -d
# No build context: nothing is copied in. apt fetches from the base image's Debian mirror.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
# policy-rc.d: the package must not start a Redis server inside the build.
RUN set -eu; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/sbin/policy-rc.d; \
    mkdir -p /data /usr/local/etc/redis; chown redis:redis /data
# Unlike the official image, no entrypoint drops root: the image runs as the redis user itself.
USER redis
WORKDIR /data
VOLUME /data
EXPOSE 6379
CMD ["redis-server", "--dir", "/data"]
