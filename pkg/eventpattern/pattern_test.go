package eventpattern

import (
	"strings"
	"testing"
)

// sampleEvent is a "Batch Job State Change" as the monitor publishes it.
const sampleEvent = `{
  "version": "0", "id": "job-1/1/FAILED", "detail-type": "Batch Job State Change", "source": "aws.batch",
  "account": "000000000000", "time": "2026-11-23T07:00:00Z", "region": "us-east-1",
  "resources": ["arn:aws:batch:us-east-1:000000000000:job/job-1"],
  "detail": {
    "jobArn": "arn:aws:batch:us-east-1:000000000000:job/job-1", "jobName": "nightly-etl", "jobId": "job-1",
    "jobQueue": "arn:aws:batch:us-east-1:000000000000:job-queue/prod", "status": "FAILED",
    "statusReason": "Essential container in task exited", "attempts": [{"container": {"exitCode": 3}}],
    "createdAt": 1641944200058, "retryStrategy": {"attempts": 2},
    "dependsOn": [], "tags": {"team": "data", "cost": "cc-12"}, "platformCapabilities": [],
    "container": {"exitCode": 3, "vcpus": 1.5, "command": ["sh", "-c", "exit 3"], "networkInterfaces": null},
    "hostIp": "10.1.2.3", "jobQueueName": "prod"
  }
}`

func TestPatternMatching(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		// Exact values, AND across fields, arrays as OR.
		{"aws tutorial pattern", `{"detail-type":["Batch Job State Change"],"source":["aws.batch"],"detail":{"status":["FAILED"]}}`, true},
		{"status OR", `{"detail":{"status":["SUCCEEDED","FAILED"]}}`, true},
		{"status other", `{"detail":{"status":["SUCCEEDED"]}}`, false},
		{"AND fails on one field", `{"source":["aws.batch"],"detail":{"status":["SUCCEEDED"]}}`, false},
		{"exact is case sensitive", `{"detail":{"status":["failed"]}}`, false},
		{"nested two levels", `{"detail":{"container":{"exitCode":[3]}}}`, true},
		{"nested number other", `{"detail":{"container":{"exitCode":[4]}}}`, false},
		{"number equal by value", `{"detail":{"container":{"vcpus":[1.50]}}}`, true},
		{"number is not a string", `{"detail":{"container":{"exitCode":["3"]}}}`, false},
		{"nested missing object", `{"detail":{"nothere":{"x":["y"]}}}`, false},
		{"nested through a string", `{"detail":{"status":{"x":["y"]}}}`, false},
		{"array value matches any element", `{"resources":["arn:aws:batch:us-east-1:000000000000:job/job-1"]}`, true},
		{"array value element of command", `{"detail":{"container":{"command":["exit 3"]}}}`, true},
		{"array value no element", `{"detail":{"container":{"command":["exit 4"]}}}`, false},
		{"null matches null", `{"detail":{"container":{"networkInterfaces":[null]}}}`, true},
		{"null does not match missing", `{"detail":{"container":{"gpus":[null]}}}`, false},
		{"boolean", `{"detail":{"propagateTags":[false]}}`, false},
		{"missing field", `{"detail":{"shareIdentifier":["x"]}}`, false},
		// prefix / suffix
		{"prefix", `{"detail":{"jobName":[{"prefix":"nightly-"}]}}`, true},
		{"prefix no", `{"detail":{"jobName":[{"prefix":"weekly-"}]}}`, false},
		{"prefix ignore case", `{"detail":{"jobName":[{"prefix":{"equals-ignore-case":"NIGHTLY"}}]}}`, true},
		{"prefix on number", `{"detail":{"container":{"exitCode":[{"prefix":"3"}]}}}`, false},
		{"suffix", `{"detail":{"jobQueue":[{"suffix":"/prod"}]}}`, true},
		{"suffix no", `{"detail":{"jobQueue":[{"suffix":"/dev"}]}}`, false},
		{"suffix ignore case", `{"detail":{"jobName":[{"suffix":{"equals-ignore-case":"-ETL"}}]}}`, true},
		// anything-but
		{"anything-but value", `{"detail":{"status":[{"anything-but":"SUCCEEDED"}]}}`, true},
		{"anything-but same value", `{"detail":{"status":[{"anything-but":"FAILED"}]}}`, false},
		{"anything-but list", `{"detail":{"status":[{"anything-but":["SUCCEEDED","FAILED"]}]}}`, false},
		{"anything-but number", `{"detail":{"container":{"exitCode":[{"anything-but":[0]}]}}}`, true},
		{"anything-but number same", `{"detail":{"container":{"exitCode":[{"anything-but":3}]}}}`, false},
		{"anything-but prefix", `{"detail":{"jobName":[{"anything-but":{"prefix":"nightly"}}]}}`, false},
		{"anything-but prefix other", `{"detail":{"jobName":[{"anything-but":{"prefix":"weekly"}}]}}`, true},
		{"anything-but suffix", `{"detail":{"jobName":[{"anything-but":{"suffix":"etl"}}]}}`, false},
		{"anything-but ignore case", `{"detail":{"status":[{"anything-but":{"equals-ignore-case":["failed","succeeded"]}}]}}`, false},
		{"anything-but wildcard", `{"detail":{"jobName":[{"anything-but":{"wildcard":"*-etl"}}]}}`, false},
		{"anything-but does not match missing", `{"detail":{"shareIdentifier":[{"anything-but":"x"}]}}`, false},
		// numeric
		{"numeric >", `{"detail":{"container":{"exitCode":[{"numeric":[">",0]}]}}}`, true},
		{"numeric range", `{"detail":{"container":{"exitCode":[{"numeric":[">=",1,"<",3]}]}}}`, false},
		{"numeric range in", `{"detail":{"container":{"exitCode":[{"numeric":[">",1,"<=",3]}]}}}`, true},
		{"numeric =", `{"detail":{"createdAt":[{"numeric":["=",1641944200058]}]}}`, true},
		{"numeric fraction", `{"detail":{"container":{"vcpus":[{"numeric":["<",2]}]}}}`, true},
		{"numeric on string", `{"detail":{"status":[{"numeric":[">",0]}]}}`, false},
		{"object pattern over an array of objects", `{"detail":{"attempts":{"container":{"exitCode":[{"numeric":["=",3]}]}}}}`, true},
		{"object pattern over an array, no element", `{"detail":{"attempts":{"container":{"exitCode":[0]}}}}`, false},
		// exists
		{"exists true", `{"detail":{"statusReason":[{"exists":true}]}}`, true},
		{"exists true missing", `{"detail":{"shareIdentifier":[{"exists":true}]}}`, false},
		{"exists false missing", `{"detail":{"shareIdentifier":[{"exists":false}]}}`, true},
		{"exists false present", `{"detail":{"statusReason":[{"exists":false}]}}`, false},
		{"exists on an object is false", `{"detail":{"tags":[{"exists":true}]}}`, false},
		{"exists on an array", `{"detail":{"dependsOn":[{"exists":true}]}}`, true},
		{"exists false when the parent is missing", `{"detail":{"nothere":{"x":[{"exists":false}]}}}`, false},
		// equals-ignore-case
		{"equals-ignore-case", `{"detail":{"status":[{"equals-ignore-case":"failed"}]}}`, true},
		{"equals-ignore-case no", `{"detail":{"status":[{"equals-ignore-case":"fail"}]}}`, false},
		// wildcard
		{"wildcard", `{"detail":{"jobQueue":[{"wildcard":"arn:aws:batch:*:job-queue/p*"}]}}`, true},
		{"wildcard middle", `{"detail":{"jobName":[{"wildcard":"n*-*l"}]}}`, true},
		{"wildcard no", `{"detail":{"jobName":[{"wildcard":"*-daily"}]}}`, false},
		{"wildcard no star is exact", `{"detail":{"jobName":[{"wildcard":"nightly"}]}}`, false},
		{"wildcard escaped star", `{"detail":{"jobName":[{"wildcard":"nightly\\*"}]}}`, false},
		{"wildcard star alone", `{"detail":{"jobName":[{"wildcard":"*"}]}}`, true},
		// cidr
		{"cidr", `{"detail":{"hostIp":[{"cidr":"10.1.0.0/16"}]}}`, true},
		{"cidr no", `{"detail":{"hostIp":[{"cidr":"10.2.0.0/16"}]}}`, false},
		// mixed OR in one list
		{"mixed OR", `{"detail":{"status":["SUCCEEDED",{"prefix":"FAIL"}]}}`, true},
		{"tags", `{"detail":{"tags":{"team":["data"]}}}`, true},
		// $or
		{"$or one matches", `{"source":["aws.batch"],"$or":[{"detail":{"status":["SUCCEEDED"]}},{"detail":{"container":{"exitCode":[{"numeric":[">",0]}]}}}]}`, true},
		{"$or none matches", `{"$or":[{"detail":{"status":["SUCCEEDED"]}},{"detail-type":["Other"]}]}`, false},
		{"$or nested", `{"detail":{"$or":[{"status":["X"]},{"jobName":["nightly-etl"]}]}}`, true},
	}
	ev, err := Decode([]byte(sampleEvent))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.pattern)
			if err != nil {
				t.Fatalf("compile %s: %v", tc.pattern, err)
			}
			if got := p.Match(ev); got != tc.want {
				t.Fatalf("pattern %s: match = %v, want %v", tc.pattern, got, tc.want)
			}
		})
	}
}

func TestWildcardEdges(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"a*a", "aba", true},
		{"*a*", "xay", true},
		{"*a*", "xy", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"a*b*c", "abxbxc", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a\\b`, `a\b`, true},
		{"", "", true},
		{"*", "", true},
	}
	for _, tc := range tests {
		m, err := compileWildcard("w", tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		if got := m.match(tc.value); got != tc.want {
			t.Errorf("wildcard %q on %q = %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
	}{
		{`not json`, "not valid JSON"},
		{`["a"]`, "must be a JSON object"},
		{`{}`, "empty"},
		{`{"a":1} x`, "after its JSON object"},
		{`{"source":"aws.batch"}`, "source: the value must be a list"},
		{`{"source":[]}`, "source: an empty list"},
		{`{"detail":{}}`, "detail: an empty object"},
		{`{"detail":{"status":[["a"]]}}`, "detail.status[0]: a list inside a list"},
		{`{"detail":{"status":[{"prefix":1}]}}`, "detail.status[0].prefix: takes a string"},
		{`{"detail":{"status":[{"prefix":"a","suffix":"b"}]}}`, "exactly one key"},
		{`{"detail":{"status":[{"regex":"a"}]}}`, `unknown matcher "regex"`},
		{`{"detail":{"n":[{"numeric":[">"]}]}}`, "takes [op, number]"},
		{`{"detail":{"n":[{"numeric":["!=",1]}]}}`, "is not one of"},
		{`{"detail":{"n":[{"numeric":[">","1"]}]}}`, "takes a number"},
		{`{"detail":{"n":[{"exists":"yes"}]}}`, "takes true or false"},
		{`{"detail":{"n":[{"cidr":"10.0.0.0/99"}]}}`, "not a CIDR block"},
		{`{"detail":{"n":[{"anything-but":[]}]}}`, "at least one value"},
		{`{"detail":{"n":[{"anything-but":[{"prefix":"a"}]}]}}`, "takes strings, numbers or booleans"},
		{`{"detail":{"n":[{"anything-but":{"numeric":[">",1]}}]}}`, "anything-but: takes a value"},
		{`{"detail":{"n":[{"wildcard":"a**b"}]}}`, "consecutive"},
		{`{"detail":{"n":[{"wildcard":"a\\b"}]}}`, "backslash"},
		{`{"$or":[{"a":["b"]}]}`, "at least two patterns"},
		{`{"$or":[{"a":["b"]},"x"]}`, "$or[1]"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.pattern)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pattern %s: error %v, want one containing %q", tc.pattern, err, tc.want)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	p, err := Compile(`{"detail-type":["Batch Job State Change"],"source":["aws.batch"],"detail":{"status":["FAILED"],"jobQueue":[{"suffix":"/prod"}]}}`)
	if err != nil {
		b.Fatal(err)
	}
	ev, _ := Decode([]byte(sampleEvent))
	for b.Loop() {
		if !p.Match(ev) {
			b.Fatal("no match")
		}
	}
}
