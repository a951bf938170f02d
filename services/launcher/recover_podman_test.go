package launcher

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/specgen"
	"github.com/nats-io/nats.go/jetstream"
)

// The crash between `podman create` and `podman start`, on real Podman: a
// container of a STARTING attempt is left created; the restarted launcher
// starts it, so the job's command runs (its exit code 5 and its output are
// reported), where it used to wait on the created container, get exit 0
// and have the job SUCCEEDED without running.
func TestCreatedContainerOnPodman(t *testing.T) {
	uri := DefaultPodmanURI()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := EnsurePodmanService(ctx, uri, slog.Default()); err != nil {
		t.Fatal(err)
	}
	conn, err := bindings.NewConnection(ctx, uri)
	if err != nil {
		t.Fatalf("podman: %v", err)
	}
	host := fmt.Sprintf("crash-%d", time.Now().UnixNano())
	job := "pc-" + host
	gen := specgen.NewSpecGenerator("localhost/batch-sample:latest", false)
	gen.Name = containerName(job, 1)
	gen.Command = []string{"sh", "-c", "echo ran; exit 5"}
	gen.Labels = map[string]string{labelJob: job, labelAttempt: "1", labelHost: host}
	gen.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	created, err := containers.CreateWithSpec(conn, gen, nil)
	if err != nil {
		t.Fatalf("podman create: %v", err)
	}
	t.Cleanup(func() {
		_, _ = containers.Remove(conn, created.ID, new(containers.RemoveOptions).WithForce(true).WithIgnore(true))
	})

	r := newRig(t)
	r.record(job, batch.StatusStarting, 0)
	p := events.JobPlaced{JobID: job, Attempt: 1, HostID: host, JobQueue: "q",
		Container: events.ContainerSpec{Image: "localhost/batch-sample:latest", Command: gen.Command, VCPUs: 1, MemoryMiB: 64}}
	r.publish(p)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Config{HostID: host, VCPUs: 2, MemoryMiB: 1024, Network: "none", PodmanURI: uri,
			StopGrace: time.Second}, Deps{NATS: r.js.Conn()})
	}()
	t.Cleanup(func() { stop(); <-done })

	var started events.JobStarted
	_ = json.Unmarshal(r.next("started", time.Minute).Data, &started)
	var exited events.JobExited
	_ = json.Unmarshal(r.next("exited", time.Minute).Data, &exited)
	if started.ContainerID != created.ID || exited.ExitCode == nil || *exited.ExitCode != 5 {
		t.Fatalf("started %+v, exited %+v; want the created container %s run, exit code 5", started, exited, created.ID)
	}
	if lines := r.logLines(job, 1); len(lines) != 1 || lines[0] != "ran" {
		t.Errorf("output %q, want the command's \"ran\"", lines)
	}
}

// publish stores a message on the jobs stream.
func (r *rig) publish(ev events.Event) {
	r.t.Helper()
	if _, err := bus.Publish(context.Background(), r.js, ev); err != nil {
		r.t.Fatal(err)
	}
}

// logLines reads the stored output of an attempt.
func (r *rig) logLines(job string, attempt int) []string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := r.js.OrderedConsumer(ctx, events.StreamLogs, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.LogSubject(job, attempt)}})
	if err != nil {
		r.t.Fatal(err)
	}
	var lines []string
	for {
		msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			r.t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			lines = append(lines, string(m.Data()))
			n++
		}
		if n == 0 {
			return lines
		}
	}
}
