package notifier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Delivery design. Every target of every rule has its own durable consumer
// of BATCH_NOTIFY (filter batch.notify.<rule>.<target>), shared by the
// notifier replicas, and its own goroutine in each replica. A target that
// is slow or down holds back only its own consumer: the router, the other
// targets and the job pipeline never wait for it. The consumer's
// MaxAckPending (Config.Concurrency, 1 by default) bounds the
// notifications of the target in flight across all replicas, so by default
// a target gets its notifications in event order. A notification is
// acknowledged only once delivered or dead-lettered: a crash at any point
// redelivers it (at least once; its MessageId stays the same).

const (
	// consumerPrefix starts the name of every delivery consumer.
	consumerPrefix = "notify-"
	// deliveryAckWait is the consumers' AckWait; a worker retrying a
	// notification tells the server it is still working on it.
	deliveryAckWait = 30 * time.Second
)

// Consumer metadata keys naming the rule target a consumer serves.
const (
	metaRule    = "batchd-rule"
	metaCreated = "batchd-rule-created"
	metaTarget  = "batchd-target"
)

// consumerName names the delivery consumer of one target of one
// incarnation of a rule (a rule deleted and created again gets new ones).
func consumerName(rule string, created int64, target string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + strconv.FormatInt(created, 10) + "\x00" + target))
	return consumerPrefix + hex.EncodeToString(h[:10])
}

// worker delivers the notifications of one rule target.
type worker struct {
	name    string
	rule    string
	created int64
	target  string
	cancel  context.CancelFunc
	done    chan struct{}
}

// reconcile runs a worker for every target of every rule and stops the
// workers (and deletes the consumers) of targets that are gone.
func (n *notifier) reconcile() {
	want := map[string]*worker{}
	for _, r := range n.rules.snapshot() {
		for _, t := range r.Targets {
			name := consumerName(r.RuleName, r.CreatedAt, t.ID)
			want[name] = &worker{name: name, rule: r.RuleName, created: r.CreatedAt, target: t.ID}
		}
	}
	n.workersMu.Lock()
	defer n.workersMu.Unlock()
	for name, w := range n.workers {
		if want[name] == nil {
			w.cancel()
			<-w.done
			delete(n.workers, name)
			n.deleteConsumer(name)
		}
	}
	for name, w := range want {
		if n.workers[name] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(n.ctx)
		w.cancel, w.done = cancel, make(chan struct{})
		n.workers[name] = w
		go func() {
			defer close(w.done)
			n.runWorker(ctx, w)
		}()
	}
	go n.dropStaleConsumers()
}

// stopWorkers stops every worker (their consumers stay).
func (n *notifier) stopWorkers() {
	n.workersMu.Lock()
	defer n.workersMu.Unlock()
	for name, w := range n.workers {
		w.cancel()
		<-w.done
		delete(n.workers, name)
	}
}

func (n *notifier) deleteConsumer(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.js.DeleteConsumer(ctx, events.StreamNotify, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		n.log.Warn("notifier: delete consumer of a removed target", "consumer", name, "err", err)
	}
}

// dropStaleConsumers deletes the delivery consumers of targets that no
// longer exist (removed while no notifier ran). It lists the consumers
// first and then syncs the rules, so a consumer another replica has just
// made for a new rule is never taken for a stale one. Notifications left
// for a removed target expire with the stream's retention; a rule created
// again under the same name never receives them (its creation time
// differs).
func (n *notifier) dropStaleConsumers() {
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	st, err := n.js.Stream(ctx, events.StreamNotify)
	if err != nil {
		return
	}
	var stale []string
	for ci := range st.ListConsumers(ctx).Info() {
		if ci.Config.Metadata[metaRule] != "" {
			stale = append(stale, ci.Name)
		}
	}
	if err := n.rules.sync(ctx, time.Now()); err != nil {
		return
	}
	keep := map[string]bool{}
	for _, r := range n.rules.snapshot() {
		for _, t := range r.Targets {
			keep[consumerName(r.RuleName, r.CreatedAt, t.ID)] = true
		}
	}
	for _, name := range stale {
		if !keep[name] {
			n.deleteConsumer(name)
		}
	}
}

// runWorker consumes the target's notifications until ctx ends (bus.Consume
// makes its consumer again if it disappears). The delivery keeps its own
// attempts and dead-letters what they could not deliver, so the consumer
// delivers a notification again only after a crash or when storing the dead
// letter failed.
func (n *notifier) runWorker(ctx context.Context, w *worker) {
	h := bus.NewHandlers(n.tracer)
	bus.On(h, "", n.deliver)
	_ = bus.Consume(ctx, n.js, bus.ConsumerSpec{
		Stream: events.StreamNotify, Durable: w.name, Filters: []string{events.NotifySubject(w.rule, w.target)},
		AckWait: deliveryAckWait, MaxAckPending: n.cfg.Concurrency, Pull: n.cfg.Concurrency, Workers: n.cfg.Concurrency,
		MaxDeliver:  -1,
		Backoff:     func(int) time.Duration { return n.cfg.Backoff },
		Description: "notifier: deliveries to target " + w.target + " of rule " + w.rule,
		Metadata: map[string]string{metaRule: w.rule, metaTarget: w.target,
			metaCreated: strconv.FormatInt(w.created, 10)},
		Logger: n.log,
	}, h)
}

// eventJobID is the job an event is about ("" if none).
func eventJobID(event json.RawMessage) string {
	var ev struct {
		Detail struct {
			JobID string `json:"jobId"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(event, &ev)
	return ev.Detail.JobID
}

// errPermanent marks a failure that retrying cannot fix.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

// deliver delivers one notification with retries, then acknowledges it,
// or dead-letters it when every attempt failed.
func (n *notifier) deliver(ctx context.Context, note events.Notification, d *bus.Delivery) error {
	msg := d.Msg
	r, ok := n.rules.get(note.RuleName)
	var target batch.NotificationTarget
	if ok && r.CreatedAt == note.RuleCreatedAt {
		target, ok = r.Target(note.TargetID)
	} else {
		ok = false
	}
	if !ok {
		n.log.Debug("notifier: dropping a notification of a removed rule target", "rule", note.RuleName, "target", note.TargetID)
		return nil
	}
	attrs := []attribute.KeyValue{attribute.String("rule", note.RuleName), attribute.String("target", note.TargetID),
		attribute.String("type", target.Type)}
	// The delivery continues the trace of the event (the job's): the
	// notification message carries the monitor's context.
	pctx := bus.Extract(ctx, msg.Headers())
	sctx, span := n.tracer.Start(pctx, "notifier.deliver "+target.Type, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(append(attrs, attribute.String("messaging.message.id", note.MessageID),
			attribute.String("batch.event.subject", note.EventSubject), telemetry.JobID(eventJobID(note.Event)))...))
	defer span.End()

	// Tell the server the notification is being worked on while retries
	// wait, so it is not handed to another replica.
	working, stopWorking := context.WithCancel(sctx)
	defer stopWorking()
	go func() {
		keepAlive := time.NewTicker(deliveryAckWait / 3)
		defer keepAlive.Stop()
		for {
			select {
			case <-working.Done():
				return
			case <-keepAlive.C:
				_ = d.InProgress()
			}
		}
	}()

	attempt := 0
	var lastErr error
	op := func() error {
		attempt++
		actx, cancel := context.WithTimeout(sctx, n.cfg.Timeout)
		defer cancel()
		err := n.send(actx, target, note, attempt)
		if err == nil {
			return nil
		}
		lastErr = err
		var perm errPermanent
		if errors.As(err, &perm) {
			return backoff.Permanent(err)
		}
		return err
	}
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(n.cfg.Backoff), backoff.WithMaxInterval(n.cfg.MaxBackoff),
		backoff.WithMultiplier(2), backoff.WithRandomizationFactor(0.2), backoff.WithMaxElapsedTime(0))
	policy := backoff.WithContext(backoff.WithMaxRetries(b, uint64(n.cfg.Attempts-1)), sctx)
	err := backoff.RetryNotify(op, policy, func(err error, wait time.Duration) {
		n.metrics.retried.Add(sctx, 1, metricAttrs(attrs))
		span.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", attempt), attribute.String("error", err.Error()),
			attribute.String("wait", wait.String())))
		n.log.Info("notifier: delivery failed; retrying", "rule", note.RuleName, "target", note.TargetID,
			"messageId", note.MessageID, "attempt", attempt, "wait", wait, "err", err)
	})
	span.SetAttributes(attribute.Int("attempts", attempt))
	if err == nil {
		n.metrics.delivered.Add(sctx, 1, metricAttrs(attrs))
		// A lost ack redelivers the notification: at least once, same
		// MessageId.
		return nil
	}
	if ctx.Err() != nil {
		// Shutting down: another replica (or this one, restarted) takes it.
		return ctx.Err()
	}
	span.SetStatus(codes.Error, lastErr.Error())
	if err := n.deadLetter(sctx, d, note, target, attempt, lastErr); err != nil {
		n.log.Error("notifier: could not dead-letter a notification; it will be tried again", "messageId", note.MessageID, "err", err)
		return err
	}
	n.metrics.deadLettered.Add(sctx, 1, metricAttrs(attrs))
	n.log.Warn("notifier: notification dead-lettered", "rule", note.RuleName, "target", note.TargetID,
		"messageId", note.MessageID, "attempts", attempt, "err", lastErr)
	return nil
}

// deadLetter stores the notification on BATCH_DLQ. Its id is the
// notification's stream sequence, so a redelivered notification is
// dead-lettered once, and a replayed one (a new message) can be again.
func (n *notifier) deadLetter(ctx context.Context, d *bus.Delivery, note events.Notification, t batch.NotificationTarget, attempts int, cause error) error {
	note.ReplayOf = 0
	dl := events.DeadLetter{Notification: note, TargetType: t.Type, Endpoint: t.Endpoint, Attempts: attempts,
		LastError: cause.Error(), FailedAt: n.clock().UnixMilli(), NotificationSeq: d.StreamSeq}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := bus.Publish(pctx, n.js, dl)
	return err
}

// send makes one delivery attempt.
func (n *notifier) send(ctx context.Context, t batch.NotificationTarget, note events.Notification, attempt int) error {
	switch t.Type {
	case batch.TargetWebhook:
		return n.sendWebhook(ctx, t, note, attempt)
	case batch.TargetNATS:
		return n.sendNATS(ctx, t, note)
	}
	return errPermanent{fmt.Errorf("unknown target type %q", t.Type)}
}
