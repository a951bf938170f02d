package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testAPI is one api replica on an embedded JetStream, served over httptest
// and called with the official AWS SDK.
type testAPI struct {
	srv    *Server
	http   *httptest.Server
	client *awsbatch.Client
	nc     *nats.Conn
	js     jetstream.JetStream
	ns     *natstest.Server
}

// logWriter sends the service's logs to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startAPI runs an api replica on ns (a new server when nil).
func startAPI(t testing.TB, ns *natstest.Server, cfg Config) *testAPI {
	t.Helper()
	if ns == nil {
		ns = natstest.Run(t, "")
	}
	nc := ns.Conn(t)
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := Start(t.Context(), cfg, Deps{NATS: nc, Logger: log})
	if err != nil {
		t.Fatalf("start api: %v", err)
	}
	t.Cleanup(s.Close)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &testAPI{srv: s, http: hs, client: newClient(hs.URL), nc: nc, js: js, ns: ns}
}

// newClient is the AWS SDK client exactly as a user configures it.
func newClient(url string) *awsbatch.Client {
	return awsbatch.New(awsbatch.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
}

// clientException checks that err is a typed *types.ClientException whose
// message contains want.
func clientException(t *testing.T, err error, want string) {
	t.Helper()
	var ce *types.ClientException
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *types.ClientException", err, err)
	}
	if !strings.Contains(ce.ErrorMessage(), want) {
		t.Fatalf("ClientException %q does not contain %q", ce.ErrorMessage(), want)
	}
}

// must returns v, or panics (failing the test run) on an unexpected error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

// post calls an operation over plain HTTP and returns status, headers and body.
func (a *testAPI) post(t *testing.T, path string, body string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(a.http.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// request calls an operation over NATS.
func (a *testAPI) request(t *testing.T, op string, body string) *nats.Msg {
	t.Helper()
	msg, err := a.nc.Request(events.APISubject(op), []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("nats request %s: %v", op, err)
	}
	return msg
}

// putRecord writes a job record into the jobs bucket, as the monitor does.
func (a *testAPI) putRecord(t *testing.T, j batch.JobDetail) {
	t.Helper()
	kv, err := a.js.KeyValue(t.Context(), events.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(j)
	if _, err := kv.Put(t.Context(), events.Token(j.JobID), data); err != nil {
		t.Fatal(err)
	}
}

// eventually polls f until it returns nil or 10 seconds pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// compactJSON normalizes a JSON body for comparison.
func compactJSON(t *testing.T, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatalf("not JSON: %s", data)
	}
	return b.String()
}

// ctx is a short deadline for one SDK call.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}
