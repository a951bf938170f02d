package api

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// TestDefaultsCreatedOnce: the default environment and queue are created by
// the first start only; deleted by a user, a later start leaves them
// deleted.
func TestDefaultsCreatedOnce(t *testing.T) {
	defaults := Config{DefaultEnvironment: &DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 2}}
	a := startAPI(t, nil, defaults)
	c := a.client
	must(c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("default"), State: types.JQStateDisabled}))
	must(c.DeleteJobQueue(ctx(t), &awsbatch.DeleteJobQueueInput{JobQueue: aws.String("default")}))
	must(c.UpdateComputeEnvironment(ctx(t), &awsbatch.UpdateComputeEnvironmentInput{ComputeEnvironment: aws.String("default"), State: types.CEStateDisabled}))
	must(c.DeleteComputeEnvironment(ctx(t), &awsbatch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String("default")}))
	a.srv.Close()

	b := startAPI(t, a.ns, defaults)
	envs := must(b.client.DescribeComputeEnvironments(ctx(t), &awsbatch.DescribeComputeEnvironmentsInput{}))
	queues := must(b.client.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{}))
	if len(envs.ComputeEnvironments) != 0 || len(queues.JobQueues) != 0 {
		t.Fatalf("a restart recreated deleted defaults: %d environments, %d queues", len(envs.ComputeEnvironments), len(queues.JobQueues))
	}
}
