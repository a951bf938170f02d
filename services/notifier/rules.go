package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/eventpattern"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rule is a stored rule with its compiled pattern.
type rule struct {
	batch.NotificationRule
	pattern *eventpattern.Pattern
}

// ruleCache mirrors the rules bucket. It knows the bucket revision it has
// applied, so the router can wait until it holds every rule stored before
// an event (sync).
type ruleCache struct {
	nc     *nats.Conn
	kv     jetstream.KeyValue
	stream jetstream.Stream
	log    *slog.Logger

	mu       sync.Mutex
	changed  *sync.Cond
	rules    map[string]*rule
	rev      uint64    // highest bucket sequence applied
	syncedAt time.Time // every rule stored before this time is in rules
}

// newRuleCache opens the rules bucket.
func newRuleCache(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*ruleCache, error) {
	kv, err := js.KeyValue(ctx, events.BucketRules)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", events.BucketRules, err)
	}
	st, err := js.Stream(ctx, "KV_"+events.BucketRules)
	if err != nil {
		return nil, fmt.Errorf("open the stream of bucket %s: %w", events.BucketRules, err)
	}
	c := &ruleCache{nc: js.Conn(), kv: kv, stream: st, log: log, rules: map[string]*rule{}}
	c.changed = sync.NewCond(&c.mu)
	return c, nil
}

// watch loads the rules and follows the bucket; it returns once the
// rules are loaded. onChange runs (in the watch goroutine) after the
// initial load and after every change.
func (c *ruleCache) watch(ctx context.Context, wg *sync.WaitGroup, onChange func()) error {
	// bus.Watch survives reconnects and the loss of a cluster node.
	w := bus.Watch(ctx, c.nc, c.kv)
	loaded := make(chan struct{})
	wg.Go(func() {
		initial := true
		for e := range w {
			if e == nil {
				if initial {
					initial = false
					close(loaded)
					onChange()
				}
				continue
			}
			c.apply(e)
			if !initial {
				onChange()
			}
		}
	})
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *ruleCache) apply(e jetstream.KeyValueEntry) {
	var r *rule
	if e.Operation() == jetstream.KeyValuePut {
		var nr batch.NotificationRule
		if err := json.Unmarshal(e.Value(), &nr); err != nil {
			c.log.Warn("notifier: skipping undecodable rule", "key", e.Key(), "err", err)
		} else if p, err := eventpattern.Compile(nr.EventPattern); err != nil {
			c.log.Warn("notifier: skipping rule with a bad pattern", "rule", nr.RuleName, "err", err)
		} else {
			r = &rule{NotificationRule: nr, pattern: p}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == nil {
		delete(c.rules, e.Key())
	} else {
		c.rules[e.Key()] = r
	}
	c.rev = max(c.rev, e.Revision())
	c.changed.Broadcast()
}

// snapshot returns the rules sorted by name.
func (c *ruleCache) snapshot() []*rule {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*rule, 0, len(c.rules))
	for _, r := range c.rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RuleName < out[j].RuleName })
	return out
}

// earliest returns the creation time of the earliest rule (false: there
// is none).
func (c *ruleCache) earliest() (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first, ok := int64(0), false
	for _, r := range c.rules {
		if !ok || r.CreatedAt < first {
			first, ok = r.CreatedAt, true
		}
	}
	return first, ok
}

// await returns once the cache holds some rules (some) or none (!some), or
// ctx's error when it ends first.
func (c *ruleCache) await(ctx context.Context, some bool) error {
	stop := context.AfterFunc(ctx, func() { c.mu.Lock(); c.changed.Broadcast(); c.mu.Unlock() })
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for (len(c.rules) > 0) != some {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.changed.Wait()
	}
	return nil
}

// get returns the rule named name.
func (c *ruleCache) get(name string) (*rule, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rules[name]
	return r, ok
}

// syncBatch is how much later than an event a rules sync reads the
// bucket's state, so that it covers the events stored meanwhile as well.
const syncBatch = 20 * time.Millisecond

// sync makes sure the cache holds every rule stored before t: unless a
// sync after t was done already, it reads the bucket's last sequence and
// waits for the watch to apply it.
func (c *ruleCache) sync(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	done := !t.After(c.syncedAt)
	c.mu.Unlock()
	if done {
		return nil
	}
	// Reading the bucket's state costs a request to the server: one sync
	// covers the events stored within syncBatch after t too, so a steady
	// flow of events costs a few syncs a second, not one an event.
	if wait := time.Until(t.Add(syncBatch)); wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(wait, syncBatch)):
		}
	}
	start := time.Now()
	info, err := c.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the rules bucket state: %w", err)
	}
	last := info.State.LastSeq
	stop := context.AfterFunc(ctx, func() { c.mu.Lock(); c.changed.Broadcast(); c.mu.Unlock() })
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.rev < last {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.changed.Wait()
	}
	if start.After(c.syncedAt) {
		c.syncedAt = start
	}
	return nil
}
