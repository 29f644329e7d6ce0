#!/bin/sh
# Start one Redis pod of the StatefulSet. Its role comes from the sentinels when they know a
# primary (after a failover the primary may be redis-1, and a restarted redis-0 must come
# back as its replica, not as a second primary); on a first start, with no sentinel
# answering, FIRST_PRIMARY (redis-0) is the primary and the others replicate it.
# The variables default to the pod's values; tests/integration/test_deploy_redis.py runs
# this script against real redis-server processes on loopback with its own.
set -eu
config=${CONFIG_DIR:-/config}
data=${DATA_DIR:-/data}
port=${REDIS_PORT:-6379}
# Kubernetes sets HOSTNAME (the pod name) in the environment
# shellcheck disable=SC3028
me=${ANNOUNCE_HOST:-${HOSTNAME:-$(hostname)}.redis-headless}
sentinels=${SENTINELS:-redis-sentinel-0.redis-sentinel:26379 redis-sentinel-1.redis-sentinel:26379 redis-sentinel-2.redis-sentinel:26379}
primary=${FIRST_PRIMARY:-redis-0.redis-headless:6379}
for sentinel in $sentinels; do
  answer=$(timeout 2 redis-cli -h "${sentinel%:*}" -p "${sentinel##*:}" --raw \
    sentinel get-master-addr-by-name switchboard 2>/dev/null || true)
  host=$(printf '%s\n' "$answer" | sed -n 1p)
  hport=$(printf '%s\n' "$answer" | sed -n 2p)
  if [ -n "$host" ] && [ -n "$hport" ]; then
    primary="$host:$hport"
    break
  fi
done
cp "$config/redis.conf" "$data/redis.conf"
{
  echo "port $port"
  echo "dir $data"
  echo "replica-announce-ip $me"
  echo "replica-announce-port $port"
  if [ "$primary" != "$me:$port" ]; then
    echo "replicaof ${primary%:*} ${primary##*:}"
  fi
} >> "$data/redis.conf"
exec redis-server "$data/redis.conf"
