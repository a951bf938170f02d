package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

const failedPattern = `{"detail-type":["Batch Job State Change"],"source":["aws.batch"],"detail":{"status":["FAILED"],"jobQueue":[{"suffix":"/prod"}]}}`

// A rule delivers the events its pattern matches, and only those, as SNS
// HTTP notifications signed with the target's secret.
func TestWebhookMatchesAndSigns(t *testing.T) {
	e := start(t, fastConfig())
	h := newHook(t, nil)
	count := countsSince(t, "failures")
	r := e.putRule("failures", failedPattern, webhook("ops", h.URL, "s3cret"))
	ctx := t.Context()
	e.announce(ctx, job("j1", "prod", batch.StatusSucceeded)) // wrong status
	e.announce(ctx, job("j2", "dev", batch.StatusFailed))     // wrong queue
	id := e.announce(ctx, job("j3", "prod", batch.StatusFailed))

	got := h.next(t)
	if got.event.Detail.JobID != "j3" || got.event.Detail.Status != batch.StatusFailed || got.event.ID != id {
		t.Fatalf("delivered %s/%s (id %s), want j3 FAILED (id %s)", got.event.Detail.JobID, got.event.Detail.Status, got.event.ID, id)
	}
	n := got.note
	if n.Type != "Notification" || n.TopicArn != r.RuleArn || !strings.HasPrefix(n.Subject, "Batch Job State Change: name-j3 FAILED") {
		t.Fatalf("SNS fields: %+v", n)
	}
	if want := MessageID(id, "failures", r.CreatedAt, "ops"); n.MessageID != want || got.header.Get("x-amz-sns-message-id") != want {
		t.Fatalf("MessageId %q (header %q), want %q", n.MessageID, got.header.Get("x-amz-sns-message-id"), want)
	}
	if _, err := time.Parse(time.RFC3339, n.Timestamp); err != nil {
		t.Fatalf("Timestamp %q: %v", n.Timestamp, err)
	}
	sig := got.header.Get(HeaderSignature)
	if !Verify("s3cret", got.body, sig) {
		t.Fatalf("signature %q does not verify", sig)
	}
	if Verify("other", got.body, sig) || Verify("s3cret", append(got.body, ' '), sig) {
		t.Fatal("signature verifies with a wrong secret or body")
	}
	if got.header.Get("x-amz-sns-message-type") != "Notification" || got.header.Get(HeaderAttempt) != "1" {
		t.Fatalf("headers: %v", got.header)
	}
	// The non-matching events came first: had they matched, they would
	// have arrived before j3 (one target's notifications are in order).
	time.Sleep(100 * time.Millisecond)
	h.none(t)
	eventually(t, "delivered counter", func() error {
		if d := count("batchd.notifications.delivered"); d != 1 {
			return errf("delivered = %d", d)
		}
		return nil
	})
}

// A NATS target gets the event JSON on its subject, with the MessageId.
func TestNATSTarget(t *testing.T) {
	e := start(t, fastConfig())
	sub, err := e.nc.SubscribeSync("alerts.jobs")
	if err != nil {
		t.Fatal(err)
	}
	e.putRule("to-nats", `{"detail":{"jobQueueName":["q1"]}}`,
		batch.NotificationTarget{ID: "bus", Type: batch.TargetNATS, Endpoint: "alerts.jobs"})
	ctx := t.Context()
	var ids []string
	for _, st := range []batch.JobStatus{batch.StatusSubmitted, batch.StatusRunnable, batch.StatusStarting} {
		ids = append(ids, e.announce(ctx, job("n1", "q1", st)))
	}
	for i, st := range []batch.JobStatus{batch.StatusSubmitted, batch.StatusRunnable, batch.StatusStarting} {
		m, err := sub.NextMsg(20 * time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		var ev events.JobStateChange
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Detail.Status != st || ev.ID != ids[i] {
			t.Fatalf("event %d: %s %s, want %s %s", i, ev.ID, ev.Detail.Status, ids[i], st)
		}
		if m.Header.Get(HeaderMessageID) == "" || m.Header.Get(events.HeaderType) != events.TypeJobStateChange || m.Header.Get(HeaderRule) != "to-nats" {
			t.Fatalf("headers %v", m.Header)
		}
	}
}

// A NATS target whose subject a JetStream stream captures is stored once
// per MessageId.
func TestNATSTargetIntoStream(t *testing.T) {
	e := start(t, fastConfig())
	if _, err := e.js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "ALERTS", Subjects: []string{"alerts.>"}}); err != nil {
		t.Fatal(err)
	}
	e.putRule("to-stream", `{"source":["aws.batch"]}`,
		batch.NotificationTarget{ID: "s", Type: batch.TargetNATS, Endpoint: "alerts.batch"})
	e.announce(t.Context(), job("s1", "q", batch.StatusSubmitted))
	eventually(t, "stored in ALERTS", func() error {
		st, err := e.js.Stream(t.Context(), "ALERTS")
		if err != nil {
			return err
		}
		if info, _ := st.Info(t.Context()); info.State.Msgs != 1 {
			return errf("ALERTS holds %d messages", info.State.Msgs)
		}
		return nil
	})
}

// Failed attempts are retried with backoff; every attempt carries the
// same body, MessageId and signature.
func TestRetryThenSuccess(t *testing.T) {
	cfg := fastConfig()
	cfg.Attempts = 5
	e := start(t, cfg)
	h := newHook(t, func(_ hookRequest, n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	count := countsSince(t, "retry")
	e.putRule("retry", `{"source":["aws.batch"]}`, webhook("w", h.URL, "k"))
	e.announce(t.Context(), job("r1", "q", batch.StatusFailed))
	a, b, c := h.next(t), h.next(t), h.next(t)
	if string(a.body) != string(b.body) || string(b.body) != string(c.body) || a.header.Get(HeaderSignature) != c.header.Get(HeaderSignature) {
		t.Fatalf("attempts differ:\n%s\n%s\n%s", a.body, b.body, c.body)
	}
	for i, r := range []hookRequest{a, b, c} {
		if got := r.header.Get(HeaderAttempt); got != string(rune('1'+i)) {
			t.Fatalf("attempt header %q, want %d", got, i+1)
		}
	}
	eventually(t, "counters", func() error {
		if d, r := count("batchd.notifications.delivered"), count("batchd.notifications.retried"); d != 1 || r != 2 {
			return errf("delivered %d retried %d, want 1 and 2", d, r)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	h.none(t)
	if len(e.deadLetters()) != 0 {
		t.Fatal("a delivered notification was dead-lettered")
	}
}

// After the configured attempts a notification goes to the dead-letter
// stream, and the target goes on with the next one. A 4xx answer is not
// retried.
func TestDeadLetter(t *testing.T) {
	e := start(t, fastConfig()) // 3 attempts
	var mu sync.Mutex
	fail := map[string]int{"d1": http.StatusInternalServerError, "d2": http.StatusBadRequest}
	h := newHook(t, func(r hookRequest, _ int) int {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := fail[r.event.Detail.JobID]; ok {
			return s
		}
		return http.StatusOK
	})
	count := countsSince(t, "dead")
	r := e.putRule("dead", `{"source":["aws.batch"]}`, webhook("w", h.URL, "k"))
	ctx := t.Context()
	id1 := e.announce(ctx, job("d1", "q", batch.StatusFailed))
	e.announce(ctx, job("d2", "q", batch.StatusFailed))
	e.announce(ctx, job("d3", "q", batch.StatusFailed))
	var order []string
	for range 5 { // 3 attempts of d1, 1 of d2, 1 of d3
		order = append(order, h.next(t).event.Detail.JobID)
	}
	if want := []string{"d1", "d1", "d1", "d2", "d3"}; !slices.Equal(order, want) {
		t.Fatalf("deliveries %v, want %v", order, want)
	}
	var dls []events.DeadLetter
	eventually(t, "two dead letters", func() error {
		if dls = e.deadLetters(); len(dls) != 2 {
			return errf("%d dead letters", len(dls))
		}
		return nil
	})
	d := dls[0]
	if d.MessageID != MessageID(id1, "dead", r.CreatedAt, "w") || d.RuleName != "dead" || d.TargetID != "w" ||
		d.Attempts != 3 || !strings.Contains(d.LastError, "500") || d.Endpoint != h.URL || d.TargetType != batch.TargetWebhook {
		t.Fatalf("dead letter %+v", d)
	}
	var ev events.JobStateChange
	if err := json.Unmarshal(d.Event, &ev); err != nil || ev.Detail.JobID != "d1" {
		t.Fatalf("dead letter event %s: %v", d.Event, err)
	}
	if dls[1].Attempts != 1 || !strings.Contains(dls[1].LastError, "400") {
		t.Fatalf("a 400 answer: %+v", dls[1])
	}
	eventually(t, "counters", func() error {
		dl, rt, dv := count("batchd.notifications.dead_lettered"), count("batchd.notifications.retried"),
			count("batchd.notifications.delivered")
		if dl != 2 || rt != 2 || dv != 1 {
			return errf("dead-lettered %d retried %d delivered %d, want 2, 2, 1", dl, rt, dv)
		}
		return nil
	})

	// Replay (what ReplayDeadLetters does): the notification again, same
	// MessageId, under a new message id. The endpoint works now.
	mu.Lock()
	delete(fail, "d1")
	mu.Unlock()
	if _, err := bus.Publish(ctx, e.js, bus.WithMsgID(d.Notification, "replay/1")); err != nil {
		t.Fatal(err)
	}
	got := h.next(t)
	if got.note.MessageID != d.MessageID || got.event.Detail.JobID != "d1" {
		t.Fatalf("replayed %s %s", got.note.MessageID, got.event.Detail.JobID)
	}
}

// A slow endpoint delays neither another rule nor another target of the
// same rule: while the slow one holds its first notification, the others
// receive everything.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	cfg := fastConfig()
	cfg.Timeout = 2 * time.Minute // the slow endpoint answers when the test says, never times out
	e := start(t, cfg)
	release := make(chan struct{})
	slow := newHook(t, func(hookRequest, int) int { <-release; return http.StatusOK })
	fast := newHook(t, nil)
	fast2 := newHook(t, nil)
	t.Cleanup(func() { closeOnce(release) })
	e.putRule("slow-rule", `{"source":["aws.batch"]}`, webhook("slow", slow.URL, "k"), webhook("fast2", fast2.URL, "k"))
	e.putRule("fast-rule", `{"source":["aws.batch"]}`, webhook("fast", fast.URL, "k"))
	ctx := t.Context()
	for i := range 5 {
		e.announce(ctx, job("s"+string(rune('0'+i)), "q", batch.StatusFailed))
	}
	// The slow endpoint holds its first notification until released.
	if got := slow.next(t).event.Detail.JobID; got != "s0" {
		t.Fatalf("slow endpoint got %s first, want s0", got)
	}
	for i := range 5 {
		want := "s" + string(rune('0'+i))
		if got := fast.next(t).event.Detail.JobID; got != want {
			t.Fatalf("fast rule got %s, want %s", got, want)
		}
		if got := fast2.next(t).event.Detail.JobID; got != want {
			t.Fatalf("the other target of the slow rule got %s, want %s", got, want)
		}
	}
	if n := slow.count(); n != 1 {
		t.Fatalf("the slow endpoint has %d requests while holding the first, want 1", n)
	}
	closeOnce(release)
	for i := 1; i < 5; i++ {
		want := "s" + string(rune('0'+i))
		if got := slow.next(t).event.Detail.JobID; got != want {
			t.Fatalf("slow endpoint got %s, want %s", got, want)
		}
	}
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// A job's notifications reach a target in the order of its events, each
// event once.
func TestOrderPerJob(t *testing.T) {
	e := start(t, fastConfig())
	sub, err := e.nc.SubscribeSync("ordered.events")
	if err != nil {
		t.Fatal(err)
	}
	e.putRule("order", `{"source":["aws.batch"]}`, batch.NotificationTarget{ID: "n", Type: batch.TargetNATS, Endpoint: "ordered.events"})
	statuses := []batch.JobStatus{batch.StatusSubmitted, batch.StatusPending, batch.StatusRunnable, batch.StatusStarting, batch.StatusRunning, batch.StatusSucceeded}
	ctx := t.Context()
	const jobs = 20
	for _, st := range statuses {
		for j := range jobs {
			e.announce(ctx, job("o"+itoa(j), "q", st))
		}
	}
	seen := map[string][]batch.JobStatus{}
	for range jobs * len(statuses) {
		m, err := sub.NextMsg(20 * time.Second)
		if err != nil {
			t.Fatalf("after %d events: %v", len(seen), err)
		}
		var ev events.JobStateChange
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		seen[ev.Detail.JobID] = append(seen[ev.Detail.JobID], ev.Detail.Status)
	}
	for j := range jobs {
		if got := seen["o"+itoa(j)]; !slices.Equal(got, statuses) {
			t.Fatalf("job o%d: %v, want %v", j, got, statuses)
		}
	}
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("extra delivery %s", m.Data)
	}
}

// Two replicas share the work: every event is delivered, once per
// MessageId.
func TestTwoReplicas(t *testing.T) {
	e := start(t, fastConfig())
	e.replica(fastConfig())
	h := newHook(t, nil)
	e.putRule("shared", `{"source":["aws.batch"]}`, webhook("w", h.URL, "k"))
	const n = 30
	for i := range n {
		e.announce(t.Context(), job("p"+itoa(i), "q", batch.StatusFailed))
	}
	ids := map[string]bool{}
	for range n {
		ids[h.next(t).note.MessageID] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct MessageIds, want %d", len(ids), n)
	}
	time.Sleep(300 * time.Millisecond)
	h.none(t)
}

// A rule applies to events stored after it was created; a deleted rule
// stops delivering and its consumer goes away.
func TestRuleLifecycle(t *testing.T) {
	e := start(t, fastConfig())
	h := newHook(t, nil)
	e.announce(t.Context(), job("before", "q", batch.StatusFailed))
	time.Sleep(20 * time.Millisecond)
	r := e.putRule("life", `{"source":["aws.batch"]}`, webhook("w", h.URL, "k"))
	e.announce(t.Context(), job("after", "q", batch.StatusFailed))
	if got := h.next(t).event.Detail.JobID; got != "after" {
		t.Fatalf("delivered %s, want only the event after the rule", got)
	}
	name := consumerName("life", r.CreatedAt, "w")
	if _, err := e.js.Consumer(t.Context(), events.StreamNotify, name); err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	if err := e.kv.Delete(t.Context(), "life"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "consumer deleted", func() error {
		if _, err := e.js.Consumer(t.Context(), events.StreamNotify, name); err == nil {
			return errf("consumer %s still there", name)
		}
		return nil
	})
	e.announce(t.Context(), job("deleted", "q", batch.StatusFailed))
	time.Sleep(300 * time.Millisecond)
	h.none(t)
}

// Each delivery is a span whose parent is the trace context of the
// event's message, and the webhook request continues that trace.
func TestDeliverySpanParent(t *testing.T) {
	e := start(t, fastConfig())
	h := newHook(t, nil)
	e.putRule("traced", `{"source":["aws.batch"]}`, webhook("w", h.URL, "k"))
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(t.Context(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	e.announce(ctx, job("t1", "q", batch.StatusFailed))
	got := h.next(t)
	if tp := got.header.Get("traceparent"); !strings.Contains(tp, tid.String()) {
		t.Fatalf("webhook traceparent %q, want trace %s", tp, tid)
	}
	eventually(t, "delivery span", func() error {
		for _, s := range spans.Ended() {
			if s.Name() == "notifier.deliver WEBHOOK" && s.SpanContext().TraceID() == tid {
				if s.Parent().SpanID() != sid {
					return errf("parent %s, want %s", s.Parent().SpanID(), sid)
				}
				return nil
			}
		}
		return errf("no span")
	})
}

// MessageID is a stable UUID per event, rule incarnation and target.
func TestMessageID(t *testing.T) {
	a := MessageID("j/1/FAILED", "r", 1, "t")
	if a != MessageID("j/1/FAILED", "r", 1, "t") {
		t.Fatal("not stable")
	}
	for _, b := range []string{MessageID("j/1/FAILED", "r", 2, "t"), MessageID("j/1/FAILED", "r", 1, "u"), MessageID("j/2/FAILED", "r", 1, "t")} {
		if a == b {
			t.Fatal("collision")
		}
	}
	if len(a) != 36 || a[8] != '-' || a[14] != '8' {
		t.Fatalf("not a version 8 UUID: %s", a)
	}
}

// The notification message carries the event's trace context.
func TestNotificationHeaders(t *testing.T) {
	e := start(t, fastConfig())
	e.putRule("hdr", `{"source":["aws.batch"]}`, batch.NotificationTarget{ID: "x", Type: batch.TargetNATS, Endpoint: "hdr.x"})
	sub, _ := e.nc.SubscribeSync(events.NotifySubject("hdr", "x"))
	tid, _ := trace.TraceIDFromHex("1af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("c7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	e.announce(ctx, job("h1", "q", batch.StatusFailed))
	m, err := sub.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tp := m.Header.Get("traceparent"); !strings.Contains(tp, tid.String()+"-"+sid.String()) {
		t.Fatalf("notification traceparent %q", tp)
	}
	if m.Header.Get(jetstream.MsgIDHeader) == "" || m.Header.Get(events.HeaderType) != events.TypeNotification {
		t.Fatalf("headers %v", nats.Header(m.Header))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// Without rules the router does not consume the events (no consumer
// exists); the first rule makes it from the rule's creation, so an event
// right after CreateNotificationRule is delivered and one before it is
// not; the last rule's deletion deletes it again.
func TestRouterConsumesOnlyWithRules(t *testing.T) {
	e := start(t, fastConfig())
	h := newHook(t, nil)
	routerExists := func(want bool) func() error {
		return func() error {
			_, err := e.js.Consumer(t.Context(), events.StreamEvents, e.cfg.Consumer)
			if got := err == nil; got != want {
				return errf("router consumer exists: %v, want %v (%v)", got, want, err)
			}
			return nil
		}
	}
	// The next rule's creation must come after the last event (both in
	// milliseconds), or that event would be its first.
	pastLastEvent := func() {
		t.Helper()
		last := time.Now().UnixMilli()
		deadline := time.Now().Add(time.Second)
		for time.Now().UnixMilli() <= last {
			if time.Now().After(deadline) {
				t.Fatal("the clock did not move")
			}
			runtime.Gosched()
		}
	}
	e.announce(t.Context(), job("norule", "q", batch.StatusFailed))
	if err := routerExists(false)(); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		pastLastEvent()
		name := "r" + itoa(round)
		e.putRule(name, `{"source":["aws.batch"]}`, webhook("w", h.URL, "k"))
		after := "after" + itoa(round)
		e.announce(t.Context(), job(after, "q", batch.StatusFailed))
		// The events before the rule (norule, the last round's gone) were
		// not delivered: they would have come first.
		if got := h.next(t).event.Detail.JobID; got != after {
			t.Fatalf("round %d: delivered %s, want %s", round, got, after)
		}
		if round == 2 {
			break // the last round only shows that gone1 was not delivered
		}
		eventually(t, "router consumer made", routerExists(true))
		if err := e.kv.Delete(t.Context(), name); err != nil {
			t.Fatal(err)
		}
		eventually(t, "router consumer deleted", routerExists(false))
		e.announce(t.Context(), job("gone"+itoa(round), "q", batch.StatusFailed))
	}
	h.none(t)
}
