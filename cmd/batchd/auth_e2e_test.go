package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go"
	batchrec "github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natsauth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const authE2ECredentials = `[
 {"accessKeyId": "ADMINKEY00000001", "secretAccessKey": "admin-secret-0000000001",
  "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "batch:*", "Resource": "*"}]}},
 {"accessKeyId": "ENDUSERKEY000001", "secretAccessKey": "enduser-secret-0000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": ["batch:SubmitJob", "batch:CancelJob", "batch:Describe*", "batch:List*"], "Resource": "*"}]}}
]`

// TestAuthClosedDeployment runs batchd --auth (simulated containers): the
// API wants signatures, NATS wants users, every service works with its own
// least-privilege NATS user (a job runs to the end), a caller reaches only
// its operations over NATS, a service cannot publish another's facts, and
// a forged exit from another host does not end a running job.
func TestAuthClosedDeployment(t *testing.T) {
	d := startAuthDaemon(t, authE2ECredentials, "--runtime", "sim", "--sim-hosts", "2", "--host-vcpus", "2", "--host-memory", "1024")
	if !strings.Contains(d.logs(), "the API requires authentication") {
		t.Errorf("batchd did not log that the API requires authentication:\n%s", d.logs())
	}

	// HTTP: unsigned and unknown keys are refused.
	resp, err := http.Post("http://"+d.httpAddr+"/v1/describejobqueues", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	_, err = d.client().DescribeJobQueues(ctxT(t, 10*time.Second), &batch.DescribeJobQueuesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnrecognizedClientException" {
		t.Fatalf("unknown key: %v", err)
	}

	// NATS: no anonymous client, no wrong password.
	if nc, err := nats.Connect("nats://" + d.natsAddr); err == nil {
		nc.Close()
		t.Fatal("an anonymous NATS client connected")
	}

	// A job runs through every service, each on its own NATS user.
	admin := d.clientAs("ADMINKEY00000001", "admin-secret-0000000001")
	setupQueue(t, admin, "auth", 2, "1", "64", "sh", "-c", "sleep 0.2")
	id := submit(t, admin, &batch.SubmitJobInput{JobName: aws.String("ok"), JobQueue: aws.String("auth-queue"), JobDefinition: aws.String("auth-def")})
	if j := waitFinal(t, admin, 2*time.Minute, id)[id]; j.Status != types.JobStatusSucceeded {
		t.Fatalf("job %s: %s (%s)\n%s", id, j.Status, aws.ToString(j.StatusReason), d.logs())
	}

	// Over NATS the end user may submit, not create queues.
	user, err := nats.Connect("nats://"+d.natsAddr, nats.UserInfo("ENDUSERKEY000001", "enduser-secret-0000001"))
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close()
	reply, err := user.Request(events.APISubject("SubmitJob"), []byte(`{"jobName":"n","jobQueue":"auth-queue","jobDefinition":"auth-def"}`), 10*time.Second)
	if err != nil || reply.Header.Get("Nats-Service-Error-Code") != "" {
		t.Fatalf("SubmitJob over NATS: %v %v", err, reply)
	}
	var out struct{ JobID string }
	_ = json.Unmarshal(reply.Data, &out)
	if out.JobID == "" {
		t.Fatalf("SubmitJob over NATS answered %s", reply.Data)
	}
	if _, err := user.Request(events.APISubject("CreateJobQueue"), []byte(`{}`), 2*time.Second); err == nil {
		t.Fatal("CreateJobQueue over NATS answered a user whose policy does not allow it")
	}

	// The api's own NATS user cannot publish a launcher's facts.
	users, err := natsauth.LoadCredentials(d.data)
	if err != nil {
		t.Fatal(err)
	}
	denied := make(chan error, 4)
	apiConn, err := nats.Connect("nats://"+d.natsAddr, nats.UserInfo("api", users["api"]),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer apiConn.Close()
	_ = apiConn.Publish(events.ExitedSubject("x", "y"), []byte("{}"))
	_ = apiConn.Flush()
	select {
	case err := <-denied:
		if !strings.Contains(err.Error(), "Permissions Violation") {
			t.Fatalf("api publishing an exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the api's NATS user published batch.job.exited without a permissions violation")
	}

	// A forged exit of a running job from the other host, through that
	// host's launcher user, on its own subject (the only one it may
	// publish on): the monitor ignores it, the record holds another host.
	// The tag fact published after it shows the monitor got past it.
	long := submit(t, admin, &batch.SubmitJobInput{JobName: aws.String("long"), JobQueue: aws.String("auth-queue"), JobDefinition: aws.String("auth-def"),
		ContainerOverrides: &types.ContainerOverrides{Command: []string{"sh", "-c", "sleep 120"}}})
	waitStatus(t, admin, long, types.JobStatusRunning)
	record := readRecord(t, d, users["api"], long)
	hostID, _ := os.ReadFile(filepath.Join(d.data, "host-id"))
	other := strings.TrimSpace(string(hostID)) + "-sim-01"
	if record.HostID == other {
		other = strings.TrimSpace(string(hostID)) + "-sim-02"
	}
	launcherUser := natsauth.LauncherUser(other)
	lc, err := nats.Connect("nats://"+d.natsAddr, nats.UserInfo(launcherUser, users[launcherUser]))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	ljs, err := jetstream.New(lc)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	forged := events.JobExited{JobID: long, Attempt: 1, HostID: other, ExitCode: &zero, StoppedAt: time.Now().UnixMilli()}
	if _, err := bus.Publish(ctxT(t, 10*time.Second), ljs, forged); err != nil {
		t.Fatalf("publish the forged exit: %v", err)
	}
	jobArn := "arn:aws:batch:us-east-1:000000000000:job/" + long
	if _, err := admin.TagResource(ctxT(t, 10*time.Second), &batch.TagResourceInput{ResourceArn: aws.String(jobArn), Tags: map[string]string{"after": "forged"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := admin.DescribeJobs(ctxT(t, 10*time.Second), &batch.DescribeJobsInput{Jobs: []string{long}})
		if err != nil {
			t.Fatal(err)
		}
		j := out.Jobs[0]
		if j.Tags["after"] == "forged" {
			if j.Status != types.JobStatusRunning {
				t.Fatalf("after a forged exit from another host the job is %s (%s)", j.Status, aws.ToString(j.StatusReason))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tag after the forged exit never reached the record")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awsCLICredentials adds to authE2ECredentials a key with a Deny over an
// Allow and one with resource wildcards.
const awsCLICredentials = `[
 {"accessKeyId": "ADMINKEY00000001", "secretAccessKey": "admin-secret-0000000001",
  "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "batch:*", "Resource": "*"}]}},
 {"accessKeyId": "DENYQUEUESKEY001", "secretAccessKey": "deny-secret-00000000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": "batch:*", "Resource": "*"},
   {"Effect": "Deny", "Action": "batch:*JobQueue*", "Resource": "*"}]}},
 {"accessKeyId": "WILDCARDKEY00001", "secretAccessKey": "wildcard-secret-000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": "batch:ListTagsFor*", "Resource": "arn:aws:batch:*:*:job-queue/def*"}]}}
]`

// TestAuthAWSCLI drives batchd --auth with Debian's AWS CLI (scripts/setup.sh
// installs it): an allowed call, a wrong key, a wrong secret, a denied
// action, a Deny over an Allow, resource wildcards.
func TestAuthAWSCLI(t *testing.T) {
	d := startAuthDaemon(t, awsCLICredentials, "--runtime", "sim")
	run := awsCLI(t, "batch", "http://"+d.httpAddr)
	expect := func(want string, key, secret string, args ...string) {
		t.Helper()
		out, err := run(key, secret, args...)
		if want == "" {
			if err != nil {
				t.Fatalf("aws batch %v as %s: %v\n%s", args, key, err, out)
			}
			return
		}
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("aws batch %v as %s: %v\n%s\nwant an error with %q", args, key, err, out, want)
		}
	}
	expect("", "ADMINKEY00000001", "admin-secret-0000000001", "describe-job-queues")
	expect("UnrecognizedClientException", "NOSUCHKEY0000000", "admin-secret-0000000001", "describe-job-queues")
	expect("InvalidSignatureException", "ADMINKEY00000001", "not-the-right-secret-01", "describe-job-queues")
	expect("", "DENYQUEUESKEY001", "deny-secret-00000000001", "describe-compute-environments")
	expect("explicit deny", "DENYQUEUESKEY001", "deny-secret-00000000001", "describe-job-queues")
	queue := "arn:aws:batch:us-east-1:000000000000:job-queue/default"
	expect("", "WILDCARDKEY00001", "wildcard-secret-000001", "list-tags-for-resource", "--resource-arn", queue)
	expect("AccessDeniedException", "WILDCARDKEY00001", "wildcard-secret-000001", "list-tags-for-resource", "--resource-arn",
		"arn:aws:batch:us-east-1:000000000000:compute-environment/default")
	expect("AccessDeniedException", "WILDCARDKEY00001", "wildcard-secret-000001", "describe-job-queues")
}

// readRecord reads a job's record from the batch_jobs bucket as the api's
// NATS user.
func readRecord(t *testing.T, d *daemon, password, jobID string) batchrec.JobDetail {
	t.Helper()
	nc, err := nats.Connect("nats://"+d.natsAddr, nats.UserInfo("api", password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctxT(t, 10*time.Second), events.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctxT(t, 10*time.Second), events.Token(jobID))
	if err != nil {
		t.Fatal(err)
	}
	var j batchrec.JobDetail
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		t.Fatal(err)
	}
	return j
}
