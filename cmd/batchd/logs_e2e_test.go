package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go"
)

// logsE2ECredentials: an administrator ("*"), and a reader that may read
// log streams (GetLogEvents) and describe jobs, nothing else.
const logsE2ECredentials = `[
 {"accessKeyId": "ADMINKEY00000001", "secretAccessKey": "admin-secret-0000000001",
  "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
 {"accessKeyId": "READERKEY0000001", "secretAccessKey": "reader-secret-000000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": "batch:DescribeJobs", "Resource": "*"},
   {"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/batch/job:log-stream:batch.logs.*"}]}}
]`

// TestLogsAPI runs a job of 10,000 lines on Podman under --auth and reads
// its output through the CloudWatch Logs API with the AWS SDK for Go v2
// (GetLogEvents paginated until the token repeats, the latest lines first,
// FilterLogEvents) and with Debian's AWS CLI (aws logs get-log-events,
// filter-log-events, tail) and batchctl logs --api, signed requests allowed and
// denied by policy.
func TestLogsAPI(t *testing.T) {
	d := startAuthDaemon(t, logsE2ECredentials, "--host-vcpus", "2", "--host-memory", "2048")
	endpoint := "http://" + d.httpAddr
	admin := d.clientAs("ADMINKEY00000001", "admin-secret-0000000001")
	logsAs := func(key, secret string) *cwl.Client {
		return cwl.New(cwl.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	}
	adminLogs := logsAs("ADMINKEY00000001", "admin-secret-0000000001")
	readerLogs := logsAs("READERKEY0000001", "reader-secret-000000001")

	const n = 10000
	setupQueue(t, admin, "cwl", 2, "1", "64", "sh", "-c",
		`i=1; while [ $i -le `+fmt.Sprint(n)+` ]; do echo "line $i"; i=$((i+1)); done; echo "ERROR: disk full"`)
	id := submit(t, admin, &batch.SubmitJobInput{JobName: aws.String("lines"), JobQueue: aws.String("cwl-queue"), JobDefinition: aws.String("cwl-def")})
	j := waitFinal(t, admin, 3*time.Minute, id)[id]
	if j.Status != types.JobStatusSucceeded {
		t.Fatalf("job %s: %s (%s)", id, j.Status, aws.ToString(j.StatusReason))
	}
	stream := aws.ToString(j.Container.LogStreamName)
	want := make([]string, 0, n+1)
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, "ERROR: disk full")
	group := aws.String("/aws/batch/job")

	// The SDK's paginator from the head, until the forward token repeats.
	start := time.Now()
	p := cwl.NewGetLogEventsPaginator(readerLogs, &cwl.GetLogEventsInput{LogGroupName: group, LogStreamName: aws.String(stream),
		StartFromHead: aws.Bool(true)}, func(o *cwl.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var got []string
	var firstPage time.Duration
	for pages := 0; p.HasMorePages(); pages++ {
		out, err := p.NextPage(ctxT(t, time.Minute))
		if err != nil {
			t.Fatalf("GetLogEvents page %d: %v", pages, err)
		}
		if pages == 0 {
			firstPage = time.Since(start)
		}
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
		if pages > 10 {
			t.Fatal("the GetLogEvents paginator does not stop")
		}
	}
	t.Logf("GetLogEvents from the head: %d lines, first page (10,000 events) in %v, all pages in %v", len(got), firstPage, time.Since(start))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("GetLogEvents from the head: %d lines, want %d; %s", len(got), len(want), firstDifference(got, want))
	}

	// The latest lines first (the default): the last 10,000.
	start = time.Now()
	latest, err := readerLogs.GetLogEvents(ctxT(t, time.Minute), &cwl.GetLogEventsInput{LogGroupName: group, LogStreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GetLogEvents of the latest 10,000 lines in %v", time.Since(start))
	if len(latest.Events) != n || aws.ToString(latest.Events[0].Message) != "line 2" || aws.ToString(latest.Events[n-1].Message) != "ERROR: disk full" {
		t.Fatalf("latest: %d events", len(latest.Events))
	}

	// FilterLogEvents: a phrase in the job's streams.
	fp := cwl.NewFilterLogEventsPaginator(adminLogs, &cwl.FilterLogEventsInput{LogGroupName: group,
		LogStreamNamePrefix: aws.String("batch.logs." + id + "."), FilterPattern: aws.String(`"disk full"`)})
	var found []string
	for fp.HasMorePages() {
		out, err := fp.NextPage(ctxT(t, time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			found = append(found, aws.ToString(e.LogStreamName)+" "+aws.ToString(e.Message))
		}
	}
	if len(found) != 1 || found[0] != stream+" ERROR: disk full" {
		t.Fatalf("FilterLogEvents: %q", found)
	}

	// Denied by policy: the reader may not search.
	_, err = readerLogs.FilterLogEvents(ctxT(t, time.Minute), &cwl.FilterLogEventsInput{LogGroupName: group})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), "logs:FilterLogEvents") {
		t.Fatalf("reader FilterLogEvents: %v", err)
	}

	// batchctl logs --api: the same lines over HTTP with an API key; the
	// reader's policy does not allow the search it makes.
	batchctl := buildBatchctl(t)
	ctl := func(key, secret string) (string, error) {
		cmd := exec.Command(batchctl, "logs", "--api", id)
		cmd.Env = append(os.Environ(), "BATCH_ENDPOINT="+endpoint, "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_SESSION_TOKEN=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := ctl("ADMINKEY00000001", "admin-secret-0000000001"); err != nil || out != strings.Join(want, "\n")+"\n" {
		t.Fatalf("batchctl logs --api: %v, %d bytes\n%.500s", err, len(out), out)
	}
	if out, err := ctl("READERKEY0000001", "reader-secret-000000001"); err == nil || !strings.Contains(out, "AccessDeniedException") {
		t.Fatalf("batchctl logs --api as the reader: %v\n%.500s", err, out)
	}

	// Debian's AWS CLI.
	cli := awsCLI(t, "logs", endpoint)
	out, err := cli("READERKEY0000001", "reader-secret-000000001", "get-log-events", "--log-group-name", "/aws/batch/job",
		"--log-stream-name", stream, "--start-from-head")
	if err != nil {
		t.Fatalf("aws logs get-log-events: %v\n%.2000s", err, out)
	}
	var page struct {
		Events []struct {
			Message   string `json:"message"`
			Timestamp int64  `json:"timestamp"`
		} `json:"events"`
		NextForwardToken string `json:"nextForwardToken"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("aws logs get-log-events output: %v\n%.2000s", err, out)
	}
	if len(page.Events) != n || page.Events[0].Message != "line 1" || page.Events[0].Timestamp == 0 || page.NextForwardToken == "" {
		t.Fatalf("aws logs get-log-events: %d events, first %+v", len(page.Events), page.Events[:min(1, len(page.Events))])
	}
	out, err = cli("ADMINKEY00000001", "admin-secret-0000000001", "filter-log-events", "--log-group-name", "/aws/batch/job",
		"--log-stream-names", stream, "--filter-pattern", "ERROR")
	if err != nil || !strings.Contains(out, `"message": "ERROR: disk full"`) || strings.Count(out, `"message"`) != 1 {
		t.Fatalf("aws logs filter-log-events: %v\n%.2000s", err, out)
	}
	out, err = cli("ADMINKEY00000001", "admin-secret-0000000001", "tail", "/aws/batch/job", "--log-stream-name-prefix", "batch.logs."+id+".",
		"--since", "1h", "--format", "short")
	if err != nil || strings.Count(out, "\n") != n+1 || !strings.Contains(out, " line 1\n") || !strings.HasSuffix(out, " ERROR: disk full\n") {
		t.Fatalf("aws logs tail: %v, %d lines\n%.2000s", err, strings.Count(out, "\n"), out)
	}
	out, err = cli("READERKEY0000001", "reader-secret-000000001", "describe-log-streams", "--log-group-name", "/aws/batch/job")
	if err == nil || !strings.Contains(out, "AccessDeniedException") || !strings.Contains(out, "logs:DescribeLogStreams") {
		t.Fatalf("aws logs describe-log-streams as the reader: %v\n%.2000s", err, out)
	}
	out, err = cli("ADMINKEY00000001", "not-the-admin-secret-01", "get-log-events", "--log-group-name", "/aws/batch/job", "--log-stream-name", stream)
	if err == nil || !strings.Contains(out, "InvalidSignatureException") {
		t.Fatalf("aws logs get-log-events with a wrong secret: %v\n%.2000s", err, out)
	}
}

// firstDifference says where got first differs from want, with the lines
// around it.
func firstDifference(got, want []string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(i-2, 0)
	return fmt.Sprintf("first difference at line %d: got %q, want %q", i, got[lo:min(i+3, len(got))], want[lo:min(i+3, len(want))])
}
