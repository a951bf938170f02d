#!/usr/bin/env bash
# Runs every test of the project: unit tests, integration tests on an
# embedded JetStream server and end-to-end tests that run real Podman
# containers. Installs what is missing first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

echo "== podman stays in the launcher"
for dir in pkg services/api services/scheduler services/monitor services/notifier cmd/batchctl; do
  if go list -deps "./$dir/..." | grep -q 'containers/podman'; then
    echo "FAIL: $dir depends on Podman; only services/launcher (and cmd/batchd through it) may" >&2
    exit 1
  fi
done

echo "== gofmt and go vet"
unformatted=$(gofmt -l pkg services cmd)
if [ -n "$unformatted" ]; then echo "FAIL: gofmt needed: $unformatted" >&2; exit 1; fi
go vet $(modules)

echo "== go test"
go test -count=1 -timeout 40m "$@" $(modules)
