#!/bin/sh
# Start one sentinel: monitor the primary the other sentinels name (after a failover it is
# no longer redis-0), or redis-0 on a first start. Quorum 2 of 3.
set -eu
# Kubernetes sets HOSTNAME (the pod name) in the environment
# shellcheck disable=SC3028
me="${HOSTNAME:-$(hostname)}.redis-sentinel"
primary=""
for s in 0 1 2; do
  [ "redis-sentinel-$s.redis-sentinel" = "$me" ] && continue
  primary=$(timeout 2 redis-cli -h "redis-sentinel-$s.redis-sentinel" -p 26379 --raw \
    sentinel get-master-addr-by-name switchboard 2>/dev/null | head -n 1 || true)
  [ -n "$primary" ] && break
done
[ -n "$primary" ] || primary="redis-0.redis-headless"
cp /config/sentinel.conf /data/sentinel.conf
cat >> /data/sentinel.conf <<CONF
sentinel announce-ip $me
sentinel monitor switchboard $primary 6379 2
sentinel down-after-milliseconds switchboard 2000
sentinel failover-timeout switchboard 10000
sentinel parallel-syncs switchboard 1
CONF
exec redis-sentinel /data/sentinel.conf
