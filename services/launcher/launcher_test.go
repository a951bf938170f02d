package launcher

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/fake"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// These tests run the launcher against a real embedded JetStream server and
// the fake engine; the end-to-end tests in cmd/batchd run it on Podman.

type rig struct {
	t     *testing.T
	js    jetstream.JetStream
	rt    *fake.Runtime
	facts chan *nats.Msg
}

func newRig(t *testing.T) *rig {
	t.Helper()
	s := natstest.Run(t, "")
	nc := s.Conn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, js: js, rt: fake.New(), facts: make(chan *nats.Msg, 100)}
	sub, err := nc.ChanSubscribe("batch.job.>", r.facts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return r
}

func (r *rig) start(t *testing.T) {
	nc := r.js.Conn()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{HostID: "h1", VCPUs: 4, MemoryMiB: 4096, StopGrace: 100 * time.Millisecond}, Deps{NATS: nc, Runtime: r.rt})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (r *rig) record(job string, status batch.JobStatus, attempts int) {
	r.t.Helper()
	r.put(batch.JobDetail{JobID: job, Status: status, Attempts: make([]batch.AttemptDetail, attempts)})
}

func (r *rig) put(rec batch.JobDetail) {
	r.t.Helper()
	kv, err := r.js.KeyValue(context.Background(), events.BucketJobs)
	if err != nil {
		r.t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	if _, err := kv.Put(context.Background(), events.Token(rec.JobID), b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) place(job string, attempt int, image string, timeout int) {
	r.t.Helper()
	p := events.JobPlaced{JobID: job, Attempt: attempt, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q",
		Container: events.ContainerSpec{Image: image, Command: []string{"run"}, VCPUs: 1, MemoryMiB: 64, TimeoutSeconds: timeout}}
	if _, err := bus.Publish(context.Background(), r.js, p); err != nil {
		r.t.Fatal(err)
	}
}

// next returns the next fact of the given verb (started, exited).
func (r *rig) next(verb string, within time.Duration) *nats.Msg {
	r.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-r.facts:
			if t := strings.Split(m.Subject, "."); len(t) > 3 && t[3] == verb {
				return m
			}
		case <-deadline:
			r.t.Fatalf("no %s fact within %v", verb, within)
		}
	}
}

func TestRunsPlacedAttempt(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("img", fake.Script{ExitCode: 3, Duration: 50 * time.Millisecond,
		Output: []runtime.LogLine{{Stream: "stdout", Text: "one"}, {Stream: "stderr", Text: "two"}}})
	r.start(t)
	r.record("j1", batch.StatusStarting, 0)
	r.place("j1", 1, "img", 0)
	var started events.JobStarted
	_ = json.Unmarshal(r.next("started", 5*time.Second).Data, &started)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if started.Attempt != 1 || exited.ExitCode == nil || *exited.ExitCode != 3 || exited.NoRetry {
		t.Fatalf("started %+v exited %+v", started, exited)
	}
	specs := r.rt.Started()
	if len(specs) != 1 || specs[0].Name != "batch-j1-1" || specs[0].Labels[labelHost] != "h1" || specs[0].VCPUs != 1 {
		t.Fatalf("started specs %+v", specs)
	}
	// Every line is stored before the exit is reported.
	st, _ := r.js.Stream(context.Background(), events.StreamLogs)
	info, _ := st.Info(context.Background())
	if info.State.Msgs != 2 {
		t.Fatalf("want 2 stored lines, got %d", info.State.Msgs)
	}
	// The container is removed once its exit is reported.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs, _ := r.rt.List(context.Background(), map[string]string{labelHost: "h1"})
		if len(cs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container not removed: %+v", cs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAttemptTimeout(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("slow", fake.Script{Duration: time.Hour})
	r.start(t)
	r.record("j2", batch.StatusStarting, 0)
	r.place("j2", 1, "slow", 1)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.StatusReason != reasonTimeout || !exited.NoRetry {
		t.Fatalf("want a timeout that is not retried, got %+v", exited)
	}
}

// A placement redelivered after its attempt is over starts nothing.
func TestPlacementOfFinishedAttemptIsDropped(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("img", fake.Script{})
	r.start(t)
	r.record("j3", batch.StatusRunnable, 1) // attempt 1 already recorded
	r.place("j3", 1, "img", 0)
	r.record("j4", batch.StatusStarting, 0)
	r.place("j4", 1, "img", 0) // a control that does run
	r.next("exited", 5*time.Second)
	for _, s := range r.rt.Started() {
		if s.Name == "batch-j3-1" {
			t.Fatal("the finished attempt ran again")
		}
	}
}

// A restarted launcher adopts the containers of its host instead of
// starting them again.
func TestReadoptsRunningContainer(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("img", fake.Script{Duration: 300 * time.Millisecond, ExitCode: 0})
	c, err := r.rt.Start(context.Background(), runtime.Spec{Name: "batch-j5-1", Image: "img",
		Labels: map[string]string{labelJob: "j5", labelAttempt: strconv.Itoa(1), labelHost: "h1"}})
	if err != nil {
		t.Fatal(err)
	}
	r.record("j5", batch.StatusRunning, 0)
	r.start(t)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.JobID != "j5" || exited.ContainerID != c.ID || len(r.rt.Started()) != 1 {
		t.Fatalf("want the adopted container reported once, got %+v and %d starts", exited, len(r.rt.Started()))
	}
}

// A placement the record does not show yet (the monitor lags) waits for
// it; a job cancelled before the monitor recorded the placement (the
// record is FAILED) starts nothing.
func TestPlacementWaitsForTheRecord(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("img", fake.Script{Duration: 10 * time.Millisecond})
	r.start(t)
	r.record("lag", batch.StatusRunnable, 0)
	r.record("gone", batch.StatusFailed, 0)
	r.place("gone", 1, "img", 0)
	r.place("lag", 1, "img", 0)
	time.Sleep(300 * time.Millisecond)
	if n := len(r.rt.Started()); n != 0 {
		t.Fatalf("%d containers started before the record showed the placement", n)
	}
	r.record("lag", batch.StatusStarting, 0)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.JobID != "lag" {
		t.Fatalf("exited %+v", exited)
	}
	for _, s := range r.rt.Started() {
		if s.Name == "batch-gone-1" {
			t.Fatal("a cancelled job's container was started")
		}
	}
}

// TerminateJob: the monitor's stop makes the launcher stop the running
// container; the exit is reported with the reason and never retried.
func TestStopTerminatedJob(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("slow", fake.Script{Duration: time.Hour})
	r.start(t)
	r.record("t1", batch.StatusStarting, 0)
	r.place("t1", 1, "slow", 0)
	r.next("started", 5*time.Second)
	stop := events.JobStop{JobID: "t1", Attempt: 1, HostID: "h1", Reason: "operator said so"}
	if _, err := bus.Publish(context.Background(), r.js, stop); err != nil {
		t.Fatal(err)
	}
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.StatusReason != "operator said so" || !exited.NoRetry || exited.ExitCode == nil {
		t.Fatalf("want the stopped container reported with the reason, not retried; got %+v", exited)
	}
}

// A job terminated while STARTING, before its container ran: no container,
// the attempt is reported ended with the reason.
func TestTerminatedBeforeStart(t *testing.T) {
	r := newRig(t)
	r.rt.SetImage("img", fake.Script{Duration: time.Hour})
	r.start(t)
	r.put(batch.JobDetail{JobID: "t2", Status: batch.StatusStarting, IsTerminated: true, StatusReason: "too late",
		Attempts: []batch.AttemptDetail{}})
	r.place("t2", 1, "img", 0)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", 5*time.Second).Data, &exited)
	if exited.StatusReason != "too late" || !exited.NoRetry || exited.ExitCode != nil || len(r.rt.Started()) != 0 {
		t.Fatalf("exited %+v, %d containers", exited, len(r.rt.Started()))
	}
}
