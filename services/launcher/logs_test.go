package launcher

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Lines whose store was not confirmed are stored once each, in order:
// the one that was stored after all is not stored again.
func TestSettleLogsStoresLinesInDoubtOnce(t *testing.T) {
	r := newRig(t)
	l := &launcher{js: r.js, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subject := events.LogSubject("job-1", 1)
	line := func(n, text string) *nats.Msg {
		m := nats.NewMsg(subject)
		m.Data = []byte(text)
		m.Header.Set(events.HeaderLine, "tok."+n)
		return m
	}
	confirmed, storedUnconfirmed := line("1", "one"), line("2", "two")
	f, err := r.js.PublishMsgAsync(confirmed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.js.PublishMsg(ctx, storedUnconfirmed); err != nil {
		t.Fatal(err)
	}
	// Lines 2-4 are in doubt (no future): 2 was stored, 3 and 4 not.
	w := logWindow{since: time.Now(),
		msgs:    []*nats.Msg{confirmed, storedUnconfirmed, line("3", "three"), line("4", "four")},
		futures: []jetstream.PubAckFuture{f, nil, nil, nil}}
	if err := l.settleLogs(ctx, subject, &w); err != nil {
		t.Fatal(err)
	}
	var got []string
	cons, err := r.js.OrderedConsumer(ctx, events.StreamLogs, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		got = append(got, string(m.Data()))
	}
	want := []string{"one", "two", "three", "four"}
	if len(got) != len(want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stored %q, want %q", got, want)
		}
	}
}
