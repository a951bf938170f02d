package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// request is one request the fake API received.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// answer is a canned answer: a status, the X-Amzn-ErrorType header (for
// errors) and a body.
type answer struct {
	status  int
	errType string
	body    string
}

// fakeAPI records every request and answers from canned answers by path;
// the last answer of a path is repeated.
type fakeAPI struct {
	mu      sync.Mutex
	reqs    []request
	answers map[string][]answer
	// handle, when set, answers instead of answers.
	handle func(path string, body map[string]any) answer
}

func newFakeAPI(t *testing.T) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{answers: map[string][]answer{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		var a answer
		if f.handle != nil {
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			a = f.handle(r.URL.Path, m)
		} else if q := f.answers[r.URL.Path]; len(q) > 0 {
			a = q[0]
			if len(q) > 1 {
				f.answers[r.URL.Path] = q[1:]
			}
		} else {
			a = answer{status: 404, errType: "UnknownOperationException", body: `{"message":"no canned answer"}`}
		}
		f.mu.Unlock()
		if a.status == 0 {
			a.status = 200
		}
		w.Header().Set("Content-Type", "application/json")
		if a.errType != "" {
			w.Header().Set("X-Amzn-ErrorType", a.errType)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAPI) on(path string, answers ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[path] = answers
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// last returns the only request received, failing otherwise.
func (f *fakeAPI) only(t *testing.T) request {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// result is the outcome of one in-process run.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs batchctl in-process against endpoint with a hermetic
// environment.
func runCLI(t *testing.T, endpoint string, args ...string) result {
	t.Helper()
	return runCLIEnv(t, map[string]string{"BATCH_ENDPOINT": endpoint, "AWS_MAX_ATTEMPTS": "1"}, args...)
}

func runCLIEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := Run(ctx, args, Env{
		Stdout: &out, Stderr: &errb, Location: time.UTC,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// assertJSONEqual compares two JSON documents by value.
func assertJSONEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs:\n got: %s\nwant: %s", got, want)
	}
}

const submitAnswer = `{"jobArn":"arn:aws:batch:us-east-1:000000000000:job/8d2f","jobName":"hello","jobId":"8d2f"}`

func TestSubmitJobFlagsMakeTheAWSBody(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/submitjob", answer{body: submitAnswer})
	r := runCLI(t, srv.URL, "submit-job",
		"--job-name", "hello", "--job-queue", "default", "--job-definition", "echo:2",
		"--parameters", `{"msg":"hi there"}`,
		"--container-overrides", "command=[echo,Ref::msg],environment=[{name=A,value=1}],resourceRequirements=[{type=VCPU,value=2},{type=MEMORY,value=512}]",
		"--depends-on", "jobId=j1,type=N_TO_N", "jobId=j2",
		"--array-properties", "size=3",
		"--retry-strategy", `{"attempts":2,"evaluateOnExit":[{"onExitCode":"1","action":"RETRY"},{"onReason":"*","action":"EXIT"}]}`,
		"--timeout", "attemptDurationSeconds=60",
		"--tags", "team=data,env=dev",
		"--propagate-tags",
		"--scheduling-priority-override", "5",
		"--share-identifier", "blue",
	)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	req := api.only(t)
	if req.Method != http.MethodPost || req.Path != "/v1/submitjob" {
		t.Errorf("request %s %s, want POST /v1/submitjob", req.Method, req.Path)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if auth := req.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=batchctl/") ||
		!strings.Contains(auth, "/us-east-1/batch/aws4_request") {
		t.Errorf("Authorization %q is not a SigV4 signature for us-east-1/batch", auth)
	}
	assertJSONEqual(t, req.Body, `{
		"jobName": "hello", "jobQueue": "default", "jobDefinition": "echo:2",
		"parameters": {"msg": "hi there"},
		"containerOverrides": {
			"command": ["echo", "Ref::msg"],
			"environment": [{"name": "A", "value": "1"}],
			"resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "512"}]
		},
		"dependsOn": [{"jobId": "j1", "type": "N_TO_N"}, {"jobId": "j2"}],
		"arrayProperties": {"size": 3},
		"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}]},
		"timeout": {"attemptDurationSeconds": 60},
		"tags": {"team": "data", "env": "dev"},
		"propagateTags": true,
		"schedulingPriorityOverride": 5,
		"shareIdentifier": "blue"
	}`)
	want := `{
    "jobArn": "arn:aws:batch:us-east-1:000000000000:job/8d2f",
    "jobName": "hello",
    "jobId": "8d2f"
}
`
	if r.stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", r.stdout, want)
	}
}

func TestContainerOverridesJSON(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/submitjob", answer{body: submitAnswer})
	r := runCLI(t, srv.URL, "submit-job", "--job-name", "j", "--job-queue", "q", "--job-definition", "d",
		"--container-overrides", `{"command":["sh","-c","echo $X"],"environment":[{"name":"X","value":"1"}],"memory":256}`,
		"--no-propagate-tags")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	assertJSONEqual(t, api.only(t).Body, `{"jobName":"j","jobQueue":"q","jobDefinition":"d","propagateTags":false,
		"containerOverrides":{"command":["sh","-c","echo $X"],"environment":[{"name":"X","value":"1"}],"memory":256}}`)
}

func TestCLIInputJSON(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/submitjob", answer{body: submitAnswer})
	input := `{"jobName":"from-file","jobQueue":"q","jobDefinition":"d","containerOverrides":{"command":["true"]},"dependsOn":[{"jobId":"a"}]}`
	path := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(path, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, srv.URL, "submit-job", "--cli-input-json", input)
	if r.code != 0 {
		t.Fatalf("inline: exit %d, stderr %q", r.code, r.stderr)
	}
	assertJSONEqual(t, api.requests()[0].Body, input)

	// From a file, with a flag overriding one field.
	r = runCLI(t, srv.URL, "submit-job", "--cli-input-json", "file://"+path, "--job-name", "override")
	if r.code != 0 {
		t.Fatalf("file: exit %d, stderr %q", r.code, r.stderr)
	}
	assertJSONEqual(t, api.requests()[1].Body, strings.Replace(input, "from-file", "override", 1))

	// Every operation takes it.
	api.on("/v1/describejobs", answer{body: `{"jobs":[]}`})
	r = runCLI(t, srv.URL, "describe-jobs", "--cli-input-json", `{"jobs":["x","y"]}`)
	if r.code != 0 {
		t.Fatalf("describe-jobs: exit %d, stderr %q", r.code, r.stderr)
	}
	assertJSONEqual(t, api.requests()[2].Body, `{"jobs":["x","y"]}`)

	// Unknown keys and broken JSON are usage errors, and nothing is sent.
	for _, bad := range []string{`{"jobNmae":"x","jobQueue":"q","jobDefinition":"d"}`, `{"jobName":`, "file:///no/such/file"} {
		r = runCLI(t, srv.URL, "submit-job", "--cli-input-json", bad)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--cli-input-json") {
			t.Errorf("--cli-input-json %q: exit %d, stderr %q; want %d", bad, r.code, r.stderr, ExitUsage)
		}
	}
	if n := len(api.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestDescribeJobsTakesSeveralIDs(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/describejobs", answer{body: `{"jobs":[]}`})
	cases := [][]string{
		{"describe-jobs", "--jobs", "a", "b", "c"},
		{"describe-jobs", "--jobs", "a", "--jobs", "b", "--jobs=c"},
		{"describe-jobs", "--jobs", "a,b,c"},
		{"describe-jobs", "a", "b", "c"},
		{"--output", "json", "describe-jobs", "--jobs", "a", "b", "c", "--query", "jobs"},
		{"describe-jobs", "--jobs", `["a","b"]`, "c"},
	}
	for i, args := range cases {
		r := runCLI(t, srv.URL, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		assertJSONEqual(t, api.requests()[i].Body, `{"jobs":["a","b","c"]}`)
	}
	r := runCLI(t, srv.URL, "describe-jobs")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "the following arguments are required: --jobs") {
		t.Errorf("no ids: exit %d, stderr %q", r.code, r.stderr)
	}
}

// describeJobsAnswer has keys in the service's order, nested shapes,
// epoch-millisecond times and one field AWS does not know (kept).
const describeJobsAnswer = `{"jobs":[{"jobArn":"arn:aws:batch:us-east-1:000000000000:job/j-1","jobName":"hello","jobId":"j-1",` +
	`"jobQueue":"arn:aws:batch:us-east-1:000000000000:job-queue/default","status":"FAILED","attempts":[{"container":{"exitCode":3,` +
	`"reason":"exit status 3"},"startedAt":1700000001000,"stoppedAt":1700000002000,"statusReason":"Essential container in task exited"}],` +
	`"statusReason":"Essential container in task exited","createdAt":1700000000000,"startedAt":1700000001000,"stoppedAt":1700000002000,` +
	`"dependsOn":[],"jobDefinition":"arn:aws:batch:us-east-1:000000000000:job-definition/echo:1","container":{"image":"busybox",` +
	`"command":["sh","-c","exit 3"],"exitCode":3,"resourceRequirements":[{"type":"VCPU","value":"1"}]},"platformCapabilities":["EC2"],` +
	`"hostId":"h1","traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}]}`

func TestOutputIsTheServicesCamelCaseJSON(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/describejobs", answer{body: describeJobsAnswer})
	r := runCLI(t, srv.URL, "describe-jobs", "--jobs", "j-1")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := `{
    "jobs": [
        {
            "jobArn": "arn:aws:batch:us-east-1:000000000000:job/j-1",
            "jobName": "hello",
            "jobId": "j-1",
            "jobQueue": "arn:aws:batch:us-east-1:000000000000:job-queue/default",
            "status": "FAILED",
            "attempts": [
                {
                    "container": {
                        "exitCode": 3,
                        "reason": "exit status 3"
                    },
                    "startedAt": 1700000001000,
                    "stoppedAt": 1700000002000,
                    "statusReason": "Essential container in task exited"
                }
            ],
            "statusReason": "Essential container in task exited",
            "createdAt": 1700000000000,
            "startedAt": 1700000001000,
            "stoppedAt": 1700000002000,
            "dependsOn": [],
            "jobDefinition": "arn:aws:batch:us-east-1:000000000000:job-definition/echo:1",
            "container": {
                "image": "busybox",
                "command": [
                    "sh",
                    "-c",
                    "exit 3"
                ],
                "exitCode": 3,
                "resourceRequirements": [
                    {
                        "type": "VCPU",
                        "value": "1"
                    }
                ]
            },
            "platformCapabilities": [
                "EC2"
            ],
            "hostId": "h1",
            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"
        }
    ]
}
`
	if r.stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", r.stdout, want)
	}
}

const listJobsAnswer = `{"jobSummaryList":[` +
	`{"jobArn":"arn:a","jobId":"a","jobName":"first","createdAt":1700000000000,"status":"SUCCEEDED","startedAt":1700000001000,"stoppedAt":1700000002000,"container":{"exitCode":0}},` +
	`{"jobArn":"arn:b","jobId":"b","jobName":"second","createdAt":1700000003000,"status":"FAILED","statusReason":"Essential container in task exited","container":{"exitCode":2}}]}`

func TestQuery(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/listjobs", answer{body: listJobsAnswer})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--query", "jobSummaryList[].jobId"}, "[\n    \"a\",\n    \"b\"\n]\n"},
		{[]string{"--query", "jobSummaryList[?status=='FAILED'].jobName | [0]"}, "\"second\"\n"},
		{[]string{"--query", "length(jobSummaryList)"}, "2\n"},
		{[]string{"--query", "jobSummaryList[].[jobId,status]", "--output", "text"}, "a\tSUCCEEDED\nb\tFAILED\n"},
		{[]string{"--query", "jobSummaryList[0].{id:jobId,code:container.exitCode}"}, "{\n    \"code\": 0,\n    \"id\": \"a\"\n}\n"},
		{[]string{"--query", "jobSummaryList[?status=='RUNNING']"}, "[]\n"},
	}
	for _, c := range cases {
		r := runCLI(t, srv.URL, append([]string{"list-jobs", "--job-queue", "default", "--job-status", "SUCCEEDED"}, c.args...)...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d, stderr %q", c.args, r.code, r.stderr)
		}
		if r.stdout != c.want {
			t.Errorf("%q: stdout %q, want %q", c.args, r.stdout, c.want)
		}
	}
	assertJSONEqual(t, api.requests()[0].Body, `{"jobQueue":"default","jobStatus":"SUCCEEDED"}`)

	r := runCLI(t, srv.URL, "list-jobs", "--query", "jobSummaryList[")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--query") {
		t.Errorf("bad query: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServiceErrors(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/submitjob", answer{status: 400, errType: "ClientException",
		body: `{"__type":"ClientException","message":"job queue nope does not exist"}`})
	r := runCLI(t, srv.URL, "submit-job", "--job-name", "j", "--job-queue", "nope", "--job-definition", "d")
	if r.code != ExitService {
		t.Errorf("exit %d, want %d", r.code, ExitService)
	}
	if want := "\nAn error occurred (ClientException) when calling the SubmitJob operation: job queue nope does not exist\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}

	api.on("/v1/describejobs", answer{status: 500, errType: "ServerException", body: `{"message":"store unavailable"}`})
	r = runCLI(t, srv.URL, "describe-jobs", "--jobs", "x")
	if r.code != ExitService || !strings.Contains(r.stderr, "(ServerException) when calling the DescribeJobs operation: store unavailable") {
		t.Errorf("server error: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	_, srv := newFakeAPI(t)
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"submit-job", "--job-name", "j"}, "the following arguments are required: --job-definition, --job-queue"},
		{[]string{"submit-job", "--job-name", "j", "--job-queue", "q", "--job-definition", "d", "--container-overrides", `{"command":`}, "argument --container-overrides"},
		{[]string{"submit-job", "--job-name", "j", "--job-queue", "q", "--job-definition", "d", "--container-overrides", "nosuch=1"}, `unknown parameter "nosuch"`},
		{[]string{"submit-job", "--job-name", "j", "--job-queue", "q", "--job-definition", "d", "--scheduling-priority-override", "high"}, "expected an integer"},
		{[]string{"submit-job", "--nope"}, "unknown flag: --nope"},
		{[]string{"no-such-command"}, "unknown command"},
		{[]string{"list-jobs", "--output", "yaml"}, "invalid choice"},
		{[]string{"cancel-job", "--job-id", "x", "--reason", "r", "extra"}, "unknown command"},
		{[]string{"submit-job", "--job-name", "j", "--job-queue", "q", "--job-definition", "d", "--propagate-tags", "--no-propagate-tags"}, "cannot be used together"},
		{[]string{"create-job-queue", "--job-queue-name", "q", "--priority", "1", "--compute-environment-order", "computeEnvironment=ce"}, "parameter validation failed"},
		{[]string{"logs"}, "accepts 1 arg"},
		{[]string{"watch"}, "--job-queue"},
		{[]string{}, "a command is required"},
	}
	for _, c := range cases {
		r := runCLI(t, srv.URL, c.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, r.code, r.stderr, ExitUsage, c.msg)
		}
	}
}

func TestConnectionFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r := runCLI(t, url, "describe-jobs", "--jobs", "x")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "could not connect to the endpoint URL") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestListJobsPaginates(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/listjobs",
		answer{body: `{"jobSummaryList":[{"jobId":"a","jobName":"x","status":"RUNNING"}],"nextToken":"t1"}`},
		answer{body: `{"jobSummaryList":[{"jobId":"b","jobName":"y","status":"RUNNING"}]}`},
	)
	r := runCLI(t, srv.URL, "list-jobs", "--job-queue", "q")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	reqs := api.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	assertJSONEqual(t, reqs[0].Body, `{"jobQueue":"q"}`)
	assertJSONEqual(t, reqs[1].Body, `{"jobQueue":"q","nextToken":"t1"}`)
	want := `{
    "jobSummaryList": [
        {
            "jobId": "a",
            "jobName": "x",
            "status": "RUNNING"
        },
        {
            "jobId": "b",
            "jobName": "y",
            "status": "RUNNING"
        }
    ]
}
`
	if r.stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", r.stdout, want)
	}

	// --max-results (like --next-token and --no-paginate) makes one call
	// and prints the token.
	api.on("/v1/listjobs", answer{body: `{"jobSummaryList":[],"nextToken":"t2"}`})
	r = runCLI(t, srv.URL, "list-jobs", "--job-queue", "q", "--max-results", "1")
	if r.code != 0 || !strings.Contains(r.stdout, `"nextToken": "t2"`) {
		t.Errorf("--max-results: exit %d, stdout %q", r.code, r.stdout)
	}
	assertJSONEqual(t, api.requests()[2].Body, `{"jobQueue":"q","maxResults":1}`)
}

func TestEveryOperationPostsToItsPath(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.handle = func(string, map[string]any) answer { return answer{body: `{}`} }
	cases := map[string][]string{
		"/v1/createcomputeenvironment":    {"create-compute-environment", "--compute-environment-name", "ce", "--type", "MANAGED", "--state", "ENABLED", "--compute-resources", "type=EC2,maxvCpus=8,subnets=[s1],instanceRole=r"},
		"/v1/describecomputeenvironments": {"describe-compute-environments", "--compute-environments", "ce"},
		"/v1/updatecomputeenvironment":    {"update-compute-environment", "--compute-environment", "ce", "--state", "DISABLED", "--unmanagedv-cpus", "4"},
		"/v1/createjobqueue":              {"create-job-queue", "--job-queue-name", "q", "--priority", "10", "--compute-environment-order", "order=1,computeEnvironment=ce"},
		"/v1/describejobqueues":           {"describe-job-queues", "--job-queues", "q"},
		"/v1/updatejobqueue":              {"update-job-queue", "--job-queue", "q", "--priority", "0", "--state", "DISABLED"},
		"/v1/registerjobdefinition":       {"register-job-definition", "--job-definition-name", "echo", "--type", "container", "--container-properties", `{"image":"busybox","command":["echo","hi"],"resourceRequirements":[{"type":"VCPU","value":"1"}]}`, "--platform-capabilities", "EC2"},
		"/v1/describejobdefinitions":      {"describe-job-definitions", "--job-definition-name", "echo", "--status", "ACTIVE"},
		"/v1/listjobs":                    {"list-jobs", "--job-queue", "q", "--filters", "name=JOB_NAME,values=he*"},
		"/v1/canceljob":                   {"cancel-job", "--job-id", "j", "--reason", "not needed"},
		"/v1/terminatejob":                {"terminate-job", "--job-id", "j", "--reason", "stop"},
	}
	bodies := map[string]string{
		"/v1/createcomputeenvironment":    `{"computeEnvironmentName":"ce","type":"MANAGED","state":"ENABLED","computeResources":{"type":"EC2","maxvCpus":8,"subnets":["s1"],"instanceRole":"r"}}`,
		"/v1/describecomputeenvironments": `{"computeEnvironments":["ce"]}`,
		"/v1/updatecomputeenvironment":    `{"computeEnvironment":"ce","state":"DISABLED","unmanagedvCpus":4}`,
		"/v1/createjobqueue":              `{"jobQueueName":"q","priority":10,"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"ce"}]}`,
		"/v1/describejobqueues":           `{"jobQueues":["q"]}`,
		"/v1/updatejobqueue":              `{"jobQueue":"q","priority":0,"state":"DISABLED"}`,
		"/v1/registerjobdefinition":       `{"jobDefinitionName":"echo","type":"container","containerProperties":{"image":"busybox","command":["echo","hi"],"resourceRequirements":[{"type":"VCPU","value":"1"}]},"platformCapabilities":["EC2"]}`,
		"/v1/describejobdefinitions":      `{"jobDefinitionName":"echo","status":"ACTIVE"}`,
		"/v1/listjobs":                    `{"jobQueue":"q","filters":[{"name":"JOB_NAME","values":["he*"]}]}`,
		"/v1/canceljob":                   `{"jobId":"j","reason":"not needed"}`,
		"/v1/terminatejob":                `{"jobId":"j","reason":"stop"}`,
	}
	for path, args := range cases {
		before := len(api.requests())
		r := runCLI(t, srv.URL, args...)
		if r.code != 0 {
			t.Errorf("%s: exit %d, stderr %q", args[0], r.code, r.stderr)
			continue
		}
		if r.stdout != "" {
			t.Errorf("%s: an empty answer printed %q", args[0], r.stdout)
		}
		reqs := api.requests()[before:]
		if len(reqs) != 1 || reqs[0].Path != path {
			t.Errorf("%s: requests %v, want one to %s", args[0], reqs, path)
			continue
		}
		assertJSONEqual(t, reqs[0].Body, bodies[path])
	}
}

func TestTableOutput(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/listjobs", answer{body: listJobsAnswer})
	api.on("/v1/describejobs", answer{body: describeJobsAnswer})
	api.on("/v1/describejobqueues", answer{body: `{"jobQueues":[{"jobQueueName":"default","jobQueueArn":"arn:q","state":"ENABLED",` +
		`"status":"VALID","priority":10,"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"arn:aws:batch:us-east-1:000000000000:compute-environment/local"}]}]}`})
	api.on("/v1/describecomputeenvironments", answer{body: `{"computeEnvironments":[{"computeEnvironmentName":"local","computeEnvironmentArn":"arn:ce",` +
		`"type":"MANAGED","state":"ENABLED","status":"VALID","computeResources":{"type":"EC2","maxvCpus":16}}]}`})
	api.on("/v1/submitjob", answer{body: submitAnswer})

	checks := []struct {
		args []string
		want []string
	}{
		{[]string{"list-jobs", "--job-queue", "default"}, []string{"JOB ID", "STATUS", "CREATED", "EXIT", "first", "SUCCEEDED",
			"2023-11-14 22:13:20", "2023-11-14 22:13:22", "FAILED", "Essential container in task exited", "│ 2 "}},
		{[]string{"describe-jobs", "--jobs", "j-1"}, []string{"QUEUE", "ATTEMPTS", "TRACE ID", "default", "hello", "exit status 3", "│ 3 ",
			"│ 4bf92f3577b34da6a3ce929d0e0e4736 │"}},
		{[]string{"describe-job-queues"}, []string{"PRIORITY", "default", "VALID", "1:local"}},
		{[]string{"describe-compute-environments"}, []string{"MAX VCPUS", "local", "MANAGED", "16"}},
		{[]string{"submit-job", "--job-name", "j", "--job-queue", "q", "--job-definition", "d"}, []string{"SubmitJob", "jobId", "8d2f"}},
		{[]string{"list-jobs", "--job-queue", "default", "--query", "jobSummaryList[].{id:jobId,name:jobName}"}, []string{"id", "name", "second"}},
	}
	for _, c := range checks {
		r := runCLI(t, srv.URL, append(c.args, "--output", "table")...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d, stderr %q", c.args, r.code, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%q: table lacks %q:\n%s", c.args, w, r.stdout)
			}
		}
	}
}

func TestTextOutput(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/submitjob", answer{body: submitAnswer})
	r := runCLI(t, srv.URL, "submit-job", "--job-name", "j", "--job-queue", "q", "--job-definition", "d", "--output", "text")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if want := "arn:aws:batch:us-east-1:000000000000:job/8d2f\t8d2f\thello\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

func TestGenerateCLISkeleton(t *testing.T) {
	api, srv := newFakeAPI(t)
	r := runCLI(t, srv.URL, "submit-job", "--generate-cli-skeleton")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "{\n    \"jobDefinition\": \"\",\n    \"jobName\": \"\",\n    \"jobQueue\": \"\",") {
		t.Errorf("skeleton starts %q", r.stdout[:min(len(r.stdout), 120)])
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestEndpointAndCredentials(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/describejobs", answer{body: `{"jobs":[]}`})
	r := runCLIEnv(t, map[string]string{"BATCH_ENDPOINT": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "AKIDTEST",
		"AWS_SECRET_ACCESS_KEY": "secret", "AWS_MAX_ATTEMPTS": "1"},
		"describe-jobs", "--jobs", "x", "--endpoint-url", srv.URL+"/")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if auth := api.only(t).Header.Get("Authorization"); !strings.Contains(auth, "Credential=AKIDTEST/") {
		t.Errorf("Authorization %q does not use AWS_ACCESS_KEY_ID", auth)
	}
	if r.stdout != "{\n    \"jobs\": []\n}\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = runCLI(t, srv.URL, "describe-jobs", "--jobs", "x", "--endpoint-url", "127.0.0.1:8420")
	if r.code != ExitUsage {
		t.Errorf("bad endpoint: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestWatchOnce(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.handle = func(path string, body map[string]any) answer {
		switch body["jobStatus"] {
		case "RUNNING":
			return answer{body: `{"jobSummaryList":[{"jobId":"r1","jobName":"busy","status":"RUNNING","createdAt":1700000000000,"startedAt":1700000001000}]}`}
		case "FAILED":
			return answer{body: `{"jobSummaryList":[{"jobId":"f1","jobName":"broken","status":"FAILED","createdAt":1690000000000,"container":{"exitCode":137,"reason":"OutOfMemoryError"}}]}`}
		}
		return answer{body: `{"jobSummaryList":[]}`}
	}
	r := runCLI(t, srv.URL, "watch", "--job-queue", "default", "--once")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, w := range []string{"Queue default: 1 RUNNING, 1 FAILED", "busy", "broken", "137", "OutOfMemoryError"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("watch lacks %q:\n%s", w, r.stdout)
		}
	}
	if strings.Index(r.stdout, "busy") > strings.Index(r.stdout, "broken") {
		t.Errorf("running jobs are not listed first:\n%s", r.stdout)
	}
	if n := len(api.requests()); n != 7 {
		t.Errorf("%d ListJobs calls, want one per status (7)", n)
	}
	for _, req := range api.requests() {
		if req.Path != "/v1/listjobs" || !strings.Contains(string(req.Body), `"jobQueue":"default"`) {
			t.Errorf("unexpected request %s %s", req.Path, req.Body)
		}
	}
}

func TestWatchStopsOnInterrupt(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.handle = func(string, map[string]any) answer { return answer{body: `{"jobSummaryList":[]}`} }
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"watch", "--job-queue", "q", "--interval", "100ms"}, Env{Stdout: &out,
			Getenv: func(k string) string { return map[string]string{"BATCH_ENDPOINT": srv.URL}[k] }})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(api.requests()) < 14 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after Ctrl-C, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop")
	}
	if len(api.requests()) < 14 {
		t.Errorf("only %d requests: the table was not refreshed", len(api.requests()))
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, "http://127.0.0.1:1", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "batchctl ") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestHelp(t *testing.T) {
	r := runCLI(t, "http://127.0.0.1:1", "submit-job", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, w := range []string{"--job-name", "--container-overrides", "--depends-on", "--cli-input-json", "(required)"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("help lacks %q", w)
		}
	}
	r = runCLI(t, "http://127.0.0.1:1", "list-jobs", "--help")
	if !strings.Contains(r.stdout, "SUBMITTED, PENDING, RUNNABLE") {
		t.Errorf("list-jobs help does not list the job statuses:\n%s", r.stdout)
	}
}

// TestProfileCredentials: without the key variables batchctl signs with
// the keys of the AWS_PROFILE (or default) profile of the shared
// credentials file, as the AWS CLI does; a named profile without keys is
// an error.
func TestProfileCredentials(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/describejobs", answer{body: `{"jobs":[]}`})
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	creds := "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n[team]\naws_access_key_id = AKIDTEAM\naws_secret_access_key = s2\n"
	if err := os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	for profile, want := range map[string]string{"": "AKIDDEFAULT", "team": "AKIDTEAM"} {
		r := runCLIEnv(t, map[string]string{"HOME": home, "AWS_PROFILE": profile, "AWS_MAX_ATTEMPTS": "1"},
			"describe-jobs", "--jobs", "x", "--endpoint-url", srv.URL)
		if r.code != 0 {
			t.Fatalf("profile %q: exit %d, stderr %q", profile, r.code, r.stderr)
		}
		reqs := api.requests()
		if auth := reqs[len(reqs)-1].Header.Get("Authorization"); !strings.Contains(auth, "Credential="+want+"/") {
			t.Errorf("profile %q: Authorization %q does not use %s", profile, auth, want)
		}
	}
	r := runCLIEnv(t, map[string]string{"HOME": home, "AWS_PROFILE": "nosuch", "AWS_MAX_ATTEMPTS": "1"},
		"describe-jobs", "--jobs", "x", "--endpoint-url", srv.URL)
	if r.code == 0 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("a missing profile: exit %d, stderr %q", r.code, r.stderr)
	}
}
