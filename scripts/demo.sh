#!/usr/bin/env bash
# Installs what is missing, builds batchd and batchctl, starts batchd with its
# embedded NATS server and defaults, and runs the classic AWS Batch capacity
# walkthrough: a 4-vCPU compute environment, a queue, a 2-vCPU job definition
# and 10 jobs submitted at once, which run two at a time.
#
#   scripts/demo.sh          run the demo, then stop batchd
#   scripts/demo.sh --keep   leave batchd running afterwards (Ctrl-C stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false; [ "${1:-}" = "--keep" ] && keep=true

bash scripts/setup.sh
source scripts/env.sh
mkdir -p bin
echo "== building batchd and batchctl"
go build -o bin/batchd ./cmd/batchd
go build -o bin/batchctl ./cmd/batchctl

data=${BATCHD_DATA:-$(mktemp -d /tmp/batchd-demo.XXXXXX)}
http=${BATCHD_HTTP:-127.0.0.1:8420}
natsaddr=${BATCHD_NATS:-127.0.0.1:4222}
export BATCH_ENDPOINT="http://$http" BATCH_NATS_URL="nats://$natsaddr"
ctl() { bin/batchctl "$@"; }

# A 4-vCPU environment on this host, over-committing a smaller machine.
echo "== starting batchd (data in $data, HTTP on $http, NATS on $natsaddr)"
bin/batchd --data "$data" --http "$http" --nats "$natsaddr" --host-vcpus 4 >"$data/batchd.log" 2>&1 &
pid=$!
stop() { if ! $keep; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; }
trap stop EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://$http/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/batchd.log"; exit 1; }
  sleep 0.2
done

echo "== creating a 4-vCPU compute environment, a queue and a 2-vCPU job definition"
ctl create-compute-environment --compute-environment-name demo-ce --type MANAGED \
  --compute-resources '{"type":"EC2","maxvCpus":4,"instanceTypes":["optimal"],"subnets":["subnet-demo"],"securityGroupIds":["sg-demo"]}' >/dev/null
ctl create-job-queue --job-queue-name demo-queue --priority 1 \
  --compute-environment-order '[{"order":1,"computeEnvironment":"demo-ce"}]' >/dev/null
ctl register-job-definition --job-definition-name demo-job --type container \
  --parameters '{"seconds":"3"}' \
  --container-properties '{"image":"localhost/batch-sample:latest","command":["sh","-c","echo hello from $AWS_BATCH_JOB_ID on $AWS_BATCH_CE_NAME; sleep Ref::seconds; echo done"],"resourceRequirements":[{"type":"VCPU","value":"2"},{"type":"MEMORY","value":"64"}]}'

echo "== submitting 10 jobs at once"
ids=()
for i in $(seq 1 10); do
  ids+=("$(ctl submit-job --job-name "demo-$i" --job-queue demo-queue --job-definition demo-job --query jobId --output text)")
done
printf '%s\n' "${ids[@]}"

echo "== watching: 2-vCPU jobs on 4 vCPUs run two at a time"
start=$(date +%s)
while :; do
  line=""
  for s in RUNNABLE STARTING RUNNING SUCCEEDED FAILED; do
    n=$(ctl list-jobs --job-queue demo-queue --job-status "$s" --query 'length(jobSummaryList)' --output text)
    line+="$(printf '%-10s %-3s' "$s" "$n")"
    [ "$s" = SUCCEEDED ] && ok=$n
    [ "$s" = FAILED ] && failed=$n
  done
  printf 't=%3ss  %s\n' "$(( $(date +%s) - start ))" "$line"
  [ $((ok + failed)) -ge 10 ] && break
  sleep 1
done

echo "== the first job, as DescribeJobs returns it"
ctl describe-jobs --jobs "${ids[0]}" --query 'jobs[0].{jobId:jobId,status:status,createdAt:createdAt,startedAt:startedAt,stoppedAt:stoppedAt,exitCode:container.exitCode,attempts:length(attempts)}'
echo "== its output (batchctl logs ${ids[0]})"
ctl logs "${ids[0]}"
[ "$failed" = 0 ] || { echo "demo: $failed jobs failed"; exit 1; }
if $keep; then
  echo "== batchd keeps running (pid $pid): try bin/batchctl list-jobs --job-queue demo-queue --job-status SUCCEEDED"
  wait "$pid"
fi
