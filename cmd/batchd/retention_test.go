package main

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/services/monitor"
)

// With a job retention, a finished job disappears from DescribeJobs and
// ListJobs (api, monitor and scheduler in-process; the job is cancelled
// while it waits, so no container is needed).
func TestRetentionForgetsFinishedJobs(t *testing.T) {
	mcfg := monitor.DefaultConfig()
	mcfg.JobRetention, mcfg.HistoryInterval = 2*time.Second, 200*time.Millisecond
	c, _ := startStack(t, mcfg)
	ctx := ctxT(t, time.Minute)
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("d"),
		Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String(sampleImage),
			ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")},
				{Type: types.ResourceTypeMemory, Value: aws.String("32")}}}}); err != nil {
		t.Fatal(err)
	}
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("old"), JobQueue: aws.String("default"), JobDefinition: aws.String("d")})
	waitStatus(t, c, id, types.JobStatusRunnable) // no launcher: it waits
	if _, err := c.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(id), Reason: aws.String("done with it")}); err != nil {
		t.Fatal(err)
	}
	j := waitFinal(t, c, 2*time.Minute, id)[id]
	if j.Status != types.JobStatusFailed || !aws.ToBool(j.IsCancelled) || aws.ToString(j.StatusReason) != "done with it" {
		t.Fatalf("%s cancelled=%v %q", j.Status, aws.ToBool(j.IsCancelled), aws.ToString(j.StatusReason))
	}
	listed := func() int {
		out, err := c.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("default"), JobStatus: types.JobStatusFailed})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.JobSummaryList)
	}
	// ListJobs reads the api's index, which follows the records a moment
	// after DescribeJobs sees them (well within the 2 s retention).
	for n, until := listed(), time.Now().Add(1500*time.Millisecond); n != 1; n = listed() {
		if time.Now().After(until) {
			t.Fatalf("ListJobs FAILED: %d jobs before the retention", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(describe(t, c, id)) != 0 || listed() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the finished job is still found 30 s after its 2 s retention")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
