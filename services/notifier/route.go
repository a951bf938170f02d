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

// route consumes every event on BATCH_EVENTS (one durable consumer shared
// by the replicas), matches it against the rules and stores one
// notification per matching rule target on BATCH_NOTIFY, then acknowledges
// the event. It never waits for a delivery: each target has its own
// consumer of BATCH_NOTIFY (deliver.go).
func (n *notifier) route(ctx context.Context) error {
	h := bus.NewHandlers(n.tracer)
	bus.OnAny(h, "", func(ctx context.Context, d *bus.Delivery) error { return n.routeOne(ctx, d) })
	return bus.Consume(ctx, n.js, bus.ConsumerSpec{
		Stream: events.StreamEvents, Durable: n.cfg.Consumer, Filters: []string{events.SubjectEventsAll},
		Description: "notifier: matches events against notification rules", MaxDeliver: -1,
		Backoff: func(int) time.Duration { return time.Second }, Logger: n.log,
	}, h)
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
