package podman

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// Logs follows the container's stdout and stderr from since (zero: from the
// start; otherwise lines logged strictly after since) and sends each line to
// out, in the order the engine logged them, with the engine's timestamp. It
// returns, closing out, once the container has exited and all its output
// was sent, or when ctx ends (returning ctx's error).
//
// Podman 4.3 sends timestamps in whole seconds while it filters on the
// exact times it logged: resuming with since set to the last line's Time
// may repeat lines of that second, but never skips any.
func (r *Runtime) Logs(ctx context.Context, id string, since time.Time, out chan<- runtime.LogLine) error {
	defer close(out)
	// Podman notices the end of a followed container's output late (up to
	// half a second after it exits). So the follow stops as soon as the
	// container has exited, and the rest is read without following,
	// skipping the lines already sent.
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go func() {
		if r.exited(followCtx, id) {
			stopFollow()
		}
	}()
	sent, err := r.readLogs(followCtx, id, since, true, 0, out)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case followCtx.Err() == nil:
		return err // the follow ended by itself, with everything sent
	}
	_, err = r.readLogs(ctx, id, since, false, sent, out)
	return err
}

// readLogs sends the container's lines after the first skip to out and
// returns how many lines it has gone through. When ctx ends first it stops
// without sending an unfinished last line.
func (r *Runtime) readLogs(ctx context.Context, id string, since time.Time, follow bool, skip int, out chan<- runtime.LogLine) (int, error) {
	opts := new(containers.LogOptions).
		WithFollow(follow).WithStdout(true).WithStderr(true).WithTimestamps(true)
	if !since.IsZero() {
		opts.WithSince(since.Format(time.RFC3339Nano))
	}

	// The bindings send each frame to one of two channels and block until
	// it is received. Receiving both in one select, unbuffered, keeps the
	// engine's order across the two streams.
	stdout, stderr := make(chan string), make(chan string)
	done := make(chan error, 1)
	go func() { done <- containers.Logs(r.bind(ctx), id, opts, stdout, stderr) }()

	var outLine, errLine partialLine
	n := 0
	send := func(l runtime.LogLine, ok bool) bool {
		if !ok {
			return true
		}
		if n < skip {
			n++
			return true
		}
		select {
		case out <- l:
			n++
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		var ok bool
		select {
		case frame := <-stdout:
			ok = send(outLine.add("stdout", frame))
		case frame := <-stderr:
			ok = send(errLine.add("stderr", frame))
		case <-ctx.Done():
			// The bindings notice a cancelled follow only after a while:
			// do not wait for them.
			ok = false
		case err := <-done:
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			// The bindings return only after their last send, so every
			// frame has been received. Flush unterminated last lines.
			if !send(outLine.flush("stdout")) || !send(errLine.flush("stderr")) {
				return n, ctx.Err()
			}
			if err != nil {
				return n, fmt.Errorf("podman logs %s: %w", id, err)
			}
			return n, nil
		}
		if !ok {
			// Stop reading but let the bindings' goroutine finish: ctx
			// aborts its request, and its pending sends are drained.
			go func() {
				for {
					select {
					case <-stdout:
					case <-stderr:
					case <-done:
						return
					}
				}
			}()
			return n, ctx.Err()
		}
	}
}

// partialLine reassembles one stream's lines from the engine's frames: each
// frame is "<RFC 3339 time> <text>", ending in a newline unless the engine
// logged the line in parts (long lines), in which case the next frames
// continue it.
type partialLine struct {
	text    strings.Builder
	time    time.Time
	started bool
}

// add takes one frame; it returns a complete line, if the frame ends one.
func (p *partialLine) add(stream, frame string) (runtime.LogLine, bool) {
	ts, text, found := strings.Cut(frame, " ")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !found || err != nil {
		// No timestamp prefix: keep the frame whole.
		text, t = frame, time.Time{}
	}
	if !p.started {
		p.time, p.started = t, true
	}
	complete := strings.HasSuffix(text, "\n")
	p.text.WriteString(strings.TrimSuffix(text, "\n"))
	if !complete {
		return runtime.LogLine{}, false
	}
	return p.flush(stream)
}

// flush returns the line gathered so far, if any, and resets p.
func (p *partialLine) flush(stream string) (runtime.LogLine, bool) {
	if !p.started {
		return runtime.LogLine{}, false
	}
	l := runtime.LogLine{Stream: stream, Text: p.text.String(), Time: p.time}
	p.text.Reset()
	p.started = false
	return l, true
}
