package dashboard

import (
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

func TestHistory(t *testing.T) {
	now := time.Date(2026, 12, 3, 11, 30, 20, 0, time.UTC)
	h := newHistory(now)
	h.sample(now.Add(-2*time.Hour), [7]int{1})
	h.sample(now.Add(-30*time.Minute), [7]int{0, 0, 5})
	h.sample(now, [7]int{0, 0, 3, 0, 2})
	h.finished(now.Add(-90*time.Minute).UnixMilli(), batch.StatusSucceeded) // older than the hour
	h.finished(now.Add(-10*time.Second).UnixMilli(), batch.StatusSucceeded)
	h.finished(now.Add(-15*time.Second).UnixMilli(), batch.StatusFailed)
	h.finished(now.Add(-5*time.Minute).UnixMilli(), batch.StatusSucceeded)
	v := h.view(now)
	if len(v.States) != 2 || v.States[0].Counts[2] != 5 {
		t.Fatalf("states %+v: the sample of two hours ago should be gone", v.States)
	}
	if len(v.Throughput) != 60 {
		t.Fatalf("%d minutes, want 60", len(v.Throughput))
	}
	last, total := v.Throughput[59], 0
	for _, m := range v.Throughput {
		total += m.Succeeded + m.Failed
	}
	if last.T != now.Truncate(time.Minute).UnixMilli() || last.Succeeded != 1 || last.Failed != 1 || total != 3 {
		t.Fatalf("throughput: last %+v, total %d", last, total)
	}
}

func TestTimeline(t *testing.T) {
	code := 1
	j := &batch.JobDetail{JobID: "j", Status: batch.StatusRunning, CreatedAt: 1000, StatusChangedAt: 9000, StartedAt: 9000,
		Attempts: []batch.AttemptDetail{{StartedAt: 3000, StoppedAt: 5000, StatusReason: "Essential container in task exited",
			Container: &batch.AttemptContainerDetail{ExitCode: &code}}}}
	seen := []Transition{{Status: batch.StatusRunnable, At: 2000}, {Status: batch.StatusStarting, At: 2500},
		{Status: batch.StatusRunning, At: 3000}, {Status: batch.StatusRunnable, At: 5000}, {Status: batch.StatusRunning, At: 9000}}
	tl := jobTimeline(j, seen)
	var got []string
	for _, x := range tl {
		s := string(x.Status)
		if s == "" {
			s = x.Note
		}
		got = append(got, s)
	}
	want := "SUBMITTED|RUNNABLE|STARTING|RUNNING|attempt 1 ended with exit code 1: Essential container in task exited|RUNNABLE|RUNNING"
	if strings.Join(got, "|") != want {
		t.Fatalf("timeline\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if tl[3].Attempt != 1 {
		t.Fatalf("the first RUNNING is attempt 1: %+v", tl[3])
	}
}

func TestExplain(t *testing.T) {
	code := 137
	for _, c := range []struct {
		j    batch.JobDetail
		deps []dependencyView
		want string
	}{
		{batch.JobDetail{Status: batch.StatusPending}, []dependencyView{{JobID: "a", Status: batch.StatusRunning}, {JobID: "b", Status: batch.StatusSucceeded}},
			"Waiting for 1 job(s) it depends on to finish: a."},
		{batch.JobDetail{Status: batch.StatusRunnable, StatusReason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - needs 64 vCPUs"}, nil,
			"No host of the queue's compute environments is large enough"},
		{batch.JobDetail{Status: batch.StatusRunnable, StatusReason: "Waiting for capacity: no room for 2 vCPUs"}, nil, "The compute environments are full"},
		{batch.JobDetail{Status: batch.StatusRunnable}, nil, "waiting to be placed on a host"},
		{batch.JobDetail{Status: batch.StatusFailed, IsTerminated: true, StatusReason: "by me", Container: &batch.ContainerDetail{ExitCode: &code}}, nil,
			"Terminated with exit code 137: by me."},
	} {
		if got := explain(&c.j, c.deps); !strings.Contains(got, c.want) {
			t.Errorf("%s %q: %q, want it to contain %q", c.j.Status, c.j.StatusReason, got, c.want)
		}
	}
}
