package api

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
)

// TestSDKResources drives compute environments, queues and job definitions
// with the official AWS SDK for Go v2.
func TestSDKResources(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client

	ce := must(c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("ec2-env"),
		Type:                   types.CETypeManaged,
		ComputeResources: &types.ComputeResource{
			Type: types.CRTypeEc2, MaxvCpus: aws.Int32(8), MinvCpus: aws.Int32(0),
			Subnets: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}, InstanceTypes: []string{"optimal"},
			AllocationStrategy: types.CRAllocationStrategyBestFitProgressive, InstanceRole: aws.String("ecsInstanceRole"),
		},
		Tags: map[string]string{"team": "a"},
	}))
	if aws.ToString(ce.ComputeEnvironmentArn) != batch.ARN(batch.KindComputeEnvironment, "ec2-env") {
		t.Fatalf("arn = %s", aws.ToString(ce.ComputeEnvironmentArn))
	}
	must(c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("fargate-env"),
		Type:                   types.CETypeManaged,
		ComputeResources: &types.ComputeResource{
			Type: types.CRTypeFargate, MaxvCpus: aws.Int32(16),
			Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroupIds: []string{"sg-1"},
		},
	}))
	must(c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("own-hosts"), Type: types.CETypeUnmanaged, UnmanagedvCpus: aws.Int32(4),
	}))
	_, err := c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("ec2-env"), Type: types.CETypeUnmanaged,
	})
	clientException(t, err, "Object already exists")
	_, err = c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("bad name"), Type: types.CETypeUnmanaged,
	})
	clientException(t, err, `computeEnvironmentName "bad name" is invalid`)
	_, err = c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("no-resources"), Type: types.CETypeManaged,
	})
	clientException(t, err, "computeResources is required for a MANAGED compute environment")

	// Describe: all, by name or ARN, paged.
	all := must(c.DescribeComputeEnvironments(ctx(t), &awsbatch.DescribeComputeEnvironmentsInput{}))
	if len(all.ComputeEnvironments) != 3 {
		t.Fatalf("%d environments", len(all.ComputeEnvironments))
	}
	got := must(c.DescribeComputeEnvironments(ctx(t), &awsbatch.DescribeComputeEnvironmentsInput{
		ComputeEnvironments: []string{"fargate-env", batch.ARN(batch.KindComputeEnvironment, "ec2-env"), "missing"},
	}))
	if len(got.ComputeEnvironments) != 2 {
		t.Fatalf("by name: %d environments", len(got.ComputeEnvironments))
	}
	e := got.ComputeEnvironments[0]
	if aws.ToString(e.ComputeEnvironmentName) != "ec2-env" || e.State != types.CEStateEnabled || e.Status != types.CEStatusValid ||
		aws.ToInt32(e.ComputeResources.MaxvCpus) != 8 || e.ComputeResources.Subnets[0] != "subnet-1" || e.Tags["team"] != "a" {
		t.Fatalf("environment = %+v", e)
	}
	var names []string
	pager := awsbatch.NewDescribeComputeEnvironmentsPaginator(c, &awsbatch.DescribeComputeEnvironmentsInput{MaxResults: aws.Int32(1)})
	for pager.HasMorePages() {
		page := must(pager.NextPage(ctx(t)))
		for _, e := range page.ComputeEnvironments {
			names = append(names, aws.ToString(e.ComputeEnvironmentName))
		}
	}
	if fmt.Sprint(names) != "[ec2-env fargate-env own-hosts]" {
		t.Fatalf("paged = %v", names)
	}

	// Update.
	must(c.UpdateComputeEnvironment(ctx(t), &awsbatch.UpdateComputeEnvironmentInput{
		ComputeEnvironment: aws.String("ec2-env"), State: types.CEStateDisabled,
		ComputeResources: &types.ComputeResourceUpdate{MaxvCpus: aws.Int32(4), DesiredvCpus: aws.Int32(2)},
	}))
	got = must(c.DescribeComputeEnvironments(ctx(t), &awsbatch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{"ec2-env"}}))
	if e := got.ComputeEnvironments[0]; e.State != types.CEStateDisabled || aws.ToInt32(e.ComputeResources.MaxvCpus) != 4 || aws.ToInt32(e.ComputeResources.DesiredvCpus) != 2 {
		t.Fatalf("after update: %+v", e)
	}
	_, err = c.UpdateComputeEnvironment(ctx(t), &awsbatch.UpdateComputeEnvironmentInput{ComputeEnvironment: aws.String("nope"), State: types.CEStateEnabled})
	clientException(t, err, "compute environment nope does not exist")
	_, err = c.UpdateComputeEnvironment(ctx(t), &awsbatch.UpdateComputeEnvironmentInput{
		ComputeEnvironment: aws.String("ec2-env"), ComputeResources: &types.ComputeResourceUpdate{MinvCpus: aws.Int32(9)},
	})
	clientException(t, err, "minvCpus 9 is out of range")

	// Queues.
	q := must(c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("q"), Priority: aws.Int32(10),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("ec2-env")}},
	}))
	if aws.ToString(q.JobQueueArn) != batch.ARN(batch.KindJobQueue, "q") {
		t.Fatalf("queue arn %s", aws.ToString(q.JobQueueArn))
	}
	must(c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("fq"), Priority: aws.Int32(1), State: types.JQStateDisabled,
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String(batch.ARN(batch.KindComputeEnvironment, "fargate-env"))}},
	}))
	_, err = c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("q"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("ec2-env")}},
	})
	clientException(t, err, "Object already exists")
	_, err = c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("q2"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("nope")}},
	})
	clientException(t, err, "compute environment nope does not exist")
	_, err = c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("q2"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{
			{Order: aws.Int32(1), ComputeEnvironment: aws.String("ec2-env")}, {Order: aws.Int32(2), ComputeEnvironment: aws.String("fargate-env")}},
	})
	clientException(t, err, "mixes Fargate")
	queues := must(c.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{}))
	if len(queues.JobQueues) != 2 {
		t.Fatalf("%d queues", len(queues.JobQueues))
	}
	if jq := queues.JobQueues[1]; aws.ToString(jq.JobQueueName) != "q" || aws.ToInt32(jq.Priority) != 10 || jq.State != types.JQStateEnabled ||
		aws.ToString(jq.ComputeEnvironmentOrder[0].ComputeEnvironment) != batch.ARN(batch.KindComputeEnvironment, "ec2-env") || jq.Status != types.JQStatusValid {
		t.Fatalf("queue = %+v", jq)
	}
	must(c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("fq"), State: types.JQStateEnabled, Priority: aws.Int32(20)}))
	fq := must(c.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{JobQueues: []string{batch.ARN(batch.KindJobQueue, "fq")}}))
	if jq := fq.JobQueues[0]; jq.State != types.JQStateEnabled || aws.ToInt32(jq.Priority) != 20 || jq.JobQueueType != types.JobQueueTypeEcsFargate {
		t.Fatalf("updated queue = %+v", jq)
	}
	_, err = c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("nope"), Priority: aws.Int32(1)})
	clientException(t, err, "job queue nope does not exist")

	// Job definitions: revisions 1 and 2, a Fargate one of 0.25 vCPU.
	for rev := 1; rev <= 2; rev++ {
		out := must(c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
			JobDefinitionName: aws.String("sleep"), Type: types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{
				Image: aws.String("busybox"), Command: []string{"sleep", "Ref::seconds"},
				ResourceRequirements: []types.ResourceRequirement{
					{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String(strconv.Itoa(64 * rev))}},
			},
			Parameters: map[string]string{"seconds": "1"},
		}))
		if aws.ToInt32(out.Revision) != int32(rev) || aws.ToString(out.JobDefinitionArn) != batch.JobDefinitionARN("sleep", rev) {
			t.Fatalf("registration %d: %+v", rev, out)
		}
	}
	must(c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("tiny"), Type: types.JobDefinitionTypeContainer,
		PlatformCapabilities: []types.PlatformCapability{types.PlatformCapabilityFargate},
		ContainerProperties: &types.ContainerProperties{
			Image: aws.String("busybox"),
			ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("0.25")}, {Type: types.ResourceTypeMemory, Value: aws.String("512")}},
			NetworkConfiguration: &types.NetworkConfiguration{AssignPublicIp: types.AssignPublicIpEnabled},
		},
	}))
	defs := must(c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("sleep")}))
	if len(defs.JobDefinitions) != 2 || aws.ToInt32(defs.JobDefinitions[0].Revision) != 2 || aws.ToString(defs.JobDefinitions[0].Status) != "ACTIVE" {
		t.Fatalf("sleep revisions = %+v", defs.JobDefinitions)
	}
	defs = must(c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{
		JobDefinitions: []string{"sleep:1", batch.JobDefinitionARN("tiny", 1)}}))
	if len(defs.JobDefinitions) != 2 || aws.ToString(defs.JobDefinitions[0].JobDefinitionName) != "sleep" || aws.ToInt32(defs.JobDefinitions[0].Revision) != 1 ||
		aws.ToString(defs.JobDefinitions[1].ContainerProperties.ResourceRequirements[0].Value) != "0.25" ||
		defs.JobDefinitions[1].ContainerProperties.NetworkConfiguration.AssignPublicIp != types.AssignPublicIpEnabled {
		t.Fatalf("by list = %+v", defs.JobDefinitions)
	}
	var revs []string
	dpager := awsbatch.NewDescribeJobDefinitionsPaginator(c, &awsbatch.DescribeJobDefinitionsInput{Status: aws.String("ACTIVE"), MaxResults: aws.Int32(2)})
	for dpager.HasMorePages() {
		for _, d := range must(dpager.NextPage(ctx(t))).JobDefinitions {
			revs = append(revs, fmt.Sprintf("%s:%d", aws.ToString(d.JobDefinitionName), aws.ToInt32(d.Revision)))
		}
	}
	if fmt.Sprint(revs) != "[sleep:2 sleep:1 tiny:1]" {
		t.Fatalf("all definitions = %v", revs)
	}

	for _, tc := range []struct {
		name string
		in   *awsbatch.RegisterJobDefinitionInput
		want string
	}{
		{"missing image", &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{Vcpus: aws.Int32(1), Memory: aws.Int32(64)}}, "containerProperties.image is required"},
		{"bad vcpu value", &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{Image: aws.String("i"), ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("lots")}, {Type: types.ResourceTypeMemory, Value: aws.String("64")}}}}, `VCPU value "lots" must be a positive number`},
		{"no memory", &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{Image: aws.String("i"), Vcpus: aws.Int32(1)}}, "has no MEMORY"},
		{"fargate size", &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer,
			PlatformCapabilities: []types.PlatformCapability{types.PlatformCapabilityFargate},
			ContainerProperties: &types.ContainerProperties{Image: aws.String("i"), ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("0.3")}, {Type: types.ResourceTypeMemory, Value: aws.String("512")}}}}, "not a Fargate size"},
		{"bad name", &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("my def"), Type: types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{Image: aws.String("i"), Vcpus: aws.Int32(1), Memory: aws.Int32(64)}}, `jobDefinitionName "my def" is invalid`},
		{"reserved env", &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{Image: aws.String("i"), Vcpus: aws.Int32(1), Memory: aws.Int32(64),
				Environment: []types.KeyValuePair{{Name: aws.String("AWS_BATCH_JOB_ID"), Value: aws.String("1")}}}}, "reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.RegisterJobDefinition(ctx(t), tc.in)
			clientException(t, err, tc.want)
		})
	}
}

// setupQueue creates an environment, a queue "q" and a definition "sleep"
// (two revisions) through the SDK.
func setupQueue(t *testing.T, c *awsbatch.Client) {
	t.Helper()
	must(c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("env"), Type: types.CETypeManaged,
		ComputeResources: &types.ComputeResource{Type: types.CRTypeEc2, MaxvCpus: aws.Int32(4), Subnets: []string{"s"}},
	}))
	for _, name := range []string{"q", "off"} {
		must(c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
			JobQueueName: aws.String(name), Priority: aws.Int32(1),
			ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("env")}},
		}))
	}
	must(c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("off"), State: types.JQStateDisabled}))
	for _, seconds := range []string{"1", "2"} {
		must(c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
			JobDefinitionName: aws.String("sleep"), Type: types.JobDefinitionTypeContainer,
			Parameters: map[string]string{"seconds": seconds, "label": "none"},
			ContainerProperties: &types.ContainerProperties{
				Image: aws.String("busybox"), Command: []string{"sh", "-c", "sleep Ref::seconds # Ref::label"},
				Vcpus: aws.Int32(1), Memory: aws.Int32(128),
				Environment: []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("1")}},
			},
		}))
	}
}

func submit(t *testing.T, c *awsbatch.Client, name string) string {
	t.Helper()
	out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{
		JobName: aws.String(name), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
	}))
	return aws.ToString(out.JobId)
}

func TestSDKSubmitDescribeList(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)

	out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{
		JobName: aws.String("job-0"), JobQueue: aws.String(batch.ARN(batch.KindJobQueue, "q")), JobDefinition: aws.String("sleep"),
		Parameters: map[string]string{"seconds": "5"},
		ContainerOverrides: &types.ContainerOverrides{
			Environment: []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("2")}, {Name: aws.String("B"), Value: aws.String("3")}},
			Memory:      aws.Int32(256),
		},
		RetryStrategy: &types.RetryStrategy{Attempts: aws.Int32(3), EvaluateOnExit: []types.EvaluateOnExit{{Action: "exit", OnExitCode: aws.String("2")}}},
		Timeout:       &types.JobTimeout{AttemptDurationSeconds: aws.Int32(120)},
		Tags:          map[string]string{"k": "v"},
	}))
	id := aws.ToString(out.JobId)
	if len(id) != 36 || id[14] != '4' || aws.ToString(out.JobArn) != batch.ARN(batch.KindJob, id) || aws.ToString(out.JobName) != "job-0" {
		t.Fatalf("submit answer = %+v", out)
	}

	// Right after SubmitJob the job is described from the stream.
	d := must(c.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: []string{id, "00000000-0000-4000-8000-000000000000"}}))
	if len(d.Jobs) != 1 {
		t.Fatalf("describe returned %d jobs", len(d.Jobs))
	}
	j := d.Jobs[0]
	if j.Status != types.JobStatusSubmitted || aws.ToString(j.JobQueue) != batch.ARN(batch.KindJobQueue, "q") ||
		aws.ToString(j.JobDefinition) != batch.JobDefinitionARN("sleep", 2) || aws.ToInt64(j.CreatedAt) == 0 {
		t.Fatalf("job = %+v", j)
	}
	if cmd := j.Container.Command; !slices.Equal(cmd, []string{"sh", "-c", "sleep 5 # none"}) {
		t.Fatalf("command = %q", cmd)
	}
	env := map[string]string{}
	for _, kv := range j.Container.Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if env["A"] != "2" || env["B"] != "3" {
		t.Fatalf("environment = %v", env)
	}
	reqs := map[types.ResourceType]string{}
	for _, r := range j.Container.ResourceRequirements {
		reqs[r.Type] = aws.ToString(r.Value)
	}
	if reqs[types.ResourceTypeVcpu] != "1" || reqs[types.ResourceTypeMemory] != "256" {
		t.Fatalf("resourceRequirements = %v", reqs)
	}
	if aws.ToInt32(j.RetryStrategy.Attempts) != 3 || j.RetryStrategy.EvaluateOnExit[0].Action != types.RetryActionExit ||
		aws.ToInt32(j.Timeout.AttemptDurationSeconds) != 120 || j.Tags["k"] != "v" || j.Parameters["seconds"] != "5" {
		t.Fatalf("job settings = %+v", j)
	}

	// Four more jobs; the monitor (faked here) records all five as RUNNABLE.
	jobs := []string{id}
	for i := 1; i < 5; i++ {
		jobs = append(jobs, submit(t, c, fmt.Sprintf("job-%d", i)))
	}
	jobs = append(jobs, submit(t, c, "other"))
	d = must(c.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: jobs}))
	if len(d.Jobs) != 6 {
		t.Fatalf("described %d of 6 jobs", len(d.Jobs))
	}
	records := map[string]batch.JobDetail{}
	for i, id := range jobs {
		rec := must(a.srv.lookupJob(ctx(t), id))
		rec.Status = batch.StatusRunnable
		rec.CreatedAt = 1_000_000 + int64(i) // distinct, increasing
		if i == 5 {
			rec.Status = batch.StatusSucceeded
		}
		records[id] = *rec
		a.putRecord(t, *rec)
	}
	list := func(in *awsbatch.ListJobsInput) []string {
		t.Helper()
		var names []string
		pager := awsbatch.NewListJobsPaginator(c, in)
		for pager.HasMorePages() {
			for _, s := range must(pager.NextPage(ctx(t))).JobSummaryList {
				names = append(names, aws.ToString(s.JobName))
			}
		}
		return names
	}
	eventually(t, "five RUNNABLE jobs listed", func() error {
		if got := list(&awsbatch.ListJobsInput{JobQueue: aws.String("q"), JobStatus: types.JobStatusRunnable}); len(got) != 5 {
			return fmt.Errorf("listed %v", got)
		}
		return nil
	})
	eventually(t, "all six records indexed", func() error {
		if counts := a.srv.JobCounts(batch.ARN(batch.KindJobQueue, "q")); counts[batch.StatusRunnable] != 5 || counts[batch.StatusSucceeded] != 1 {
			return fmt.Errorf("JobCounts = %v", counts)
		}
		return nil
	})
	d = must(c.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: []string{id}}))
	if d.Jobs[0].Status != types.JobStatusRunnable {
		t.Fatalf("described from the record: %s", d.Jobs[0].Status)
	}

	// Paging: maxResults 2 over 5 jobs gives 2, 2, 1 in queue order.
	first := must(c.ListJobs(ctx(t), &awsbatch.ListJobsInput{JobQueue: aws.String("q"), JobStatus: types.JobStatusRunnable, MaxResults: aws.Int32(2)}))
	if len(first.JobSummaryList) != 2 || first.NextToken == nil || aws.ToString(first.JobSummaryList[0].JobName) != "job-0" {
		t.Fatalf("first page = %+v", first)
	}
	s0 := first.JobSummaryList[0]
	if aws.ToString(s0.JobId) != id || s0.Status != types.JobStatusRunnable || aws.ToString(s0.JobDefinition) != batch.JobDefinitionARN("sleep", 2) || aws.ToInt64(s0.CreatedAt) != 1_000_000 {
		t.Fatalf("summary = %+v", s0)
	}
	paged := list(&awsbatch.ListJobsInput{JobQueue: aws.String("q"), JobStatus: types.JobStatusRunnable, MaxResults: aws.Int32(2)})
	if fmt.Sprint(paged) != "[job-0 job-1 job-2 job-3 job-4]" {
		t.Fatalf("paged = %v", paged)
	}
	pages := 0
	pager := awsbatch.NewListJobsPaginator(c, &awsbatch.ListJobsInput{JobQueue: aws.String("q"), JobStatus: types.JobStatusRunnable, MaxResults: aws.Int32(2)})
	for pager.HasMorePages() {
		must(pager.NextPage(ctx(t)))
		pages++
	}
	if pages != 3 {
		t.Fatalf("%d pages, want 3", pages)
	}

	// Default status is RUNNING; filters list every status, newest first.
	if got := list(&awsbatch.ListJobsInput{JobQueue: aws.String("q")}); len(got) != 0 {
		t.Fatalf("RUNNING = %v", got)
	}
	filter := func(name, value string) *awsbatch.ListJobsInput {
		return &awsbatch.ListJobsInput{JobQueue: aws.String("q"), Filters: []types.KeyValuesPair{{Name: aws.String(name), Values: []string{value}}}}
	}
	for _, tc := range []struct {
		in   *awsbatch.ListJobsInput
		want string
	}{
		{filter("JOB_NAME", "JOB-*"), "[job-4 job-3 job-2 job-1 job-0]"},
		{filter("JOB_NAME", "job-3"), "[job-3]"},
		{filter("JOB_NAME", "oth*"), "[other]"},
		{filter("JOB_DEFINITION", "sleep"), "[other job-4 job-3 job-2 job-1 job-0]"},
		{filter("JOB_DEFINITION", batch.JobDefinitionARN("sleep", 1)), "[]"},
		{filter("BEFORE_CREATED_AT", "1000002"), "[job-1 job-0]"},
		{filter("AFTER_CREATED_AT", "1000003"), "[other job-4]"},
	} {
		if got := fmt.Sprint(list(tc.in)); got != tc.want {
			t.Errorf("%s %v = %s, want %s", aws.ToString(tc.in.Filters[0].Name), tc.in.Filters[0].Values, got, tc.want)
		}
	}
	in := filter("JOB_NAME", "job*")
	in.MaxResults = aws.Int32(2)
	if got := fmt.Sprint(list(in)); got != "[job-4 job-3 job-2 job-1 job-0]" {
		t.Fatalf("filtered paging = %s", got)
	}

	_, err := c.ListJobs(ctx(t), &awsbatch.ListJobsInput{})
	clientException(t, err, "give exactly one of jobQueue, arrayJobId or multiNodeJobId")
	_, err = c.ListJobs(ctx(t), &awsbatch.ListJobsInput{JobQueue: aws.String("nope")})
	clientException(t, err, "job queue nope does not exist")
	_, err = c.ListJobs(ctx(t), &awsbatch.ListJobsInput{JobQueue: aws.String("q"), NextToken: aws.String("garbage")})
	clientException(t, err, "nextToken")
	_, err = c.ListJobs(ctx(t), filter("STATUS", "x"))
	clientException(t, err, `filter name "STATUS" is invalid`)

	// A dependency on an existing job is accepted.
	must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{
		JobName: aws.String("after"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep:1"),
		DependsOn: []types.JobDependency{{JobId: aws.String(jobs[0])}, {JobId: aws.String(jobs[1])}},
	}))
}

// TestSDKSubmitErrors checks that every invalid submission is a typed
// ClientException saying what is wrong.
func TestSDKSubmitErrors(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	must(c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("mnp"), Type: types.JobDefinitionTypeMultinode,
		NodeProperties: &types.NodeProperties{NumNodes: aws.Int32(2), MainNode: aws.Int32(0), NodeRangeProperties: []types.NodeRangeProperty{
			{TargetNodes: aws.String("0:1"), Container: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(64)}}}},
	}))
	valid := func() *awsbatch.SubmitJobInput {
		return &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep")}
	}
	for _, tc := range []struct {
		name   string
		change func(*awsbatch.SubmitJobInput)
		want   string
	}{
		{"unknown queue", func(in *awsbatch.SubmitJobInput) { in.JobQueue = aws.String("nope") }, "job queue nope does not exist: existing queues are off, q"},
		{"disabled queue", func(in *awsbatch.SubmitJobInput) { in.JobQueue = aws.String("off") }, "job queue off is DISABLED and does not take new jobs"},
		{"unknown definition", func(in *awsbatch.SubmitJobInput) { in.JobDefinition = aws.String("nope") }, "job definition nope does not exist"},
		{"unknown revision", func(in *awsbatch.SubmitJobInput) { in.JobDefinition = aws.String("sleep:9") }, "the latest revision of sleep is 2"},
		{"invalid name", func(in *awsbatch.SubmitJobInput) { in.JobName = aws.String("my job!") }, `jobName "my job!" is invalid`},
		{"payload too big", func(in *awsbatch.SubmitJobInput) {
			in.Parameters = map[string]string{"big": strings.Repeat("x", 31*1024)}
		}, "exceeds the SubmitJob limit of 30720 bytes (30 KiB)"},
		{"reserved env", func(in *awsbatch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("AWS_BATCH_JOB_ID"), Value: aws.String("x")}}}
		}, "names starting with AWS_BATCH are reserved"},
		{"bad resource", func(in *awsbatch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeMemory, Value: aws.String("lots")}}}
		}, `MEMORY value "lots" must be a positive whole number`},
		{"array of one", func(in *awsbatch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(1)} }, "arrayProperties.size 1 is out of range: use 2 to 10000"},
		{"multinode array", func(in *awsbatch.SubmitJobInput) {
			in.JobDefinition, in.ArrayProperties = aws.String("mnp"), &types.ArrayProperties{Size: aws.Int32(2)}
		}, "multi-node parallel job: it cannot run as an array job"},
		{"multinode numNodes without open range", func(in *awsbatch.SubmitJobInput) {
			in.JobDefinition, in.NodeOverrides = aws.String("mnp"), &types.NodeOverrides{NumNodes: aws.Int32(3)}
		}, "needs a job definition with an open-ended node range"},
		{"unknown dependency", func(in *awsbatch.SubmitJobInput) {
			in.DependsOn = []types.JobDependency{{JobId: aws.String("00000000-0000-4000-8000-000000000000")}}
		}, "dependsOn job 00000000-0000-4000-8000-000000000000 does not exist"},
		{"short timeout", func(in *awsbatch.SubmitJobInput) {
			in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(30)}
		}, "too short: use at least 60 seconds"},
		{"retry attempts", func(in *awsbatch.SubmitJobInput) { in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(11)} }, "use 1 to 10"},
		{"share on fifo", func(in *awsbatch.SubmitJobInput) { in.ShareIdentifier = aws.String("a") }, "shareIdentifier is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.change(in)
			_, err := c.SubmitJob(ctx(t), in)
			clientException(t, err, tc.want)
		})
	}
	_, err := c.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: make([]string, 101)})
	clientException(t, err, "at most 100")
}
