package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// result is what a run measured.
type result struct {
	// Figures is the JSON object printed by --json: numbers, plus "date"
	// and "machine".
	Figures   map[string]any
	LoadStart float64
	LoadEnd   float64
	placeIdle []time.Duration
}

func newResult(cfg config) *result {
	quick := 0
	if cfg.quick {
		quick = 1
	}
	return &result{Figures: map[string]any{
		"date":    time.Now().UTC().Format(time.RFC3339),
		"machine": machine(),
		"quick":   quick,
	}}
}

// target is one DESIGN.md section 5 target.
type target struct {
	key   string
	label string
	unit  string
	goal  string
	ok    func(float64) bool
}

var targets = []target{
	{"submit_nats_per_s", "SubmitJob over NATS", "jobs/s", ">= 10000", func(v float64) bool { return v >= 10000 }},
	{"submit_http_per_s", "SubmitJob over HTTP", "jobs/s", ">= 3000", func(v float64) bool { return v >= 3000 }},
	{"e2e_ratio_vs_podman", "batchd time / bare podman time", "x", "<= 1.15", func(v float64) bool { return v <= 1.15 }},
	{"runnable_to_running_p50_ms", "free capacity to RUNNING, minus own start, p50", "ms", "< 100", func(v float64) bool { return v < 100 }},
	{"runnable_to_running_p99_ms", "free capacity to RUNNING, minus own start, p99", "ms", "< 100", func(v float64) bool { return v < 100 }},
	{"event_latency_p99_ms", "state change stored to subscriber, p99", "ms", "< 10", func(v float64) bool { return v < 10 }},
	{"queued_rss_mib", "batchd memory with the queued jobs", "MiB", "< 1024", func(v float64) bool { return v < 1024 }},
	{"sched_slowdown", "placement with backlog / without", "x", "<= 2", func(v float64) bool { return v <= 2 }},
	{"lifecycle_jobs_per_s", "SubmitJob to SUCCEEDED, 16 simulated hosts", "jobs/s", ">= 2000", func(v float64) bool { return v >= 2000 }},
	{"backlog_record_s", "100,000 submitted jobs all recorded", "s", "< 20", func(v float64) bool { return v < 20 }},
	{"failover_s", "kill -9 of the active scheduler to the next placement, p50", "s", "< 5", func(v float64) bool { return v < 5 }},
}

// details are the other figures, shown under the targets.
var details = []struct{ key, label string }{
	{"e2e_jobs", "e2e jobs"},
	{"e2e_concurrency", "e2e and latency concurrency"},
	{"e2e_seconds", "batchd: submit to last SUCCEEDED (s)"},
	{"podman_seconds", "bare podman run --rm (s)"},
	{"e2e_cpu_s_per_job", "machine CPU per job, batchd run (s)"},
	{"podman_cpu_s_per_job", "machine CPU per job, podman run (s)"},
	{"batchd_cpu_s_per_job", "batchd process CPU per job (s)"},
	{"runnable_to_running_raw_p50_ms", "free capacity to RUNNING, p50 (ms)"},
	{"container_own_start_p50_ms", "Podman's own start of a container, p50 (ms)"},
	{"exit_to_succeeded_p50_ms", "  container exit to SUCCEEDED stored, p50 (ms)"},
	{"succeeded_to_starting_p50_ms", "  SUCCEEDED to next job STARTING, p50 (ms)"},
	{"starting_to_running_p50_ms", "  STARTING to RUNNING, p50 (ms)"},
	{"latency_jobs", "runnable-to-running jobs"},
	{"event_latency_p50_ms", "event latency p50 (ms)"},
	{"event_count", "events timed"},
	{"submit_nats_batchd_cpu_ms_per_job", "NATS submission: batchd CPU per job (ms)"},
	{"submit_nats_client_cpu_ms_per_job", "NATS submission: bench client CPU per job (ms)"},
	{"submit_nats_machine_busy", "NATS submission: machine busy (1 = all cores)"},
	{"submit_http_batchd_cpu_ms_per_job", "HTTP submission: batchd CPU per job (ms)"},
	{"submit_http_client_cpu_ms_per_job", "HTTP submission: bench client CPU per job (ms)"},
	{"submit_http_machine_busy", "HTTP submission: machine busy (1 = all cores)"},
	{"submit_jobs", "jobs per submission transport"},
	{"submit_clients", "concurrent submitters"},
	{"queued_jobs", "queued jobs"},
	{"queued_settle_seconds", "time for the server to record the backlog (s)"},
	{"queued_rss_peak_mib", "batchd peak memory (MiB)"},
	{"idle_rss_mib", "batchd memory before the backlog (MiB)"},
	{"sched_place_idle_p50_ms", "SubmitJob call to STARTING, no backlog, p50 (ms)"},
	{"sched_place_backlog_p50_ms", "SubmitJob call to STARTING, with backlog, p50 (ms)"},
	{"lifecycle_jobs", "lifecycle jobs"},
	{"lifecycle_writes_per_job", "lifecycle: JetStream writes per job"},
	{"raw_async_publish_per_s", "same server: raw async publishes of 1.5 KB per s"},
	{"lifecycle_batchd_cpu_ms_per_job", "lifecycle: batchd CPU per job (ms)"},
	{"lifecycle_machine_busy", "lifecycle: machine busy (1 = all cores)"},
	{"lifecycle_submit_s", "lifecycle: submitting took (s)"},
	{"backlog_record_jobs", "backlog recorded (jobs)"},
	{"backlog_record_submit_s", "backlog: submitting took (s)"},
	{"failover_max_s", "scheduler failover, slowest sample (s)"},
	{"failover_samples", "scheduler failover samples"},
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int:
		return float64(x), true
	}
	return 0, false
}

// printTable writes the figures against their targets.
func printTable(w io.Writer, r *result) {
	f := r.Figures
	fmt.Fprintf(w, "\nbatchbench %s on %s\n", f["date"], f["machine"])
	if f["quick"] == 1 {
		fmt.Fprintln(w, "QUICK MODE: smaller sizes than the targets name (see queued_jobs and e2e_jobs)")
	}
	fmt.Fprintf(w, "load average (1 min) at start %.2f, at end %.2f\n\n", r.LoadStart, r.LoadEnd)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget\t\tkey")
	for _, t := range targets {
		v, ok := num(f[t.key])
		if !ok {
			fmt.Fprintf(tw, "%s\t-\t%s %s\tnot measured\t%s\n", t.label, t.goal, t.unit, t.key)
			continue
		}
		verdict := "MISSED"
		if t.ok(v) {
			verdict = "met"
		}
		fmt.Fprintf(tw, "%s\t%g %s\t%s %s\t%s\t%s\n", t.label, v, t.unit, t.goal, t.unit, verdict, t.key)
	}
	fmt.Fprintln(tw, "\t\t\t\t")
	for _, d := range details {
		if v, ok := num(f[d.key]); ok {
			fmt.Fprintf(tw, "%s\t%g\t\t\t%s\n", d.label, v, d.key)
		}
	}
	tw.Flush()
}
