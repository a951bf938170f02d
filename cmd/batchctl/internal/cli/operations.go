package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/batchd/batchd/cmd/batchctl/internal/format"
	"github.com/batchd/batchd/cmd/batchctl/internal/param"
	"github.com/spf13/cobra"
)

// operation is one AWS Batch API operation offered as a subcommand.
type operation struct {
	name  string       // the subcommand, "submit-job"
	api   string       // the operation, "SubmitJob"
	short string       // one line of help
	input reflect.Type // the SDK input struct type
	// required lists the wire names of the required parameters.
	required []string
	// positional is the wire name of the list parameter that bare
	// arguments are added to ("" when the command takes none).
	positional string
	// resultKey is the wire name of the list a paginated answer holds; ""
	// when the operation is not paginated.
	resultKey string
	// additions are batchd's members beyond AWS's request (additions.go).
	additions []addition
	// ext marks an operation batchd adds to the AWS API (extensions.go),
	// called without the SDK.
	ext  bool
	call func(ctx context.Context, c *batch.Client, in any, opts ...func(*batch.Options)) error
}

// newOperation describes an operation by its SDK method.
func newOperation[I, O any](name, api, short string, method func(*batch.Client, context.Context, *I, ...func(*batch.Options)) (*O, error)) *operation {
	return &operation{
		name: name, api: api, short: short, input: reflect.TypeFor[I](),
		call: func(ctx context.Context, c *batch.Client, in any, opts ...func(*batch.Options)) error {
			_, err := method(c, ctx, in.(*I), opts...)
			return err
		},
	}
}

func (o *operation) requires(wire ...string) *operation { o.required = wire; return o }
func (o *operation) args(wire string) *operation        { o.positional = wire; return o }
func (o *operation) pages(key string) *operation        { o.resultKey = key; return o }

// operations lists the supported operations, in the order of their help.
func operations() []*operation {
	return []*operation{
		newOperation("create-compute-environment", "CreateComputeEnvironment", "Create a compute environment",
			(*batch.Client).CreateComputeEnvironment).requires("computeEnvironmentName", "type"),
		newOperation("describe-compute-environments", "DescribeComputeEnvironments", "Describe compute environments",
			(*batch.Client).DescribeComputeEnvironments).args("computeEnvironments").pages("computeEnvironments"),
		newOperation("update-compute-environment", "UpdateComputeEnvironment", "Update a compute environment",
			(*batch.Client).UpdateComputeEnvironment).requires("computeEnvironment"),
		newOperation("create-job-queue", "CreateJobQueue", "Create a job queue",
			(*batch.Client).CreateJobQueue).requires("jobQueueName", "priority").withAdditions(maxRunningJobsAddition),
		newOperation("describe-job-queues", "DescribeJobQueues", "Describe job queues",
			(*batch.Client).DescribeJobQueues).args("jobQueues").pages("jobQueues"),
		newOperation("update-job-queue", "UpdateJobQueue", "Update a job queue",
			(*batch.Client).UpdateJobQueue).requires("jobQueue").withAdditions(maxRunningJobsAddition),
		newOperation("register-job-definition", "RegisterJobDefinition", "Register a job definition (a new revision)",
			(*batch.Client).RegisterJobDefinition).requires("jobDefinitionName", "type"),
		newOperation("describe-job-definitions", "DescribeJobDefinitions", "Describe job definitions",
			(*batch.Client).DescribeJobDefinitions).args("jobDefinitions").pages("jobDefinitions"),
		newOperation("submit-job", "SubmitJob", "Submit a job to a job queue",
			(*batch.Client).SubmitJob).requires("jobName", "jobQueue", "jobDefinition"),
		newOperation("describe-jobs", "DescribeJobs", "Describe jobs by id",
			(*batch.Client).DescribeJobs).requires("jobs").args("jobs"),
		newOperation("list-jobs", "ListJobs", "List the jobs of a queue (RUNNING ones unless --job-status says)",
			(*batch.Client).ListJobs).pages("jobSummaryList"),
		newOperation("cancel-job", "CancelJob", "Cancel a job that has not started",
			(*batch.Client).CancelJob).requires("jobId", "reason"),
		newOperation("terminate-job", "TerminateJob", "Terminate a job, stopping it if it runs",
			(*batch.Client).TerminateJob).requires("jobId", "reason"),
		newOperation("delete-compute-environment", "DeleteComputeEnvironment", "Delete a DISABLED compute environment no queue uses",
			(*batch.Client).DeleteComputeEnvironment).requires("computeEnvironment"),
		newOperation("delete-job-queue", "DeleteJobQueue", "Delete a DISABLED job queue",
			(*batch.Client).DeleteJobQueue).requires("jobQueue"),
		newOperation("deregister-job-definition", "DeregisterJobDefinition", "Make a job definition revision INACTIVE",
			(*batch.Client).DeregisterJobDefinition).requires("jobDefinition"),
		newOperation("create-scheduling-policy", "CreateSchedulingPolicy", "Create a fair-share scheduling policy",
			(*batch.Client).CreateSchedulingPolicy).requires("name"),
		newOperation("describe-scheduling-policies", "DescribeSchedulingPolicies", "Describe scheduling policies by ARN",
			(*batch.Client).DescribeSchedulingPolicies).requires("arns").args("arns"),
		newOperation("list-scheduling-policies", "ListSchedulingPolicies", "List the ARNs of the scheduling policies",
			(*batch.Client).ListSchedulingPolicies).pages("schedulingPolicies"),
		newOperation("update-scheduling-policy", "UpdateSchedulingPolicy", "Replace the fair-share settings of a scheduling policy",
			(*batch.Client).UpdateSchedulingPolicy).requires("arn"),
		newOperation("delete-scheduling-policy", "DeleteSchedulingPolicy", "Delete a scheduling policy no queue uses",
			(*batch.Client).DeleteSchedulingPolicy).requires("arn"),
		newOperation("create-consumable-resource", "CreateConsumableResource", "Create a consumable resource",
			(*batch.Client).CreateConsumableResource).requires("consumableResourceName"),
		newOperation("describe-consumable-resource", "DescribeConsumableResource", "Describe a consumable resource with the quantity in use",
			(*batch.Client).DescribeConsumableResource).requires("consumableResource"),
		newOperation("list-consumable-resources", "ListConsumableResources", "List consumable resources",
			(*batch.Client).ListConsumableResources).pages("consumableResources"),
		newOperation("update-consumable-resource", "UpdateConsumableResource", "SET, ADD or REMOVE quantity of a consumable resource",
			(*batch.Client).UpdateConsumableResource).requires("consumableResource"),
		newOperation("delete-consumable-resource", "DeleteConsumableResource", "Delete a consumable resource",
			(*batch.Client).DeleteConsumableResource).requires("consumableResource"),
		newOperation("list-jobs-by-consumable-resource", "ListJobsByConsumableResource", "List the jobs that need a consumable resource",
			(*batch.Client).ListJobsByConsumableResource).requires("consumableResource").pages("jobs"),
		newOperation("tag-resource", "TagResource", "Add tags to a resource",
			(*batch.Client).TagResource).requires("resourceArn", "tags"),
		newOperation("untag-resource", "UntagResource", "Remove tags from a resource",
			(*batch.Client).UntagResource).requires("resourceArn", "tagKeys"),
		newOperation("list-tags-for-resource", "ListTagsForResource", "List the tags of a resource",
			(*batch.Client).ListTagsForResource).requires("resourceArn"),
		newOperation("get-job-queue-snapshot", "GetJobQueueSnapshot", "Show the first RUNNABLE jobs of a queue in dispatch order",
			(*batch.Client).GetJobQueueSnapshot).requires("jobQueue"),
	}
}

// operationCommand builds the subcommand of an operation.
func (a *app) operationCommand(op *operation) *cobra.Command {
	var pf *paramFlags
	use := op.name + " [flags]"
	if op.positional != "" {
		use = op.name + " [--" + param.FlagName(op.positional) + "] VALUE..."
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: op.short,
		Long: op.short + ` (` + apiOrigin(op) + ` ` + op.api + `).

Flags have aws-cli's names and accept what aws-cli accepts: structures as
JSON or shorthand (key=value,key2=[a,b]), lists as several values, repeated
flags or comma separated values, and file://PATH anywhere. --cli-input-json
takes the whole request; flags given as well override its fields.`,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.runOperation(cmd, op, pf, args)
		}),
	}
	if op.positional == "" {
		cmd.Args = cobra.NoArgs
	}
	pf = newParamFlags(op, cmd)
	registerAdditions(op, cmd)
	return cmd
}

// runOperation builds the request from the flags, calls the service (every
// page of it unless paging was asked for) and prints the answer.
func (a *app) runOperation(cmd *cobra.Command, op *operation, pf *paramFlags, args []string) error {
	if pf.skeleton {
		return format.JSON(a.env.Stdout, param.Skeleton(op.input))
	}
	in, err := pf.build(cmd, args)
	if err != nil {
		return err
	}
	adds, err := additionValues(op, cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	c := a.client(addToBody(adds))
	paginate := op.resultKey != "" && !a.noPage && isNilField(in, "NextToken") && isNilField(in, "MaxResults")
	if !paginate {
		body, err := a.invoke(ctx, c, op, in.Interface())
		if err != nil {
			return err
		}
		return a.emit(op.api, body)
	}
	var pages [][]byte
	seen := map[string]bool{}
	for {
		body, err := a.invoke(ctx, c, op, in.Interface())
		if err != nil {
			return err
		}
		pages = append(pages, body)
		token, err := nextToken(body)
		if err != nil {
			return fmt.Errorf("%s answer: %w", op.api, err)
		}
		if token == "" || seen[token] {
			break
		}
		seen[token] = true
		if f := in.Elem().FieldByName("NextToken"); f.Kind() == reflect.String {
			f.SetString(token)
		} else {
			f.Set(reflect.ValueOf(&token))
		}
	}
	merged, err := mergePages(pages, op.resultKey)
	if err != nil {
		return fmt.Errorf("%s answer: %w", op.api, err)
	}
	return a.emit(op.api, merged)
}

// invoke makes one call and returns the raw answer body.
func (a *app) invoke(ctx context.Context, c *batch.Client, op *operation, in any) ([]byte, error) {
	if op.ext {
		return a.extCall(ctx, op, in)
	}
	rec := &bodyRecorder{}
	if err := op.call(ctx, c, in, rec.option); err != nil {
		return nil, a.callError(op.api, err)
	}
	return rec.body, nil
}

func isNilField(in reflect.Value, name string) bool {
	f := in.Elem().FieldByName(name)
	if f.IsValid() && f.Kind() != reflect.Pointer {
		return f.IsZero()
	}
	return !f.IsValid() || f.IsNil()
}

// emit prints an answer in the chosen output format, after --query.
func (a *app) emit(api string, body []byte) error {
	out := a.env.Stdout
	if a.compiled == nil {
		switch a.output {
		case "json":
			return format.JSON(out, body)
		case "table":
			if ok, err := format.Readable(out, api, body, a.env.Location); ok || err != nil {
				return err
			}
		}
	}
	v, err := format.Decode(body)
	if err != nil {
		return fmt.Errorf("%s answer: %w", api, err)
	}
	if a.compiled != nil {
		if v, err = a.compiled.Search(v); err != nil {
			return fmt.Errorf("apply --query: %w", err)
		}
	}
	switch a.output {
	case "text":
		return format.Text(out, v)
	case "table":
		return format.Table(out, api, v)
	}
	return format.Value(out, v)
}

// nextToken reads the nextToken of a page.
func nextToken(body []byte) (string, error) {
	var page struct {
		NextToken *string `json:"nextToken"`
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return "", fmt.Errorf("decode page: %w", err)
	}
	if page.NextToken == nil {
		return "", nil
	}
	return *page.NextToken, nil
}

// mergePages joins the pages of a paginated answer as aws-cli does: the
// result lists concatenated, the other keys of the first page kept in
// their order, and no nextToken. Elements are kept byte for byte.
func mergePages(pages [][]byte, resultKey string) ([]byte, error) {
	if len(pages) == 1 {
		if tok, err := nextToken(pages[0]); err == nil && tok == "" {
			return pages[0], nil
		}
	}
	var items []json.RawMessage
	var keys []string
	var first map[string]json.RawMessage
	for i, p := range pages {
		ks, m, err := orderedObject(p)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			keys, first = ks, m
		}
		if raw, ok := m[resultKey]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			var list []json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("decode %s: %w", resultKey, err)
			}
			items = append(items, list...)
		}
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	if _, ok := first[resultKey]; !ok {
		keys = append([]string{resultKey}, keys...)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, k := range keys {
		if k == "nextToken" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		if k == resultKey {
			list, err := json.Marshal(items)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", resultKey, err)
			}
			b.Write(list)
			continue
		}
		b.Write(first[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// orderedObject decodes a JSON object into its keys, in order, and raw
// values.
func orderedObject(data []byte) ([]string, map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("decode page: not a JSON object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("decode page: %w", err)
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("decode page: %w", err)
		}
		if _, dup := m[k]; !dup {
			keys = append(keys, k)
		}
		m[k] = v
	}
	return keys, m, nil
}

// apiOrigin says whose operation it is.
func apiOrigin(op *operation) string {
	if op.ext {
		return "batchd addition to the AWS Batch API:"
	}
	return "AWS Batch"
}

// kebab turns an operation name into its subcommand: "SubmitJob" gives
// "submit-job".
func kebab(api string) string { return param.FlagName(param.LowerFirst(api)) }
