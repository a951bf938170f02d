package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// dummyKey is the access key (and secret) used when none is configured:
// batchd without configured keys accepts any signature.
const dummyKey = "batchctl"

// sdkConfig is what every AWS SDK client of batchctl shares: the endpoint
// and region, signing with the credentials the environment or the shared
// files give (see credentials), AWS_MAX_ATTEMPTS attempts per call, and
// with --debug the requests, answers and retries logged.
func (a *app) sdkConfig() aws.Config {
	cfg := aws.Config{
		Region:       a.region,
		BaseEndpoint: aws.String(a.endpoint),
		Credentials:  aws.NewCredentialsCache(aws.CredentialsProviderFunc(a.credentials)),
	}
	if n, err := strconv.Atoi(a.env.Getenv("AWS_MAX_ATTEMPTS")); err == nil && n > 0 {
		cfg.RetryMaxAttempts = n
	}
	if a.debug {
		cfg.ClientLogMode = aws.LogRequestWithBody | aws.LogResponseWithBody | aws.LogRetries
		cfg.Logger = logging.NewStandardLogger(a.env.Stderr)
	}
	return cfg
}

// client returns an AWS SDK Batch client for the endpoint (sdkConfig).
// Non-nil options are applied to the client.
func (a *app) client(options ...func(*batch.Options)) *batch.Client {
	cfg := a.sdkConfig()
	opts := batch.Options{Region: cfg.Region, BaseEndpoint: cfg.BaseEndpoint, Credentials: cfg.Credentials,
		RetryMaxAttempts: cfg.RetryMaxAttempts, ClientLogMode: cfg.ClientLogMode, Logger: cfg.Logger}
	for _, o := range options {
		if o != nil {
			o(&opts)
		}
	}
	return batch.New(opts)
}

// bodyRecorder keeps the raw body of an operation's answer. The SDK's
// output structs would print PascalCase keys and drop fields it does not
// model; the recorded body is exactly the camelCase JSON the service sent,
// which is what aws-cli prints.
type bodyRecorder struct {
	body []byte
}

// option adds the recorder to one call's middleware stack.
func (r *bodyRecorder) option(o *batch.Options) {
	o.APIOptions = append(o.APIOptions, r.addTo)
}

// addTo places the recorder innermost in the deserialize step: it sees the
// HTTP response before the SDK's deserializer reads it, copies the body,
// and hands the deserializer a fresh reader over the same bytes. With
// retries the last attempt's body wins.
func (r *bodyRecorder) addTo(stack *middleware.Stack) error {
	mw := middleware.DeserializeMiddlewareFunc("batchctlRecordBody", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		if err != nil {
			return out, md, err
		}
		resp, ok := out.RawResponse.(*smithyhttp.Response)
		if !ok || resp.Body == nil {
			return out, md, nil
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return out, md, fmt.Errorf("read the answer: %w", err)
		}
		r.body = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return out, md, nil
	})
	return stack.Deserialize.Add(mw, middleware.After)
}

// callError turns an SDK error into the error batchctl reports: the
// service's own error (exit 254), a parameter validation failure (a usage
// error, 252) or a transport failure (255).
func (a *app) callError(op string, err error) error {
	var apiErr smithy.APIError
	var invalid smithy.InvalidParamsError
	var netErr *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &invalid):
		return &usageError{cmd: "batchctl " + kebab(op), err: fmt.Errorf("parameter validation failed: %v", invalid)}
	case errors.As(err, &apiErr):
		return &serviceError{op: op, code: apiErr.ErrorCode(), message: apiErr.ErrorMessage()}
	case errors.As(err, &netErr):
		return fmt.Errorf("could not connect to the endpoint URL %q: %w", a.endpoint, netErr)
	}
	return fmt.Errorf("call %s at %s: %w", op, a.endpoint, err)
}
