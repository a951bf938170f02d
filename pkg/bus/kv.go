package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// GetJSON reads key into v and returns its revision.
func GetJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s/%s: %w", kv.Bucket(), key, err)
	}
	return e.Revision(), nil
}

// Buckets opens the named buckets.
func Buckets(ctx context.Context, js jetstream.JetStream, names ...string) (map[string]jetstream.KeyValue, error) {
	out := make(map[string]jetstream.KeyValue, len(names))
	for _, n := range names {
		kv, err := js.KeyValue(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", n, err)
		}
		out[n] = kv
	}
	return out, nil
}
