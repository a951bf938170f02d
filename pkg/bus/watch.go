package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WatchStallCheck is how often Watch compares what it has delivered with
// the bucket's last revision.
const WatchStallCheck = time.Second

// Watch follows every change of a bucket, like kv.WatchAll, and keeps
// following it when the NATS connection or the server holding the watch's
// consumer is lost. kv.WatchAll rests on an ordered consumer that notices
// its consumer is gone only after missed heartbeats (about 15 s); Watch
// instead starts the watch again, from the revision after the last one it
// delivered, as soon as nc reconnects, and when the bucket has moved past
// what it delivered without anything arriving for two checks
// (WatchStallCheck), which covers the loss of the cluster node that held
// the consumer while this client's server stayed up. Nothing is lost and
// nothing is delivered twice. The channel yields every entry, one nil once
// the bucket's values at the start are in (as kv.WatchAll does), and is
// closed when ctx ends.
func Watch(ctx context.Context, nc *nats.Conn, kv jetstream.KeyValue) <-chan jetstream.KeyValueEntry {
	out := make(chan jetstream.KeyValueEntry, 256)
	go func() {
		defer close(out)
		reconnected := nc.StatusChanged(nats.CONNECTED)
		defer nc.RemoveStatusListener(reconnected)
		var last, floor uint64 // last revision delivered; bucket's last at the (re)start
		loaded := false
		wait := 100 * time.Millisecond
		for ctx.Err() == nil {
			var opts []jetstream.WatchOpt
			if last > 0 {
				opts = append(opts, jetstream.IncludeHistory(), jetstream.ResumeFromRevision(last+1))
			}
			if seq, err := lastRevision(ctx, kv); err == nil {
				floor = seq
			}
			w, err := kv.WatchAll(ctx, opts...)
			if err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				wait = min(2*wait, 2*time.Second)
				continue
			}
			wait = 100 * time.Millisecond
			last = follow(ctx, w, out, reconnected, kv, last, floor, &loaded)
			_ = w.Stop()
		}
	}()
	return out
}

// follow delivers a watch's entries until ctx ends, nc reconnects, the
// watch ends or it stalls, and returns the last revision delivered.
func follow(ctx context.Context, w jetstream.KeyWatcher, out chan<- jetstream.KeyValueEntry, reconnected <-chan nats.Status,
	kv jetstream.KeyValue, last, floor uint64, loaded *bool) uint64 {
	tick := time.NewTicker(WatchStallCheck)
	defer tick.Stop()
	seen, stalls := last, 0
	for {
		select {
		case <-ctx.Done():
			return last
		case <-reconnected:
			return last
		case e, ok := <-w.Updates():
			if !ok {
				return last
			}
			if e == nil {
				if !*loaded {
					*loaded = true
					select {
					case out <- nil:
					case <-ctx.Done():
						return last
					}
				}
				continue
			}
			if e.Revision() <= last {
				continue // already delivered before a restart
			}
			select {
			case out <- e:
				last = e.Revision()
			case <-ctx.Done():
				return last
			}
		case <-tick.C:
			seq, err := lastRevision(ctx, kv)
			if err != nil || seq <= max(last, floor) || last != seen {
				seen, stalls = last, 0
				continue
			}
			if stalls++; stalls >= 2 {
				return last
			}
		}
	}
}

// lastRevision is the bucket's last revision.
func lastRevision(ctx context.Context, kv jetstream.KeyValue) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, jsAttemptTimeout)
	defer cancel()
	st, err := kv.Status(ctx)
	if err != nil {
		return 0, err
	}
	if b, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		return b.StreamInfo().State.LastSeq, nil
	}
	return 0, nil
}
