package podman

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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
//
// Podman's live follow of a k8s-file log is not exact: when its reader
// reaches the end of the file while conmon is still writing a line, it
// sends the half it read as a whole line (cut short) and drops the rest, or
// drops the line (about 1 container in 60 that prints 10,000 lines at
// once). A read after the container exited is exact. So Logs follows a
// container only once it has run for liveAfter (most jobs' output is then
// read once, exactly, after their exit), and after the exit it reads the
// output again to check the lines it followed: a difference is returned as
// an error (ErrFollowGarbled) naming the first line that differs.
func (r *Runtime) Logs(ctx context.Context, id string, since time.Time, out chan<- runtime.LogLine) error {
	defer close(out)
	// One wait for the exit serves both the choice below and the end of
	// a follow.
	waitCtx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	exitC := make(chan bool, 1)
	go func() { exitC <- r.exited(waitCtx, id) }()
	live := time.NewTimer(liveAfter)
	defer live.Stop()
	var check followCheck
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-exitC: // exited (or cannot be waited on): read once below
	case <-live.C:
		// Podman notices the end of a followed container's output late
		// (up to half a second after it exits). So the follow stops as
		// soon as the container has exited, and the whole output is read
		// again without following: the lines already sent are checked,
		// the rest sent.
		followCtx, stopFollow := context.WithCancel(ctx)
		defer stopFollow()
		go func() {
			if <-exitC {
				stopFollow()
			}
		}()
		err := r.readLogs(followCtx, id, since, true, func(l runtime.LogLine) bool {
			if !sendLine(followCtx, out, l) {
				return false
			}
			check.followed(l)
			return true
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if followCtx.Err() == nil && err != nil {
			return err
		}
	}
	err := r.readLogs(ctx, id, since, false, func(l runtime.LogLine) bool {
		return !check.read(l) || sendLine(ctx, out, l)
	})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return check.result(id)
}

// liveAfter is how long Logs waits for a container to exit before it
// follows its output live.
const liveAfter = 2 * time.Second

// ErrFollowGarbled says that lines sent from Podman's live follow differ
// from the container's output read after its exit.
var ErrFollowGarbled = errors.New("podman's live follow garbled the output")

// followCheck compares the lines a live follow sent with those read after
// the container's exit (from the same since): hashes of the lines sent,
// the count read so far, and the first line that differs (its index + 1;
// 0: none).
type followCheck struct {
	sent     []uint64
	n        int
	diverged int
}

// followed records a line the follow sent.
func (c *followCheck) followed(l runtime.LogLine) { c.sent = append(c.sent, lineHash(l)) }

// read takes the next line of the read after the exit and says whether it
// is new (after the lines the follow sent); a line that differs from the
// one the follow sent in its place is noted.
func (c *followCheck) read(l runtime.LogLine) bool {
	i := c.n
	c.n++
	if i >= len(c.sent) {
		return true
	}
	if c.diverged == 0 && lineHash(l) != c.sent[i] {
		c.diverged = i + 1
	}
	return false
}

// result is nil when the follow sent exactly the first lines read after
// the exit, or an ErrFollowGarbled naming the first that differs.
func (c *followCheck) result(id string) error {
	d := c.diverged - 1
	if d < 0 && c.n < len(c.sent) {
		d = c.n
	}
	if d < 0 {
		return nil
	}
	return fmt.Errorf("logs of %s: line %d of %d sent differs from the output read after the exit: %w", id, d+1, len(c.sent), ErrFollowGarbled)
}

func lineHash(l runtime.LogLine) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(l.Stream))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(l.Text))
	return h.Sum64()
}

// sendLine sends l to out unless ctx ends first.
func sendLine(ctx context.Context, out chan<- runtime.LogLine, l runtime.LogLine) bool {
	select {
	case out <- l:
		return true
	case <-ctx.Done():
		return false
	}
}

// readLogs gives the container's lines to emit, in order, until emit
// returns false. When ctx ends first it stops without giving an
// unfinished last line.
func (r *Runtime) readLogs(ctx context.Context, id string, since time.Time, follow bool, emit func(runtime.LogLine) bool) error {
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
	give := func(l runtime.LogLine, ok bool) bool { return !ok || emit(l) }
	for {
		var ok bool
		select {
		case frame := <-stdout:
			ok = give(outLine.add("stdout", frame))
		case frame := <-stderr:
			ok = give(errLine.add("stderr", frame))
		case <-ctx.Done():
			// The bindings notice a cancelled follow only after a while:
			// do not wait for them.
			ok = false
		case err := <-done:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The bindings return only after their last send, so every
			// frame has been received. Flush unterminated last lines.
			if !give(outLine.flush("stdout")) || !give(errLine.flush("stderr")) {
				return ctx.Err()
			}
			if err != nil {
				return fmt.Errorf("podman logs %s: %w", id, err)
			}
			return nil
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
			return ctx.Err()
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
