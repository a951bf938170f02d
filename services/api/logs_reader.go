package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
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
	start   uint64
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
	return &cursor{r: r, start: start, cons: cons, pending: cons.CachedInfo().NumPending}, nil
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
// scans the range before, and so on, until it has scanned budget lines.
// floor says it reached the first line; when it did not, lowest is the
// sequence its last scan began at (nothing below it was read).
func (r *logReader) backward(ctx context.Context, filters []string, hi uint64, since time.Time, need int, budget uint64,
	keep func(*logLine) bool) (out []logLine, floor bool, lowest uint64, err error) {
	if hi == 0 || need <= 0 {
		return nil, true, 0, nil
	}
	above := uint64(0) // lines after hi
	if hi < math.MaxUint64 {
		c, err := r.open(ctx, filters, hi+1, time.Time{})
		if err != nil {
			return nil, false, 0, err
		}
		c.close()
		above = c.pending
	}
	var scanned uint64
	for need > 0 {
		// All lines from the floor: few enough to scan them all?
		base, err := r.open(ctx, filters, 1, since)
		if err != nil {
			return nil, false, 0, err
		}
		total := sub(base.pending, above)
		if total == 0 {
			base.close()
			return out, true, 0, nil
		}
		start, c := uint64(1), base
		if total > tolerance(uint64(need)) {
			base.close()
			if c, err = r.seek(ctx, filters, hi, above, uint64(need), total); err != nil {
				return nil, false, 0, err
			}
			start = c.start
		}
		var chunk []logLine
		n := sub(c.pending, above)
		read, err := c.read(ctx, n, func(l *logLine) bool {
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
			return nil, false, 0, err
		}
		scanned += read
		if len(chunk) > need {
			chunk = chunk[len(chunk)-need:]
		}
		out = append(chunk, out...)
		need -= len(chunk)
		if c == base || start <= 1 {
			return out, true, 0, nil
		}
		if need > 0 && scanned >= budget {
			return out, false, start, nil
		}
		hi, above = start-1, pendingAtStart
	}
	return out, false, 0, nil
}

// tolerance is how many lines a scan for the last need may read: a little
// more, rather than another probe.
func tolerance(need uint64) uint64 { return need + need/4 + 64 }

// seek opens a cursor where about the last need lines up to hi begin (at
// least need, at most tolerance(need), unless lines are single steps
// apart): a search over start sequences by the lines counted from each
// (a consumer's NumPending less above, the lines after hi), alternately
// interpolating (one or two probes when a job's lines are spread evenly)
// and halving the range (a bound of twice log2 of it). total (more than
// tolerance(need)) is the count from the first sequence searched.
func (r *logReader) seek(ctx context.Context, filters []string, hi, above, need, total uint64) (*cursor, error) {
	lo, cLo := uint64(1), total
	if len(filters) == 1 && !strings.ContainsAny(filters[0], "*>") {
		if f, err := r.first(ctx, filters[0]); err != nil {
			return nil, err
		} else if f != nil {
			lo = f.seq
		}
	}
	up, cUp := hi+1, uint64(0)
	target := (need + tolerance(need)) / 2
	var best *cursor
	for i := 0; up-lo > 1; i++ {
		mid := lo + (up-lo)/2
		if i%2 == 0 && cLo > cUp {
			frac := float64(sub(cLo, target)) / float64(cLo-cUp)
			mid = lo + uint64(frac*float64(up-lo))
		}
		mid = min(max(mid, lo+1), up-1)
		c, err := r.open(ctx, filters, mid, time.Time{})
		if err != nil {
			if best != nil {
				best.close()
			}
			return nil, err
		}
		n := sub(c.pending, above)
		if n < need {
			c.close()
			up, cUp = mid, n
			continue
		}
		if best != nil {
			best.close()
		}
		best, lo, cLo = c, mid, n
		if n <= tolerance(need) {
			break
		}
	}
	if best != nil {
		return best, nil
	}
	return r.open(ctx, filters, lo, time.Time{})
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
