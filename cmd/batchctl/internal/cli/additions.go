package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/spf13/cobra"
)

// Additions are request members batchd accepts beyond AWS's model (docs/
// api.md). The AWS SDK's input types cannot carry them, so their flags are
// added to the JSON body the SDK serialized, just before it is sent.

// addition is one integer member batchd adds to an operation's request.
type addition struct {
	wire, flag, desc string
}

// withAdditions declares the additions of an operation.
func (o *operation) withAdditions(adds ...addition) *operation { o.additions = adds; return o }

// maxRunningJobsAddition is the queue limit of running jobs.
var maxRunningJobsAddition = addition{wire: "maxRunningJobs", flag: "max-running-jobs",
	desc: "at most this many jobs of the queue run at once; 0 for no limit (a batchd addition)"}

// registerAdditions adds the flags of op's additions to cmd.
func registerAdditions(op *operation, cmd *cobra.Command) {
	for _, add := range op.additions {
		cmd.Flags().String(add.flag, "", add.desc)
	}
}

// additionValues reads the additions given on the command line.
func additionValues(op *operation, cmd *cobra.Command) (map[string]any, error) {
	vals := map[string]any{}
	for _, add := range op.additions {
		if !cmd.Flags().Changed(add.flag) {
			continue
		}
		s, _ := cmd.Flags().GetString(add.flag)
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, usagef(cmd, "argument --%s: invalid integer value %q", add.flag, s)
		}
		vals[add.wire] = n
	}
	return vals, nil
}

// addToBody returns a call option that sets vals in the request's JSON
// body (nil when there is nothing to add).
func addToBody(vals map[string]any) func(*batch.Options) {
	if len(vals) == 0 {
		return nil
	}
	mw := middleware.SerializeMiddlewareFunc("batchctlAdditions", func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
		req, ok := in.Request.(*smithyhttp.Request)
		if !ok {
			return next.HandleSerialize(ctx, in)
		}
		body := map[string]json.RawMessage{}
		if s := req.GetStream(); s != nil {
			data, err := io.ReadAll(s)
			if err != nil {
				return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("read the request body: %w", err)
			}
			if len(bytes.TrimSpace(data)) > 0 {
				if err := json.Unmarshal(data, &body); err != nil {
					return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("decode the request body: %w", err)
				}
			}
		}
		for k, v := range vals {
			raw, _ := json.Marshal(v)
			body[k] = raw
		}
		data, err := json.Marshal(body)
		if err != nil {
			return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("encode the request body: %w", err)
		}
		if in.Request, err = req.SetStream(bytes.NewReader(data)); err != nil {
			return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("set the request body: %w", err)
		}
		return next.HandleSerialize(ctx, in)
	})
	return func(o *batch.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Serialize.Add(mw, middleware.After)
		})
	}
}
