package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNotFound says a key is not in a bucket.
var errNotFound = errors.New("not found")

// errUnchanged, returned by an update's change function, leaves the value
// as it is (update returns it unchanged).
var errUnchanged = errors.New("unchanged")

// maxCASAttempts bounds the compare-and-set retries of one update.
const maxCASAttempts = 100

// kvCache mirrors a small key-value bucket (compute environments, queues,
// job definitions) in memory. A KV watch keeps it current; writes made
// through it are applied at once, so a replica reads its own writes; a key
// missing from the mirror is read from the bucket, so a replica also sees
// what another replica has just created. Values are shared: never modify a
// value returned by the cache.
type kvCache[T any] struct {
	kv    jetstream.KeyValue
	mu    sync.RWMutex
	items map[string]cacheItem[T]
	ready chan struct{}
	// onChange, when set, runs under the write lock after a key changes;
	// v is nil when the key was deleted.
	onChange func(key string, v *T)
}

type cacheItem[T any] struct {
	rev uint64
	v   *T // nil: deleted (kept so that an older update is not applied)
}

func newKVCache[T any](kv jetstream.KeyValue) *kvCache[T] {
	return &kvCache[T]{kv: kv, items: map[string]cacheItem[T]{}, ready: make(chan struct{})}
}

// apply stores a value (nil: a deletion) unless the cache holds a newer one.
func (c *kvCache[T]) apply(key string, rev uint64, v *T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.items[key]; ok && cur.rev >= rev {
		return
	}
	c.items[key] = cacheItem[T]{rev: rev, v: v}
	if c.onChange != nil {
		c.onChange(key, v)
	}
}

// watch starts mirroring the bucket; ready is closed once the initial
// values are in. The goroutine ends when ctx is done.
func (c *kvCache[T]) watch(ctx context.Context, nc *nats.Conn, wg *sync.WaitGroup, log *slog.Logger) error {
	return watchBucket(ctx, nc, c.kv, wg, log, func() { close(c.ready) }, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			c.apply(e.Key(), e.Revision(), nil)
			return
		}
		v := new(T)
		if err := json.Unmarshal(e.Value(), v); err != nil {
			log.Warn("skipping undecodable entry", "bucket", c.kv.Bucket(), "key", e.Key(), "err", err)
			return
		}
		c.apply(e.Key(), e.Revision(), v)
	})
}

// watchBucket follows every change of kv in a goroutine until ctx is done:
// loaded is called once the initial values are in, change for each entry.
// The watch survives reconnects and the loss of a cluster node (bus.Watch).
func watchBucket(ctx context.Context, nc *nats.Conn, kv jetstream.KeyValue, wg *sync.WaitGroup, _ *slog.Logger, loaded func(), change func(jetstream.KeyValueEntry)) error {
	w := bus.Watch(ctx, nc, kv)
	wg.Go(func() {
		var once sync.Once
		for e := range w {
			if e == nil {
				once.Do(loaded)
			} else {
				change(e)
			}
		}
	})
	return nil
}

// waitReady waits for the initial values of the watch.
func (c *kvCache[T]) waitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("load bucket %s: %w", c.kv.Bucket(), ctx.Err())
	}
}

// read reads key from the bucket, bypassing the cache; errNotFound when
// it does not exist.
func (c *kvCache[T]) read(ctx context.Context, key string) (*T, uint64, error) {
	v := new(T)
	rev, err := bus.GetJSON(ctx, c.kv, key, v)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey):
		return nil, 0, errNotFound
	case err != nil:
		return nil, 0, fmt.Errorf("read %s/%s: %w", c.kv.Bucket(), key, err)
	}
	return v, rev, nil
}

// get returns the cached value of key.
func (c *kvCache[T]) get(key string) (*T, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	it, ok := c.items[key]
	if !ok || it.v == nil {
		return nil, false
	}
	return it.v, true
}

// load returns the value of key from the cache or, when missing there,
// from the bucket; errNotFound when it exists in neither.
func (c *kvCache[T]) load(ctx context.Context, key string) (*T, error) {
	if v, ok := c.get(key); ok {
		return v, nil
	}
	v, rev, err := c.read(ctx, key)
	if err != nil {
		return nil, err
	}
	c.apply(key, rev, v)
	return v, nil
}

// entry is a cached key and value.
type entry[T any] struct {
	key string
	v   *T
}

// list returns the cached values sorted by key.
func (c *kvCache[T]) list() []entry[T] {
	c.mu.RLock()
	out := make([]entry[T], 0, len(c.items))
	for k, it := range c.items {
		if it.v != nil {
			out = append(out, entry[T]{k, it.v})
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b entry[T]) int { return strings.Compare(a.key, b.key) })
	return out
}

// create stores a new key; created is false when the key already exists.
func (c *kvCache[T]) create(ctx context.Context, key string, v *T) (created bool, err error) {
	data, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("encode %s/%s: %w", c.kv.Bucket(), key, err)
	}
	rev, err := c.kv.Create(ctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create %s/%s: %w", c.kv.Bucket(), key, err)
	}
	c.apply(key, rev, v)
	return true, nil
}

// update reads key from the bucket, lets change modify it and writes it
// back with compare-and-set on the revision read, starting again when
// another writer got there first. It returns errNotFound for a missing key
// and change's error unchanged.
func (c *kvCache[T]) update(ctx context.Context, key string, change func(*T) error) (*T, error) {
	for range maxCASAttempts {
		v, rev, err := c.read(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := change(v); err != nil {
			return nil, err
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s/%s: %w", c.kv.Bucket(), key, err)
		}
		nrev, err := c.kv.Update(ctx, key, data, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update %s/%s: %w", c.kv.Bucket(), key, err)
		}
		c.apply(key, nrev, v)
		return v, nil
	}
	return nil, fmt.Errorf("update %s/%s: still conflicting after %d attempts", c.kv.Bucket(), key, maxCASAttempts)
}

// remove deletes key after check approved its current value, with
// compare-and-set on the revision read, starting again when another writer
// got there first. It returns errNotFound for a missing key and check's
// error unchanged.
func (c *kvCache[T]) remove(ctx context.Context, key string, check func(*T) error) (*T, error) {
	for range maxCASAttempts {
		v, rev, err := c.read(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := check(v); err != nil {
			return nil, err
		}
		err = c.kv.Delete(ctx, key, jetstream.LastRevision(rev))
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("delete %s/%s: %w", c.kv.Bucket(), key, err)
		}
		// The delete marker's revision is above rev; the watch brings the
		// exact one, which then replaces this (rev+1 is never newer).
		c.apply(key, rev+1, nil)
		return v, nil
	}
	return nil, fmt.Errorf("delete %s/%s: still conflicting after %d attempts", c.kv.Bucket(), key, maxCASAttempts)
}
