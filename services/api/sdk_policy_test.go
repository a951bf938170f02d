package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// TestSDKSchedulingPolicies drives the scheduling policy operations, fair
// share queues and shareIdentifier at submit.
func TestSDKSchedulingPolicies(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	policyARN := batch.ARN(batch.KindSchedulingPolicy, "fair")

	out := must(c.CreateSchedulingPolicy(ctx(t), &awsbatch.CreateSchedulingPolicyInput{
		Name: aws.String("fair"),
		FairsharePolicy: &types.FairsharePolicy{ShareDecaySeconds: aws.Int32(3600), ComputeReservation: aws.Int32(50),
			ShareDistribution: []types.ShareAttributes{{ShareIdentifier: aws.String("teamA*"), WeightFactor: aws.Float32(0.5)}, {ShareIdentifier: aws.String("teamB")}}},
		Tags: map[string]string{"owner": "ops"},
	}))
	if aws.ToString(out.Arn) != policyARN || aws.ToString(out.Name) != "fair" {
		t.Fatalf("create answer = %+v", out)
	}
	for _, name := range []string{"p2", "p3"} {
		must(c.CreateSchedulingPolicy(ctx(t), &awsbatch.CreateSchedulingPolicyInput{Name: aws.String(name)}))
	}
	for _, tc := range []struct {
		name string
		in   *awsbatch.CreateSchedulingPolicyInput
		want string
	}{
		{"exists", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("fair")}, "Object already exists"},
		{"bad name", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("a b")}, `name "a b" is invalid`},
		{"decay", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), FairsharePolicy: &types.FairsharePolicy{ShareDecaySeconds: aws.Int32(604801)}}, "shareDecaySeconds 604801 is out of range"},
		{"reservation", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), FairsharePolicy: &types.FairsharePolicy{ComputeReservation: aws.Int32(100)}}, "computeReservation 100 is out of range: use 0 to 99"},
		{"weight", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), FairsharePolicy: &types.FairsharePolicy{
			ShareDistribution: []types.ShareAttributes{{ShareIdentifier: aws.String("a"), WeightFactor: aws.Float32(1000)}}}}, "weightFactor 1000 is out of range"},
		{"overlap", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), FairsharePolicy: &types.FairsharePolicy{
			ShareDistribution: []types.ShareAttributes{{ShareIdentifier: aws.String("UserA*")}, {ShareIdentifier: aws.String("UserA1")}}}}, "entries UserA* and UserA1 overlap"},
		{"share id", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), FairsharePolicy: &types.FairsharePolicy{
			ShareDistribution: []types.ShareAttributes{{ShareIdentifier: aws.String("a-b")}}}}, `shareIdentifier "a-b" is invalid`},
		{"reserved tag", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), Tags: map[string]string{"aws:x": "1"}}, "the aws: prefix is reserved"},
		{"quota share", &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), QuotaSharePolicy: &types.QuotaSharePolicy{IdleResourceAssignmentStrategy: "FIFO"}}, "quotaSharePolicy is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateSchedulingPolicy(ctx(t), tc.in)
			clientException(t, err, tc.want)
		})
	}
	many := make([]types.ShareAttributes, 501)
	for i := range many {
		many[i] = types.ShareAttributes{ShareIdentifier: aws.String(fmt.Sprintf("s%d", i))}
	}
	_, err := c.CreateSchedulingPolicy(ctx(t), &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("x"), FairsharePolicy: &types.FairsharePolicy{ShareDistribution: many}})
	clientException(t, err, "shareDistribution has 501 entries: at most 500")

	// Describe by ARN (unknown left out); list paged.
	d := must(c.DescribeSchedulingPolicies(ctx(t), &awsbatch.DescribeSchedulingPoliciesInput{Arns: []string{policyARN, batch.ARN(batch.KindSchedulingPolicy, "nope")}}))
	if len(d.SchedulingPolicies) != 1 {
		t.Fatalf("described %d policies", len(d.SchedulingPolicies))
	}
	p := d.SchedulingPolicies[0]
	if aws.ToString(p.Arn) != policyARN || aws.ToInt32(p.FairsharePolicy.ComputeReservation) != 50 || aws.ToInt32(p.FairsharePolicy.ShareDecaySeconds) != 3600 ||
		len(p.FairsharePolicy.ShareDistribution) != 2 || aws.ToFloat32(p.FairsharePolicy.ShareDistribution[0].WeightFactor) != 0.5 || p.Tags["owner"] != "ops" {
		t.Fatalf("policy = %+v", p)
	}
	var arns []string
	pager := awsbatch.NewListSchedulingPoliciesPaginator(c, &awsbatch.ListSchedulingPoliciesInput{MaxResults: aws.Int32(2)})
	for pager.HasMorePages() {
		for _, l := range must(pager.NextPage(ctx(t))).SchedulingPolicies {
			arns = append(arns, strings.TrimPrefix(aws.ToString(l.Arn), batch.ARN(batch.KindSchedulingPolicy, "")))
		}
	}
	if fmt.Sprint(arns) != "[fair p2 p3]" {
		t.Fatalf("listed %v", arns)
	}
	_, err = c.ListSchedulingPolicies(ctx(t), &awsbatch.ListSchedulingPoliciesInput{MaxResults: aws.Int32(101)})
	clientException(t, err, "maxResults 101 is out of range: use 1 to 100")
	_, err = c.ListSchedulingPolicies(ctx(t), &awsbatch.ListSchedulingPoliciesInput{NextToken: aws.String("!")})
	clientException(t, err, "nextToken")
	_, err = c.DescribeSchedulingPolicies(ctx(t), &awsbatch.DescribeSchedulingPoliciesInput{Arns: make([]string, 101)})
	clientException(t, err, "arns lists 101 entries: at most 100")

	// Update replaces the fair-share settings.
	must(c.UpdateSchedulingPolicy(ctx(t), &awsbatch.UpdateSchedulingPolicyInput{Arn: aws.String(policyARN),
		FairsharePolicy: &types.FairsharePolicy{ShareDistribution: []types.ShareAttributes{{ShareIdentifier: aws.String("teamC"), WeightFactor: aws.Float32(2)}}}}))
	p = must(c.DescribeSchedulingPolicies(ctx(t), &awsbatch.DescribeSchedulingPoliciesInput{Arns: []string{policyARN}})).SchedulingPolicies[0]
	if len(p.FairsharePolicy.ShareDistribution) != 1 || aws.ToString(p.FairsharePolicy.ShareDistribution[0].ShareIdentifier) != "teamC" || aws.ToInt32(p.FairsharePolicy.ComputeReservation) != 0 {
		t.Fatalf("updated policy = %+v", p.FairsharePolicy)
	}
	_, err = c.UpdateSchedulingPolicy(ctx(t), &awsbatch.UpdateSchedulingPolicyInput{Arn: aws.String(batch.ARN(batch.KindSchedulingPolicy, "nope"))})
	clientException(t, err, "scheduling policy "+batch.ARN(batch.KindSchedulingPolicy, "nope")+" does not exist")
	_, err = c.UpdateSchedulingPolicy(ctx(t), &awsbatch.UpdateSchedulingPolicyInput{Arn: aws.String(policyARN), FairsharePolicy: &types.FairsharePolicy{ComputeReservation: aws.Int32(-1)}})
	clientException(t, err, "computeReservation -1 is out of range")

	// A fair-share queue with a limit of running jobs.
	must(c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("fq"), Priority: aws.Int32(1), SchedulingPolicyArn: aws.String(policyARN),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("env")}},
	}))
	_, err = c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("fq2"), Priority: aws.Int32(1), SchedulingPolicyArn: aws.String(batch.ARN(batch.KindSchedulingPolicy, "nope")),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("env")}},
	})
	clientException(t, err, "schedulingPolicyArn: scheduling policy "+batch.ARN(batch.KindSchedulingPolicy, "nope")+" does not exist")
	fq := must(c.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{JobQueues: []string{"fq"}})).JobQueues[0]
	if aws.ToString(fq.SchedulingPolicyArn) != policyARN {
		t.Fatalf("queue policy = %s", aws.ToString(fq.SchedulingPolicyArn))
	}
	// FIFO -> fair share is refused; fair share -> another policy is not.
	_, err = c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("q"), SchedulingPolicyArn: aws.String(policyARN)})
	clientException(t, err, "job queue q is FIFO: a scheduling policy cannot be added")
	must(c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("fq"), SchedulingPolicyArn: aws.String(batch.ARN(batch.KindSchedulingPolicy, "p2"))}))
	_, err = c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("fq"), SchedulingPolicyArn: aws.String("arn:aws:batch:us-east-1:000000000000:scheduling-policy/nope")})
	clientException(t, err, "does not exist")

	// shareIdentifier: required on the fair-share queue, refused on FIFO.
	_, err = c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("fq"), JobDefinition: aws.String("sleep")})
	clientException(t, err, "shareIdentifier must be specified.")
	_, err = c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"), ShareIdentifier: aws.String("teamC")})
	clientException(t, err, "shareIdentifier is not allowed: job queue q has no scheduling policy")
	_, err = c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("fq"), JobDefinition: aws.String("sleep"), ShareIdentifier: aws.String("team C")})
	clientException(t, err, `shareIdentifier "team C" is invalid`)
	sub := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("fq"), JobDefinition: aws.String("sleep"),
		ShareIdentifier: aws.String("teamC"), SchedulingPriorityOverride: aws.Int32(7)}))
	j := must(c.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: []string{aws.ToString(sub.JobId)}})).Jobs[0]
	if aws.ToString(j.ShareIdentifier) != "teamC" || aws.ToInt32(j.SchedulingPriority) != 7 {
		t.Fatalf("job share %s priority %d", aws.ToString(j.ShareIdentifier), aws.ToInt32(j.SchedulingPriority))
	}

	// A policy in use cannot be deleted.
	_, err = c.DeleteSchedulingPolicy(ctx(t), &awsbatch.DeleteSchedulingPolicyInput{Arn: aws.String(batch.ARN(batch.KindSchedulingPolicy, "p2"))})
	clientException(t, err, "Cannot delete, scheduling policy p2 is used by job queue fq")
	must(c.DeleteSchedulingPolicy(ctx(t), &awsbatch.DeleteSchedulingPolicyInput{Arn: aws.String(policyARN)}))
	_, err = c.DeleteSchedulingPolicy(ctx(t), &awsbatch.DeleteSchedulingPolicyInput{Arn: aws.String(policyARN)})
	clientException(t, err, "does not exist")
	if d := must(c.DescribeSchedulingPolicies(ctx(t), &awsbatch.DescribeSchedulingPoliciesInput{Arns: []string{policyARN}})); len(d.SchedulingPolicies) != 0 {
		t.Fatalf("deleted policy described: %+v", d.SchedulingPolicies)
	}
}

// TestQueueMaxRunningJobs checks the maxRunningJobs additions on queues and
// shares, which the AWS SDK cannot send: over plain HTTP.
func TestQueueMaxRunningJobs(t *testing.T) {
	a := startAPI(t, nil, Config{})
	setupQueue(t, a.client)
	call := func(path, body string) (int, string) {
		status, _, data := a.post(t, path, body)
		return status, string(data)
	}
	if status, body := call("/v1/createschedulingpolicy", `{"name":"limits","fairsharePolicy":{"shareDistribution":[{"shareIdentifier":"a","maxRunningJobs":2},{"shareIdentifier":"b*","weightFactor":0.25}]}}`); status != 200 {
		t.Fatalf("create policy: %d %s", status, body)
	}
	if status, body := call("/v1/createschedulingpolicy", `{"name":"bad","fairsharePolicy":{"shareDistribution":[{"shareIdentifier":"a","maxRunningJobs":-1}]}}`); status != 400 || !strings.Contains(body, "maxRunningJobs -1 must not be negative") {
		t.Fatalf("negative share limit: %d %s", status, body)
	}
	if status, body := call("/v1/createjobqueue", `{"jobQueueName":"lq","priority":1,"maxRunningJobs":3,"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"env"}]}`); status != 200 {
		t.Fatalf("create queue: %d %s", status, body)
	}
	if status, body := call("/v1/createjobqueue", `{"jobQueueName":"bq","priority":1,"maxRunningJobs":-1,"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"env"}]}`); status != 400 || !strings.Contains(body, "maxRunningJobs -1 must not be negative") {
		t.Fatalf("negative queue limit: %d %s", status, body)
	}
	describe := func() batch.JobQueueDetail {
		_, body := call("/v1/describejobqueues", `{"jobQueues":["lq"]}`)
		var out batch.DescribeJobQueuesOutput
		if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.JobQueues) != 1 {
			t.Fatalf("describe: %s", body)
		}
		return out.JobQueues[0]
	}
	if q := describe(); q.MaxRunningJobs != 3 {
		t.Fatalf("maxRunningJobs = %d", q.MaxRunningJobs)
	}
	call("/v1/updatejobqueue", `{"jobQueue":"lq","priority":5}`)
	if q := describe(); q.MaxRunningJobs != 3 || q.Priority != 5 {
		t.Fatalf("an update without maxRunningJobs changed it: %+v", q)
	}
	call("/v1/updatejobqueue", `{"jobQueue":"lq","maxRunningJobs":0}`)
	if q := describe(); q.MaxRunningJobs != 0 {
		t.Fatalf("maxRunningJobs after setting 0 = %d", q.MaxRunningJobs)
	}
	// The stored policy, as the scheduler reads it.
	kv, err := a.js.KeyValue(t.Context(), events.BucketPolicies)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(t.Context(), "limits")
	if err != nil {
		t.Fatal(err)
	}
	var p batch.SchedulingPolicyDetail
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		t.Fatal(err)
	}
	if sd := p.FairsharePolicy.ShareDistribution; len(sd) != 2 || sd[0].MaxRunningJobs != 2 || sd[1].WeightFactor != 0.25 || p.Arn != batch.ARN(batch.KindSchedulingPolicy, "limits") {
		t.Fatalf("stored policy = %+v", p)
	}
}

// TestNATSSchedulingPolicy calls a new operation over NATS.
func TestNATSSchedulingPolicy(t *testing.T) {
	a := startAPI(t, nil, Config{})
	msg := a.request(t, "CreateSchedulingPolicy", `{"name":"viaNats","fairsharePolicy":{"computeReservation":10}}`)
	if got := compactJSON(t, msg.Data); got != `{"name":"viaNats","arn":"`+batch.ARN(batch.KindSchedulingPolicy, "viaNats")+`"}` {
		t.Fatalf("create over NATS = %s", got)
	}
	msg = a.request(t, "ListSchedulingPolicies", `{}`)
	if got := compactJSON(t, msg.Data); got != `{"schedulingPolicies":[{"arn":"`+batch.ARN(batch.KindSchedulingPolicy, "viaNats")+`"}]}` {
		t.Fatalf("list over NATS = %s", got)
	}
	msg = a.request(t, "CreateSchedulingPolicy", `{"name":"viaNats"}`)
	if msg.Header.Get("Nats-Service-Error-Code") != "400" || !strings.Contains(string(msg.Data), `"__type":"ClientException"`) || !strings.Contains(string(msg.Data), "Object already exists") {
		t.Fatalf("duplicate over NATS: %v %s", msg.Header, msg.Data)
	}
	msg = a.request(t, "DeleteSchedulingPolicy", `{"arn":"`+batch.ARN(batch.KindSchedulingPolicy, "viaNats")+`"}`)
	if got := compactJSON(t, msg.Data); got != `{}` || msg.Header.Get("Nats-Service-Error-Code") != "" {
		t.Fatalf("delete over NATS = %s", got)
	}
}
