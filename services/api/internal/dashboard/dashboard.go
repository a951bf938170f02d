// Package dashboard is batchd's web dashboard, served by the api on its
// HTTP listener: the overview of queues, compute environments and hosts
// (live, with plots of the last hour), job lists, a page per job with its
// log, and the actions terminate, cancel and resubmit. The pages are
// hand-written HTML, CSS and JavaScript embedded in the binary (nothing to
// build); the data comes as JSON from /ui/api/ and live as server-sent
// events from /ui/events/. docs/dashboard.md describes it.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/nats-io/nats.go/jetstream"
)

//go:embed assets
var assets embed.FS

// Config configures the dashboard.
type Config struct {
	// TraceURL, when set, links a job's trace id to a trace viewer:
	// "{traceId}" is replaced by the id, e.g.
	// "http://jaeger:16686/trace/{traceId}".
	TraceURL string
	// Guard, when set (access control on), makes the dashboard ask for
	// credentials and allow only what the key's policy allows.
	Guard Guard
}

// Dashboard serves the dashboard. Make one with New, start it with Start.
type Dashboard struct {
	cfg  Config
	src  Source
	js   jetstream.JetStream
	log  *slog.Logger
	hist *history
	tl   *timelines
	hub  *hub
	now  func() time.Time

	mu     sync.Mutex
	ovSubs map[chan sseMsg]struct{}

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New makes the dashboard; js is where the events and logs are read.
func New(cfg Config, src Source, js jetstream.JetStream, log *slog.Logger) *Dashboard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	d := &Dashboard{cfg: cfg, src: src, js: js, log: log, hist: newHistory(now), tl: newTimelines(maxTimelines),
		now: time.Now, ovSubs: map[chan sseMsg]struct{}{}, done: make(chan struct{})}
	d.hub = newHub(log, d.hist, d.tl, now.UnixMilli())
	return d
}

// Start follows the job events, samples the job counts and counts the
// jobs that finished in the last hour from the records, until ctx is done
// or Close is called.
func (d *Dashboard) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-d.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	d.wg.Go(func() {
		for ctx.Err() == nil {
			if err := d.hub.run(ctx, d.js); err != nil {
				d.log.Warn("dashboard: job events stopped; following them again", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	})
	d.wg.Go(func() {
		// The jobs that finished in the hour before the start; later
		// ones are counted from their events.
		cut := d.hub.cut
		err := d.src.FinishedSince(ctx, cut-historySpan.Milliseconds(), func(at int64, st batch.JobStatus) {
			if at < cut {
				d.hist.finished(at, st)
			}
		})
		if err != nil && ctx.Err() == nil {
			d.log.Warn("dashboard: count the jobs finished in the last hour", "err", err)
		}
	})
	d.wg.Go(func() { d.sample(ctx) })
	d.wg.Go(func() { d.broadcast(ctx) })
}

// Close ends the streams and the goroutines.
func (d *Dashboard) Close() {
	d.closeOnce.Do(func() { close(d.done) })
	d.wg.Wait()
}

// Register adds the dashboard's routes to mux: GET / and /ui/... .
func (d *Dashboard) Register(mux *http.ServeMux) {
	page := http.HandlerFunc(d.servePage)
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /ui/{$}", page)
	mux.Handle("GET /ui/jobs", page)
	mux.Handle("GET /ui/jobs/{id}", page)
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /ui/assets/", http.StripPrefix("/ui/assets/", cacheFor(http.FileServerFS(static))))

	mux.HandleFunc("GET /ui/api/session", d.serveSession)
	mux.HandleFunc("POST /ui/api/login", d.serveLogin)
	mux.HandleFunc("POST /ui/api/logout", d.serveLogout)
	mux.HandleFunc("GET /ui/api/overview", d.serveOverview)
	mux.HandleFunc("GET /ui/api/history", d.serveHistory)
	mux.HandleFunc("GET /ui/api/jobs", d.serveJobs)
	mux.HandleFunc("GET /ui/api/jobs/{id}", d.serveJob)
	mux.HandleFunc("POST /ui/api/jobs/{id}/{action}", d.serveAction)

	mux.HandleFunc("GET /ui/events/overview", d.streamOverview)
	mux.HandleFunc("GET /ui/events/jobs", d.streamJobs)
	mux.HandleFunc("GET /ui/events/jobs/{id}", d.streamJob)
}

// servePage serves the single page; its script renders the route.
func (d *Dashboard) servePage(w http.ResponseWriter, _ *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, "dashboard page missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
	_, _ = w.Write(b)
}

// cacheFor lets browsers keep the assets for a while (they change with
// the binary; the page itself is never cached).
func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// writeJSON writes v as the JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// httpError is a refusal with its status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error { return &httpError{http.StatusBadRequest, msg} }

// writeErr answers an error as {"message": ...}.
func (d *Dashboard) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeJSON(w, he.status, map[string]string{"message": he.msg})
		return
	}
	if r.Context().Err() != nil {
		return
	}
	d.log.Warn("dashboard request failed", "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
}

// traceLink is the trace viewer's address of a trace id, "" when none is
// configured.
func (d *Dashboard) traceLink(id string) string {
	if d.cfg.TraceURL == "" || id == "" {
		return ""
	}
	return strings.ReplaceAll(d.cfg.TraceURL, "{traceId}", id)
}
