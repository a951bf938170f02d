package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ConsumerSpec is a durable pull consumer and how its messages are settled.
type ConsumerSpec struct {
	Stream  string
	Durable string // part of the API: renaming it delivers everything again
	Filters []string
	// Description and Metadata are stored with the consumer.
	Description string
	Metadata    map[string]string
	// AckWait is how long a delivery may stay unsettled (default 30 s); a
	// handler that works longer calls Delivery.InProgress.
	AckWait time.Duration
	// MaxAckPending bounds the unsettled deliveries (default 1000).
	MaxAckPending int
	// MaxDeliver is how often a message is delivered before it is given
	// up on (default 20; negative: without end).
	MaxDeliver int
	// Backoff is the delay before delivery n+1 after delivery n failed
	// (default: 100 ms doubling, at most 10 s).
	Backoff func(delivery int) time.Duration
	// Pull is how many messages are buffered from the server (default
	// 500).
	Pull int
	// Workers handle messages concurrently (default 1). Events of one key
	// (events.Keyed: a job) are handled one after the other, in stream
	// order; a key whose handler takes long holds one worker and delays
	// only the events of its own key.
	Workers int
	// Bind uses a consumer its caller made (with the same name) instead of
	// making it: when it is gone, Consume returns ErrConsumerGone rather
	// than making it again (the caller decides where a new one starts).
	Bind bool
	// RedeliveredUpTo counts the deliveries of messages up to this stream
	// sequence as redelivered (NumDelivered at least 2): for a consumer
	// made again from an earlier position, whose first messages another
	// consumer delivered already.
	RedeliveredUpTo uint64
	// OnGiveUp runs when the last allowed delivery of a message failed,
	// before the message is terminated: the place to leave a visible
	// reason. ev is nil when the message could not be decoded.
	OnGiveUp func(ctx context.Context, ev events.Event, d *Delivery, err error)
	Logger   *slog.Logger
}

func (s *ConsumerSpec) defaults() {
	if s.AckWait == 0 {
		s.AckWait = 30 * time.Second
	}
	if s.MaxAckPending == 0 {
		s.MaxAckPending = 1000
	}
	if s.MaxDeliver == 0 {
		s.MaxDeliver = 20
	}
	if s.Backoff == nil {
		s.Backoff = DefaultBackoff
	}
	if s.Pull == 0 {
		s.Pull = 500
	}
	if s.Workers <= 0 {
		s.Workers = 1
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
}

// DefaultBackoff waits 100 ms after the first failed delivery, doubling up
// to 10 s.
func DefaultBackoff(delivery int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < delivery && d < 10*time.Second; i++ {
		d *= 2
	}
	return min(d, 10*time.Second)
}

// Config is the consumer the spec describes (delivering from the start of
// the stream), for a caller that makes it itself (Bind).
func (s ConsumerSpec) Config() jetstream.ConsumerConfig {
	s.defaults()
	return s.config()
}

func (s *ConsumerSpec) config() jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable: s.Durable, Description: s.Description, Metadata: s.Metadata,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.AckWait, MaxAckPending: s.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy, MaxDeliver: -1,
	}
	if s.MaxDeliver > 0 {
		c.MaxDeliver = s.MaxDeliver
	}
	if len(s.Filters) == 1 {
		c.FilterSubject = s.Filters[0]
	} else {
		c.FilterSubjects = s.Filters
	}
	return c
}

// ErrConsumerGone: the consumer of a ConsumerSpec with Bind is gone.
var ErrConsumerGone = errors.New("consumer gone")

// ErrPermanent marks a handler error that no redelivery can fix: the
// message is terminated.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so that errors.Is(err, ErrPermanent) holds.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() []error      { return []error{e.err, ErrPermanent} }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// Delivery is one delivery of a message to a handler.
type Delivery struct {
	Msg          jetstream.Msg
	NumDelivered int
	StreamSeq    uint64
	Timestamp    time.Time
	// Last is true when this is the last delivery the consumer allows.
	Last bool

	mu      sync.Mutex
	held    bool
	settled bool
	span    trace.Span // ended when the delivery is settled
}

// Redelivered reports whether the message was delivered before.
func (d *Delivery) Redelivered() bool { return d.NumDelivered > 1 }

// Hold keeps the loop from settling the message when the handler returns
// nil: the handler (or whoever it hands the delivery to) settles it later
// with Ack, Nak or Term. The delivery's span lasts until then.
func (d *Delivery) Hold() {
	d.mu.Lock()
	d.held = true
	d.mu.Unlock()
}

func (d *Delivery) settle(fn func() error) error {
	d.mu.Lock()
	if d.settled {
		d.mu.Unlock()
		return nil
	}
	d.settled = true
	d.mu.Unlock()
	err := fn()
	if d.span != nil {
		d.span.End()
	}
	return err
}

// Ack acknowledges the message; settling twice does nothing, and so does
// settling a nil Delivery (work that came from no message, such as a
// container found at start).
func (d *Delivery) Ack() error {
	if d == nil {
		return nil
	}
	return d.settle(d.Msg.Ack)
}

// Nak asks for a redelivery after delay.
func (d *Delivery) Nak(delay time.Duration) error {
	if d == nil {
		return nil
	}
	return d.settle(func() error {
		if delay <= 0 {
			return d.Msg.Nak()
		}
		return d.Msg.NakWithDelay(delay)
	})
}

// Term gives the message up: it is never delivered again.
func (d *Delivery) Term(reason string) error {
	if d == nil {
		return nil
	}
	return d.settle(func() error { return d.Msg.TermWithReason(reason) })
}

// InProgress tells the server the message is still being worked on.
func (d *Delivery) InProgress() error {
	if d == nil {
		return nil
	}
	return d.Msg.InProgress()
}

// Handlers dispatch the messages of a consumer by their type.
type Handlers struct {
	tracer trace.Tracer
	byType map[string]*handler
	any    *handler
}

type handler struct {
	span   string
	decode func([]byte) (events.Event, error)
	call   func(context.Context, events.Event, *Delivery) error
}

// NewHandlers makes an empty set of handlers whose spans tracer records.
func NewHandlers(tracer trace.Tracer) *Handlers {
	return &Handlers{tracer: tracer, byType: map[string]*handler{}}
}

// On handles the events of type E with fn, each in a consumer span named
// span that continues the trace of the message's headers ("": no span, the
// handler makes its own).
func On[E events.Event](h *Handlers, span string, fn func(ctx context.Context, ev E, d *Delivery) error) {
	var zero E
	h.byType[zero.Type()] = &handler{
		span: span,
		decode: func(data []byte) (events.Event, error) {
			var ev E
			err := json.Unmarshal(data, &ev)
			return ev, err
		},
		call: func(ctx context.Context, ev events.Event, d *Delivery) error { return fn(ctx, ev.(E), d) },
	}
}

// OnAny handles every message whose type has no handler of its own, raw
// (for consumers that treat payloads generically, such as the notifier's
// router). Without it such messages are acknowledged and skipped: a newer
// producer's types do not stop an older consumer.
func OnAny(h *Handlers, span string, fn func(ctx context.Context, d *Delivery) error) {
	h.any = &handler{span: span, call: func(ctx context.Context, _ events.Event, d *Delivery) error { return fn(ctx, d) }}
}

// item is a decoded message waiting for its worker.
type item struct {
	d   *Delivery
	ev  events.Event
	h   *handler
	err error // decoding failed
}

// Consume handles the consumer's messages until ctx ends. It makes the
// consumer (and makes it again if it disappears, for instance when the
// NATS server lost it), decodes each message by its Batch-Type header,
// calls its handler and settles it:
//
//	handler returned nil          -> Ack
//	bus.Permanent, undecodable    -> Term (also: a payload whose own
//	                                 subject is not the message's)
//	ctx ended (shutting down)     -> Nak at once, for another replica
//	other error                   -> Nak after spec.Backoff(delivery)
//	other error, last delivery    -> spec.OnGiveUp, then Term
//	Delivery.Hold called          -> the handler settles it
//	type without handler          -> Ack (forward compatibility)
func Consume(ctx context.Context, js jetstream.JetStream, spec ConsumerSpec, h *Handlers) error {
	spec.defaults()
	c := &consumer{spec: spec, h: h, log: spec.Logger.With("consumer", spec.Durable)}
	r := newKeyedRunner(spec.Workers, func(it item) {
		if ctx.Err() != nil {
			_ = it.d.Nak(0) // stopping: for whoever consumes next
			return
		}
		c.handle(ctx, it)
	})
	defer r.wait()
	var next uint64
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 2*time.Second) {
		err := c.run(ctx, js, func(it item) {
			if spec.Workers == 1 {
				r.add("", it) // one worker: every event in stream order
				return
			}
			if k, ok := it.ev.(events.Keyed); ok {
				r.add(k.Key(), it)
				return
			}
			// Unkeyed events spread over Workers lanes, in order within
			// each (one worker: in stream order).
			next++
			r.add("\x00"+strconv.FormatUint(next%uint64(spec.Workers), 10), it)
		})
		if ctx.Err() != nil {
			return nil
		}
		if spec.Bind && errors.Is(err, ErrConsumerGone) {
			return err
		}
		c.log.Warn("consumer stopped; making it again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

type consumer struct {
	spec ConsumerSpec
	h    *Handlers
	log  *slog.Logger
}

// run makes the consumer and feeds its messages to dispatch until ctx ends
// or the consumer is gone.
func (c *consumer) run(ctx context.Context, js jetstream.JetStream, dispatch func(item)) error {
	var cons jetstream.Consumer
	var err error
	if c.spec.Bind {
		cons, err = js.Consumer(ctx, c.spec.Stream, c.spec.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			err = fmt.Errorf("%w: %w", ErrConsumerGone, err)
		}
	} else {
		cons, err = js.CreateOrUpdateConsumer(ctx, c.spec.Stream, c.spec.config())
	}
	if err != nil {
		return fmt.Errorf("consumer %s: %w", c.spec.Durable, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(c.spec.Pull))
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.spec.Durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			switch {
			case ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed):
				return nil
			case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
				if c.spec.Bind {
					return fmt.Errorf("%w: %w", ErrConsumerGone, err)
				}
				return err
			}
			c.log.Debug("next message", "err", err)
			continue
		}
		dispatch(c.decode(msg))
	}
}

func (c *consumer) decode(msg jetstream.Msg) item {
	d := &Delivery{Msg: msg, NumDelivered: 1}
	if md, err := msg.Metadata(); err == nil {
		d.NumDelivered, d.StreamSeq, d.Timestamp = int(md.NumDelivered), md.Sequence.Stream, md.Timestamp
		if d.StreamSeq <= c.spec.RedeliveredUpTo {
			d.NumDelivered = max(d.NumDelivered, 2)
		}
	}
	d.Last = c.spec.MaxDeliver > 0 && d.NumDelivered >= c.spec.MaxDeliver
	h := c.h.byType[msg.Headers().Get(events.HeaderType)]
	if h == nil {
		return item{d: d, h: c.h.any}
	}
	ev, err := h.decode(msg.Data())
	if err != nil {
		return item{d: d, h: h, err: fmt.Errorf("decode %s: %w", msg.Subject(), err)}
	}
	if want := ev.Subject(); want != msg.Subject() {
		// What the payload claims (its job, its host) must be what the
		// subject says: NATS permissions are granted on subjects, so a
		// publisher allowed one host's subjects cannot speak for another.
		return item{d: d, h: h, err: fmt.Errorf("message on %s carries an event of %s", msg.Subject(), want)}
	}
	return item{d: d, ev: ev, h: h}
}

// handle calls the handler of one message in its span and settles it.
func (c *consumer) handle(ctx context.Context, it item) {
	msg, d := it.d.Msg, it.d
	if it.h == nil {
		_ = d.Ack() // a type this consumer does not handle
		return
	}
	// The span ends when the delivery is settled (for a held delivery,
	// after the handler returned).
	sctx, span := ctx, trace.SpanFromContext(ctx)
	if it.h.span != "" {
		var attrs []attribute.KeyValue
		if k, ok := it.ev.(events.Keyed); ok {
			attrs = append(attrs, telemetry.JobID(k.Key()))
		}
		attrs = append(attrs, attribute.Int("messaging.message.delivery_count", d.NumDelivered))
		sctx, span = StartConsumerSpan(ctx, c.h.tracer, it.h.span, msg.Subject(), msg.Headers(), attrs...)
		d.span = span
	}
	err := it.err
	if err == nil {
		err = it.h.call(sctx, it.ev, d)
	} else {
		err = Permanent(err)
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	d.mu.Lock()
	held := d.held
	d.mu.Unlock()
	if held && err == nil {
		return
	}
	// The logger is made only for a line to log (not for every message).
	log := func() *slog.Logger {
		l := c.log.With("subject", msg.Subject(), "delivery", d.NumDelivered)
		if k, ok := it.ev.(events.Keyed); ok {
			l = l.With(telemetry.LogJobID, k.Key())
		}
		return l
	}
	switch {
	case err == nil:
		if aerr := d.Ack(); aerr != nil {
			log().WarnContext(sctx, "ack", "err", aerr)
		}
	case errors.Is(err, ErrPermanent):
		log().ErrorContext(sctx, "dropping a message that cannot be applied", "err", err)
		_ = d.Term(err.Error())
	case ctx.Err() != nil:
		_ = d.Nak(0)
	case d.Last:
		log().ErrorContext(sctx, "giving up on a message after its last delivery", "err", err)
		if c.spec.OnGiveUp != nil {
			c.spec.OnGiveUp(sctx, it.ev, d, err)
		}
		_ = d.Term("given up: " + err.Error())
	default:
		wait := c.spec.Backoff(d.NumDelivered)
		log().WarnContext(sctx, "will retry", "err", err, "in", wait)
		_ = d.Nak(wait)
	}
}

// keyedRunner handles items concurrently, in n workers, and those of one
// key one after the other in the order they were added. Adding never
// blocks: how many items wait is bounded by the consumer's MaxAckPending,
// so a key whose handler takes long (an array's expansion) delays only
// its own key's items, not the consumer.
type keyedRunner struct {
	handle func(item)
	wg     sync.WaitGroup
	mu     sync.Mutex
	ready  *sync.Cond
	// queues holds the items of each key that has some; the first is
	// being handled, or the key waits in keys for a worker.
	queues map[string][]item
	keys   []string // keys waiting for a worker, in the order they came
	closed bool
}

func newKeyedRunner(n int, handle func(item)) *keyedRunner {
	r := &keyedRunner{handle: handle, queues: map[string][]item{}}
	r.ready = sync.NewCond(&r.mu)
	for range max(n, 1) {
		r.wg.Go(r.work)
	}
	return r
}

func (r *keyedRunner) add(key string, it item) {
	r.mu.Lock()
	q, busy := r.queues[key]
	r.queues[key] = append(q, it)
	if !busy {
		r.keys = append(r.keys, key)
		r.ready.Signal()
	}
	r.mu.Unlock()
}

// work handles the items of one waiting key after the other.
func (r *keyedRunner) work() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for len(r.keys) == 0 {
			if r.closed {
				return
			}
			r.ready.Wait()
		}
		key := r.keys[0]
		r.keys[0] = ""
		r.keys = r.keys[1:]
		for {
			it := r.queues[key][0]
			r.mu.Unlock()
			r.handle(it)
			r.mu.Lock()
			q := r.queues[key]
			q[0] = item{}
			if len(q) == 1 {
				delete(r.queues, key)
				break
			}
			r.queues[key] = q[1:]
		}
	}
}

// wait returns once every item added was handled (no more are added).
func (r *keyedRunner) wait() {
	r.mu.Lock()
	r.closed = true
	r.ready.Broadcast()
	r.mu.Unlock()
	r.wg.Wait()
}
