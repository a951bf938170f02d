package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("BATCHBENCH_TEST_CHILD") == "1" {
		main()
		os.Exit(0)
	}
	root, _ := filepath.Abs("../..")
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "setup.sh"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.Stderr.WriteString("batchbench test: scripts/setup.sh failed (Podman and the sample image are required): " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// The command end to end at tiny sizes, against real Podman: it builds and
// starts its own batchd, runs every phase and prints one JSON object with
// every figure the issue names, each a sane number. Speeds are not
// asserted (the machine is shared); consistency is.
func TestBatchbenchTiny(t *testing.T) {
	scratch := t.TempDir()
	cmd := exec.Command(os.Args[0], "--json", "--quick", "--e2e-jobs", "4", "--concurrency", "2",
		"--submit-jobs", "300", "--submit-clients", "32", "--queued", "1000", "--latency-jobs", "4",
		"--sched-samples", "2", "--scratch", scratch, "--timeout", "10m")
	cmd.Env = append(os.Environ(), "BATCHBENCH_TEST_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(filepath.Join(scratch, "data", "batchd.log"))
		t.Fatalf("batchbench failed: %v\n%s\nbatchd log:\n%s", err, stderr.String(), b)
	}
	t.Logf("table:\n%s", stderr.String())
	var f map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &f); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	get := func(key string) float64 {
		t.Helper()
		v, ok := f[key].(float64)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("%s = %v, want a number", key, f[key])
		}
		return v
	}
	positive := []string{"submit_nats_per_s", "submit_http_per_s", "e2e_seconds", "podman_seconds",
		"e2e_ratio_vs_podman", "runnable_to_running_raw_p50_ms", "container_own_start_p50_ms",
		"event_latency_p99_ms", "queued_rss_mib", "sched_slowdown", "sched_place_idle_p50_ms", "sched_place_backlog_p50_ms"}
	for _, k := range positive {
		if v := get(k); v <= 0 {
			t.Errorf("%s = %g, want > 0", k, v)
		}
	}
	// The difference of two measured spans; its sign is not fixed, but it
	// cannot exceed the raw span.
	if p50, raw := get("runnable_to_running_p50_ms"), get("runnable_to_running_raw_p50_ms"); p50 > raw {
		t.Errorf("runnable_to_running_p50_ms %g exceeds the span it is taken from (%g)", p50, raw)
	}
	if p50, p99 := get("runnable_to_running_p50_ms"), get("runnable_to_running_p99_ms"); p99 < p50 {
		t.Errorf("runnable_to_running p99 %g < p50 %g", p99, p50)
	}
	if p50, p99 := get("event_latency_p50_ms"), get("event_latency_p99_ms"); p99 < p50 || p99 > 60000 {
		t.Errorf("event latency p50 %g p99 %g", p50, p99)
	}
	if got := get("e2e_jobs"); got != 4 {
		t.Errorf("e2e_jobs = %g, want 4", got)
	}
	if got := get("e2e_concurrency"); got != 2 {
		t.Errorf("e2e_concurrency = %g, want 2", got)
	}
	if got := get("queued_jobs"); got != 1000 {
		t.Errorf("queued_jobs = %g, want 1000", got)
	}
	ratio := get("e2e_seconds") / get("podman_seconds")
	if math.Abs(ratio-get("e2e_ratio_vs_podman")) > 0.01*ratio+0.01 {
		t.Errorf("e2e_ratio_vs_podman %g is not e2e_seconds/podman_seconds (%g)", get("e2e_ratio_vs_podman"), ratio)
	}
	// Four events per job at least (SUBMITTED ... SUCCEEDED) for the timed
	// queues: the warm-up is not timed.
	if n := get("event_count"); n < 4*(4+4+2) {
		t.Errorf("event_count = %g, want every state change of the timed jobs", n)
	}
	if rss, idle := get("queued_rss_mib"), get("idle_rss_mib"); rss < idle/2 || rss > 64*1024 {
		t.Errorf("queued_rss_mib %g (idle %g) is not a plausible resident set", rss, idle)
	}
	if get("quick") != 1 {
		t.Errorf("quick = %v, want 1", f["quick"])
	}
	if d, _ := f["date"].(string); d == "" {
		t.Error("no date")
	} else if _, err := time.Parse(time.RFC3339, d); err != nil {
		t.Errorf("date %q: %v", d, err)
	}
}
