package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/batchd/batchd/services/api/auth"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// Handler returns the HTTP API: every operation as POST /v1/<operation in
// lower case> (restJson1, as the AWS SDKs and CLI call it), the CloudWatch
// Logs API of job output as POST / (AWS JSON 1.1, X-Amz-Target), GET /healthz
// and, when Deps.Metrics is set, GET /metrics; unless Config.NoDashboard,
// the web dashboard at GET / and /ui/ (docs/dashboard.md). Mount it at the root of a
// server, or under a mux that passes /v1/, /healthz and /metrics through.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("/v1/tags/", s.serveTags)
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.HandleFunc("/v1/", s.serveOperation)
	mux.HandleFunc("POST /{$}", s.serveLogs)
	if s.dash != nil {
		s.dash.Register(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Type: unknownOperation, Status: http.StatusNotFound,
			Message: "no such path " + r.URL.Path + ": the AWS Batch API is served as POST /v1/<operation>, e.g. POST /v1/submitjob"})
	})
	return mux
}

// serveHealth answers 200 while the NATS connection is up.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.nc.IsConnected() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "nats: "+s.nc.Status().String()+"\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// serveOperation runs one restJson1 operation.
func (s *Server) serveOperation(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newUUID())
	name := strings.ToLower(strings.TrimPrefix(r.URL.Path, "/v1/"))
	o := s.byPath[name]
	if o == nil {
		writeError(w, &apiError{Type: unknownOperation, Status: http.StatusNotFound,
			Message: "unknown operation " + strings.TrimPrefix(r.URL.Path, "/v1/") + ": this server implements " + s.opNames})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, &apiError{Type: methodNotAllowed, Status: http.StatusMethodNotAllowed,
			Message: o.name + " is called with POST, not " + r.Method})
		return
	}
	if r.ContentLength > int64(o.maxBody) {
		writeError(w, toAPIError(o.tooLarge(int(r.ContentLength))))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(o.maxBody)+1))
	if err != nil {
		writeError(w, toAPIError(clientErr("the request body cannot be read: %v", err)))
		return
	}
	if len(body) > o.maxBody { // a chunked body without a length
		writeError(w, toAPIError(o.tooLarge(len(body))))
		return
	}
	if r, err = s.authenticate(r, body); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	s.respond(w, r, o, body)
}

// authenticate returns the request carrying its caller (Config.Auth set),
// or the error AWS answers an unauthenticated request with.
func (s *Server) authenticate(r *http.Request, body []byte) (*http.Request, error) {
	if s.cfg.Auth == nil {
		return r, nil
	}
	p, err := s.cfg.Auth.Authenticate(r, body)
	if err != nil {
		s.log.DebugContext(r.Context(), "request refused", "path", r.URL.Path, "err", err)
		return nil, err
	}
	return r.WithContext(auth.WithPrincipal(r.Context(), p)), nil
}

// respond runs an operation on a request body and writes the answer.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, o *operation, body []byte) {
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	out, err := o.invoke(ctx, s.log, body)
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// logFailure logs an operation's error: server faults as errors, client
// mistakes at debug level.
func logFailure(ctx context.Context, log *slog.Logger, op string, err error) {
	if e, ok := auth.AsError(err); ok {
		log.InfoContext(ctx, "operation denied", "operation", op, "type", e.Type, "message", e.Message)
		return
	}
	var direct *apiError
	if !errors.As(err, &direct) {
		log.ErrorContext(ctx, "operation failed", "operation", op, "err", err)
		return
	}
	log.DebugContext(ctx, "operation refused", "operation", op, "type", direct.Type, "message", direct.Message)
}

// writeError writes an AWS restJson1 error: the type in X-Amzn-ErrorType
// and in the body's __type, the message in the body.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	_, _ = w.Write(errorBody(e))
}

// errorBody encodes the error body shared by HTTP and NATS.
func errorBody(e *apiError) []byte {
	data, _ := json.Marshal(e.body())
	return data
}
