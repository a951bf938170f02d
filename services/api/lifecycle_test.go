package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// These tests drive the job lifecycle operations with the AWS SDK for Go
// v2 (and plain JSON for this system's additions) and check the facts the
// api stores; the monitor's side is tested in services/monitor and the
// whole flow in cmd/batchd.

// stored returns the last message on subject, decoded into v; false when
// there is none.
func (a *testAPI) stored(t *testing.T, subject string, v any) bool {
	t.Helper()
	st, err := a.js.Stream(ctx(t), events.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(ctx(t), subject)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return false
		}
		t.Fatal(err)
	}
	if err := json.Unmarshal(msg.Data, v); err != nil {
		t.Fatal(err)
	}
	return true
}

// count is how many messages the jobs stream holds on subject.
func (a *testAPI) count(t *testing.T, subject string) uint64 {
	t.Helper()
	st, err := a.js.Stream(ctx(t), events.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx(t), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func TestSDKArrayJobs(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("arr"), JobQueue: aws.String("q"),
		JobDefinition: aws.String("sleep"), ArrayProperties: &types.ArrayProperties{Size: aws.Int32(3)}}))
	id := aws.ToString(out.JobId)
	var ev events.JobSubmitted
	if !a.stored(t, events.SubmitSubject(id), &ev) || !ev.Job.IsArrayParent() || ev.Job.ArrayProperties.Size != 3 {
		t.Fatalf("one submit for the whole array, the parent with its size: %+v", ev.Job.ArrayProperties)
	}
	// The children, as the monitor creates them.
	for i := range 3 {
		child := ev.Job
		child.JobID = batch.ArrayChildID(id, i)
		child.Status = batch.StatusPending
		child.ArrayProperties = &batch.ArrayPropertiesDetail{Index: &i}
		a.putRecord(t, child)
	}
	a.putRecord(t, func() batch.JobDetail {
		p := ev.Job
		p.Status = batch.StatusPending
		p.ArrayProperties.StatusSummary = map[string]int{"PENDING": 3}
		return p
	}())
	eventually(t, "children listed", func() error {
		l := must(c.ListJobs(ctx(t), &awsbatch.ListJobsInput{ArrayJobId: aws.String(id), JobStatus: types.JobStatusPending}))
		if len(l.JobSummaryList) != 3 {
			return fmt.Errorf("%d children", len(l.JobSummaryList))
		}
		for i, s := range l.JobSummaryList {
			if aws.ToString(s.JobId) != fmt.Sprintf("%s:%d", id, i) || aws.ToInt32(s.ArrayProperties.Index) != int32(i) {
				return fmt.Errorf("child %d: %s", i, aws.ToString(s.JobId))
			}
		}
		return nil
	})
	d := must(c.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: []string{id, id + ":1"}}))
	if len(d.Jobs) != 2 || aws.ToInt32(d.Jobs[0].ArrayProperties.Size) != 3 || d.Jobs[0].ArrayProperties.StatusSummary["PENDING"] != 3 ||
		aws.ToInt32(d.Jobs[1].ArrayProperties.Index) != 1 {
		t.Fatalf("describe parent and child: %+v", d.Jobs)
	}
	// Queue listing shows the parent, not the children (the parent's
	// record is indexed after the children's).
	eventually(t, "the queue listing", func() error {
		l := must(c.ListJobs(ctx(t), &awsbatch.ListJobsInput{JobQueue: aws.String("q"), JobStatus: types.JobStatusPending}))
		if len(l.JobSummaryList) != 1 || aws.ToString(l.JobSummaryList[0].JobId) != id {
			return fmt.Errorf("queue listing: %d jobs", len(l.JobSummaryList))
		}
		return nil
	})

	// N_TO_N needs an array of the same size.
	must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("n2n"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(3)},
		DependsOn:       []types.JobDependency{{JobId: aws.String(id), Type: types.ArrayJobDependencyNToN}}}))
	_, err := c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("n2n"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(4)},
		DependsOn:       []types.JobDependency{{JobId: aws.String(id), Type: types.ArrayJobDependencyNToN}}})
	clientException(t, err, "has 3 children and this one 4")
	single := submit(t, c, "single")
	_, err = c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("n2n"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(3)},
		DependsOn:       []types.JobDependency{{JobId: aws.String(single), Type: types.ArrayJobDependencyNToN}}})
	clientException(t, err, "is not an array job")
	// SEQUENTIAL, and a plain dependency on the parent and on a child.
	must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("seq"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(2)},
		DependsOn: []types.JobDependency{{Type: types.ArrayJobDependencySequential}, {JobId: aws.String(id)},
			{JobId: aws.String(id + ":2")}}}))
	_, err = c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("seq"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		DependsOn: []types.JobDependency{{Type: types.ArrayJobDependencySequential}}})
	clientException(t, err, "SEQUENTIAL applies only to array jobs")
	_, err = c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("x"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		DependsOn: []types.JobDependency{{JobId: aws.String(id + ":7")}}})
	clientException(t, err, "does not exist")

	// maxRunningJobs (an addition) is carried on the parent.
	code, _, body := a.post(t, "/v1/submitjob", `{"jobName":"lim","jobQueue":"q","jobDefinition":"sleep","arrayProperties":{"size":5,"maxRunningJobs":2}}`)
	var so batch.SubmitJobOutput
	_ = json.Unmarshal(body, &so)
	if code != 200 || !a.stored(t, events.SubmitSubject(so.JobID), &ev) || ev.Job.ArrayProperties.MaxRunningJobs != 2 {
		t.Fatalf("%d %s: %+v", code, body, ev.Job.ArrayProperties)
	}
}

func TestSDKCancelTerminate(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	id := submit(t, c, "victim")
	must(c.CancelJob(ctx(t), &awsbatch.CancelJobInput{JobId: aws.String(id), Reason: aws.String("not needed")}))
	var cancel events.JobCancel
	if !a.stored(t, events.CancelSubject(id), &cancel) || cancel.Reason != "not needed" || cancel.By != events.ByUser || cancel.Time == 0 {
		t.Fatalf("cancel fact %+v", cancel)
	}
	must(c.TerminateJob(ctx(t), &awsbatch.TerminateJobInput{JobId: aws.String(batch.ARN(batch.KindJob, id)), Reason: aws.String("stop")}))
	var term events.JobTerminate
	if !a.stored(t, events.TerminateSubject(id), &term) || term.Reason != "stop" || term.JobID != id {
		t.Fatalf("terminate fact %+v", term)
	}
	// A well-formed unknown id: 200, as AWS, and no fact.
	unknown := "00000000-0000-4000-8000-000000000000"
	must(c.CancelJob(ctx(t), &awsbatch.CancelJobInput{JobId: aws.String(unknown), Reason: aws.String("r")}))
	must(c.TerminateJob(ctx(t), &awsbatch.TerminateJobInput{JobId: aws.String(unknown), Reason: aws.String("r")}))
	if a.count(t, events.CancelSubject(unknown))+a.count(t, events.TerminateSubject(unknown)) != 0 {
		t.Fatal("a fact was stored for an unknown job")
	}
	_, err := c.CancelJob(ctx(t), &awsbatch.CancelJobInput{JobId: aws.String("not a job!"), Reason: aws.String("r")})
	clientException(t, err, `jobId "not a job!" is invalid`)
	_, err = c.TerminateJob(ctx(t), &awsbatch.TerminateJobInput{JobId: aws.String(id), Reason: aws.String("")})
	clientException(t, err, "reason is required")
	_, err = c.CancelJob(ctx(t), &awsbatch.CancelJobInput{JobId: aws.String(id), Reason: aws.String(strings.Repeat("x", 1025))})
	clientException(t, err, "at most 1024")

	// Over NATS, the same body and answer.
	msg := a.request(t, "TerminateJob", fmt.Sprintf(`{"jobId":%q,"reason":"over nats"}`, id))
	if string(msg.Data) != "{}" || msg.Header.Get("Nats-Service-Error-Code") != "" {
		t.Fatalf("NATS TerminateJob: %s %v", msg.Data, msg.Header)
	}
	if !a.stored(t, events.TerminateSubject(id), &term) || term.Reason != "over nats" {
		t.Fatalf("terminate fact %+v", term)
	}
	msg = a.request(t, "CancelJob", `{"jobId":"x y","reason":"r"}`)
	if msg.Header.Get("Nats-Service-Error-Code") != "400" || !strings.Contains(string(msg.Data), "ClientException") {
		t.Fatalf("NATS CancelJob error: %s %v", msg.Data, msg.Header)
	}
}

func TestSubmitClientToken(t *testing.T) {
	a := startAPI(t, nil, Config{})
	setupQueue(t, a.client)
	post := func(name, token string) batch.SubmitJobOutput {
		code, _, body := a.post(t, "/v1/submitjob", fmt.Sprintf(`{"jobName":%q,"jobQueue":"q","jobDefinition":"sleep","clientToken":%q}`, name, token))
		var out batch.SubmitJobOutput
		if code != 200 || json.Unmarshal(body, &out) != nil {
			t.Fatalf("submit: %d %s", code, body)
		}
		return out
	}
	first := post("first", "tok-1")
	again := post("second", "tok-1")
	if again != first {
		t.Fatalf("a retried submit answered %+v, the first %+v", again, first)
	}
	other := post("other", "tok-2")
	if other.JobID == first.JobID {
		t.Fatal("two tokens, one job")
	}
	// Concurrent retries store one job.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() { ids[i] = post(fmt.Sprintf("c%d", i), "tok-3").JobID })
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent retries got ids %v", ids)
		}
	}
	if n := a.count(t, events.SubmitSubject(ids[0])); n != 1 {
		t.Fatalf("%d submits stored for one token", n)
	}
	// Once the monitor has recorded it, a retry finds the record.
	var ev events.JobSubmitted
	a.stored(t, events.SubmitSubject(first.JobID), &ev)
	ev.Job.Status = batch.StatusRunnable
	a.putRecord(t, ev.Job)
	if again := post("third", "tok-1"); again != first {
		t.Fatalf("retry after the record: %+v", again)
	}
	code, _, body := a.post(t, "/v1/submitjob", `{"jobName":"x","jobQueue":"q","jobDefinition":"sleep","clientToken":"has space"}`)
	if code != 400 || !strings.Contains(string(body), "clientToken") {
		t.Fatalf("bad token: %d %s", code, body)
	}
}

func TestSubmitImageOverrideAndTimeLimits(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	code, _, body := a.post(t, "/v1/submitjob", `{"jobName":"img","jobQueue":"q","jobDefinition":"sleep",
		"containerOverrides":{"image":"localhost/other:2"},
		"jobStateTimeLimitActions":[{"state":"PENDING","maxTimeSeconds":30,"action":"CANCEL","reason":"*"}]}`)
	var out batch.SubmitJobOutput
	_ = json.Unmarshal(body, &out)
	var ev events.JobSubmitted
	if code != 200 || !a.stored(t, events.SubmitSubject(out.JobID), &ev) {
		t.Fatalf("%d %s", code, body)
	}
	if ev.Job.Container.Image != "localhost/other:2" || len(ev.Job.JobStateTimeLimitActions) != 1 || ev.Job.JobStateTimeLimitActions[0].MaxTimeSeconds != 30 {
		t.Fatalf("image %q limits %+v", ev.Job.Container.Image, ev.Job.JobStateTimeLimitActions)
	}
	code, _, body = a.post(t, "/v1/submitjob", `{"jobName":"img","jobQueue":"q","jobDefinition":"sleep",
		"jobStateTimeLimitActions":[{"state":"RUNNING","maxTimeSeconds":30,"action":"CANCEL"}]}`)
	if code != 400 || !strings.Contains(string(body), `state \"RUNNING\" is invalid`) {
		t.Fatalf("bad state: %d %s", code, body)
	}
	// Queue actions with the SDK: AWS's bounds.
	_, err := c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{JobQueueName: aws.String("limited"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("env")}},
		JobStateTimeLimitActions: []types.JobStateTimeLimitAction{{Action: types.JobStateTimeLimitActionsActionCancel,
			MaxTimeSeconds: aws.Int32(60), Reason: aws.String("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"), State: types.JobStateTimeLimitActionsStateRunnable}}})
	clientException(t, err, "maxTimeSeconds 60 is out of range: use 600 to 86400")
	must(c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{JobQueueName: aws.String("limited"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("env")}},
		JobStateTimeLimitActions: []types.JobStateTimeLimitAction{{Action: types.JobStateTimeLimitActionsActionCancel,
			MaxTimeSeconds: aws.Int32(600), Reason: aws.String("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"), State: types.JobStateTimeLimitActionsStateRunnable}}}))
	q := must(c.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{JobQueues: []string{"limited"}}))
	if acts := q.JobQueues[0].JobStateTimeLimitActions; len(acts) != 1 || aws.ToInt32(acts[0].MaxTimeSeconds) != 600 {
		t.Fatalf("queue actions %+v", acts)
	}
}
