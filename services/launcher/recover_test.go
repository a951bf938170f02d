package launcher

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/fake"
)

// labelsOf are the labels the launcher puts on an attempt's container.
func labelsOf(job string, attempt int) map[string]string {
	return map[string]string{labelJob: job, labelAttempt: strconv.Itoa(attempt), labelHost: "h1"}
}

// A launcher that died between creating and starting a container: the
// restarted one starts it (once) when the record still wants the attempt,
// and the job's own exit code is reported, not an exit 0 of a container
// that never ran. A created container of an attempt no longer wanted is
// removed without any report.
func TestStartsCreatedContainer(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("img", fake.Script{ExitCode: 5, Duration: 50 * time.Millisecond})
	for _, job := range []string{"c1", "c2"} {
		if _, err := r.rt.Create(t.Context(), runtime.Spec{Name: containerName(job, 1), Image: "img", Labels: labelsOf(job, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	r.record("c1", batch.StatusStarting, 0)
	r.record("c2", batch.StatusFailed, 0)
	r.place("c1", 1, "img", 0)
	r.start(t)

	var started events.JobStarted
	_ = json.Unmarshal(r.next("started", 5*time.Second).Data, &started)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if started.JobID != "c1" || exited.JobID != "c1" || exited.ExitCode == nil || *exited.ExitCode != 5 {
		t.Fatalf("started %+v, exited %+v; want c1 started and its exit code 5", started, exited)
	}
	if n := len(r.rt.Started()); n != 1 {
		t.Errorf("%d starts, want the created container started once", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs, _ := r.rt.List(t.Context(), map[string]string{labelHost: "h1"})
		if len(cs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers left: %+v; want the unwanted created one and the finished one removed", cs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The launcher died after reporting an attempt started and before
// acknowledging its placement, and the container is gone: the redelivered
// placement of the attempt recorded RUNNING on this host fails it (to be
// retried per the job's strategy) instead of leaving it RUNNING.
func TestReportsGoneContainer(t *testing.T) {
	r := newRig(t)
	r.put(batch.JobDetail{JobID: "g1", Status: batch.StatusRunning, HostID: "h1", Attempts: []batch.AttemptDetail{}})
	r.place("g1", 1, "img", 0)
	r.start(t)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.JobID != "g1" || exited.Attempt != 1 || exited.StatusReason != reasonContainerGone || exited.NoRetry || exited.ExitCode != nil {
		t.Fatalf("exited %+v; want attempt 1 failed as gone, retryable", exited)
	}
	if n := len(r.rt.Started()); n != 0 {
		t.Errorf("%d containers started, want none", n)
	}
}

// A host that comes back after its attempts were given up (host lost, the
// jobs retried elsewhere): the containers of those attempts are stopped and
// removed, never reported, whether the launcher restarted (recover) or
// kept running cut off (the monitor's abandoning stop).
func TestGivenUpAttemptsAreRemoved(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("slow", fake.Script{Duration: time.Hour})
	// Restarted: attempt 1 of a1 was given up (the record has it over).
	if _, err := r.rt.Start(t.Context(), runtime.Spec{Name: containerName("a1", 1), Image: "slow", Labels: labelsOf("a1", 1)}); err != nil {
		t.Fatal(err)
	}
	r.put(batch.JobDetail{JobID: "a1", Status: batch.StatusRunning, HostID: "h2",
		Attempts: []batch.AttemptDetail{{StatusReason: events.HostLostReason("h1")}}})
	// Cut off: a2 runs here, then is given up.
	r.record("a2", batch.StatusStarting, 0)
	r.place("a2", 1, "slow", 0)
	r.start(t)
	r.next("started", 5*time.Second)
	stop := events.JobStop{JobID: "a2", Attempt: 1, HostID: "h1", Reason: events.HostLostReason("h1"), Abandon: true}
	r.publish(stop)
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs, _ := r.rt.List(t.Context(), map[string]string{labelHost: "h1"})
		if len(cs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers left: %+v; want the given-up ones removed", cs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Nothing reports an exit of either (a later fact would be a bug).
	quiet := time.After(500 * time.Millisecond)
	for {
		select {
		case m := <-r.facts:
			if m.Header.Get(events.HeaderType) == events.TypeJobExited {
				t.Fatalf("an abandoned attempt was reported: %s %s", m.Subject, m.Data)
			}
		case <-quiet:
			return
		}
	}
}
