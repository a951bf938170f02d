package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/batchd/batchd/pkg/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Request body limits per operation.
const (
	// DefaultMaxPayloadBytes is the SubmitJob body limit, AWS's job payload size.
	DefaultMaxPayloadBytes = 30 * 1024
	// maxDefinitionBytes is AWS's job definition size limit.
	maxDefinitionBytes = 24 * 1024
	// maxRequestBytes caps every other request body.
	maxRequestBytes = 1 << 20
)

// operation is one API operation, transport-neutral: a JSON request body
// in, a value to encode as the JSON answer (or an error) out.
type operation struct {
	name    string
	maxBody int
	call    func(ctx context.Context, body []byte) (any, error)
	// authorize, when set (Config.Auth), decides the decoded request for
	// the caller in ctx before the operation runs.
	authorize func(ctx context.Context, name string, in any) error
}

// op adapts a typed operation to the transport-neutral form.
func op[In, Out any](name string, maxBody int, fn func(context.Context, *In) (*Out, error)) *operation {
	o := &operation{name: name, maxBody: maxBody}
	o.call = func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := decodeRequest(body, in); err != nil {
			return nil, err
		}
		if o.authorize != nil {
			if err := o.authorize(ctx, name, in); err != nil {
				return nil, err
			}
		}
		return fn(ctx, in)
	}
	return o
}

// operations lists what the server serves.
func (s *Server) operations() []*operation {
	return []*operation{
		op("CreateComputeEnvironment", maxRequestBytes, s.createComputeEnvironment),
		op("DescribeComputeEnvironments", maxRequestBytes, s.describeComputeEnvironments),
		op("UpdateComputeEnvironment", maxRequestBytes, s.updateComputeEnvironment),
		op("CreateJobQueue", maxRequestBytes, s.createJobQueue),
		op("DescribeJobQueues", maxRequestBytes, s.describeJobQueues),
		op("UpdateJobQueue", maxRequestBytes, s.updateJobQueue),
		op("RegisterJobDefinition", maxDefinitionBytes, s.registerJobDefinition),
		op("DescribeJobDefinitions", maxRequestBytes, s.describeJobDefinitions),
		op("SubmitJob", s.cfg.MaxPayloadBytes, s.submitJob),
		op("DescribeJobs", maxRequestBytes, s.describeJobs),
		op("ListJobs", maxRequestBytes, s.listJobs),
		op("DeleteComputeEnvironment", maxRequestBytes, s.deleteComputeEnvironment),
		op("DeleteJobQueue", maxRequestBytes, s.deleteJobQueue),
		op("DeregisterJobDefinition", maxRequestBytes, s.deregisterJobDefinition),
		op("CreateSchedulingPolicy", maxRequestBytes, s.createSchedulingPolicy),
		op("DescribeSchedulingPolicies", maxRequestBytes, s.describeSchedulingPolicies),
		op("ListSchedulingPolicies", maxRequestBytes, s.listSchedulingPolicies),
		op("UpdateSchedulingPolicy", maxRequestBytes, s.updateSchedulingPolicy),
		op("DeleteSchedulingPolicy", maxRequestBytes, s.deleteSchedulingPolicy),
		op("CreateConsumableResource", maxRequestBytes, s.createConsumableResource),
		op("DescribeConsumableResource", maxRequestBytes, s.describeConsumableResource),
		op("ListConsumableResources", maxRequestBytes, s.listConsumableResources),
		op("UpdateConsumableResource", maxRequestBytes, s.updateConsumableResource),
		op("DeleteConsumableResource", maxRequestBytes, s.deleteConsumableResource),
		op("ListJobsByConsumableResource", maxRequestBytes, s.listJobsByConsumableResource),
		op("TagResource", maxRequestBytes, s.tagResource),
		op("UntagResource", maxRequestBytes, s.untagResource),
		op("ListTagsForResource", maxRequestBytes, s.listTagsForResource),
		op("GetJobQueueSnapshot", maxRequestBytes, s.getJobQueueSnapshot),
		op("CancelJob", maxRequestBytes, s.cancelJob),
		op("TerminateJob", maxRequestBytes, s.terminateJob),
		op("CreateNotificationRule", maxRequestBytes, s.createNotificationRule),
		op("DescribeNotificationRules", maxRequestBytes, s.describeNotificationRules),
		op("UpdateNotificationRule", maxRequestBytes, s.updateNotificationRule),
		op("DeleteNotificationRule", maxRequestBytes, s.deleteNotificationRule),
		op("ListDeadLetters", maxRequestBytes, s.listDeadLetters),
		op("ReplayDeadLetters", maxRequestBytes, s.replayDeadLetters),
	}
}

// tooLarge is the error for a body over the operation's limit.
func (o *operation) tooLarge(size int) error {
	what := "the request body"
	if size > 0 {
		what = fmt.Sprintf("the request body (%d bytes)", size)
	}
	hint := ""
	switch o.name {
	case "SubmitJob":
		hint = ": make the job smaller, for example pass large inputs as a file or object the job reads instead of parameters or environment values"
	case "RegisterJobDefinition":
		hint = ": make the job definition smaller"
	}
	return clientErr("%s exceeds the %s limit of %d bytes (%d KiB)%s", what, o.name, o.maxBody, o.maxBody/1024, hint)
}

// tracer makes a server span per operation; it follows the global provider
// that main sets (none: no spans, but the caller's trace context still
// reaches the published messages).
var tracer = telemetry.Tracer("api")

// invoke runs the operation on a request body and returns the JSON answer,
// in a server span "Batch/<operation>" (runTraced).
func (o *operation) invoke(ctx context.Context, log *slog.Logger, body []byte) ([]byte, error) {
	return runTraced(ctx, log, "Batch", "Batch", o.name, body, func(ctx context.Context, body []byte) (any, error) {
		if len(body) > o.maxBody {
			return nil, o.tooLarge(len(body))
		}
		return o.call(ctx, body)
	})
}

// runTraced runs an API's operation (call) on a request body and returns
// the JSON answer, in a server span "<prefix>/<name>" of the RPC service
// service. A failure is logged (with the span's trace id) and returned for
// the transport to answer.
func runTraced(ctx context.Context, log *slog.Logger, prefix, service, name string, body []byte,
	call func(context.Context, []byte) (any, error)) (_ []byte, err error) {
	ctx, span := tracer.Start(ctx, prefix+"/"+name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", service),
			attribute.String("rpc.method", name)))
	defer func() {
		if err != nil {
			logFailure(ctx, log, name, err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	out, err := call(ctx, body)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode %s answer: %w", name, err)
	}
	return data, nil
}

// decodeRequest reads a JSON request body; an empty body is an empty object.
func decodeRequest(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return clientErr("the request body is not valid JSON (at byte %d): %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return clientErr("the request body must be a JSON object, not a JSON %s", typ.Value)
		}
		return clientErr("%s must be %s, not a JSON %s", field, describeType(typ.Type.String()), typ.Value)
	}
	return clientErr("the request body cannot be read: %v", err)
}

// describeType names a Go type the way a JSON user thinks of it.
func describeType(t string) string {
	switch {
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "*int"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string" || strings.HasSuffix(t, "JobStatus"):
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "an object of strings"
	}
	return "an object"
}
