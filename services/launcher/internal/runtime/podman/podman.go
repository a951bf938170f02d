// Package podman implements runtime.Runtime on the Podman REST API (the
// libpod endpoints served by `podman system service`), through the v5 Go
// bindings. It is tested against Podman 4.3.1 (Debian 12); options the v5
// bindings know but a 4.3 server does not are silently ignored by the server.
//
// The bindings must be built in "remote" mode and without cgo:
//
//	CGO_ENABLED=0 go build -tags remote,containers_image_openpgp ./...
//
// (without those tags the module pulls in the local libpod engine, which
// needs cgo and C libraries such as gpgme and btrfs).
package podman

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// defaultSocket is where a rootful `podman system service` listens.
const defaultSocket = "unix:///run/podman/podman.sock"

// DefaultURI is the Podman service to use when none is configured:
// $CONTAINER_HOST if set, else the rootful socket.
func DefaultURI() string {
	if uri := os.Getenv("CONTAINER_HOST"); uri != "" {
		return uri
	}
	return defaultSocket
}

// Runtime runs job containers through a Podman API service.
type Runtime struct {
	// conn carries the bindings' connection as context values; it has no
	// deadline and is never cancelled (see bind).
	conn  context.Context
	uri   string
	names nameLocks // serializes Start per container name
	// exits follows conmon's exit files when this host's Podman keeps
	// them where this process can read them; nil otherwise.
	exits *exitFiles
	// volumes are the attempt volumes to remove with each container.
	volumes attemptVolumes
	// pulls shares concurrent pulls of one image; insecure are the
	// registries pulled from without TLS verification (pull.go).
	pulls    pulls
	insecure []string
}

var _ runtime.Runtime = (*Runtime)(nil)

// New connects to the Podman service at uri (for example
// "unix:///run/podman/podman.sock") and checks that it answers.
func New(ctx context.Context, uri string) (*Runtime, error) {
	if uri == "" {
		uri = DefaultURI()
	}
	conn, err := bindings.NewConnection(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("podman connect %s: %w", uri, err)
	}
	r := &Runtime{conn: context.WithoutCancel(conn), uri: uri}
	r.sweepVolumes(ctx)
	if dir := localExitDir(uri); dir != "" {
		if e, err := watchExitFiles(dir); err == nil {
			r.exits = e
		}
	}
	return r, nil
}

// URI is the address of the Podman service this runtime talks to.
func (r *Runtime) URI() string { return r.uri }

// boundContext is a caller's context (deadline, cancellation) that also
// carries the bindings' connection, which the bindings look up as context
// values under keys private to their package.
type boundContext struct {
	context.Context
	conn context.Context
}

// Value prefers the connection's values, so the bindings always find it.
func (c boundContext) Value(key any) any {
	if v := c.conn.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// bind returns ctx carrying the connection, for one bindings call.
func (r *Runtime) bind(ctx context.Context) context.Context {
	return boundContext{Context: ctx, conn: r.conn}
}

// waitInterval is how often Podman checks a waited-on container's state.
// Its default, 250 ms, would add up to a quarter second to every job; each
// check costs the service a state read, so it is not made smaller still.
const waitInterval = "50ms"

// Wait blocks until the container has exited (returning at once if it
// already has) and reports its exit code, OOM kill and times.
//
// When this host's Podman exit folder is readable (see exitFiles), the
// exit is taken from conmon's exit file as soon as it is written, with the
// start time read while the container still runs; Podman's own answer is
// awaited in parallel and wins if it comes first, and is what counts for
// exit code 137 (a SIGKILL, perhaps an OOM kill).
//
// OOMKilled is what Podman reports. Podman 4.3.1 with conmon 2.1.6 (Debian
// 12) never reports it: conmon writes its "oom" marker into the service's
// working directory, not where Podman looks, so an OOM kill shows only as
// exit code 137 (SIGKILL).
func (r *Runtime) Wait(ctx context.Context, id string) (runtime.Exit, error) {
	if r.exits == nil {
		return r.waitPodman(ctx, id, false)
	}
	// Once the container has exited, an inspect waits for Podman's cleanup:
	// read the start time now.
	data, err := containers.Inspect(r.bind(ctx), id, nil)
	if err != nil || data.State == nil {
		return r.waitPodman(ctx, id, false)
	}
	if st := data.State.Status; st == "exited" || st == "stopped" {
		return exitOf(id, data.State)
	} else if neverStarted(st) {
		return runtime.Exit{}, fmt.Errorf("podman wait %s: %w", id, runtime.ErrNotStarted)
	}
	started := data.State.StartedAt

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		exit runtime.Exit
		err  error
	}
	fromPodman := make(chan answer, 1)
	go func() {
		exit, err := r.waitPodman(ctx, id, true)
		fromPodman <- answer{exit, err}
	}()
	fromFile := make(chan runtime.Exit, 1)
	go func() {
		if code, finished, ok := r.exits.wait(ctx.Done(), id); ok {
			if finished.Before(started) {
				finished = started
			}
			fromFile <- runtime.Exit{ExitCode: code, StartedAt: started, FinishedAt: finished}
		}
	}()
	select {
	case exit := <-fromFile:
		if exit.ExitCode != 137 {
			return exit, nil
		}
		a := <-fromPodman
		return a.exit, a.err
	case a := <-fromPodman:
		return a.exit, a.err
	}
}

// neverStarted reports whether a Podman container state is one of a
// container created but not started. Podman's wait for "exited" or
// "stopped" returns at once for such a container, with exit code 0, as if
// it had run.
func neverStarted(state string) bool {
	return state == "created" || state == "configured" || state == "initialized"
}

// waitPodman asks Podman to wait for the exit, then inspects the container.
// checked says the caller has seen it started.
func (r *Runtime) waitPodman(ctx context.Context, id string, checked bool) (runtime.Exit, error) {
	if !checked {
		if data, err := containers.Inspect(r.bind(ctx), id, nil); err == nil && data.State != nil && neverStarted(data.State.Status) {
			return runtime.Exit{}, fmt.Errorf("podman wait %s: %w", id, runtime.ErrNotStarted)
		}
	}
	opts := new(containers.WaitOptions).WithConditions([]string{"exited", "stopped"}).WithInterval(waitInterval)
	if _, err := containers.Wait(r.bind(ctx), id, opts); err != nil {
		return runtime.Exit{}, fmt.Errorf("podman wait %s: %w", id, err)
	}
	data, err := containers.Inspect(r.bind(ctx), id, nil)
	if err != nil {
		return runtime.Exit{}, fmt.Errorf("podman inspect %s: %w", id, err)
	}
	return exitOf(id, data.State)
}

// exitOf reads how an exited container ended from its inspected state.
func exitOf(id string, st *define.InspectContainerState) (runtime.Exit, error) {
	if st == nil {
		return runtime.Exit{}, fmt.Errorf("podman inspect %s: no state", id)
	}
	exit := runtime.Exit{
		ExitCode:   int(st.ExitCode),
		OOMKilled:  st.OOMKilled,
		StartedAt:  st.StartedAt,
		FinishedAt: st.FinishedAt,
	}
	// Podman takes FinishedAt from the exit file's modification time,
	// which the kernel stamps with a coarse (jiffy) clock: for a very short
	// run it can precede StartedAt by a few milliseconds.
	if exit.FinishedAt.Before(exit.StartedAt) {
		exit.FinishedAt = exit.StartedAt
	}
	switch {
	case st.OOMKilled:
		exit.Reason = "OutOfMemoryError: Container killed due to memory usage"
	case st.Error != "":
		exit.Reason = st.Error
	}
	return exit, nil
}

// exited returns true once the container has exited, false if ctx ends
// first or Podman cannot tell; from the exit file when it can.
func (r *Runtime) exited(ctx context.Context, id string) bool {
	opts := new(containers.WaitOptions).WithConditions([]string{"exited", "stopped"}).WithInterval(waitInterval)
	if r.exits == nil {
		_, err := containers.Wait(r.bind(ctx), id, opts)
		return err == nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan bool, 2)
	go func() {
		_, err := containers.Wait(r.bind(ctx), id, opts)
		done <- err == nil
	}()
	go func() {
		_, _, ok := r.exits.wait(ctx.Done(), id)
		done <- ok
	}()
	return <-done
}

// Stop sends SIGTERM (or the image's stop signal), then SIGKILL after grace,
// rounded up to whole seconds; it returns once the container has stopped.
// Stopping a container that has already exited is not an error.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := uint(math.Ceil(max(grace, 0).Seconds()))
	opts := new(containers.StopOptions).WithTimeout(secs)
	if err := containers.Stop(r.bind(ctx), id, opts); err != nil {
		return fmt.Errorf("podman stop %s: %w", id, err)
	}
	return nil
}

// Remove deletes the container, killing it first if it still runs (no
// grace: use Stop for that). A container that does not exist is not an
// error.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	opts := new(containers.RemoveOptions).WithForce(true).WithIgnore(true).WithTimeout(0)
	_, err := containers.Remove(r.bind(ctx), id, opts)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("podman rm %s: %w", id, err)
	}
	r.removeVolumes(ctx, id)
	return nil
}

// List returns all containers, running or exited, whose labels include all
// of the given ones.
func (r *Runtime) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	opts := new(containers.ListOptions).WithAll(true)
	if len(labels) > 0 {
		filter := make([]string, 0, len(labels))
		for k, v := range labels {
			filter = append(filter, k+"="+v)
		}
		opts.WithFilters(map[string][]string{"label": filter})
	}
	list, err := containers.List(r.bind(ctx), opts)
	if err != nil {
		return nil, fmt.Errorf("podman ps: %w", err)
	}
	var out []runtime.Container
	for _, c := range list {
		// The server ANDs label filters, but check again: it costs
		// nothing and does not depend on the server version's semantics.
		if !hasLabels(c.Labels, labels) {
			continue
		}
		name := ""
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		out = append(out, runtime.Container{
			ID:        c.ID,
			Name:      name,
			Labels:    c.Labels,
			ImagePull: pullOfLabels(c.Labels),
			Running:   c.State == "running" || c.State == "paused" || c.State == "stopping",
			Created:   neverStarted(c.State),
		})
	}
	return out, nil
}

// hasLabels reports whether have includes every key and value of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// isNotFound reports whether err is the service's "no such container"
// (or image) answer.
func isNotFound(err error) bool {
	var em *errorhandling.ErrorModel
	return errors.As(err, &em) && em.Code() == http.StatusNotFound
}
