package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

// Services start together and all ensure the same streams: concurrent
// EnsureStreams on a fresh server must all succeed.
func TestEnsureStreamsConcurrently(t *testing.T) {
	for round := 0; round < 5; round++ {
		s := natstest.RunBare(t, "")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			js, err := jetstream.New(s.Conn(t))
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				r := bus.DefaultRetention
				if i%2 == 1 {
					r.Events = time.Hour // a service configured otherwise
				}
				errs <- bus.EnsureStreams(ctx, js, r)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}
