package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// logsEnv is an embedded JetStream with the wire contract's streams and
// buckets, and helpers that play the launcher and the monitor.
type logsEnv struct {
	t   *testing.T
	url string
	js  jetstream.JetStream
	kv  jetstream.KeyValue
}

func newLogsEnv(t *testing.T) *logsEnv {
	t.Helper()
	s := natstest.Run(t, "")
	js, err := jetstream.New(s.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	return &logsEnv{t: t, url: s.ClientURL(), js: js, kv: kv}
}

// line publishes one line of output as the launcher does.
func (e *logsEnv) line(jobID string, attempt int, stream, text string) {
	e.t.Helper()
	m := nats.NewMsg(events.LogSubject(jobID, attempt))
	m.Data = []byte(text)
	m.Header.Set(events.HeaderStream, stream)
	m.Header.Set(events.HeaderLogTime, time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC).Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, m); err != nil {
		e.t.Fatalf("publish line: %v", err)
	}
}

// record writes the job record as the monitor does.
func (e *logsEnv) record(jobID string, status batch.JobStatus) {
	e.t.Helper()
	code := 0
	j := batch.JobDetail{JobID: jobID, JobName: "hello", Status: status, Attempts: []batch.AttemptDetail{}}
	if status.Final() {
		j.Container = &batch.ContainerDetail{ExitCode: &code}
	}
	b, err := json.Marshal(j)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.kv.Put(ctx, events.Token(jobID), b); err != nil {
		e.t.Fatalf("put record: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (e *logsEnv) run(args ...string) result {
	e.t.Helper()
	return runCLIEnv(e.t, map[string]string{"BATCH_NATS_URL": e.url}, args...)
}

func TestLogsPrintsTheJobsLinesInOrder(t *testing.T) {
	e := newLogsEnv(t)
	const job = "5a1f-parent:3" // an array child: its subject token is 5a1f-parent_3
	e.line(job, 1, "stdout", "first")
	e.line("other-job", 1, "stdout", "not mine")
	e.line(job, 1, "stderr", "second (stderr)")
	e.line(job, 2, "stdout", "third, attempt 2")
	e.line("5a1f-parent", 1, "stdout", "the parent's, not mine")
	e.record(job, batch.StatusSucceeded)

	r := e.run("logs", job)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if want := "first\nsecond (stderr)\nthird, attempt 2\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}

	r = e.run("logs", "arn:aws:batch:us-east-1:000000000000:job/"+job, "--attempt", "2", "--timestamps")
	if r.code != 0 {
		t.Fatalf("--attempt: exit %d, stderr %q", r.code, r.stderr)
	}
	if want := "2026-11-23T10:00:00.123 third, attempt 2\n"; r.stdout != want {
		t.Errorf("--attempt 2 stdout %q, want %q", r.stdout, want)
	}

	// -f on a finished job prints everything and returns at once.
	r = e.run("logs", "-f", job)
	if r.code != 0 || r.stdout != "first\nsecond (stderr)\nthird, attempt 2\n" {
		t.Errorf("-f on a finished job: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "SUCCEEDED") {
		t.Errorf("-f does not say how the job ended: %q", r.stderr)
	}
}

func TestLogsOfAnUnknownJob(t *testing.T) {
	e := newLogsEnv(t)
	r := e.run("logs", "no-such-job")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "job no-such-job not found") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	// A known job with no output yet prints nothing.
	e.record("quiet", batch.StatusRunnable)
	if r := e.run("logs", "quiet"); r.code != 0 || r.stdout != "" {
		t.Errorf("quiet job: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestLogsFollowUntilTheJobSucceeds(t *testing.T) {
	e := newLogsEnv(t)
	const job = "follow-me"
	e.record(job, batch.StatusRunning)
	e.line(job, 1, "stdout", "line 1")

	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"logs", job, "-f", "--nats-url", e.url}, Env{Stdout: &out, Stderr: &errb,
			Getenv: func(string) string { return "" }})
	}()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; stdout %q, stderr %q", what, out.String(), errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("line 1", func() bool { return out.String() == "line 1\n" })
	e.line(job, 1, "stdout", "line 2")
	waitFor("line 2", func() bool { return out.String() == "line 1\nline 2\n" })

	// Still following: not done while the job runs.
	select {
	case code := <-done:
		t.Fatalf("logs -f returned %d while the job runs", code)
	case <-time.After(200 * time.Millisecond):
	}

	// The last lines are stored before the record turns final.
	for i := 3; i <= 50; i++ {
		e.line(job, 1, "stdout", "line "+strconv.Itoa(i))
	}
	e.record(job, batch.StatusSucceeded)

	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("logs -f did not return after SUCCEEDED; stdout %q", out.String())
	}
	var want strings.Builder
	for i := 1; i <= 50; i++ {
		want.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	if out.String() != want.String() {
		t.Errorf("stdout %q, want %q", out.String(), want.String())
	}
	if !strings.Contains(errb.String(), "job follow-me SUCCEEDED, exit code 0") {
		t.Errorf("stderr %q", errb.String())
	}
}

func TestLogsFollowWaitsForAJobNotYetRecorded(t *testing.T) {
	e := newLogsEnv(t)
	const job = "late"
	var out, errb syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"logs", "-f", job, "--nats-url", e.url}, Env{Stdout: &out, Stderr: &errb,
			Getenv: func(string) string { return "" }})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errb.String(), "not found yet") {
		if time.Now().After(deadline) {
			t.Fatalf("no waiting notice; stderr %q", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.line(job, 1, "stdout", "hello")
	e.record(job, batch.StatusFailed)
	select {
	case code := <-done:
		if code != 0 || out.String() != "hello\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("logs -f did not return after FAILED")
	}
}

func TestLogsInterrupted(t *testing.T) {
	e := newLogsEnv(t)
	e.record("forever", batch.StatusRunning)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"logs", "-f", "forever", "--nats-url", e.url}, Env{Getenv: func(string) string { return "" }})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != ExitInterrupt {
			t.Errorf("exit %d after Ctrl-C, want %d", code, ExitInterrupt)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not stop on Ctrl-C")
	}
}

func TestLogsWithoutNATS(t *testing.T) {
	r := runCLIEnv(t, map[string]string{}, "logs", "x", "--nats-url", "nats://127.0.0.1:1")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "connect to NATS at nats://127.0.0.1:1") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// containerLine publishes one line of a container of a multi-container
// job, as the launcher does.
func (e *logsEnv) containerLine(jobID string, attempt int, container, text string) {
	e.t.Helper()
	m := nats.NewMsg(events.LogContainerSubject(jobID, attempt, container))
	m.Data = []byte(text)
	m.Header.Set(events.HeaderStream, "stdout")
	m.Header.Set(events.HeaderContainer, container)
	m.Header.Set(events.HeaderLogTime, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, m); err != nil {
		e.t.Fatalf("publish line: %v", err)
	}
}

func TestLogsOfAMultiContainerJob(t *testing.T) {
	e := newLogsEnv(t)
	const job = "pod-job"
	e.containerLine(job, 1, "init", "prepared")
	e.containerLine(job, 1, "main", "hello")
	e.containerLine(job, 1, "side", "serving")
	e.containerLine(job, 2, "main", "again")
	e.record(job, batch.StatusSucceeded)

	if r := e.run("logs", job); r.code != 0 || r.stdout != "init | prepared\nmain | hello\nside | serving\nmain | again\n" {
		t.Errorf("all containers: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run("logs", job, "--container", "main"); r.code != 0 || r.stdout != "hello\nagain\n" {
		t.Errorf("--container main: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run("logs", job, "--attempt", "1"); r.code != 0 || r.stdout != "init | prepared\nmain | hello\nside | serving\n" {
		t.Errorf("--attempt 1: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run("logs", job, "--attempt", "2", "--container", "main"); r.code != 0 || r.stdout != "again\n" {
		t.Errorf("--attempt 2 --container main: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
