package api

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
)

// TestSDKConsumableResources drives the consumable resource operations,
// consumable resources on definitions and jobs, and the quantities in use
// derived from the job records.
func TestSDKConsumableResources(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	licARN := batch.ARN(batch.KindConsumableResource, "licenses")

	out := must(c.CreateConsumableResource(ctx(t), &awsbatch.CreateConsumableResourceInput{
		ConsumableResourceName: aws.String("licenses"), TotalQuantity: aws.Int64(10), Tags: map[string]string{"k": "v"},
	}))
	if aws.ToString(out.ConsumableResourceArn) != licARN {
		t.Fatalf("arn = %s", aws.ToString(out.ConsumableResourceArn))
	}
	must(c.CreateConsumableResource(ctx(t), &awsbatch.CreateConsumableResourceInput{
		ConsumableResourceName: aws.String("tokens"), TotalQuantity: aws.Int64(5), ResourceType: aws.String("NON_REPLENISHABLE"),
	}))
	must(c.CreateConsumableResource(ctx(t), &awsbatch.CreateConsumableResourceInput{ConsumableResourceName: aws.String("Other")}))
	for _, tc := range []struct {
		name string
		in   *awsbatch.CreateConsumableResourceInput
		want string
	}{
		{"exists", &awsbatch.CreateConsumableResourceInput{ConsumableResourceName: aws.String("licenses")}, "Object already exists"},
		{"negative", &awsbatch.CreateConsumableResourceInput{ConsumableResourceName: aws.String("x"), TotalQuantity: aws.Int64(-1)}, "totalQuantity -1 is invalid"},
		{"type", &awsbatch.CreateConsumableResourceInput{ConsumableResourceName: aws.String("x"), ResourceType: aws.String("FOREVER")}, `resourceType "FOREVER" is invalid`},
		{"name", &awsbatch.CreateConsumableResourceInput{ConsumableResourceName: aws.String("x y")}, `consumableResourceName "x y" is invalid`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateConsumableResource(ctx(t), tc.in)
			clientException(t, err, tc.want)
		})
	}

	// Definitions and jobs name resources that exist.
	reg := func(name string, reqs ...types.ConsumableResourceRequirement) error {
		_, err := c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
			JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeContainer,
			ContainerProperties:          &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(64)},
			ConsumableResourceProperties: &types.ConsumableResourceProperties{ConsumableResourceList: reqs},
		})
		return err
	}
	req := func(ref string, q int64) types.ConsumableResourceRequirement {
		return types.ConsumableResourceRequirement{ConsumableResource: aws.String(ref), Quantity: aws.Int64(q)}
	}
	if err := reg("licensed", req("licenses", 3), req(batch.ARN(batch.KindConsumableResource, "tokens"), 1)); err != nil {
		t.Fatal(err)
	}
	clientException(t, reg("x", req("nope", 1)), "consumableResourceProperties: consumable resource nope does not exist")
	clientException(t, reg("x", req("licenses", 0)), "quantity 0 is invalid")
	clientException(t, reg("x", req("licenses", 1), req(licARN, 2)), "lists consumable resource licenses twice")
	def := must(c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{JobDefinitions: []string{"licensed:1"}})).JobDefinitions[0]
	if l := def.ConsumableResourceProperties.ConsumableResourceList; len(l) != 2 || aws.ToString(l[0].ConsumableResource) != "licenses" || aws.ToInt64(l[0].Quantity) != 3 {
		t.Fatalf("definition resources = %+v", l)
	}

	submit := func(name string, over ...types.ConsumableResourceRequirement) (*batch.JobDetail, error) {
		in := &awsbatch.SubmitJobInput{JobName: aws.String(name), JobQueue: aws.String("q"), JobDefinition: aws.String("licensed")}
		if over != nil {
			in.ConsumableResourcePropertiesOverride = &types.ConsumableResourceProperties{ConsumableResourceList: over}
		}
		out, err := c.SubmitJob(ctx(t), in)
		if err != nil {
			return nil, err
		}
		return a.srv.lookupJob(ctx(t), aws.ToString(out.JobId))
	}
	j1 := must(submit("one"))
	if got := fmt.Sprint(j1.ConsumableResourceProperties.ConsumableResourceList); got != fmt.Sprint([]batch.ConsumableResourceRequirement{
		{ConsumableResource: "licenses", Quantity: 3}, {ConsumableResource: batch.ARN(batch.KindConsumableResource, "tokens"), Quantity: 1}}) {
		t.Fatalf("job resources = %s", got)
	}
	// The override replaces per resource and adds new ones.
	j2 := must(submit("two", req(licARN, 4), req("Other", 1)))
	if got := fmt.Sprint(j2.ConsumableResourceProperties.ConsumableResourceList); got != fmt.Sprint([]batch.ConsumableResourceRequirement{
		{ConsumableResource: licARN, Quantity: 4}, {ConsumableResource: batch.ARN(batch.KindConsumableResource, "tokens"), Quantity: 1}, {ConsumableResource: "Other", Quantity: 1}}) {
		t.Fatalf("overridden resources = %s", got)
	}
	_, err := submit("bad", req("nope", 1))
	clientException(t, err, "consumableResourcePropertiesOverride: consumable resource nope does not exist")
	j3 := must(submit("three"))

	// The monitor (faked) records: one RUNNING, one RUNNABLE after a failed
	// attempt, one SUCCEEDED.
	j1.Status = batch.StatusRunning
	j2.Status, j2.Attempts = batch.StatusRunnable, []batch.AttemptDetail{{StartedAt: 1, StoppedAt: 2}}
	j3.Status = batch.StatusSucceeded
	for _, j := range []*batch.JobDetail{j1, j2, j3} {
		a.putRecord(t, *j)
	}
	// REPLENISHABLE licenses: held by RUNNING j1 only (3 of 10).
	// NON_REPLENISHABLE tokens: j1 runs, j2 has had an attempt (2 of 5).
	eventually(t, "quantities in use", func() error {
		lic := must(c.DescribeConsumableResource(ctx(t), &awsbatch.DescribeConsumableResourceInput{ConsumableResource: aws.String("licenses")}))
		tok := must(c.DescribeConsumableResource(ctx(t), &awsbatch.DescribeConsumableResourceInput{ConsumableResource: aws.String(batch.ARN(batch.KindConsumableResource, "tokens"))}))
		if aws.ToInt64(lic.InUseQuantity) != 3 || aws.ToInt64(lic.AvailableQuantity) != 7 || aws.ToInt64(tok.InUseQuantity) != 2 || aws.ToInt64(tok.AvailableQuantity) != 3 {
			return fmt.Errorf("licenses %d/%d, tokens %d/%d", aws.ToInt64(lic.InUseQuantity), aws.ToInt64(lic.AvailableQuantity), aws.ToInt64(tok.InUseQuantity), aws.ToInt64(tok.AvailableQuantity))
		}
		// The SUCCEEDED job holds nothing: wait for its record too.
		if n := len(must(c.ListJobsByConsumableResource(ctx(t), &awsbatch.ListJobsByConsumableResourceInput{
			ConsumableResource: aws.String("licenses")})).Jobs); n != 3 {
			return fmt.Errorf("%d jobs of licenses indexed", n)
		}
		return nil
	})
	lic := must(c.DescribeConsumableResource(ctx(t), &awsbatch.DescribeConsumableResourceInput{ConsumableResource: aws.String(licARN)}))
	if aws.ToString(lic.ResourceType) != "REPLENISHABLE" || aws.ToInt64(lic.TotalQuantity) != 10 || aws.ToInt64(lic.CreatedAt) == 0 || lic.Tags["k"] != "v" {
		t.Fatalf("described = %+v", lic)
	}
	_, err = c.DescribeConsumableResource(ctx(t), &awsbatch.DescribeConsumableResourceInput{ConsumableResource: aws.String("nope")})
	clientException(t, err, "consumable resource nope does not exist")

	// Jobs by resource, oldest first, filtered, paged.
	jobsOf := func(in *awsbatch.ListJobsByConsumableResourceInput) []string {
		var names []string
		p := awsbatch.NewListJobsByConsumableResourcePaginator(c, in)
		for p.HasMorePages() {
			for _, j := range must(p.NextPage(ctx(t))).Jobs {
				names = append(names, fmt.Sprintf("%s:%s:%d", aws.ToString(j.JobName), aws.ToString(j.JobStatus), aws.ToInt64(j.Quantity)))
			}
		}
		return names
	}
	if got := fmt.Sprint(jobsOf(&awsbatch.ListJobsByConsumableResourceInput{ConsumableResource: aws.String("licenses"), MaxResults: aws.Int32(1)})); got != "[one:RUNNING:3 two:RUNNABLE:4 three:SUCCEEDED:3]" {
		t.Fatalf("jobs of licenses = %s", got)
	}
	if got := fmt.Sprint(jobsOf(&awsbatch.ListJobsByConsumableResourceInput{ConsumableResource: aws.String("licenses"),
		Filters: []types.KeyValuesPair{{Name: aws.String("JOB_STATUS"), Values: []string{"RUNNING", "SUCCEEDED"}}}})); got != "[one:RUNNING:3 three:SUCCEEDED:3]" {
		t.Fatalf("by status = %s", got)
	}
	if got := fmt.Sprint(jobsOf(&awsbatch.ListJobsByConsumableResourceInput{ConsumableResource: aws.String("Other"),
		Filters: []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{"T*"}}}})); got != "[two:RUNNABLE:1]" {
		t.Fatalf("by name = %s", got)
	}
	first := must(c.ListJobsByConsumableResource(ctx(t), &awsbatch.ListJobsByConsumableResourceInput{ConsumableResource: aws.String("licenses"), MaxResults: aws.Int32(1)})).Jobs[0]
	if aws.ToString(first.JobArn) != batch.ARN(batch.KindJob, j1.JobID) || aws.ToString(first.JobQueueArn) != batch.ARN(batch.KindJobQueue, "q") ||
		aws.ToString(first.JobDefinitionArn) != batch.JobDefinitionARN("licensed", 1) || len(first.ConsumableResourceProperties.ConsumableResourceList) != 2 {
		t.Fatalf("summary = %+v", first)
	}
	_, err = c.ListJobsByConsumableResource(ctx(t), &awsbatch.ListJobsByConsumableResourceInput{ConsumableResource: aws.String("licenses"),
		Filters: []types.KeyValuesPair{{Name: aws.String("JOB_QUEUE"), Values: []string{"q"}}}})
	clientException(t, err, `filter name "JOB_QUEUE" is invalid`)

	// List with a name filter (case-insensitive, * for a prefix), paged.
	list := func(filters ...string) []string {
		in := &awsbatch.ListConsumableResourcesInput{MaxResults: aws.Int32(1)}
		if len(filters) > 0 {
			in.Filters = []types.KeyValuesPair{{Name: aws.String("CONSUMABLE_RESOURCE_NAME"), Values: filters}}
		}
		var names []string
		p := awsbatch.NewListConsumableResourcesPaginator(c, in)
		for p.HasMorePages() {
			for _, r := range must(p.NextPage(ctx(t))).ConsumableResources {
				names = append(names, fmt.Sprintf("%s:%d", aws.ToString(r.ConsumableResourceName), aws.ToInt64(r.InUseQuantity)))
			}
		}
		return names
	}
	if got := fmt.Sprint(list()); got != "[Other:0 licenses:3 tokens:2]" {
		t.Fatalf("list = %s", got)
	}
	if got := fmt.Sprint(list("LIC*", "other")); got != "[Other:0 licenses:3]" {
		t.Fatalf("filtered list = %s", got)
	}
	_, err = c.ListConsumableResources(ctx(t), &awsbatch.ListConsumableResourcesInput{Filters: []types.KeyValuesPair{{Name: aws.String("NAME"), Values: []string{"x"}}}})
	clientException(t, err, `filter name "NAME" is invalid: use CONSUMABLE_RESOURCE_NAME`)
	_, err = c.ListConsumableResources(ctx(t), &awsbatch.ListConsumableResourcesInput{MaxResults: aws.Int32(0), NextToken: aws.String("!")})
	clientException(t, err, "nextToken")
	_, err = c.ListJobsByConsumableResource(ctx(t), &awsbatch.ListJobsByConsumableResourceInput{ConsumableResource: aws.String("nope")})
	clientException(t, err, "consumable resource nope does not exist")

	// Update: SET, ADD, REMOVE; a clientToken makes a repeat harmless.
	update := func(op string, q int64, token string) (int64, error) {
		in := &awsbatch.UpdateConsumableResourceInput{ConsumableResource: aws.String("licenses"), Operation: aws.String(op), Quantity: aws.Int64(q)}
		if token != "" {
			in.ClientToken = aws.String(token)
		}
		out, err := c.UpdateConsumableResource(ctx(t), in)
		if err != nil {
			return 0, err
		}
		return aws.ToInt64(out.TotalQuantity), nil
	}
	for _, step := range []struct {
		op    string
		q     int64
		token string
		want  int64
	}{
		{"SET", 20, "", 20}, {"ADD", 5, "t1", 25}, {"ADD", 5, "t1", 25}, {"REMOVE", 10, "", 15}, {"ADD", 5, "", 20},
	} {
		if got := must(update(step.op, step.q, step.token)); got != step.want {
			t.Fatalf("%s %d (token %q) = %d, want %d", step.op, step.q, step.token, got, step.want)
		}
	}
	_, err = update("REMOVE", 2, "t1")
	clientException(t, err, "clientToken t1 was used for another request (ADD 5)")
	_, err = update("REMOVE", 21, "")
	clientException(t, err, "cannot REMOVE 21 from consumable resource licenses: its totalQuantity is 20")
	_, err = update("DOUBLE", 1, "")
	clientException(t, err, `operation "DOUBLE" is invalid`)
	_, err = update("SET", -1, "")
	clientException(t, err, "quantity -1 is invalid")

	// Delete.
	must(c.DeleteConsumableResource(ctx(t), &awsbatch.DeleteConsumableResourceInput{ConsumableResource: aws.String(batch.ARN(batch.KindConsumableResource, "Other"))}))
	_, err = c.DeleteConsumableResource(ctx(t), &awsbatch.DeleteConsumableResourceInput{ConsumableResource: aws.String("Other")})
	clientException(t, err, "consumable resource Other does not exist")
	if got := fmt.Sprint(list()); got != "[licenses:3 tokens:2]" {
		t.Fatalf("list after delete = %s", got)
	}
}
