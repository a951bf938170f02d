package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// wantErr checks that err is a ClientException containing want, or nil when
// want is empty.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.Type != batch.ClientException {
		t.Fatalf("error %v is not a ClientException", err)
	}
	if !strings.Contains(ae.Message, want) {
		t.Fatalf("error %q does not contain %q", ae.Message, want)
	}
}

func TestCheckName(t *testing.T) {
	long := strings.Repeat("a", 128)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"simple", "my-job_1", ""},
		{"digit first", "1job", ""},
		{"max length", long, ""},
		{"empty", "", "jobName is required: use 1 to 128 letters"},
		{"too long", long + "a", "is invalid: use 1 to 128"},
		{"hyphen first", "-job", "is invalid"},
		{"underscore first", "_job", "is invalid"},
		{"dot", "a.b", "is invalid"},
		{"space", "a b", "is invalid"},
		{"unicode", "jöb", "is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, checkName("jobName", tc.in), tc.want) })
	}
}

func req(typ, v string) batch.ResourceRequirement {
	return batch.ResourceRequirement{Type: typ, Value: v}
}

func TestCheckResources(t *testing.T) {
	for _, tc := range []struct {
		name          string
		reqs          []batch.ResourceRequirement
		vcpus, memory int
		fargate       bool
		want          string
		wantRes       batch.Resources
	}{
		{name: "ec2 requirements", reqs: []batch.ResourceRequirement{req("VCPU", "2"), req("MEMORY", "2048")},
			wantRes: batch.Resources{VCPUs: 2, MemoryMiB: 2048}},
		{name: "ec2 deprecated fields", vcpus: 1, memory: 512, wantRes: batch.Resources{VCPUs: 1, MemoryMiB: 512}},
		{name: "mixed: requirement wins", reqs: []batch.ResourceRequirement{req("VCPU", "4")}, vcpus: 1, memory: 64,
			wantRes: batch.Resources{VCPUs: 4, MemoryMiB: 64}},
		{name: "gpu", reqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "4"), req("GPU", "2")},
			wantRes: batch.Resources{VCPUs: 1, MemoryMiB: 4, GPUs: 2}},
		{name: "missing vcpu", reqs: []batch.ResourceRequirement{req("MEMORY", "2048")}, want: "has no VCPU"},
		{name: "missing memory", reqs: []batch.ResourceRequirement{req("VCPU", "1")}, want: "has no MEMORY"},
		{name: "nothing", want: "has no VCPU"},
		{name: "memory too small", reqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "3")}, want: "MEMORY 3 MiB is too small: at least 4"},
		{name: "ec2 fractional", reqs: []batch.ResourceRequirement{req("VCPU", "0.5"), req("MEMORY", "1024")}, want: "VCPU 0.5 is invalid on EC2: use a whole number"},
		{name: "ec2 1.5", reqs: []batch.ResourceRequirement{req("VCPU", "1.5"), req("MEMORY", "1024")}, want: "whole number"},
		{name: "not a number", reqs: []batch.ResourceRequirement{req("VCPU", "two"), req("MEMORY", "1024")}, want: `VCPU value "two" must be a positive number`},
		{name: "negative", reqs: []batch.ResourceRequirement{req("VCPU", "-1"), req("MEMORY", "1024")}, want: "positive number"},
		{name: "memory fraction", reqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "1.5")}, want: "positive whole number of MiB"},
		{name: "unknown type", reqs: []batch.ResourceRequirement{req("DISK", "1")}, want: `type "DISK" is not one of VCPU, MEMORY, GPU`},
		{name: "duplicate type", reqs: []batch.ResourceRequirement{req("VCPU", "1"), req("VCPU", "2")}, want: "lists VCPU twice"},
		{name: "negative deprecated", vcpus: -1, memory: 10, want: "must not be negative"},
		{name: "fargate quarter", reqs: []batch.ResourceRequirement{req("VCPU", "0.25"), req("MEMORY", "512")}, fargate: true,
			wantRes: batch.Resources{VCPUs: 0.25, MemoryMiB: 512}},
		{name: "fargate half", reqs: []batch.ResourceRequirement{req("VCPU", "0.5"), req("MEMORY", "3072")}, fargate: true,
			wantRes: batch.Resources{VCPUs: 0.5, MemoryMiB: 3072}},
		{name: "fargate 16", reqs: []batch.ResourceRequirement{req("VCPU", "16"), req("MEMORY", "122880")}, fargate: true,
			wantRes: batch.Resources{VCPUs: 16, MemoryMiB: 122880}},
		{name: "fargate 8 step", reqs: []batch.ResourceRequirement{req("VCPU", "8"), req("MEMORY", "20480")}, fargate: true,
			wantRes: batch.Resources{VCPUs: 8, MemoryMiB: 20480}},
		{name: "fargate bad vcpu", reqs: []batch.ResourceRequirement{req("VCPU", "3"), req("MEMORY", "8192")}, fargate: true,
			want: "VCPU 3 is not a Fargate size: use one of 0.25, 0.5, 1, 2, 4, 8, 16"},
		{name: "fargate bad memory", reqs: []batch.ResourceRequirement{req("VCPU", "0.25"), req("MEMORY", "4096")}, fargate: true,
			want: "MEMORY 4096 MiB does not go with 0.25 vCPU on Fargate: use one of 512, 1024, 2048"},
		{name: "fargate gpu", reqs: []batch.ResourceRequirement{req("VCPU", "1"), req("MEMORY", "2048"), req("GPU", "1")}, fargate: true,
			want: "GPU, which is not available on FARGATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := checkResources("containerProperties", tc.reqs, tc.vcpus, tc.memory, tc.fargate)
			wantErr(t, err, tc.want)
			if tc.want == "" && res != tc.wantRes {
				t.Fatalf("resources = %+v, want %+v", res, tc.wantRes)
			}
		})
	}
}

func TestNormalizeRetryStrategy(t *testing.T) {
	eoe := func(action string) batch.EvaluateOnExit { return batch.EvaluateOnExit{Action: action, OnReason: "*"} }
	for _, tc := range []struct {
		name string
		in   *batch.RetryStrategy
		want string
	}{
		{"none", nil, ""},
		{"attempts only", &batch.RetryStrategy{Attempts: 3}, ""},
		{"max attempts", &batch.RetryStrategy{Attempts: 10}, ""},
		{"too many attempts", &batch.RetryStrategy{Attempts: 11}, "retryStrategy.attempts 11 is out of range: use 1 to 10"},
		{"negative attempts", &batch.RetryStrategy{Attempts: -1}, "out of range"},
		{"evaluateOnExit without attempts", &batch.RetryStrategy{EvaluateOnExit: []batch.EvaluateOnExit{eoe("EXIT")}},
			"RetryAttempts must be provided with retry strategy"},
		{"six entries", &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{eoe("EXIT"), eoe("EXIT"), eoe("EXIT"), eoe("EXIT"), eoe("EXIT"), eoe("EXIT")}},
			"has 6 entries: at most 5"},
		{"lower-case action", &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{eoe("retry")}}, ""},
		{"bad action", &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{eoe("AGAIN")}},
			`evaluateOnExit[0].action "AGAIN" is invalid: use RETRY or EXIT`},
		{"exit code glob", &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{{Action: "EXIT", OnExitCode: "13*"}}}, ""},
		{"exit code letters", &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{{Action: "EXIT", OnExitCode: "1a"}}},
			"onExitCode \"1a\" is invalid: use digits"},
		{"reason glob mid", &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{{Action: "EXIT", OnStatusReason: "Host*EC2"}}},
			"onStatusReason \"Host*EC2\" is invalid"},
		{"reason ok", &batch.RetryStrategy{Attempts: 2, EvaluateOnExit: []batch.EvaluateOnExit{{Action: "RETRY", OnStatusReason: "Host EC2 terminated.*", OnReason: "CannotPullContainerError:*"}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := normalizeRetryStrategy("retryStrategy", tc.in)
			wantErr(t, err, tc.want)
			if err == nil && out != nil {
				for _, e := range out.EvaluateOnExit {
					if e.Action != strings.ToUpper(e.Action) {
						t.Fatalf("action %q not normalized", e.Action)
					}
				}
			}
		})
	}
}

func TestCheckTimeoutEnvironmentPlatforms(t *testing.T) {
	wantErr(t, checkTimeout("timeout", &batch.JobTimeout{AttemptDurationSeconds: 59}), "timeout.attemptDurationSeconds 59 is too short: use at least 60 seconds")
	wantErr(t, checkTimeout("timeout", &batch.JobTimeout{AttemptDurationSeconds: 60}), "")
	wantErr(t, checkTimeout("timeout", &batch.JobTimeout{}), "")
	wantErr(t, checkEnvironment("env", []batch.KeyValuePair{{Name: "AWS_BATCH_JOB_ID", Value: "x"}}), "variable AWS_BATCH_JOB_ID is not allowed")
	wantErr(t, checkEnvironment("env", []batch.KeyValuePair{{Name: "", Value: "x"}}), "without a name")
	wantErr(t, checkEnvironment("env", []batch.KeyValuePair{{Name: "AWS_REGION", Value: "x"}}), "")
	if f, err := checkPlatforms([]string{"FARGATE"}); err != nil || !f {
		t.Fatalf("FARGATE: %v %v", f, err)
	}
	_, err := checkPlatforms([]string{"LAMBDA"})
	wantErr(t, err, `platformCapabilities value "LAMBDA" is invalid: use EC2 or FARGATE`)
	_, err = checkPlatforms([]string{"EC2", "FARGATE"})
	wantErr(t, err, "lists both EC2 and FARGATE")
}

func TestCheckDependencies(t *testing.T) {
	many := make([]batch.JobDependency, 1001)
	for i := range many {
		many[i].JobID = "x"
	}
	for _, tc := range []struct {
		name    string
		deps    []batch.JobDependency
		isArray bool
		want    string
	}{
		{"plain", []batch.JobDependency{{JobID: "a-b"}}, false, ""},
		{"no id", []batch.JobDependency{{}}, false, "dependsOn[0] has no jobId"},
		{"bad id", []batch.JobDependency{{JobID: "a.b"}}, false, `jobId "a.b" is not a job id`},
		{"n to n on a single job", []batch.JobDependency{{JobID: "a", Type: "N_TO_N"}}, false, "N_TO_N applies only to array jobs"},
		{"n to n on an array", []batch.JobDependency{{JobID: "a", Type: "N_TO_N"}}, true, ""},
		{"sequential with id", []batch.JobDependency{{JobID: "a", Type: "SEQUENTIAL"}}, true, "leave jobId out"},
		{"sequential", []batch.JobDependency{{Type: "SEQUENTIAL"}}, true, ""},
		{"bad type", []batch.JobDependency{{JobID: "a", Type: "AFTER"}}, false, `type "AFTER" is invalid`},
		{"too many", many, false, "dependsOn has 1001 entries: at most 1000"},
		{"thousand", many[:1000], false, ""},
		{"any outcome", []batch.JobDependency{{JobID: "a", Condition: "ANY"}}, false, ""},
		{"bad condition", []batch.JobDependency{{JobID: "a", Condition: "FAILED"}}, false, `condition "FAILED" is invalid`},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, checkDependencies(tc.deps, tc.isArray), tc.want) })
	}
}
