package bus_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startServer(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return ns
}

// TestWatchResumesAfterServerRestart: the server restarts (its ordered
// consumers are gone); the watch delivers the next change as soon as the
// client has reconnected, not after missed heartbeats, and nothing twice.
func TestWatchResumesAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	ns := startServer(t, dir, -1)
	u, _ := url.Parse(ns.ClientURL())
	port, _ := strconv.Atoi(u.Port())
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "w", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k1", []byte("1")); err != nil {
		t.Fatal(err)
	}
	w := bus.Watch(ctx, nc, kv)
	next := func(what string) jetstream.KeyValueEntry {
		t.Helper()
		select {
		case e := <-w:
			return e
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s from the watch in 10 s", what)
			return nil
		}
	}
	if e := next("k1"); e == nil || e.Key() != "k1" {
		t.Fatalf("first entry %v, want k1", e)
	}
	if e := next("end of initial values"); e != nil {
		t.Fatalf("got %s, want the end of the initial values", e.Key())
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	ns = startServer(t, dir, port)
	defer ns.Shutdown()
	restarted := time.Now()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := kv.Put(pctx, "k2", []byte("2"))
		pcancel()
		if err == nil {
			break
		}
		if time.Since(restarted) > 20*time.Second {
			t.Fatalf("put after restart: %v", err)
		}
	}
	e := next("k2 after the restart")
	if e == nil || e.Key() != "k2" {
		t.Fatalf("after restart got %v, want k2 (and not k1 again, nor a second end of initial values)", e)
	}
	t.Logf("k2 seen %v after the server restarted", time.Since(restarted))
}
