#!/bin/sh
# Start one sentinel: monitor the primary the other sentinels name (after a failover it is
# no longer redis-0), or FIRST_PRIMARY on a first start. Quorum 2 of 3. The variables
# default to the pod's values; tests/integration/test_deploy_redis.py runs this script
# against real processes on loopback with its own.
set -eu
config=${CONFIG_DIR:-/config}
data=${DATA_DIR:-/data}
port=${SENTINEL_PORT:-26379}
# Kubernetes sets HOSTNAME (the pod name) in the environment
# shellcheck disable=SC3028
me=${ANNOUNCE_HOST:-${HOSTNAME:-$(hostname)}.redis-sentinel}
sentinels=${SENTINELS:-redis-sentinel-0.redis-sentinel:26379 redis-sentinel-1.redis-sentinel:26379 redis-sentinel-2.redis-sentinel:26379}
primary=${FIRST_PRIMARY:-redis-0.redis-headless:6379}
for sentinel in $sentinels; do
  [ "$sentinel" = "$me:$port" ] && continue
  answer=$(timeout 2 redis-cli -h "${sentinel%:*}" -p "${sentinel##*:}" --raw \
    sentinel get-master-addr-by-name switchboard 2>/dev/null || true)
  host=$(printf '%s\n' "$answer" | sed -n 1p)
  hport=$(printf '%s\n' "$answer" | sed -n 2p)
  if [ -n "$host" ] && [ -n "$hport" ]; then
    primary="$host:$hport"
    break
  fi
done
cp "$config/sentinel.conf" "$data/sentinel.conf"
cat >> "$data/sentinel.conf" <<CONF
port $port
dir $data
sentinel announce-ip $me
sentinel announce-port $port
sentinel monitor switchboard ${primary%:*} ${primary##*:} 2
sentinel down-after-milliseconds switchboard 2000
sentinel failover-timeout switchboard 10000
sentinel parallel-syncs switchboard 1
CONF
exec redis-sentinel "$data/sentinel.conf"
