#!/usr/bin/env bash
# A local batchd deployment split as in production: a 3-node NATS cluster
# with JetStream (nats-server built from the module batchd already depends
# on), every stream and bucket on 3 servers, REPLICAS processes of each of
# api, scheduler, monitor and notifier, and LAUNCHERS launcher processes
# (each its own host id), all on 127.0.0.1.
#
#   deploy/local-cluster/cluster.sh start    build, start, wait until the api answers
#   deploy/local-cluster/cluster.sh status   what runs (pid, name)
#   deploy/local-cluster/cluster.sh kill N   kill -9 the process named N (e.g. scheduler-1, nats-2)
#   deploy/local-cluster/cluster.sh restart N  start the process named N again
#   deploy/local-cluster/cluster.sh stop     stop everything (job containers keep running, as ever)
#
# Settings (environment): DIR (default /tmp/batchd-cluster: stores, logs,
# pids), REPLICAS (2), LAUNCHERS (2), PORT (14220: NATS clients on
# PORT+1..3, routes on PORT+11..13, monitoring on PORT+21..23, the api
# replicas' HTTP on PORT+31...), HOST_VCPUS (2 per launcher).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${DIR:-/tmp/batchd-cluster}
replicas=${REPLICAS:-2}
launchers=${LAUNCHERS:-2}
port=${PORT:-14220}
vcpus=${HOST_VCPUS:-2}
bin=$dir/bin
urls="nats://127.0.0.1:$((port+1)),nats://127.0.0.1:$((port+2)),nats://127.0.0.1:$((port+3))"

build() {
  source "$root/scripts/env.sh"
  mkdir -p "$bin"
  # nats-server: the main package of the module cmd/batchd requires.
  (cd "$root/cmd/batchd" && go build -o "$bin/nats-server" github.com/nats-io/nats-server/v2)
  (cd "$root" && go build -o "$bin/batchd" ./cmd/batchd)
}

# cmdline NAME prints the command that runs the process NAME.
cmdline() {
  local name=$1 kind=${1%-*} n=${1##*-}
  case $kind in
    nats)
      echo "$bin/nats-server -c $dir/$name.conf" ;;
    api)
      echo "$bin/batchd --nats-url $urls --stream-replicas 3 --services api --http 127.0.0.1:$((port+30+n)) --data $dir/$name" ;;
    scheduler|monitor|notifier)
      echo "$bin/batchd --nats-url $urls --stream-replicas 3 --services $kind --data $dir/$name" ;;
    launcher)
      echo "$bin/batchd --nats-url $urls --stream-replicas 3 --services launcher --data $dir/$name --host-vcpus $vcpus" ;;
    *) echo "unknown process $name" >&2; return 1 ;;
  esac
}

launch() {
  local name=$1
  mkdir -p "$dir/logs" "$dir/pids"
  # shellcheck disable=SC2046
  nohup $(cmdline "$name") >>"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
}

names() {
  echo nats-1 nats-2 nats-3
  for kind in monitor scheduler notifier api; do
    for n in $(seq 1 "$replicas"); do echo "$kind-$n"; done
  done
  for n in $(seq 1 "$launchers"); do echo "launcher-$n"; done
}

nats_conf() {
  local n=$1
  cat >"$dir/nats-$n.conf" <<CONF
server_name: n$n
listen: 127.0.0.1:$((port+n))
http: 127.0.0.1:$((port+20+n))
max_payload: 8MB
jetstream { store_dir: "$dir/nats-$n" }
cluster {
  name: batchd
  listen: 127.0.0.1:$((port+10+n))
  routes: [nats://127.0.0.1:$((port+11)), nats://127.0.0.1:$((port+12)), nats://127.0.0.1:$((port+13))]
}
CONF
}

wait_for() { # URL what
  for _ in $(seq 1 300); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$2 did not come up; logs in $dir/logs" >&2
  return 1
}

case ${1:-} in
  start)
    build
    mkdir -p "$dir"
    for n in 1 2 3; do nats_conf "$n"; launch "nats-$n"; done
    for n in 1 2 3; do wait_for "http://127.0.0.1:$((port+20+n))/healthz?js-enabled-only=true" "nats-$n"; done
    for name in $(names); do case $name in nats-*) ;; *) launch "$name" ;; esac; done
    wait_for "http://127.0.0.1:$((port+31))/healthz" "api-1"
    echo "batchd is up: NATS $urls; HTTP api on 127.0.0.1:$((port+31))..$((port+30+replicas)); logs in $dir/logs"
    echo "e.g. BATCH_ENDPOINT=http://127.0.0.1:$((port+31)) batchctl describe-job-queues"
    ;;
  status)
    for f in "$dir"/pids/*.pid; do
      [ -e "$f" ] || continue
      name=$(basename "$f" .pid); pid=$(cat "$f")
      if kill -0 "$pid" 2>/dev/null; then echo "$pid $name"; else echo "- $name (stopped)"; fi
    done ;;
  kill)
    kill -9 "$(cat "$dir/pids/$2.pid")" ;;
  restart)
    launch "$2" ;;
  stop)
    for f in "$dir"/pids/*.pid; do
      [ -e "$f" ] || continue
      kill "$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
    done ;;
  *)
    sed -n '2,20p' "$0"; exit 2 ;;
esac
