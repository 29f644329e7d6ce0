#!/bin/sh
# Start one Redis pod of the StatefulSet. Its role comes from the sentinels when they know a
# primary (after a failover the primary may be redis-1); on a first start with no sentinel
# answering, redis-0 is the primary and the others replicate it.
set -eu
# Kubernetes sets HOSTNAME (the pod name) in the environment
# shellcheck disable=SC3028
me="${HOSTNAME:-$(hostname)}.redis-headless"
primary=""
for s in 0 1 2; do
  primary=$(timeout 2 redis-cli -h "redis-sentinel-$s.redis-sentinel" -p 26379 --raw \
    sentinel get-master-addr-by-name switchboard 2>/dev/null | head -n 1 || true)
  [ -n "$primary" ] && break
done
[ -n "$primary" ] || primary="redis-0.redis-headless"
cp /config/redis.conf /data/redis.conf
echo "replica-announce-ip $me" >> /data/redis.conf
if [ "$primary" != "$me" ]; then
  echo "replicaof $primary 6379" >> /data/redis.conf
fi
exec redis-server /data/redis.conf
