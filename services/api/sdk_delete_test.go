package api

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// TestSDKDelete drives DeleteComputeEnvironment, DeleteJobQueue and
// DeregisterJobDefinition with their preconditions.
func TestSDKDelete(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)

	// An environment must be DISABLED and used by no queue.
	_, err := c.DeleteComputeEnvironment(ctx(t), &awsbatch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String("env")})
	clientException(t, err, "Cannot delete, compute environment env is ENABLED")
	must(c.UpdateComputeEnvironment(ctx(t), &awsbatch.UpdateComputeEnvironmentInput{ComputeEnvironment: aws.String("env"), State: types.CEStateDisabled}))
	_, err = c.DeleteComputeEnvironment(ctx(t), &awsbatch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String("env")})
	clientException(t, err, "Cannot delete, found existing JobQueue relationship: job queue off, q uses compute environment env")
	_, err = c.DeleteComputeEnvironment(ctx(t), &awsbatch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String("nope")})
	clientException(t, err, batch.ARN(batch.KindComputeEnvironment, "nope")+" does not exist")

	// A queue must be DISABLED; its environments need not be removed.
	_, err = c.DeleteJobQueue(ctx(t), &awsbatch.DeleteJobQueueInput{JobQueue: aws.String("q")})
	clientException(t, err, "Cannot delete, job queue q is ENABLED")
	// Its unfinished jobs are terminated, its finished ones left alone.
	ids := map[batch.JobStatus]string{}
	for _, st := range []batch.JobStatus{batch.StatusRunnable, batch.StatusRunning, batch.StatusSucceeded} {
		out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep")}))
		rec := must(a.srv.lookupJob(ctx(t), aws.ToString(out.JobId)))
		rec.Status = st
		a.putRecord(t, *rec)
		ids[st] = rec.JobID
	}
	eventually(t, "the jobs indexed", func() error {
		if n := a.srv.index.size(); n != 3 {
			return fmt.Errorf("%d jobs indexed", n)
		}
		return nil
	})
	must(c.DeleteJobQueue(ctx(t), &awsbatch.DeleteJobQueueInput{JobQueue: aws.String(batch.ARN(batch.KindJobQueue, "off"))}))
	_, err = c.DeleteJobQueue(ctx(t), &awsbatch.DeleteJobQueueInput{JobQueue: aws.String("off")})
	clientException(t, err, batch.ARN(batch.KindJobQueue, "off")+" does not exist")
	must(c.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("q"), State: types.JQStateDisabled}))
	must(c.DeleteJobQueue(ctx(t), &awsbatch.DeleteJobQueueInput{JobQueue: aws.String("q")}))
	stream := must(a.js.Stream(t.Context(), events.StreamJobs))
	for st, id := range ids {
		msg, err := stream.GetLastMsgForSubject(t.Context(), events.TerminateSubject(id))
		if st == batch.StatusSucceeded {
			if err == nil {
				t.Fatalf("the SUCCEEDED job was terminated: %s", msg.Data)
			}
			continue
		}
		var f events.JobTerminate
		if err != nil || json.Unmarshal(msg.Data, &f) != nil || f.JobID != id || f.Reason != "Terminated because job queue q was deleted" {
			t.Fatalf("termination of the %s job: %v %s", st, err, msg.Data)
		}
	}
	if qs := must(c.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{})); len(qs.JobQueues) != 0 {
		t.Fatalf("queues after delete: %+v", qs.JobQueues)
	}
	// Now the environment is free.
	must(c.DeleteComputeEnvironment(ctx(t), &awsbatch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String(batch.ARN(batch.KindComputeEnvironment, "env"))}))
	if ces := must(c.DescribeComputeEnvironments(ctx(t), &awsbatch.DescribeComputeEnvironmentsInput{})); len(ces.ComputeEnvironments) != 0 {
		t.Fatalf("environments after delete: %+v", ces.ComputeEnvironments)
	}
	// The name can be used again, and a queue on it takes jobs.
	setupQueue(t, c)

	// Deregister: the revision becomes INACTIVE and cannot be submitted;
	// the name resolves to the latest ACTIVE revision.
	_, err = c.DeregisterJobDefinition(ctx(t), &awsbatch.DeregisterJobDefinitionInput{JobDefinition: aws.String("sleep")})
	clientException(t, err, "jobDefinition sleep has no revision")
	_, err = c.DeregisterJobDefinition(ctx(t), &awsbatch.DeregisterJobDefinitionInput{JobDefinition: aws.String("sleep:9")})
	clientException(t, err, "job definition sleep:9 does not exist")
	must(c.DeregisterJobDefinition(ctx(t), &awsbatch.DeregisterJobDefinitionInput{JobDefinition: aws.String(batch.JobDefinitionARN("sleep", 4))}))
	must(c.DeregisterJobDefinition(ctx(t), &awsbatch.DeregisterJobDefinitionInput{JobDefinition: aws.String("sleep:4")})) // again: no change
	inactive := must(c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("sleep"), Status: aws.String("INACTIVE")}))
	if len(inactive.JobDefinitions) != 1 || aws.ToInt32(inactive.JobDefinitions[0].Revision) != 4 || aws.ToString(inactive.JobDefinitions[0].Status) != "INACTIVE" {
		t.Fatalf("INACTIVE definitions = %+v", inactive.JobDefinitions)
	}
	active := must(c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("sleep"), Status: aws.String("ACTIVE")}))
	if len(active.JobDefinitions) != 3 {
		t.Fatalf("ACTIVE definitions = %d, want revisions 1 to 3", len(active.JobDefinitions))
	}
	_, err = c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep:4")})
	clientException(t, err, "job definition sleep:4 is INACTIVE")
	out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep")}))
	j := must(a.srv.lookupJob(ctx(t), aws.ToString(out.JobId)))
	if j.JobDefinition != batch.JobDefinitionARN("sleep", 3) {
		t.Fatalf("submitted with %s, want the latest ACTIVE revision 3", j.JobDefinition)
	}
}
