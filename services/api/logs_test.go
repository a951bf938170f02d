package api

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/api/auth"
	"github.com/nats-io/nats.go"
)

// logsClient is the CloudWatch Logs client of the SDK as a user configures
// it for batchd (default retries kept).
func logsClient(url, key, secret string) *cwl.Client {
	return cwl.New(cwl.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
}

// logBase is the Batch-Time of the first line the tests store.
var logBase = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// storeLines stores n lines on a log subject as the launcher does, line i
// written at logBase + i seconds, "<prefix> <i>".
func (a *testAPI) storeLines(t testing.TB, subject, prefix string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		m := nats.NewMsg(subject)
		m.Data = []byte(fmt.Sprintf("%s %d", prefix, i))
		m.Header.Set(events.HeaderStream, "stdout")
		m.Header.Set(events.HeaderLogTime, logBase.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
		if _, err := a.js.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-a.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("lines not stored")
	}
}

func logGroup() *string { return aws.String(LogGroup) }

// messages are the events' messages.
func messages(evs []cwltypes.OutputLogEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = aws.ToString(e.Message)
	}
	return out
}

func want(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: got %d lines %q..., want %d lines %q...", what, len(got), head(got), len(want), head(want))
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestGetLogEvents(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := logsClient(a.http.URL, "AKID", "SECRET")
	job := events.LogSubject("job-a", 1)
	// Interleave another job's lines, so that the reads must filter.
	for i := 0; i < 5; i++ {
		a.storeLines(t, job, "a", i*10, 10)
		a.storeLines(t, events.LogSubject("job-b", 1), "b", i*10, 10)
	}

	t.Run("paginated from the head until the token repeats", func(t *testing.T) {
		p := cwl.NewGetLogEventsPaginator(c, &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job),
			StartFromHead: aws.Bool(true), Limit: aws.Int32(7)}, func(o *cwl.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
		var got []string
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range out.Events {
				if aws.ToInt64(e.IngestionTime) <= 0 {
					t.Fatalf("event without ingestionTime: %+v", e)
				}
			}
			got = append(got, messages(out.Events)...)
			if pages > 20 {
				t.Fatal("the paginator does not stop")
			}
		}
		sameLines(t, "from the head", got, want("a", 0, 50))
		if pages != 9 { // 8 pages of lines (7 a page), then one empty page with the same token
			t.Fatalf("%d pages, want 9", pages)
		}
	})

	t.Run("timestamps are the lines' times", func(t *testing.T) {
		out, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), StartFromHead: aws.Bool(true), Limit: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		if ts := aws.ToInt64(out.Events[1].Timestamp); ts != logBase.Add(time.Second).UnixMilli() {
			t.Fatalf("timestamp %d, want %d", ts, logBase.Add(time.Second).UnixMilli())
		}
	})

	t.Run("the latest lines first, then backwards", func(t *testing.T) {
		out, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), Limit: aws.Int32(12)})
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, "latest", messages(out.Events), want("a", 38, 50))
		got := messages(out.Events)
		forward := aws.ToString(out.NextForwardToken)
		token := aws.ToString(out.NextBackwardToken)
		for range 10 {
			out, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), Limit: aws.Int32(12), NextToken: aws.String(token)})
			if err != nil {
				t.Fatal(err)
			}
			got = append(messages(out.Events), got...)
			if aws.ToString(out.NextBackwardToken) == token {
				break
			}
			token = aws.ToString(out.NextBackwardToken)
		}
		sameLines(t, "backwards", got, want("a", 0, 50))
		// Nothing newer: the same forward token comes back.
		again, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), NextToken: aws.String(forward), StartFromHead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Events) != 0 || aws.ToString(again.NextForwardToken) != forward {
			t.Fatalf("after the end: %d events, token %s (want %s)", len(again.Events), aws.ToString(again.NextForwardToken), forward)
		}
		// A new line comes after that token.
		a.storeLines(t, job, "a", 50, 1)
		next, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), NextToken: aws.String(forward), StartFromHead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, "new line", messages(next.Events), want("a", 50, 51))
	})

	t.Run("time range", func(t *testing.T) {
		start, end := logBase.Add(5*time.Second).UnixMilli(), logBase.Add(15*time.Second).UnixMilli()
		for _, head := range []bool{true, false} {
			out, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job),
				StartTime: aws.Int64(start), EndTime: aws.Int64(end), StartFromHead: aws.Bool(head)})
			if err != nil {
				t.Fatal(err)
			}
			sameLines(t, fmt.Sprintf("startFromHead %v", head), messages(out.Events), want("a", 5, 15))
		}
	})

	t.Run("errors", func(t *testing.T) {
		var nf *cwltypes.ResourceNotFoundException
		_, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/x"), LogStreamName: aws.String(job)})
		if !errors.As(err, &nf) || !strings.Contains(nf.ErrorMessage(), "log group does not exist") {
			t.Fatalf("another group: %v", err)
		}
		_, err = c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(events.LogSubject("nosuchjob", 1))})
		if !errors.As(err, &nf) || !strings.Contains(nf.ErrorMessage(), "log stream does not exist") {
			t.Fatalf("unknown stream: %v", err)
		}
		var ip *cwltypes.InvalidParameterException
		_, err = c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), Limit: aws.Int32(10001)})
		if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), "less than or equal to 10000") {
			t.Fatalf("limit 10001: %v", err)
		}
		_, err = c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), NextToken: aws.String("x/1")})
		if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), "nextToken is invalid") {
			t.Fatalf("bad token: %v", err)
		}
		_, err = c.PutLogEvents(ctx(t), &cwl.PutLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job),
			LogEvents: []cwltypes.InputLogEvent{{Message: aws.String("x"), Timestamp: aws.Int64(1)}}})
		var io *cwltypes.InvalidOperationException
		if !errors.As(err, &io) || !strings.Contains(io.ErrorMessage(), "does not support the CloudWatch Logs operation \"PutLogEvents\"") {
			t.Fatalf("PutLogEvents: %v", err)
		}
	})

	t.Run("a started job's stream without lines", func(t *testing.T) {
		stream := events.LogSubject("job-quiet", 1)
		a.putRecord(t, batch.JobDetail{JobID: "job-quiet", JobName: "quiet", Status: batch.StatusRunning,
			Container: &batch.ContainerDetail{LogStreamName: stream}})
		out, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(stream)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) != 0 || out.NextForwardToken == nil || out.NextBackwardToken == nil {
			t.Fatalf("quiet stream: %+v", out)
		}
		a.storeLines(t, stream, "q", 0, 2)
		next, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(stream), NextToken: out.NextForwardToken})
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, "after the first lines", messages(next.Events), want("q", 0, 2))
	})
}

// TestGetLogEventsPageBytes: a page holds at most 1 MB of events
// (message bytes + 26 each), as AWS's.
func TestGetLogEventsPageBytes(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := logsClient(a.http.URL, "AKID", "SECRET")
	job := events.LogSubject("job-big", 1)
	big := strings.Repeat("x", 100000)
	a.storeLines(t, job, big, 0, 25)
	for _, headFirst := range []bool{true, false} {
		out, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), StartFromHead: aws.Bool(headFirst)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) != 10 { // 10 × (100,000 + 3 + 26) bytes fit in 1,048,576, 11 do not
			t.Fatalf("startFromHead %v: %d events, want 10", headFirst, len(out.Events))
		}
	}
}

func TestFilterLogEvents(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := logsClient(a.http.URL, "AKID", "SECRET")
	s1, s2, other := events.LogSubject("job-f", 1), events.LogSubject("job-f", 2), events.LogSubject("job-g", 1)
	a.storeLines(t, s1, "INFO ok", 0, 5)
	a.storeLines(t, s1, "ERROR: disk full", 5, 2)
	a.storeLines(t, other, "ERROR: other job", 0, 3)
	a.storeLines(t, s2, "[ERROR] Exception caught", 7, 2)
	a.storeLines(t, s2, "INFO done", 9, 1)

	filter := func(in *cwl.FilterLogEventsInput) []string {
		t.Helper()
		in.LogGroupName = logGroup()
		p := cwl.NewFilterLogEventsPaginator(c, in)
		var got []string
		for p.HasMorePages() {
			out, err := p.NextPage(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				got = append(got, aws.ToString(e.LogStreamName)+" "+aws.ToString(e.Message))
			}
		}
		return got
	}
	sameLines(t, "term, streams of one job", filter(&cwl.FilterLogEventsInput{LogStreamNamePrefix: aws.String("batch.logs.job-f."), FilterPattern: aws.String("ERROR")}),
		[]string{s1 + " ERROR: disk full 5", s1 + " ERROR: disk full 6", s2 + " [ERROR] Exception caught 7", s2 + " [ERROR] Exception caught 8"})
	sameLines(t, "quoted phrase, names", filter(&cwl.FilterLogEventsInput{LogStreamNames: []string{s2, other}, FilterPattern: aws.String(`"Exception caught"`)}),
		[]string{s2 + " [ERROR] Exception caught 7", s2 + " [ERROR] Exception caught 8"})
	sameLines(t, "exclusion, partial prefix, limit 1 a page", filter(&cwl.FilterLogEventsInput{LogStreamNamePrefix: aws.String("batch.logs.job-"),
		FilterPattern: aws.String(`ERROR -"other job" -Exception`), Limit: aws.Int32(1)}),
		[]string{s1 + " ERROR: disk full 5", s1 + " ERROR: disk full 6"})
	sameLines(t, "any of", filter(&cwl.FilterLogEventsInput{FilterPattern: aws.String(`?done ?"other job 2"`)}),
		[]string{other + " ERROR: other job 2", s2 + " INFO done 9"})
	sameLines(t, "time range, all streams", filter(&cwl.FilterLogEventsInput{StartTime: aws.Int64(logBase.Add(2 * time.Second).UnixMilli()),
		EndTime: aws.Int64(logBase.Add(3 * time.Second).UnixMilli())}), []string{s1 + " INFO ok 2", other + " ERROR: other job 2"})
	if got := filter(&cwl.FilterLogEventsInput{LogStreamNamePrefix: aws.String("nothing")}); len(got) != 0 {
		t.Fatalf("prefix of no stream: %q", got)
	}

	var ip *cwltypes.InvalidParameterException
	for pattern, msg := range map[string]string{
		`{ $.level = "ERROR" }`: "JSON filter patterns",
		`[ip, user]`:            "space-delimited",
		`%ERR.R%`:               "regular expression",
		`ERROR:`:                "put it in double quotes",
		`"open`:                 "not closed",
	} {
		_, err := c.FilterLogEvents(ctx(t), &cwl.FilterLogEventsInput{LogGroupName: logGroup(), FilterPattern: aws.String(pattern)})
		if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), msg) {
			t.Fatalf("pattern %s: %v, want InvalidParameterException with %q", pattern, err, msg)
		}
	}
	_, err := c.FilterLogEvents(ctx(t), &cwl.FilterLogEventsInput{LogGroupName: logGroup(), LogStreamNames: []string{s1}, LogStreamNamePrefix: aws.String("batch")})
	if !errors.As(err, &ip) {
		t.Fatalf("names and prefix: %v", err)
	}
}

func TestDescribeLogStreamsAndGroups(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := logsClient(a.http.URL, "AKID", "SECRET")
	var names []string
	for i := 0; i < 7; i++ {
		s := events.LogSubject(fmt.Sprintf("job-%d", i), 1)
		names = append(names, s)
		a.storeLines(t, s, "line", i, 2)
	}
	a.storeLines(t, events.LogContainerSubject("job-3", 1, "main"), "main", 0, 1)

	p := cwl.NewDescribeLogStreamsPaginator(c, &cwl.DescribeLogStreamsInput{LogGroupName: logGroup(), Limit: aws.Int32(3)})
	var got []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.LogStreams {
			got = append(got, aws.ToString(s.LogStreamName))
			if aws.ToInt64(s.FirstEventTimestamp) > aws.ToInt64(s.LastEventTimestamp) || aws.ToInt64(s.LastIngestionTime) == 0 ||
				aws.ToString(s.Arn) != logStreamARN(aws.ToString(s.LogStreamName)) {
				t.Fatalf("stream %+v", s)
			}
		}
	}
	all := append(append([]string{}, names[:4]...), events.LogContainerSubject("job-3", 1, "main"))
	all = append(all, names[4:]...)
	sameLines(t, "every stream by name", got, all)

	out, err := c.DescribeLogStreams(ctx(t), &cwl.DescribeLogStreamsInput{LogGroupName: logGroup(), LogStreamNamePrefix: aws.String("batch.logs.job-3"), Descending: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LogStreams) != 2 || aws.ToString(out.LogStreams[0].LogStreamName) != events.LogContainerSubject("job-3", 1, "main") {
		t.Fatalf("prefix, descending: %+v", out.LogStreams)
	}
	first := out.LogStreams[1]
	if aws.ToInt64(first.FirstEventTimestamp) != logBase.Add(3*time.Second).UnixMilli() || aws.ToInt64(first.LastEventTimestamp) != logBase.Add(4*time.Second).UnixMilli() {
		t.Fatalf("event times of %s: %d %d", aws.ToString(first.LogStreamName), aws.ToInt64(first.FirstEventTimestamp), aws.ToInt64(first.LastEventTimestamp))
	}
	var ip *cwltypes.InvalidParameterException
	if _, err := c.DescribeLogStreams(ctx(t), &cwl.DescribeLogStreamsInput{LogGroupName: logGroup(), OrderBy: cwltypes.OrderByLastEventTime}); !errors.As(err, &ip) {
		t.Fatalf("orderBy LastEventTime: %v", err)
	}

	groups, err := c.DescribeLogGroups(ctx(t), &cwl.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != LogGroup || aws.ToInt64(groups.LogGroups[0].StoredBytes) == 0 ||
		aws.ToString(groups.LogGroups[0].Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:/aws/batch/job:*" {
		t.Fatalf("groups: %+v", groups.LogGroups)
	}
	none, err := c.DescribeLogGroups(ctx(t), &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda")})
	if err != nil || len(none.LogGroups) != 0 {
		t.Fatalf("another prefix: %v %+v", err, none)
	}
}

// TestLogsProtocol: the JSON 1.1 error shapes and a request that is not a
// CloudWatch Logs one.
func TestLogsProtocol(t *testing.T) {
	a := startAPI(t, nil, Config{})
	call := func(target, body string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, a.http.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	status, h, body := call("Logs_20140328.GetLogEvents", `{"logGroupName": "/aws/batch/job", "logStreamName": "batch.logs.none.1"}`)
	if status != 400 || h.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" || !strings.Contains(body, `"__type":"ResourceNotFoundException"`) ||
		h.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Fatalf("not found: %d %v %s", status, h, body)
	}
	status, _, body = call("Logs_20140328.DescribeLogGroups", `{"limit": 5, "surprise": 1}`)
	if status != 400 || !strings.Contains(body, "InvalidParameterException") || !strings.Contains(body, "surprise") {
		t.Fatalf("unknown member: %d %s", status, body)
	}
	status, _, body = call("", `{}`)
	if status != 400 || !strings.Contains(body, "UnknownOperationException") {
		t.Fatalf("no target: %d %s", status, body)
	}
	status, _, body = call("Logs_20140328.DescribeLogGroups", `{}`)
	if status != 200 || !strings.Contains(body, `"logGroupName":"/aws/batch/job"`) {
		t.Fatalf("describe groups: %d %s", status, body)
	}
}

const logsCredentials = `[
 {"accessKeyId": "ADMINKEY00000001", "secretAccessKey": "admin-secret-0000000001",
  "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
 {"accessKeyId": "BATCHONLYKEY0001", "secretAccessKey": "batch-secret-0000000001",
  "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "batch:*", "Resource": "*"}]}},
 {"accessKeyId": "READERKEY0000001", "secretAccessKey": "reader-secret-000000001",
  "policy": {"Version": "2012-10-17", "Statement": [
   {"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/batch/job:log-stream:batch.logs.job-mine.*"},
   {"Effect": "Allow", "Action": "logs:FilterLogEvents", "Resource": "arn:aws:logs:*:*:log-group:/aws/batch/job:*"}]}}
]`

func TestLogsAuth(t *testing.T) {
	a0, err := auth.Parse([]byte(logsCredentials), auth.Options{Known: KnownAction})
	if err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, nil, Config{Auth: a0})
	mine, theirs := events.LogSubject("job-mine", 1), events.LogSubject("job-theirs", 1)
	a.storeLines(t, mine, "mine", 0, 3)
	a.storeLines(t, theirs, "theirs", 0, 3)
	get := func(c *cwl.Client, stream string) error {
		_, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(stream)})
		return err
	}
	admin := logsClient(a.http.URL, "ADMINKEY00000001", "admin-secret-0000000001")
	reader := logsClient(a.http.URL, "READERKEY0000001", "reader-secret-000000001")
	batchOnly := logsClient(a.http.URL, "BATCHONLYKEY0001", "batch-secret-0000000001")
	if err := get(admin, mine); err != nil {
		t.Fatalf("admin: %v", err)
	}
	if err := get(reader, mine); err != nil {
		t.Fatalf("reader of its stream: %v", err)
	}
	awsError(t, get(reader, theirs), auth.AccessDenied, "not authorized to perform: logs:GetLogEvents on resource: "+logStreamARN(theirs))
	awsError(t, get(batchOnly, mine), auth.AccessDenied, "no identity-based policy allows the logs:GetLogEvents action")
	if _, err := reader.FilterLogEvents(ctx(t), &cwl.FilterLogEventsInput{LogGroupName: logGroup()}); err != nil {
		t.Fatalf("reader filters: %v", err)
	}
	_, err = reader.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(mine), Unmask: true})
	awsError(t, err, auth.AccessDenied, "logs:Unmask")
	if _, err := admin.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(mine), Unmask: true}); err != nil {
		t.Fatalf("admin unmask: %v", err)
	}
	_, err = reader.DescribeLogStreams(ctx(t), &cwl.DescribeLogStreamsInput{LogGroupName: logGroup()})
	awsError(t, err, auth.AccessDenied, "logs:DescribeLogStreams")
	awsError(t, get(logsClient(a.http.URL, "ADMINKEY00000001", "wrong-secret-0000000001"), mine), auth.InvalidSignature, "signature we calculated does not match")

	// Signed for another service: refused.
	req, _ := http.NewRequest(http.MethodPost, a.http.URL+"/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != auth.MissingAuthenticationToken {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestLogPatternMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, msg string
		want         bool
	}{
		{"", "anything", true},
		{"ERROR", "[ERROR] x", true},
		{"ERROR", "error x", false}, // case-sensitive
		{"ERROR Exception", "Exception then ERROR", true},
		{"ERROR Exception", "ERROR only", false},
		{`"disk full"`, "ERROR: disk full", true},
		{`"disk full"`, "full disk", false},
		{`"say \"hi\""`, `they say "hi"`, true},
		{"ERROR -DEBUG", "ERROR x", true},
		{"ERROR -DEBUG", "ERROR DEBUG x", false},
		{"?WARN ?ERROR", "a WARN", true},
		{"?WARN ?ERROR", "INFO", false},
	} {
		p, err := parseLogPattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := p.match(c.msg); got != c.want {
			t.Errorf("%q on %q: %v, want %v", c.pattern, c.msg, got, c.want)
		}
	}
	for _, bad := range []string{"?A B", "-", `"x"y`, "a.b"} {
		if _, err := parseLogPattern(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestPrefixFilter(t *testing.T) {
	for _, c := range []struct {
		prefix, filter string
		exact, ok      bool
	}{
		{"", "batch.logs.>", true, true},
		{"batch.lo", "batch.logs.>", false, true},
		{"batch.logs.", "batch.logs.>", true, true},
		{"batch.logs.abc", "batch.logs.>", false, true},
		{"batch.logs.abc.", "batch.logs.abc.>", true, true},
		{"batch.logs.abc.1", "batch.logs.abc.>", false, true},
		{"other", "", false, false},
		{"batch.logs.a*", "", false, false},
	} {
		f, exact, ok := prefixFilter(c.prefix)
		if ok != c.ok || ok && (f != c.filter || exact != c.exact) {
			t.Errorf("%q: %q %v %v, want %q %v %v", c.prefix, f, exact, ok, c.filter, c.exact, c.ok)
		}
	}
}

// TestGetLogEventsBackwardsOverLongOutput pages backwards over a long
// output whose lines come in bursts between other jobs' (the search for
// where the last lines begin), and reads a time range from the end.
func TestGetLogEventsBackwardsOverLongOutput(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := logsClient(a.http.URL, "AKID", "SECRET")
	job := events.LogSubject("job-long", 1)
	at := 0
	for i, burst := range []int{700, 3, 50, 1, 400, 846} {
		a.storeLines(t, job, "l", at, burst)
		at += burst
		a.storeLines(t, events.LogSubject("job-other", 1), "o", i*300, 300*(i%3))
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		in := &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), Limit: aws.Int32(150)}
		if token != "" {
			in.NextToken = aws.String(token)
		}
		out, err := c.GetLogEvents(ctx(t), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) > 150 || pages > 20 {
			t.Fatalf("page %d: %d events", pages, len(out.Events))
		}
		got = append(messages(out.Events), got...)
		if aws.ToString(out.NextBackwardToken) == token {
			break
		}
		token = aws.ToString(out.NextBackwardToken)
	}
	sameLines(t, "backwards by 150", got, want("l", 0, 2000))

	start, end := logBase.Add(100*time.Second).UnixMilli(), logBase.Add(1500*time.Second).UnixMilli()
	out, err := c.GetLogEvents(ctx(t), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), Limit: aws.Int32(100),
		StartTime: aws.Int64(start), EndTime: aws.Int64(end)})
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, "the latest 100 of a time range", messages(out.Events), want("l", 1400, 1500))
}

// TestGetLogEventsRandomLayouts: for random layouts of one job's lines
// among others', paging backwards and forwards with random limits and time
// ranges returns exactly the lines of the range, in order.
func TestGetLogEventsRandomLayouts(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := logsClient(a.http.URL, "AKID", "SECRET")
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 6 {
		job := events.LogSubject(fmt.Sprintf("job-r%d", round), 1)
		total := 0
		for range 1 + rng.IntN(8) {
			burst := rng.IntN(400)
			a.storeLines(t, job, "r", total, burst)
			total += burst
			a.storeLines(t, events.LogSubject("job-noise", 1), "n", 0, rng.IntN(500))
		}
		if total == 0 {
			continue
		}
		from, to := rng.IntN(total), total
		if rng.IntN(2) == 0 {
			to = from + rng.IntN(total-from+1)
		}
		limit := int32(1 + rng.IntN(300))
		win := func(in *cwl.GetLogEventsInput) *cwl.GetLogEventsInput {
			in.LogGroupName, in.LogStreamName, in.Limit = logGroup(), aws.String(job), aws.Int32(limit)
			in.StartTime, in.EndTime = aws.Int64(logBase.Add(time.Duration(from)*time.Second).UnixMilli()), aws.Int64(logBase.Add(time.Duration(to)*time.Second).UnixMilli())
			return in
		}
		var back []string
		token := ""
		for pages := 0; ; pages++ {
			in := win(&cwl.GetLogEventsInput{})
			if token != "" {
				in.NextToken = aws.String(token)
			}
			out, err := c.GetLogEvents(ctx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			back = append(messages(out.Events), back...)
			if aws.ToString(out.NextBackwardToken) == token || pages > 1000 {
				break
			}
			token = aws.ToString(out.NextBackwardToken)
		}
		sameLines(t, fmt.Sprintf("round %d backwards (%d lines, range %d-%d, limit %d)", round, total, from, to, limit), back, want("r", from, to))
		p := cwl.NewGetLogEventsPaginator(c, win(&cwl.GetLogEventsInput{StartFromHead: aws.Bool(true)}),
			func(o *cwl.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
		var fwd []string
		for p.HasMorePages() {
			out, err := p.NextPage(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			fwd = append(fwd, messages(out.Events)...)
		}
		sameLines(t, fmt.Sprintf("round %d forwards", round), fwd, want("r", from, to))
	}
	// Every read deleted its consumers.
	st, err := a.js.Stream(ctx(t), events.StreamLogs)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx(t)); err != nil || info.State.Consumers != 0 {
		t.Fatalf("consumers left on %s: %v %+v", events.StreamLogs, err, info.State)
	}
}

// TestLogsExamplePolicy: the log reader policy of docs/operations.md
// allows what it says and nothing else.
func TestLogsExamplePolicy(t *testing.T) {
	a, err := auth.Parse([]byte(`[{"accessKeyId": "LOGREADERKEY0001", "secretAccessKey": "log-reader-secret-0001", "policy":
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["batch:DescribeJobs", "batch:ListJobs"], "Resource": "*"},
  {"Effect": "Allow", "Action": "logs:GetLogEvents",
   "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/batch/job:log-stream:*"},
  {"Effect": "Allow", "Action": ["logs:FilterLogEvents", "logs:DescribeLogStreams"],
   "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/batch/job:*"},
  {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:*"}]}}]`),
		auth.Options{Known: KnownAction})
	if err != nil {
		t.Fatal(err)
	}
	p := a.Lookup("LOGREADERKEY0001")
	stream := logStreamARN(events.LogSubject("job-1", 1))
	for _, c := range []struct {
		action, resource string
		want             bool
	}{
		{"logs:GetLogEvents", stream, true},
		{"logs:FilterLogEvents", logGroupARN(), true},
		{"logs:DescribeLogStreams", logGroupARN(), true},
		{"logs:DescribeLogGroups", "arn:aws:logs:us-east-1:000000000000:log-group:*", true},
		{"logs:Unmask", logGroupARN(), false},
		{"batch:SubmitJob", "*", false},
	} {
		if got := p.Allowed(c.action, c.resource); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.action, c.resource, got, c.want)
		}
	}
}

// TestGetLogEventsScanBudget: a backward read that scans its budget
// without finding the range's lines answers an empty page whose token goes
// on from where it stopped, so paging still reaches every line.
func TestGetLogEventsScanBudget(t *testing.T) {
	defer func(b uint64) { logsScanBudget = b }(logsScanBudget)
	logsScanBudget = 50
	a := startAPI(t, nil, Config{})
	c := logsClient(a.http.URL, "AKID", "SECRET")
	job := events.LogSubject("job-budget", 1)
	a.storeLines(t, job, "b", 0, 600)
	var got []string
	token, empty := "", 0
	for pages := 0; ; pages++ {
		in := &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(job), Limit: aws.Int32(10),
			EndTime: aws.Int64(logBase.Add(20 * time.Second).UnixMilli())}
		if token != "" {
			in.NextToken = aws.String(token)
		}
		out, err := c.GetLogEvents(ctx(t), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) == 0 {
			empty++
		}
		got = append(messages(out.Events), got...)
		if aws.ToString(out.NextBackwardToken) == token || pages > 100 {
			break
		}
		token = aws.ToString(out.NextBackwardToken)
	}
	sameLines(t, "backwards with a small budget", got, want("b", 0, 20))
	if empty < 2 {
		t.Fatalf("%d empty pages: the budget did not stop a scan", empty)
	}
}
