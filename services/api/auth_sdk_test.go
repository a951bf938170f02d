package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go"
	"github.com/batchd/batchd/services/api/auth"
)

// The credentials of the access control tests: the three example policies
// of docs/operations.md, and one with resource wildcards.
const testCredentials = `[
 {"accessKeyId": "ADMINKEY00000001", "secretAccessKey": "admin-secret-0000000001",
  "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "batch:*", "Resource": "*"}]}},
 {"accessKeyId": "DEVELOPERKEY0001", "secretAccessKey": "developer-secret-000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": ["batch:*ComputeEnvironment*", "batch:*JobQueue*", "batch:*JobDefinition*", "batch:*SchedulingPolic*",
      "batch:Describe*", "batch:List*", "batch:TagResource", "batch:UntagResource"], "Resource": "*"}]}},
 {"accessKeyId": "ENDUSERKEY000001", "secretAccessKey": "enduser-secret-0000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": ["batch:SubmitJob", "batch:CancelJob", "batch:TerminateJob", "batch:Describe*", "batch:List*"], "Resource": "*"},
   {"Effect": "Deny", "Action": "batch:SubmitJob", "Resource": "arn:aws:batch:us-east-1:000000000000:job-queue/off"}]}},
 {"accessKeyId": "WILDCARDKEY00001", "secretAccessKey": "wildcard-secret-000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": "batch:Submit?ob",
    "Resource": ["arn:aws:batch:*:*:job-queue/q*", "arn:aws:batch:us-east-1:000000000000:job-definition/sleep:*"]}]}}
]`

func testAuth(t *testing.T, now func() time.Time) *auth.Authenticator {
	t.Helper()
	a, err := auth.Parse([]byte(testCredentials), auth.Options{Known: KnownAction, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func signedClient(url, key, secret string) *awsbatch.Client {
	return awsbatch.New(awsbatch.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
}

// awsError checks that err is the AWS error code with a message containing want.
func awsError(t *testing.T, err error, code, want string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an AWS API error", err, err)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), want) {
		t.Fatalf("got %s %q, want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), code, want)
	}
}

func TestAuthSDK(t *testing.T) {
	a := startAPI(t, nil, Config{Auth: testAuth(t, nil)})
	admin := signedClient(a.http.URL, "ADMINKEY00000001", "admin-secret-0000000001")
	dev := signedClient(a.http.URL, "DEVELOPERKEY0001", "developer-secret-000001")
	user := signedClient(a.http.URL, "ENDUSERKEY000001", "enduser-secret-0000001")
	wild := signedClient(a.http.URL, "WILDCARDKEY00001", "wildcard-secret-000001")

	t.Run("unsigned", func(t *testing.T) {
		status, h, body := a.post(t, "/v1/describejobqueues", `{}`)
		if status != http.StatusForbidden || h.Get("X-Amzn-ErrorType") != auth.MissingAuthenticationToken || !strings.Contains(string(body), "Missing Authentication Token") {
			t.Fatalf("unsigned request: %d %s %s", status, h.Get("X-Amzn-ErrorType"), body)
		}
		_, err := a.client.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{}) // signed with an unknown key
		awsError(t, err, auth.UnrecognizedClient, "security token included in the request is invalid")
	})
	t.Run("wrong secret", func(t *testing.T) {
		c := signedClient(a.http.URL, "ADMINKEY00000001", "not-the-admin-secret-0001")
		_, err := c.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{})
		awsError(t, err, auth.InvalidSignature, "does not match the signature you provided")
	})

	// The administrator sets up; the developer may manage environments,
	// queues and definitions but not run jobs.
	setupQueue(t, admin)
	must(dev.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String("devenv"), Type: types.CETypeManaged,
		ComputeResources: &types.ComputeResource{Type: types.CRTypeEc2, MaxvCpus: aws.Int32(2), Subnets: []string{"s"}},
	}))
	must(dev.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("other"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(64)},
	}))
	_, err := dev.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep")})
	awsError(t, err, auth.AccessDenied, "is not authorized to perform: batch:SubmitJob")

	// The end user submits and cancels, but not to the queue a Deny names,
	// and manages nothing.
	out := must(user.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep")}))
	must(user.CancelJob(ctx(t), &awsbatch.CancelJobInput{JobId: out.JobId, Reason: aws.String("test")}))
	must(user.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: []string{aws.ToString(out.JobId)}}))
	_, err = user.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("off"), JobDefinition: aws.String("sleep")})
	awsError(t, err, auth.AccessDenied, "with an explicit deny")
	_, err = user.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{JobQueueName: aws.String("mine"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("env")}}})
	awsError(t, err, auth.AccessDenied, "batch:CreateJobQueue on resource: arn:aws:batch:us-east-1:000000000000:job-queue/mine")

	// Wildcards: queues q*, revisions of sleep; a name without a revision
	// is its latest revision.
	must(wild.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep")}))
	must(wild.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("arn:aws:batch:us-east-1:000000000000:job-queue/q"), JobDefinition: aws.String("sleep:1")}))
	_, err = wild.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("other")})
	awsError(t, err, auth.AccessDenied, "job-definition/other:1")
	_, err = wild.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{})
	awsError(t, err, auth.AccessDenied, "batch:DescribeJobQueues on resource: *")

	// The tag operations (the ARN in the path, keys in the query) are
	// signed and authorised too.
	qarn := "arn:aws:batch:us-east-1:000000000000:job-queue/q"
	must(dev.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(qarn), Tags: map[string]string{"a": "1", "b c": "2"}}))
	must(dev.UntagResource(ctx(t), &awsbatch.UntagResourceInput{ResourceArn: aws.String(qarn), TagKeys: []string{"b c"}}))
	tags := must(dev.ListTagsForResource(ctx(t), &awsbatch.ListTagsForResourceInput{ResourceArn: aws.String(qarn)}))
	if len(tags.Tags) != 1 || tags.Tags["a"] != "1" {
		t.Fatalf("tags %v", tags.Tags)
	}
	_, err = user.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(qarn), Tags: map[string]string{"x": "1"}})
	awsError(t, err, auth.AccessDenied, "batch:TagResource")

	// A NATS request from inside the batchd account carries no caller.
	msg := a.request(t, "DescribeJobQueues", `{}`)
	if !strings.Contains(string(msg.Data), auth.AccessDenied) {
		t.Fatalf("NATS request without a caller: %s", msg.Data)
	}
}

func TestAuthExpired(t *testing.T) {
	// The server's clock is 10 minutes ahead of the client's.
	a := startAPI(t, nil, Config{Auth: testAuth(t, func() time.Time { return time.Now().Add(10 * time.Minute) })})
	admin := signedClient(a.http.URL, "ADMINKEY00000001", "admin-secret-0000000001")
	_, err := admin.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{})
	awsError(t, err, auth.InvalidSignature, "Signature expired")
}

// TestOpenWithoutAuth: without Config.Auth any caller may do anything.
func TestOpenWithoutAuth(t *testing.T) {
	a := startAPI(t, nil, Config{})
	if status, _, body := a.post(t, "/v1/describejobqueues", `{}`); status != http.StatusOK {
		t.Fatalf("unsigned request without auth: %d %s", status, body)
	}
}
