package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// How the CloudWatch Logs API reads job output: every read is a scan of
// BATCH_LOGS through an ephemeral pull consumer filtered to the subjects
// of the log streams asked for (the server skips every other job's lines
// through its per-subject index), from a stream sequence or a store time.
// A consumer's NumPending at creation is the exact number of matching
// lines at and after its start, so a scan knows where it ends without
// waiting, and a read of the latest lines finds where to start by counting
// (a binary search over start sequences) instead of reading a job's whole
// output. Positions, and the API's tokens, are stream sequences.

// logSkew is how far a launcher's clock may be ahead of the NATS server's:
// a line written (Batch-Time) at or after T was stored at or after
// T - logSkew, so a scan for lines from T starts at that store time.
const logSkew = 5 * time.Minute

// fetchBatch and fetchBytes bound one pull request of a scan.
const (
	fetchBatch = 1000
	fetchBytes = 16 << 20
)

// logLine is one stored line of job output.
type logLine struct {
	seq     uint64
	subject string
	time    int64 // ms since the epoch: Batch-Time, else the store time
	stored  int64 // ms since the epoch: when the stream stored it
	message string
}

// size is the line's size as CloudWatch Logs counts it against a
// response's 1 MB: the message's bytes plus 26.
func (l *logLine) size() int { return len(l.message) + 26 }

func lineOf(m jetstream.Msg) (logLine, error) {
	meta, err := m.Metadata()
	if err != nil {
		return logLine{}, fmt.Errorf("read a line of %s: %w", events.StreamLogs, err)
	}
	l := logLine{seq: meta.Sequence.Stream, subject: m.Subject(), stored: meta.Timestamp.UnixMilli(), message: string(m.Data())}
	l.time = lineTime(m.Headers(), l.stored)
	return l, nil
}

// lineTime is a line's Batch-Time in ms, or stored when it has none.
func lineTime(h nats.Header, stored int64) int64 {
	if t, err := time.Parse(time.RFC3339Nano, h.Get(events.HeaderLogTime)); err == nil {
		return t.UnixMilli()
	}
	return stored
}

// logReader reads BATCH_LOGS.
type logReader struct {
	stream jetstream.Stream
}

// cursor is an ephemeral consumer of some subjects from a start.
type cursor struct {
	r       *logReader
	cons    jetstream.Consumer
	pending uint64 // matching lines at or after the start when it was made
}

// open makes a cursor on the filters from sequence start (1 or less: the
// first line), or from store time since when it is set.
func (r *logReader) open(ctx context.Context, filters []string, start uint64, since time.Time) (*cursor, error) {
	cfg := jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	}
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	switch {
	case !since.IsZero():
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	case start > 1:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = start
	default:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	cons, err := r.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", events.StreamLogs, err)
	}
	return &cursor{r: r, cons: cons, pending: cons.CachedInfo().NumPending}, nil
}

// close deletes the consumer (the server would after a minute anyway).
func (c *cursor) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.r.stream.DeleteConsumer(ctx, c.cons.CachedInfo().Name)
}

// read gives up to n lines in order to fn until fn returns false (the
// line it refused is not counted). It returns how many fn took.
func (c *cursor) read(ctx context.Context, n uint64, fn func(*logLine) bool) (uint64, error) {
	var took uint64
	for took < n {
		if err := ctx.Err(); err != nil {
			return took, err
		}
		batch, err := c.cons.Fetch(int(min(n-took, fetchBatch)), jetstream.FetchMaxBytes(fetchBytes), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return took, fmt.Errorf("read %s: %w", events.StreamLogs, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			l, err := lineOf(m)
			if err != nil {
				return took, err
			}
			if !fn(&l) {
				return took, nil
			}
			took++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return took, fmt.Errorf("read %s: %w", events.StreamLogs, err)
		}
		if got == 0 { // lines removed (retention) since the count
			return took, nil
		}
	}
	return took, nil
}

// forward scans the filters' lines from sequence from (or store time
// since), at most budget of them, giving each to fn until fn refuses one.
// It returns the sequence of the last line fn took (0: none) and whether
// the scan took every line stored.
func (r *logReader) forward(ctx context.Context, filters []string, from uint64, since time.Time, budget uint64,
	fn func(*logLine) bool) (last uint64, end bool, err error) {
	if from > 1 {
		since = time.Time{} // a position given wins over the time floor
	}
	c, err := r.open(ctx, filters, from, since)
	if err != nil {
		return 0, false, err
	}
	defer c.close()
	n := min(c.pending, budget)
	took, err := c.read(ctx, n, func(l *logLine) bool {
		if !fn(l) {
			return false
		}
		last = l.seq
		return true
	})
	if err != nil {
		return 0, false, err
	}
	return last, took == c.pending, nil
}

// backward returns the last need lines that keep accepts among the
// filters' lines with sequences up to hi (and, when since is set, stored at
// or after since), oldest first. It counts lines with consumers'
// NumPending to begin its scan where the last need lines begin, so it reads
// about need lines however long the output is; when keep refuses some, it
// scans the range before, and so on. floor says it reached the first line.
func (r *logReader) backward(ctx context.Context, filters []string, hi uint64, since time.Time, need int,
	keep func(*logLine) bool) (out []logLine, floor bool, err error) {
	if hi == 0 || need <= 0 {
		return nil, true, nil
	}
	count := func(start uint64) (uint64, error) {
		c, err := r.open(ctx, filters, start, time.Time{})
		if err != nil {
			return 0, err
		}
		c.close()
		return c.pending, nil
	}
	above := uint64(0) // lines after hi
	if hi < math.MaxUint64 {
		if above, err = count(hi + 1); err != nil {
			return nil, false, err
		}
	}
	for need > 0 {
		// All lines from the floor: few enough to scan them all?
		base, err := r.open(ctx, filters, 1, since)
		if err != nil {
			return nil, false, err
		}
		total := sub(base.pending, above)
		if total == 0 {
			base.close()
			return out, true, nil
		}
		start, c := uint64(1), base
		if total > uint64(need) {
			base.close()
			// The largest start with at least need lines in [start, hi].
			lo, up := uint64(1), hi
			for lo < up {
				mid := lo + (up-lo+1)/2
				n, err := count(mid)
				if err != nil {
					return nil, false, err
				}
				if sub(n, above) >= uint64(need) {
					lo = mid
				} else {
					up = mid - 1
				}
			}
			start = lo
			if c, err = r.open(ctx, filters, start, time.Time{}); err != nil {
				return nil, false, err
			}
		}
		var chunk []logLine
		n := sub(c.pending, above)
		_, err = c.read(ctx, n, func(l *logLine) bool {
			if l.seq > hi {
				return false
			}
			if keep(l) {
				chunk = append(chunk, *l)
			}
			return true
		})
		pendingAtStart := c.pending
		c.close()
		if err != nil {
			return nil, false, err
		}
		if len(chunk) > need {
			chunk = chunk[len(chunk)-need:]
		}
		out = append(chunk, out...)
		need -= len(chunk)
		if c == base || start <= 1 {
			return out, true, nil
		}
		hi, above = start-1, pendingAtStart
	}
	return out, false, nil
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// last returns the newest line of a subject, or nil when it has none.
func (r *logReader) last(ctx context.Context, subject string) (*logLine, error) {
	m, err := r.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the last line of %s: %w", subject, err)
	}
	return rawLine(m), nil
}

// first returns the oldest line of a subject, or nil when it has none.
func (r *logReader) first(ctx context.Context, subject string) (*logLine, error) {
	m, err := r.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the first line of %s: %w", subject, err)
	}
	return rawLine(m), nil
}

func rawLine(m *jetstream.RawStreamMsg) *logLine {
	l := &logLine{seq: m.Sequence, subject: m.Subject, stored: m.Time.UnixMilli(), message: string(m.Data)}
	l.time = lineTime(m.Header, l.stored)
	return l
}

// subjects lists the subjects under a filter with their line counts.
func (r *logReader) subjects(ctx context.Context, filter string) (map[string]uint64, error) {
	info, err := r.stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("list the log streams of %s: %w", filter, err)
	}
	return info.State.Subjects, nil
}
