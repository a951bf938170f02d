package param

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

func TestParseShorthand(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]any
	}{
		{"a=1", map[string]any{"a": "1"}},
		{"a=1,b=two", map[string]any{"a": "1", "b": "two"}},
		{"command=echo,hello,world", map[string]any{"command": []any{"echo", "hello", "world"}}},
		{"command=[echo,hi],vcpus=2", map[string]any{"command": []any{"echo", "hi"}, "vcpus": "2"}},
		{"environment=[{name=A,value=1},{name=B,value=2}]", map[string]any{"environment": []any{
			map[string]any{"name": "A", "value": "1"}, map[string]any{"name": "B", "value": "2"}}}},
		{`x="a,b",y='c d'`, map[string]any{"x": "a,b", "y": "c d"}},
		{`x=a\,b`, map[string]any{"x": "a,b"}},
		{"k={a=1,b=[x]}", map[string]any{"k": map[string]any{"a": "1", "b": []any{"x"}}}},
		{"empty=[]", map[string]any{"empty": []any{}}},
		{" a = 1 , b = 2 ", map[string]any{"a": "1", "b": "2"}},
	}
	for _, c := range cases {
		got, err := ParseShorthand(c.in)
		if err != nil {
			t.Errorf("ParseShorthand(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseShorthand(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "novalue", "a=1,a=2", "a=[1,2", "a={b=1", `a="open`, "=1"} {
		if _, err := ParseShorthand(bad); err == nil {
			t.Errorf("ParseShorthand(%q): no error", bad)
		}
	}
}

func decodeJSON(t *testing.T, typ reflect.Type, raws ...string) string {
	t.Helper()
	v, err := Decode(typ, raws)
	if err != nil {
		t.Fatalf("Decode(%v, %q): %v", typ, raws, err)
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecode(t *testing.T) {
	overrides := reflect.TypeFor[*types.ContainerOverrides]()
	got := decodeJSON(t, overrides, "command=[echo,hi],vcpus=2,environment=[{name=A,value=1}]")
	if !strings.Contains(got, `"Command":["echo","hi"]`) || !strings.Contains(got, `"Vcpus":2`) ||
		!strings.Contains(got, `"Environment":[{"Name":"A","Value":"1"}]`) {
		t.Errorf("shorthand overrides = %s", got)
	}
	got = decodeJSON(t, overrides, `{"command":["a"],"memory":512}`)
	if !strings.Contains(got, `"Command":["a"]`) || !strings.Contains(got, `"Memory":512`) {
		t.Errorf("JSON overrides = %s", got)
	}
	deps := reflect.TypeFor[[]types.JobDependency]()
	got = decodeJSON(t, deps, "jobId=a,type=N_TO_N", "jobId=b")
	if got != `[{"JobId":"a","Type":"N_TO_N"},{"JobId":"b","Type":""}]` {
		t.Errorf("dependsOn = %s", got)
	}
	got = decodeJSON(t, deps, `[{"jobId":"a"},{"jobId":"b"}]`)
	if got != `[{"JobId":"a","Type":""},{"JobId":"b","Type":""}]` {
		t.Errorf("dependsOn JSON = %s", got)
	}
	strs := reflect.TypeFor[[]string]()
	if got := decodeJSON(t, strs, "a", "b,c", `["d","e"]`); got != `["a","b","c","d","e"]` {
		t.Errorf("list = %s", got)
	}
	if got := decodeJSON(t, reflect.TypeFor[map[string]string](), "a=1,b=x y"); got != `{"a":"1","b":"x y"}` {
		t.Errorf("map = %s", got)
	}
	if got := decodeJSON(t, reflect.TypeFor[*int32](), "42"); got != "42" {
		t.Errorf("int = %s", got)
	}
	if got := decodeJSON(t, reflect.TypeFor[types.JobStatus](), "FAILED"); got != `"FAILED"` {
		t.Errorf("enum = %s", got)
	}
	if got := decodeJSON(t, reflect.TypeFor[*types.ArrayProperties](), "size=10"); got != `{"Size":10}` {
		t.Errorf("arrayProperties = %s", got)
	}
	// One value where a list is expected becomes a one-element list.
	if got := decodeJSON(t, reflect.TypeFor[[]types.KeyValuesPair](), "name=JOB_NAME,values=x*"); got != `[{"Name":"JOB_NAME","Values":["x*"]}]` {
		t.Errorf("filters = %s", got)
	}

	for _, bad := range [][]string{{"nope=1"}, {`{"nope":1}`}, {"vcpus=two"}, {`{"vcpus":"2"}`}, {"a", "b"}} {
		if _, err := Decode(overrides, bad); err == nil {
			t.Errorf("Decode(overrides, %q): no error", bad)
		}
	}
	if _, err := Decode(reflect.TypeFor[*int32](), []string{"x"}); err == nil {
		t.Error("Decode(int32, x): no error")
	}
}

func TestDecodeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.json")
	if err := os.WriteFile(path, []byte(`{"command":["from","file"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got := decodeJSON(t, reflect.TypeFor[*types.ContainerOverrides](), "file://"+path)
	if !strings.Contains(got, `"Command":["from","file"]`) {
		t.Errorf("file overrides = %s", got)
	}
	if _, err := Decode(reflect.TypeFor[*string](), []string{"file://" + path + ".missing"}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestNames(t *testing.T) {
	cases := map[string]string{
		"jobName": "job-name", "unmanagedvCpus": "unmanagedv-cpus", "arrayJobId": "array-job-id",
		"multiNodeJobId": "multi-node-job-id", "jobs": "jobs", "computeEnvironmentOrder": "compute-environment-order",
	}
	for wire, flag := range cases {
		if got := FlagName(wire); got != flag {
			t.Errorf("FlagName(%q) = %q, want %q", wire, got, flag)
		}
	}
	var names []string
	for _, f := range Fields(reflect.TypeFor[batch.CancelJobInput]()) {
		names = append(names, WireName(f))
	}
	if !reflect.DeepEqual(names, []string{"jobId", "reason"}) {
		t.Errorf("CancelJobInput fields = %v", names)
	}
}

func TestSkeleton(t *testing.T) {
	var v map[string]any
	if err := json.Unmarshal(Skeleton(reflect.TypeFor[batch.SubmitJobInput]()), &v); err != nil {
		t.Fatalf("skeleton is not JSON: %v", err)
	}
	for _, k := range []string{"jobName", "jobQueue", "jobDefinition", "containerOverrides", "dependsOn", "parameters"} {
		if _, ok := v[k]; !ok {
			t.Errorf("skeleton lacks %q", k)
		}
	}
	// The skeleton is a valid --cli-input-json.
	var in batch.SubmitJobInput
	if err := StrictUnmarshal(Skeleton(reflect.TypeFor[batch.SubmitJobInput]()), &in); err != nil {
		t.Errorf("skeleton does not decode: %v", err)
	}
}
