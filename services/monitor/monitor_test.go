package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// These tests run the monitor on an embedded JetStream server and feed it
// facts as the api, scheduler and launcher publish them.

type monRig struct {
	t    *testing.T
	js   jetstream.JetStream
	jobs jetstream.KeyValue
}

func startMonitor(t *testing.T, cfg Config, clock func() time.Time) *monRig {
	t.Helper()
	s := natstest.Run(t, "")
	nc := s.Conn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, Deps{NATS: s.Conn(t), Clock: clock}) }()
	t.Cleanup(func() { cancel(); <-done })
	var kv jetstream.KeyValue
	deadline := time.Now().Add(10 * time.Second)
	for kv == nil {
		if kv, err = js.KeyValue(ctx, events.BucketJobs); err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			kv = nil
			time.Sleep(20 * time.Millisecond)
		}
	}
	return &monRig{t: t, js: js, jobs: kv}
}

func (r *monRig) publish(ev events.Event) {
	r.t.Helper()
	if _, err := bus.Publish(context.Background(), r.js, ev); err != nil {
		r.t.Fatal(err)
	}
}

func (r *monRig) submit(j batch.JobDetail) {
	r.t.Helper()
	ev := events.JobSubmitted{Job: j}
	r.publish(ev)
}

func (r *monRig) get(id string) (batch.JobDetail, error) {
	var j batch.JobDetail
	_, err := bus.GetJSON(context.Background(), r.jobs, events.Token(id), &j)
	return j, err
}

// waitFor polls the record of id until ok accepts it.
func (r *monRig) waitFor(id string, what string, ok func(batch.JobDetail) bool) batch.JobDetail {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		j, err := r.get(id)
		if err == nil && ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("job %s never %s; last %+v (err %v)", id, what, j, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newJob(id string) batch.JobDetail {
	return batch.JobDetail{JobID: id, JobArn: batch.ARN(batch.KindJob, id), JobName: "n", JobQueue: "q", JobQueueName: "q",
		Status: batch.StatusSubmitted, CreatedAt: 1, Container: &batch.ContainerDetail{Image: "img"}}
}

func (r *monRig) gate(id string, st batch.JobStatus) {
	ev := events.JobGated{JobID: id, Status: st, Time: 5}
	r.publish(ev)
}

func (r *monRig) run(id string, code int) {
	p := events.JobPlaced{JobID: id, Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q"}
	r.publish(p)
	s := events.JobStarted{JobID: id, Attempt: 1, HostID: "h1", ContainerID: "c", StartedAt: 10}
	r.publish(s)
	e := events.JobExited{JobID: id, Attempt: 1, HostID: "h1", ContainerID: "c", ExitCode: &code, StoppedAt: 20}
	r.publish(e)
}

func TestArrayLifecycle(t *testing.T) {
	r := startMonitor(t, DefaultConfig(), nil)
	parent := newJob("arr")
	parent.ArrayProperties = &batch.ArrayPropertiesDetail{Size: 4, MaxRunningJobs: 2}
	parent.Tags = map[string]string{"k": "v"}
	r.submit(parent)
	p := r.waitFor("arr", "PENDING with a summary", func(j batch.JobDetail) bool {
		return j.Status == batch.StatusPending && j.ArrayProperties.StatusSummary["RUNNABLE"] == 4
	})
	if p.ArrayProperties.Size != 4 || p.ArrayProperties.StatusSummaryLastUpdatedAt == 0 || len(p.ArrayProperties.StatusSummary) != 7 {
		t.Fatalf("parent arrayProperties %+v", p.ArrayProperties)
	}
	for i := range 4 {
		c, err := r.get(fmt.Sprintf("arr:%d", i))
		if err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		if c.Status != batch.StatusRunnable || c.ArrayProperties == nil || c.ArrayProperties.Index == nil || *c.ArrayProperties.Index != i ||
			c.ArrayProperties.Size != 0 || c.ArrayProperties.MaxRunningJobs != 2 || c.Tags != nil || c.JobArn != batch.ARN(batch.KindJob, c.JobID) {
			t.Fatalf("child %d: %+v %+v", i, c, c.ArrayProperties)
		}
	}
	// The submit redelivered (a publisher retry outside the window)
	// creates nothing twice.
	r.publish(bus.WithMsgID(events.JobSubmitted{Job: parent}, "submit/arr/again"))

	for i := range 4 {
		r.run(fmt.Sprintf("arr:%d", i), 0)
	}
	p = r.waitFor("arr", "SUCCEEDED", func(j batch.JobDetail) bool { return j.Status == batch.StatusSucceeded })
	if got := p.ArrayProperties.StatusSummary; got["SUCCEEDED"] != 4 || got["PENDING"] != 0 || got["RUNNING"] != 0 {
		t.Fatalf("summary %v", got)
	}

	// A second array with a failing child fails once every child is final.
	q := newJob("arr2")
	q.ArrayProperties = &batch.ArrayPropertiesDetail{Size: 3}
	q.DependsOn = []batch.JobDependency{{Type: batch.DependencySequential}}
	r.submit(q)
	r.waitFor("arr2", "PENDING", func(j batch.JobDetail) bool { return j.Status == batch.StatusPending })
	if c, _ := r.get("arr2:1"); c.Status != batch.StatusPending {
		t.Fatalf("a SEQUENTIAL child after the first starts PENDING, got %s", c.Status)
	}
	r.run("arr2:0", 1)
	r.waitFor("arr2:0", "FAILED", func(j batch.JobDetail) bool { return j.Status == batch.StatusFailed })
	time.Sleep(3 * flushInterval)
	if j, _ := r.get("arr2"); j.Status != batch.StatusPending || j.ArrayProperties.StatusSummary["FAILED"] != 1 {
		t.Fatalf("one child failed, two wait: parent %s %v", j.Status, j.ArrayProperties.StatusSummary)
	}
	// CancelJob on the parent cancels the waiting children.
	c := events.JobCancel{JobID: "arr2", Reason: "enough", By: events.ByUser, Time: 99}
	r.publish(c)
	p = r.waitFor("arr2", "FAILED", func(j batch.JobDetail) bool { return j.Status == batch.StatusFailed })
	if !p.IsCancelled || p.StatusReason != "enough" || p.ArrayProperties.StatusSummary["FAILED"] != 3 {
		t.Fatalf("parent %+v %v", p, p.ArrayProperties.StatusSummary)
	}
	for _, id := range []string{"arr2:1", "arr2:2"} {
		if j, _ := r.get(id); j.Status != batch.StatusFailed || !j.IsCancelled || j.StatusReason != "enough" {
			t.Fatalf("%s: %s cancelled=%v %q", id, j.Status, j.IsCancelled, j.StatusReason)
		}
	}
}

// A lost count (the summary written wrong, as after a crash between a
// child's update and the parent's) is repaired by a recount when a child
// fact is redelivered.
func TestArrayRecount(t *testing.T) {
	r := startMonitor(t, DefaultConfig(), nil)
	parent := newJob("rc")
	parent.ArrayProperties = &batch.ArrayPropertiesDetail{Size: 2}
	parent.DependsOn = []batch.JobDependency{{JobID: "elsewhere"}}
	r.submit(parent)
	r.waitFor("rc", "PENDING", func(j batch.JobDetail) bool { return j.Status == batch.StatusPending })
	r.gate("rc:0", batch.StatusRunnable)
	r.waitFor("rc", "counted", func(j batch.JobDetail) bool { return j.ArrayProperties.StatusSummary["RUNNABLE"] == 1 })
	// Corrupt the summary, then redeliver the same submit: a recount.
	e, _ := r.jobs.Get(context.Background(), "rc")
	var j batch.JobDetail
	_ = json.Unmarshal(e.Value(), &j)
	j.ArrayProperties.StatusSummary = emptySummary()
	j.ArrayProperties.StatusSummary["PENDING"] = 2
	data, _ := json.Marshal(j)
	if _, err := r.jobs.Update(context.Background(), "rc", data, e.Revision()); err != nil {
		t.Fatal(err)
	}
	r.publish(bus.WithMsgID(events.JobSubmitted{Job: parent}, "submit/rc/again"))
	r.waitFor("rc", "recounted", func(j batch.JobDetail) bool {
		return j.ArrayProperties.StatusSummary["RUNNABLE"] == 1 && j.ArrayProperties.StatusSummary["PENDING"] == 1
	})
}

// TerminateJob on a running job asks its host to stop the container; the
// exit then fails the job with the reason.
func TestTerminatePublishesStop(t *testing.T) {
	r := startMonitor(t, DefaultConfig(), nil)
	stops, err := r.js.Conn().SubscribeSync(events.HostFactFilter("stop", "*"))
	if err != nil {
		t.Fatal(err)
	}
	r.submit(newJob("t"))
	r.gate("t", batch.StatusRunnable)
	p := events.JobPlaced{JobID: "t", Attempt: 1, HostID: "h1", ComputeEnvironment: "ce", JobQueue: "q"}
	r.publish(p)
	s := events.JobStarted{JobID: "t", Attempt: 1, HostID: "h1", ContainerID: "c", StartedAt: 10}
	r.publish(s)
	r.waitFor("t", "RUNNING", func(j batch.JobDetail) bool { return j.Status == batch.StatusRunning })
	term := events.JobTerminate{JobID: "t", Reason: "halt", By: events.ByUser, Time: 50}
	r.publish(term)
	m, err := stops.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var stop events.JobStop
	_ = json.Unmarshal(m.Data, &stop)
	if m.Subject != events.StopSubject("h1", "t") || stop.Attempt != 1 || stop.Reason != "halt" {
		t.Fatalf("stop %s %+v", m.Subject, stop)
	}
	code := 143
	e := events.JobExited{JobID: "t", Attempt: 1, HostID: "h1", ExitCode: &code, StatusReason: "halt", NoRetry: true, StoppedAt: 60}
	r.publish(e)
	j := r.waitFor("t", "FAILED", func(j batch.JobDetail) bool { return j.Status.Final() })
	if j.Status != batch.StatusFailed || !j.IsTerminated || j.StatusReason != "halt" || len(j.Attempts) != 1 {
		t.Fatalf("%s terminated=%v %q attempts=%d", j.Status, j.IsTerminated, j.StatusReason, len(j.Attempts))
	}
}
