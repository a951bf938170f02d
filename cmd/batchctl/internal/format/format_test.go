package format

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestJSONKeepsOrderAndNumbers(t *testing.T) {
	in := `{"zeta":1,"alpha":{"b":[1,2.50,{"x":"<&>"}],"a":[]},"big":1700000000123,"e":{},"n":null,"t":true}`
	want := `{
    "zeta": 1,
    "alpha": {
        "b": [
            1,
            2.50,
            {
                "x": "<&>"
            }
        ],
        "a": []
    },
    "big": 1700000000123,
    "e": {},
    "n": null,
    "t": true
}
`
	var b bytes.Buffer
	if err := JSON(&b, []byte(in)); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b.String(), want)
	}
	for _, empty := range []string{"", "{}", " { } \n"} {
		b.Reset()
		if err := JSON(&b, []byte(empty)); err != nil || b.Len() != 0 {
			t.Errorf("JSON(%q) = %q, %v; want nothing", empty, b.String(), err)
		}
	}
	if err := JSON(&b, []byte(`{"a":`)); err == nil {
		t.Error("JSON of a broken document: no error")
	}
}

func TestValue(t *testing.T) {
	var b bytes.Buffer
	if err := Value(&b, []any{"a", 1.0}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "[\n    \"a\",\n    1\n]\n" {
		t.Errorf("Value = %q", b.String())
	}
	b.Reset()
	_ = Value(&b, "x")
	if b.String() != "\"x\"\n" {
		t.Errorf("Value(string) = %q", b.String())
	}
}

func TestText(t *testing.T) {
	v, err := Decode([]byte(`{"jobSummaryList":[{"jobId":"a","status":"RUNNING","createdAt":1700000000000,"container":{"exitCode":0}},{"jobId":"b","status":"FAILED","createdAt":1}],"nextToken":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Text(&b, v); err != nil {
		t.Fatal(err)
	}
	want := "t\nJOBSUMMARYLIST\t1700000000000\ta\tRUNNING\nCONTAINER\t0\nJOBSUMMARYLIST\t1\tb\tFAILED\n"
	if b.String() != want {
		t.Errorf("Text =\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	_ = Text(&b, []any{"a", "b", true, nil})
	if b.String() != "a\tb\tTrue\tNone\n" {
		t.Errorf("Text(list) = %q", b.String())
	}
}

func TestTables(t *testing.T) {
	body := []byte(`{"jobSummaryList":[{"jobArn":"arn","jobId":"j-1","jobName":"hello","createdAt":1700000000000,
		"startedAt":1700000001000,"stoppedAt":1700000002000,"status":"FAILED","statusReason":"Essential container in task exited",
		"container":{"exitCode":3}}]}`)
	var b strings.Builder
	ok, err := Readable(&b, "ListJobs", body, time.UTC)
	if !ok || err != nil {
		t.Fatalf("Readable = %v, %v", ok, err)
	}
	for _, s := range []string{"JOB ID", "j-1", "hello", "FAILED", "Essential container", "2023-11-14 22:13:20", "2023-11-14 22:13:22", "│ 3 "} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("ListJobs table lacks %q:\n%s", s, b.String())
		}
	}
	b.Reset()
	if ok, _ := Readable(&b, "SubmitJob", []byte(`{}`), time.UTC); ok {
		t.Error("SubmitJob has a readable table")
	}
	v, _ := Decode([]byte(`{"jobId":"x","jobName":"n","list":[{"a":1},{"b":"two"}],"names":["p","q"]}`))
	if err := Table(&b, "SubmitJob", v); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"SubmitJob", "jobId", "x", "SubmitJob.list", "two", "SubmitJob.names", "q"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("generic table lacks %q:\n%s", s, b.String())
		}
	}
}
