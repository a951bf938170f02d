#!/usr/bin/env bash
# Runs every test of the project: unit tests, integration tests on an
# embedded JetStream server and end-to-end tests that run real Podman
# containers. Installs what is missing first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

# One Podman API service for all test packages (they run in parallel): a
# test that started its own and stopped it would pull it from under another.
sock=/run/podman/podman.sock
if ! curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
  mkdir -p /run/podman
  # It outlives this script: it keeps none of the files this script was
  # given beyond 0-2 (a caller's flock would be held as long as it runs).
  (
    cd /tmp
    for fd in /proc/self/fd/*; do
      n=${fd##*/}
      if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null || true; fi
    done
    nohup podman system service --time=0 "unix://$sock" >/tmp/podman-service.log 2>&1 &
  )
  for _ in $(seq 1 100); do
    curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null || { echo "FAIL: the Podman API service did not start" >&2; cat /tmp/podman-service.log >&2; exit 1; }
fi

echo "== podman stays in the launcher"
for dir in pkg services/api services/scheduler services/monitor services/notifier cmd/batchctl cmd/batchbench; do
  if go list -deps "./$dir/..." | grep -q 'containers/podman'; then
    echo "FAIL: $dir depends on Podman; only services/launcher (and cmd/batchd through it) may" >&2
    exit 1
  fi
done

echo "== no binaries in git"
if git rev-parse --git-dir >/dev/null 2>&1; then
  big=$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$1 > 2000000 {print $2}')
  if [ -n "$big" ]; then echo "FAIL: files over 2 MB are tracked (binaries?): $big" >&2; exit 1; fi
fi

echo "== gofmt and go vet"
unformatted=$(gofmt -l pkg services cmd)
if [ -n "$unformatted" ]; then echo "FAIL: gofmt needed: $unformatted" >&2; exit 1; fi
go vet $(modules)

# The race detector needs cgo. The modules that do not import Podman build
# with it; the Podman bindings (services/launcher and the commands that link
# it) are built without cgo (scripts/env.sh), so they run without -race.
race_modules="./pkg/... ./services/api/... ./services/scheduler/... ./services/monitor/... ./services/notifier/... ./cmd/batchctl/..."
plain_modules="./services/launcher/... ./cmd/batchd/... ./cmd/batchbench/..."
for m in $(modules); do
  case " $race_modules $plain_modules " in *" $m "*) ;; *) echo "FAIL: scripts/test.sh does not list module $m" >&2; exit 1 ;; esac
done

echo "== go test -race (modules without Podman)"
CGO_ENABLED=1 go test -race -count=1 -timeout 40m "$@" $race_modules
echo "== go test (Podman modules, no cgo)"
go test -count=1 -timeout 40m "$@" $plain_modules

# Native fuzzing, a bounded time per target (the seed corpora also run as
# plain tests above): request bodies, the SigV4 header and verification,
# policies and wildcards, batchctl's shorthand and parameter decoding, event
# patterns.
# A count, not a duration: with a duration Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" when the time runs out
# while a worker is busy (golang/go#75804, fixed in Go 1.27).
echo "== fuzz (${FUZZTIME:=30000x} per target)"
fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "./$1"; }
fuzz services/api FuzzRequestBodies
fuzz services/api/auth FuzzParseAuthorization
fuzz services/api/auth FuzzVerify
fuzz services/api/auth FuzzPolicy
fuzz services/api/auth FuzzMatch
fuzz cmd/batchctl/internal/param FuzzShorthand
fuzz cmd/batchctl/internal/param FuzzDecode
fuzz pkg/eventpattern FuzzPattern
