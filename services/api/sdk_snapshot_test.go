package api

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
)

// TestSDKJobQueueSnapshot checks GetJobQueueSnapshot: the RUNNABLE jobs of
// a queue in dispatch order, FIFO and fair share.
func TestSDKJobQueueSnapshot(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	must(c.CreateSchedulingPolicy(ctx(t), &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("fair")}))
	must(c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("fq"), Priority: aws.Int32(1), SchedulingPolicyArn: aws.String(batch.ARN(batch.KindSchedulingPolicy, "fair")),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("env")}},
	}))
	snapshot := func(queue string) []string {
		t.Helper()
		out := must(c.GetJobQueueSnapshot(ctx(t), &awsbatch.GetJobQueueSnapshotInput{JobQueue: aws.String(queue)}))
		var ids []string
		for _, j := range out.FrontOfQueue.Jobs {
			if aws.ToInt64(j.EarliestTimeAtPosition) == 0 {
				t.Fatalf("job %s has no earliestTimeAtPosition", aws.ToString(j.JobArn))
			}
			ids = append(ids, aws.ToString(j.JobArn))
		}
		if aws.ToInt64(out.FrontOfQueue.LastUpdatedAt) == 0 {
			t.Fatal("no lastUpdatedAt")
		}
		return ids
	}
	if got := snapshot("q"); len(got) != 0 {
		t.Fatalf("empty queue: %v", got)
	}

	// FIFO: 105 RUNNABLE jobs give the first 100 in submit order; jobs in
	// other states are not listed.
	var fifo []string
	for i := range 107 {
		out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("j%d", i)), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep")}))
		rec := must(a.srv.lookupJob(ctx(t), aws.ToString(out.JobId)))
		rec.Status = batch.StatusRunnable
		if i == 3 || i == 50 {
			rec.Status = batch.StatusRunning
		}
		a.putRecord(t, *rec)
		if rec.Status == batch.StatusRunnable {
			fifo = append(fifo, rec.JobArn)
		}
	}
	eventually(t, "the FIFO front of queue", func() error {
		if got := snapshot(batch.ARN(batch.KindJobQueue, "q")); fmt.Sprint(got) != fmt.Sprint(fifo[:100]) {
			return fmt.Errorf("got %d jobs, first %v", len(got), got[:min(3, len(got))])
		}
		return nil
	})

	// Fair share: higher schedulingPriority first, then submit order.
	var arns []string
	for i, prio := range []int32{1, 5, 1, 9} {
		out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("f%d", i)), JobQueue: aws.String("fq"), JobDefinition: aws.String("sleep"),
			ShareIdentifier: aws.String("s"), SchedulingPriorityOverride: aws.Int32(prio)}))
		rec := must(a.srv.lookupJob(ctx(t), aws.ToString(out.JobId)))
		rec.Status = batch.StatusRunnable
		a.putRecord(t, *rec)
		arns = append(arns, rec.JobArn)
	}
	want := fmt.Sprint([]string{arns[3], arns[1], arns[0], arns[2]})
	eventually(t, "the fair-share front of queue", func() error {
		if got := fmt.Sprint(snapshot("fq")); got != want {
			return fmt.Errorf("got %s, want %s", got, want)
		}
		return nil
	})

	// Utilization: the vCPUs of STARTING and RUNNING jobs, in total and by
	// share. The FIFO queue has two RUNNING jobs of 1 vCPU.
	util := func(queue string) *types.QueueSnapshotUtilizationDetail {
		return must(c.GetJobQueueSnapshot(ctx(t), &awsbatch.GetJobQueueSnapshotInput{JobQueue: aws.String(queue)})).QueueUtilization
	}
	if u := util("q"); len(u.TotalCapacityUsage) != 1 || aws.ToString(u.TotalCapacityUsage[0].CapacityUnit) != "VCPU" ||
		aws.ToFloat64(u.TotalCapacityUsage[0].Quantity) != 2 || u.FairshareUtilization != nil || aws.ToInt64(u.LastUpdatedAt) == 0 {
		t.Fatalf("FIFO utilization = %+v", u)
	}
	for i, share := range []string{"a", "b", "b"} {
		out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("r%d", i)), JobQueue: aws.String("fq"), JobDefinition: aws.String("sleep"),
			ShareIdentifier: aws.String(share), ContainerOverrides: &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String(fmt.Sprint(i + 1))}}}}))
		rec := must(a.srv.lookupJob(ctx(t), aws.ToString(out.JobId)))
		rec.Status = batch.StatusRunning
		a.putRecord(t, *rec)
	}
	eventually(t, "the fair-share utilization", func() error {
		u := util("fq")
		fs := u.FairshareUtilization
		if aws.ToFloat64(u.TotalCapacityUsage[0].Quantity) != 6 || fs == nil || aws.ToInt64(fs.ActiveShareCount) != 2 || len(fs.TopCapacityUtilization) != 2 {
			return fmt.Errorf("utilization %+v / %+v", u, fs)
		}
		top := fs.TopCapacityUtilization
		if aws.ToString(top[0].ShareIdentifier) != "b" || aws.ToFloat64(top[0].CapacityUsage[0].Quantity) != 5 ||
			aws.ToString(top[1].ShareIdentifier) != "a" || aws.ToFloat64(top[1].CapacityUsage[0].Quantity) != 1 {
			return fmt.Errorf("top shares %+v", top)
		}
		return nil
	})
	_, err := c.GetJobQueueSnapshot(ctx(t), &awsbatch.GetJobQueueSnapshotInput{JobQueue: aws.String("nope")})
	clientException(t, err, "job queue nope does not exist")
}
