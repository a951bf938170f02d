package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestEnsureStreamsReplicas: on a 3-node cluster the streams and buckets
// are made with one copy, then changed to three, and stay usable when one
// server is lost.
func TestEnsureStreamsReplicas(t *testing.T) {
	c := natstest.RunCluster(t, 3)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	replicas := func() (stream, bucket int) {
		t.Helper()
		si, err := js.Stream(ctx, events.StreamJobs)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(ctx, events.BucketScheduler)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return si.CachedInfo().Config.Replicas, st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas
	}
	r := bus.DefaultRetention
	if err := bus.EnsureStreams(ctx, js, r); err != nil {
		t.Fatal(err)
	}
	if s, b := replicas(); s != 1 || b != 1 {
		t.Fatalf("replicas %d, %d; want 1", s, b)
	}
	r.Replicas = 3
	if err := bus.EnsureStreams(ctx, js, r); err != nil {
		t.Fatal(err)
	}
	if s, b := replicas(); s != 3 || b != 3 {
		t.Fatalf("replicas %d, %d; want 3", s, b)
	}
	if st, err := wkvStatus(ctx, js); err != nil || st.AllowDirect {
		t.Fatalf("bucket answers reads from followers (AllowDirect %v, %v)", st.AllowDirect, err)
	}
	// A value just written is what the next read gets, on any server
	// (no stale answer from a follower).
	other, err := nats.Connect(c.Servers[2].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ojs, _ := jetstream.New(other)
	wkv, _ := js.KeyValue(ctx, events.BucketJobs)
	rkv, _ := ojs.KeyValue(ctx, events.BucketJobs)
	for i := range 200 {
		v := []byte{byte(i)}
		// A put sent while the bucket's leader changes (the replicas were
		// just raised) may get no answer: each try has a deadline of its own.
		var err error
		for try := 0; try < 5; try++ {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = wkv.Put(pctx, "k", v)
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		var e jetstream.KeyValueEntry
		for try := 0; try < 5; try++ {
			gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			e, err = rkv.Get(gctx, "k")
			cancel()
			if err == nil || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				break
			}
		}
		if err != nil || e.Value()[0] != byte(i) {
			t.Fatalf("read after write %d: %v %v", i, e, err)
		}
	}
	// Wait for the copies, then lose a server: publishing goes on.
	deadline := time.Now().Add(30 * time.Second)
	for {
		si, err := js.Stream(ctx, events.StreamJobs)
		if err == nil && si.CachedInfo().Cluster != nil && len(si.CachedInfo().Cluster.Replicas) == 2 {
			current := true
			for _, p := range si.CachedInfo().Cluster.Replicas {
				current = current && p.Current
			}
			if current {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream's copies are not current after 30 s")
		}
		time.Sleep(50 * time.Millisecond) // polling the stream's state
	}
	c.Stop(0)
	lost := time.Now()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, events.SubmitSubject("j1"), []byte("{}"))
		pcancel()
		if err == nil {
			break
		}
		if time.Since(lost) > time.Minute {
			t.Fatalf("publish a minute after losing a server: %v", err)
		}
	}
	t.Logf("publishing again %v after losing a server", time.Since(lost))
}

func wkvStatus(ctx context.Context, js jetstream.JetStream) (jetstream.StreamConfig, error) {
	st, err := js.Stream(ctx, "KV_"+events.BucketJobs)
	if err != nil {
		return jetstream.StreamConfig{}, err
	}
	return st.CachedInfo().Config, nil
}
