package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/services/api/auth"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// The CloudWatch Logs API of job output (a subset): the protocol is AWS
// JSON 1.1, POST / with X-Amz-Target: Logs_20140328.<Operation>, served on
// the Batch API's HTTP listener. The one log group is /aws/batch/job; its
// log streams are the subjects of BATCH_LOGS, as DescribeJobs names them
// (container.logStreamName). docs/api.md, "CloudWatch Logs".

// LogGroup is the log group of every job's output, as in AWS Batch.
const LogGroup = "/aws/batch/job"

// logsTarget is the X-Amz-Target prefix of CloudWatch Logs operations.
const logsTarget = "Logs_20140328."

// CloudWatch Logs error types.
const (
	logsInvalidParameter   = "InvalidParameterException"
	logsResourceNotFound   = "ResourceNotFoundException"
	logsInvalidOperation   = "InvalidOperationException"
	logsServiceUnavailable = "ServiceUnavailableException"
)

func invalidParam(format string, args ...any) error {
	return &apiError{Type: logsInvalidParameter, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// logGroupARN is the group's ARN as DescribeLogGroups gives it (the ":*"
// form, which IAM policies name for every action but a few).
func logGroupARN() string {
	return "arn:aws:logs:" + batch.Region + ":" + batch.Account + ":log-group:" + LogGroup + ":*"
}

// logStreamARN is a log stream's ARN.
func logStreamARN(name string) string {
	return "arn:aws:logs:" + batch.Region + ":" + batch.Account + ":log-group:" + LogGroup + ":log-stream:" + name
}

// logsOperation is one CloudWatch Logs operation.
type logsOperation struct {
	name string
	call func(ctx context.Context, body []byte) (any, error)
}

// logsOp adapts a typed operation: strict decoding (a member batchd does
// not know is refused, not ignored), then authorisation of the action
// logs:<name> on the resources the request names, then the call.
func logsOp[In any, Out any](s *Server, name string, resources func(*In) []string, fn func(context.Context, *In) (*Out, error)) *logsOperation {
	return &logsOperation{name: name, call: func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := decodeLogsRequest(body, in); err != nil {
			return nil, err
		}
		if s.cfg.Auth != nil {
			p := auth.FromContext(ctx)
			if p == nil {
				return nil, &apiError{Type: auth.AccessDenied, Status: http.StatusBadRequest, Message: "the request carries no identity: sign it with SigV4 for the service logs"}
			}
			if err := p.Authorize("logs:"+name, resources(in)...); err != nil {
				return nil, err
			}
			// unmask: true needs logs:Unmask too, as in IAM (nothing is
			// masked in batchd, but a policy that withholds it is kept).
			if u, ok := any(in).(interface{ unmasked() bool }); ok && u.unmasked() {
				if err := p.Authorize("logs:Unmask", logGroupARN()); err != nil {
					return nil, err
				}
			}
		}
		return fn(ctx, in)
	}}
}

// logsOperations are the operations served.
func (s *Server) logsOperations() map[string]*logsOperation {
	group := func(any) []string { return []string{logGroupARN()} }
	ops := []*logsOperation{
		logsOp(s, "GetLogEvents", func(in *getLogEventsInput) []string { return []string{logStreamARN(in.LogStreamName)} }, s.getLogEvents),
		logsOp(s, "FilterLogEvents", func(in *filterLogEventsInput) []string { return group(in) }, s.filterLogEvents),
		logsOp(s, "DescribeLogStreams", func(in *describeLogStreamsInput) []string { return group(in) }, s.describeLogStreams),
		logsOp(s, "DescribeLogGroups", func(*describeLogGroupsInput) []string {
			return []string{"arn:aws:logs:" + batch.Region + ":" + batch.Account + ":log-group:*"}
		}, s.describeLogGroups),
	}
	m := make(map[string]*logsOperation, len(ops))
	for _, o := range ops {
		m[o.name] = o
	}
	return m
}

// LogsActions are the IAM actions of the CloudWatch Logs operations batchd
// serves (after "logs:").
func LogsActions() []string {
	return []string{"GetLogEvents", "FilterLogEvents", "DescribeLogStreams", "DescribeLogGroups"}
}

// decodeLogsRequest reads a JSON 1.1 request body strictly.
func decodeLogsRequest(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return invalidParam("the request body must be one JSON object")
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &apiError{Type: "SerializationException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("the request body is not valid JSON (at byte %d): %v", syn.Offset, syn)}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &apiError{Type: "SerializationException", Status: http.StatusBadRequest, Message: "the request body must be a JSON object"}
		}
		return &apiError{Type: "SerializationException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("%s must be %s, not a JSON %s", typ.Field, describeType(typ.Type.String()), typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalidParam("%s is not a member batchd supports (docs/api.md, \"CloudWatch Logs\")", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return invalidParam("the request body cannot be read: %v", err)
}

// serveLogs answers POST / : a CloudWatch Logs operation (AWS JSON 1.1).
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newUUID())
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, logsTarget)
	if !ok {
		writeLogsError(w, &apiError{Type: unknownOperation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("POST / serves the CloudWatch Logs API (X-Amz-Target: %s<Operation>), not X-Amz-Target %q; the AWS Batch API is POST /v1/<operation>", logsTarget, target)})
		return
	}
	if r.ContentLength > maxRequestBytes {
		writeLogsError(w, toAPIError(invalidParam("the request body exceeds %d bytes", maxRequestBytes)))
		return
	}
	body, err := readBody(r, maxRequestBytes)
	if err != nil {
		writeLogsError(w, toAPIError(err))
		return
	}
	if s.cfg.Auth != nil {
		p, err := s.cfg.Auth.AuthenticateService(r, body, auth.ServiceLogs)
		if err != nil {
			writeLogsError(w, toAPIError(err))
			return
		}
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
	}
	o := s.logsOps[name]
	if o == nil {
		writeLogsError(w, &apiError{Type: logsInvalidOperation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("batchd does not support the CloudWatch Logs operation %q: it serves %s on the log group %s (the output of jobs)",
				name, strings.Join(LogsActions(), ", "), LogGroup)})
		return
	}
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	out, err := o.invoke(ctx, s.log, body)
	if err != nil {
		writeLogsError(w, toLogsError(err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write(out)
}

// invoke runs the operation in a server span "Logs/<operation>"
// (runTraced).
func (o *logsOperation) invoke(ctx context.Context, log *slog.Logger, body []byte) ([]byte, error) {
	return runTraced(ctx, log, "Logs", "CloudWatchLogs", o.name, body, o.call)
}

// readBody reads at most limit bytes of a request body.
func readBody(r *http.Request, limit int) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, int64(limit))); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, invalidParam("the request body exceeds %d bytes", limit)
		}
		return nil, invalidParam("the request body cannot be read: %v", err)
	}
	r.Body = nopBody{bytes.NewReader(buf.Bytes())}
	return buf.Bytes(), nil
}

type nopBody struct{ *bytes.Reader }

func (nopBody) Close() error { return nil }

// toLogsError is toAPIError with CloudWatch Logs' statuses: every client
// error (refused signatures and denied actions too) is HTTP 400, a server
// fault ServiceUnavailableException (500).
func toLogsError(err error) *apiError {
	e := toAPIError(err)
	if e.Type == batch.ServerException {
		return &apiError{Type: logsServiceUnavailable, Status: http.StatusInternalServerError, Message: e.Message}
	}
	if e.Status < 500 {
		e = &apiError{Type: e.Type, Status: http.StatusBadRequest, Message: e.Message}
	}
	return e
}

// writeLogsError writes an AWS JSON 1.1 error.
func writeLogsError(w http.ResponseWriter, e *apiError) {
	e = toLogsError(e)
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	_, _ = w.Write(errorBody(e))
}
