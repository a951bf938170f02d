package natsauth

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// runClosed starts a server from the generated configuration.
func runClosed(t *testing.T, services map[string]string, callers []Caller) *server.Server {
	t.Helper()
	dir := t.TempDir()
	conf := Server{Host: "127.0.0.1", Port: -1, StoreDir: filepath.Join(dir, "js"), Services: services, Callers: callers}.ServerConfig()
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("the generated configuration does not load: %v\n%s", err, conf)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// violations collects the permission errors the server sends a client.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err.Error())
}

func (v *violations) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		for _, e := range v.errs {
			if strings.Contains(e, want) {
				v.mu.Unlock()
				return
			}
		}
		v.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no permissions violation mentioning %q (got %v)", want, v.errs)
}

func connect(t *testing.T, ns *server.Server, user, password string, v *violations) *nats.Conn {
	t.Helper()
	opts := []nats.Option{nats.UserInfo(user, password)}
	if v != nil {
		opts = append(opts, nats.ErrorHandler(v.handler))
	}
	nc, err := nats.Connect(ns.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestClosedServer(t *testing.T) {
	services := map[string]string{"api": "api-pw", "monitor": "monitor-pw", "scheduler": "scheduler-pw", "notifier": "notifier-pw",
		LauncherUser("h1"): "launcher-pw"}
	ns := runClosed(t, services, []Caller{{User: "ENDUSERKEY000001", Password: "user-secret-0000001", Operations: []string{"SubmitJob", "DescribeJobs"}}})

	// Nobody connects without credentials, or with a wrong password.
	if nc, err := nats.Connect(ns.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	}
	if nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("api", "wrong")); err == nil {
		nc.Close()
		t.Fatal("a wrong password connected")
	}

	// A service sets up the streams and buckets through JetStream.
	var apiV violations
	api := connect(t, ns, "api", "api-pw", &apiV)
	js, err := jetstream.New(api)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultRetention); err != nil {
		t.Fatalf("the api cannot set up the streams: %v", err)
	}

	// The api serves batch.api.>; a caller's request arrives with the
	// caller's account stamped by the server, whatever the caller wrote.
	callers := make(chan string, 4)
	if _, err := api.Subscribe("batch.api.>", func(m *nats.Msg) {
		var info struct {
			Account string `json:"acc"`
		}
		_ = json.Unmarshal([]byte(m.Header.Get("Nats-Request-Info")), &info)
		callers <- info.Account
		_ = m.Respond([]byte("{}"))
	}); err != nil {
		t.Fatal(err)
	}
	_ = api.Flush()
	var userV violations
	user := connect(t, ns, "ENDUSERKEY000001", "user-secret-0000001", &userV)
	req := nats.NewMsg("batch.api.SubmitJob")
	req.Header.Set("Nats-Request-Info", `{"acc":"BATCHD","user":"admin"}`)
	if _, err := user.RequestMsg(req, 5*time.Second); err != nil {
		t.Fatalf("an allowed operation: %v", err)
	}
	if got := <-callers; got != "ENDUSERKEY000001" {
		t.Fatalf("the api saw the caller as %q", got)
	}
	// An operation the policy does not allow cannot even be published.
	_ = user.Publish("batch.api.CreateJobQueue", []byte("{}"))
	_ = user.Flush()
	userV.waitFor(t, "batch.api.CreateJobQueue")
	// Callers may follow the events.
	sub, err := user.SubscribeSync("batch.events.>")
	if err != nil {
		t.Fatal(err)
	}
	_ = user.Flush()
	monV := violations{}
	mon := connect(t, ns, "monitor", "monitor-pw", &monV)
	if err := mon.Publish("batch.events.job.q.RUNNING", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("a caller does not get events: %v", err)
	}

	// A service cannot publish another's facts or write another's bucket.
	for _, subj := range []string{events.ExitedSubject("h1", "job-1"), "batch.job.3.exited.job-1", "$KV.batch_jobs.job-1"} {
		_ = api.Publish(subj, []byte("{}"))
	}
	_ = api.Flush()
	apiV.waitFor(t, events.ExitedSubject("h1", "job-1"))
	apiV.waitFor(t, "$KV.batch_jobs.job-1")
	// A launcher publishes only its own host's facts.
	var lV violations
	l := connect(t, ns, LauncherUser("h1"), "launcher-pw", &lV)
	_ = l.Publish(events.ExitedSubject("h2", "job-1"), []byte("{}"))
	_ = l.Publish("batch.job.3.started.job-1", []byte("{}")) // no host: not its own
	_ = l.Publish("$KV.batch_hosts.h2", []byte("{}"))
	_ = l.Flush()
	lV.waitFor(t, events.ExitedSubject("h2", "job-1"))
	lV.waitFor(t, "batch.job.3.started.job-1")
	lV.waitFor(t, "$KV.batch_hosts.h2")
	// Only the api creates or changes streams: the others look them up.
	ljs, err := jetstream.New(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.AwaitStreams(ctx, ljs, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("a launcher cannot look the streams up: %v", err)
	}
	for _, svc := range []string{"monitor", "scheduler", "notifier"} {
		var v violations
		nc := connect(t, ns, svc, svc+"-pw", &v)
		sjs, _ := jetstream.New(nc)
		uctx, ucancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := sjs.UpdateStream(uctx, jetstream.StreamConfig{Name: "BATCH_JOBS", Subjects: []string{"batch.job.>", "x.>"}})
		ucancel()
		if err == nil {
			t.Fatalf("%s changed a stream", svc)
		}
		v.waitFor(t, "$JS.API.STREAM.UPDATE.BATCH_JOBS")
	}
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
	_, _ = ljs.CreateStream(cctx, jetstream.StreamConfig{Name: "STOLEN", Subjects: []string{"stolen.>"}})
	ccancel()
	lV.waitFor(t, "$JS.API.STREAM.CREATE.STOLEN")
	// Nobody outside the batchd account reaches its streams.
	_ = user.Publish("$KV.batch_jobs.job-1", []byte("{}"))
	_ = user.Flush()
	userV.waitFor(t, "$KV.batch_jobs.job-1")
}

func TestEnsureCredentials(t *testing.T) {
	dir := t.TempDir()
	a, err := EnsureCredentials(dir, []string{"h1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(Services)+1 || a[LauncherUser("h1")] == "" {
		t.Fatalf("credentials %v", a)
	}
	fi, err := os.Stat(filepath.Join(dir, CredentialsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi.Mode(), err)
	}
	b, err := EnsureCredentials(dir, []string{"h1", "h2"})
	if err != nil {
		t.Fatal(err)
	}
	if b["api"] != a["api"] || b[LauncherUser("h2")] == "" {
		t.Fatalf("credentials not kept: %v then %v", a, b)
	}
}
