package notifier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/eventpattern"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// route consumes the events on BATCH_EVENTS (one durable consumer shared
// by the replicas) while notification rules exist, matches each against
// the rules and stores one notification per matching rule target on
// BATCH_NOTIFY, then acknowledges the event. It never waits for a
// delivery: each target has its own consumer of BATCH_NOTIFY (deliver.go).
//
// A rule applies to the events stored from its creation on, so while no
// rule exists no event can match, and the router does not consume at all
// (every event would cost a delivery and an acknowledgement for nothing):
// once the last rule is gone the consumer is deleted, and when a rule
// exists and the consumer does not, it is made starting at the creation of
// the earliest rule, so the events stored between a rule's creation and
// the consumer's are delivered too. A consumer that exists is used as it
// is (a restart goes on where the last replica stopped). If a replica that
// saw the last rule go deletes the consumer just as another one made it
// for a new rule, the consumer is made again from that rule's creation:
// events seen twice give notifications of the same MessageId, which
// BATCH_NOTIFY's de-duplication window stores once.
func (n *notifier) route(ctx context.Context) error {
	if _, ok := n.rules.earliest(); !ok {
		// The consumer left by a run that had rules (or by an earlier
		// build, which consumed without them) is not needed.
		if err := n.dropRouterConsumer(ctx); err != nil {
			n.log.Warn("notifier: delete the router's consumer", "err", err)
		}
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		if n.rules.await(ctx, true) != nil {
			return nil
		}
		err := n.routeWhileRules(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			wait = 100 * time.Millisecond
			continue
		}
		n.log.Warn("notifier: routing events stopped; starting again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// routerSpec is the router's consumer of BATCH_EVENTS.
func (n *notifier) routerSpec() bus.ConsumerSpec {
	return bus.ConsumerSpec{
		Stream: events.StreamEvents, Durable: n.cfg.Consumer, Filters: []string{events.SubjectEventsAll},
		Description: "notifier: matches events against notification rules", MaxDeliver: -1,
		Backoff: func(int) time.Duration { return time.Second }, Logger: n.log, Bind: true,
	}
}

// routeWhileRules consumes the events until ctx ends, the consumer is
// gone (nil: route makes it again) or no rule is left (nil, the consumer
// deleted).
func (n *notifier) routeWhileRules(ctx context.Context) error {
	spec := n.routerSpec()
	if made, err := n.makeRouterConsumer(ctx, spec); err != nil || !made {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	noRules := make(chan bool, 1)
	go func() { noRules <- n.rules.await(rctx, false) == nil; cancel() }()
	h := bus.NewHandlers(n.tracer)
	bus.OnAny(h, "", func(ctx context.Context, d *bus.Delivery) error { return n.routeOne(ctx, d) })
	err := bus.Consume(rctx, n.js, spec, h)
	cancel()
	if <-noRules && ctx.Err() == nil {
		return n.dropRouterConsumer(ctx)
	}
	if errors.Is(err, bus.ErrConsumerGone) {
		return nil
	}
	return err
}

// makeRouterConsumer makes the router's consumer unless it exists,
// starting at the creation of the earliest rule; false: there is no rule
// (any more).
func (n *notifier) makeRouterConsumer(ctx context.Context, spec bus.ConsumerSpec) (bool, error) {
	if _, err := n.js.Consumer(ctx, spec.Stream, spec.Durable); err == nil {
		return true, nil
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false, fmt.Errorf("consumer %s: %w", spec.Durable, err)
	}
	first, ok := n.rules.earliest()
	if !ok {
		return false, nil
	}
	cfg := spec.Config()
	start := time.UnixMilli(first)
	cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	_, err := n.js.CreateConsumer(ctx, spec.Stream, cfg)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerExists) { // else another replica made it
		return false, fmt.Errorf("make consumer %s: %w", spec.Durable, err)
	}
	return true, nil
}

// dropRouterConsumer deletes the router's consumer once no rule exists
// (read again from the bucket, so a rule created meanwhile keeps it).
func (n *notifier) dropRouterConsumer(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.rules.sync(sctx, time.Now()); err != nil {
		return err
	}
	if _, ok := n.rules.earliest(); ok {
		return nil
	}
	err := n.js.DeleteConsumer(sctx, events.StreamEvents, n.cfg.Consumer)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", n.cfg.Consumer, err)
	}
	return nil
}

// routeOne stores the notifications of one event. A rule applies to the
// events stored after it was created.
func (n *notifier) routeOne(ctx context.Context, d *bus.Delivery) error {
	msg := d.Msg
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := n.rules.sync(sctx, d.Timestamp)
	cancel()
	if err != nil {
		return err
	}
	rules := n.rules.snapshot()
	if len(rules) == 0 {
		return nil
	}
	ev, err := eventpattern.Decode(msg.Data())
	if err != nil {
		n.log.Warn("notifier: skipping an undecodable event", "subject", msg.Subject(), "err", err)
		return nil
	}
	eventID := msg.Headers().Get(jetstream.MsgIDHeader)
	if eventID == "" {
		eventID = "seq/" + strconv.FormatUint(d.StreamSeq, 10)
	}
	typ := msg.Headers().Get(events.HeaderType)
	// The notification carries the event's trace context, so each
	// delivery span is a child of the event's producer.
	tctx := bus.Extract(ctx, msg.Headers())
	var futures []jetstream.PubAckFuture
	for _, r := range rules {
		if r.State == batch.RuleDisabled || d.Timestamp.UnixMilli() < r.CreatedAt || !r.pattern.Match(ev) {
			continue
		}
		for _, t := range r.Targets {
			note := events.Notification{
				MessageID: MessageID(eventID, r.RuleName, r.CreatedAt, t.ID), RuleName: r.RuleName,
				RuleCreatedAt: r.CreatedAt, TargetID: t.ID, EventSubject: msg.Subject(), EventSeq: d.StreamSeq,
				EventType: typ, Event: msg.Data(), Time: d.Timestamp.UnixMilli(),
			}
			f, err := bus.PublishAsync(tctx, n.js, note)
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("store notification: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return errors.New("store notification: no acknowledgement in 30s")
		}
	}
	return nil
}

// MessageID is the id of the notification of one event to one target of
// one rule: a UUID derived from them, the same on every retry,
// redelivery and replay, so a receiver can drop duplicates by it.
func MessageID(eventID, rule string, ruleCreatedAt int64, target string) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + rule + "\x00" + strconv.FormatInt(ruleCreatedAt, 10) + "\x00" + target))
	h[6] = h[6]&0x0f | 0x80 // version 8: custom
	h[8] = h[8]&0x3f | 0x80 // RFC 9562 variant
	s := hex.EncodeToString(h[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}
