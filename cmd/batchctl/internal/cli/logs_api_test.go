package cli

import (
	"strings"
	"testing"
)

// TestLogsAPI: logs --api pages through FilterLogEvents over the job's
// streams, keeps the attempt and container asked for, prefixes a task's
// containers, and refuses -f.
func TestLogsAPI(t *testing.T) {
	f, srv := newFakeAPI(t)
	f.handle = func(_ string, body map[string]any) answer {
		if body["logStreamNamePrefix"] != "batch.logs.job-1." || body["logGroupName"] != "/aws/batch/job" {
			return answer{status: 400, errType: "InvalidParameterException", body: `{"message":"unexpected request"}`}
		}
		if body["nextToken"] == nil {
			return answer{body: `{"events":[
 {"logStreamName":"batch.logs.job-1.1","timestamp":1764756000000,"message":"first try","ingestionTime":1,"eventId":"1"},
 {"logStreamName":"batch.logs.job-1.2.main","timestamp":1764756001000,"message":"main says","ingestionTime":1,"eventId":"2"}],
 "nextToken":"s/2"}`}
		}
		return answer{body: `{"events":[{"logStreamName":"batch.logs.job-1.2.side","timestamp":1764756002000,"message":"side says","ingestionTime":1,"eventId":"3"}]}`}
	}
	r := runCLI(t, srv.URL, "logs", "--api", "job-1")
	if r.code != 0 || r.stdout != "first try\nmain | main says\nside | side says\n" {
		t.Fatalf("logs --api: %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, req := range f.requests() {
		if req.Path != "/" || req.Header.Get("X-Amz-Target") != "Logs_20140328.FilterLogEvents" {
			t.Fatalf("request %s %s", req.Path, req.Header.Get("X-Amz-Target"))
		}
	}
	r = runCLI(t, srv.URL, "logs", "--api", "--attempt", "2", "--container", "main", "--timestamps", "job-1")
	if r.code != 0 || r.stdout != "2025-12-03T10:00:01.000 main says\n" {
		t.Fatalf("logs --api --attempt 2 --container main: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, srv.URL, "logs", "--api", "-f", "job-1")
	if r.code == 0 || !strings.Contains(r.stderr, "--api does not follow") {
		t.Fatalf("logs --api -f: %d %q", r.code, r.stderr)
	}
}
