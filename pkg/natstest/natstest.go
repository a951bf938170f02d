// Package natstest runs a real embedded NATS server with JetStream for
// tests: in-process, on a random port, with its store in a temporary
// folder removed after the test.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a running embedded JetStream server.
type Server struct {
	*server.Server
	Dir string
}

// Run starts a JetStream server on a random loopback port with its store
// in dir (a fresh temporary folder when dir is empty) and creates the
// streams and buckets of the wire contract.
func Run(t testing.TB, dir string) *Server {
	t.Helper()
	s := RunBare(t, dir)
	js, err := jetstream.New(s.Conn(t))
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultRetention); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return s
}

// RunBare is Run without creating any stream or bucket.
func RunBare(t testing.TB, dir string) *Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("natstest: server not ready in 10s")
	}
	t.Cleanup(ns.Shutdown)
	return &Server{Server: ns, Dir: dir}
}

// Conn opens a client connection closed at the end of the test.
func (s *Server) Conn(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}
