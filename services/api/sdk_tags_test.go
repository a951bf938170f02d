package api

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// TestSDKTags drives TagResource, UntagResource and ListTagsForResource on
// every kind of resource that has tags.
func TestSDKTags(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	must(c.CreateSchedulingPolicy(ctx(t), &awsbatch.CreateSchedulingPolicyInput{Name: aws.String("p"), Tags: map[string]string{"made": "create"}}))
	must(c.CreateConsumableResource(ctx(t), &awsbatch.CreateConsumableResourceInput{ConsumableResourceName: aws.String("r"), TotalQuantity: aws.Int64(1)}))

	list := func(arn string) map[string]string {
		t.Helper()
		return must(c.ListTagsForResource(ctx(t), &awsbatch.ListTagsForResourceInput{ResourceArn: aws.String(arn)})).Tags
	}
	for _, arn := range []string{
		batch.ARN(batch.KindComputeEnvironment, "env"),
		batch.ARN(batch.KindJobQueue, "q"),
		batch.JobDefinitionARN("sleep", 2),
		batch.ARN(batch.KindSchedulingPolicy, "p"),
		batch.ARN(batch.KindConsumableResource, "r"),
	} {
		t.Run(arn[strings.LastIndexByte(arn, ':')+1:], func(t *testing.T) {
			before := list(arn)
			must(c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"team": "a", "env": "prod"}}))
			must(c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"team": "b"}}))
			want := maps.Clone(before)
			if want == nil {
				want = map[string]string{}
			}
			want["team"], want["env"] = "b", "prod"
			if got := list(arn); !maps.Equal(got, want) {
				t.Fatalf("tags = %v, want %v", got, want)
			}
			must(c.UntagResource(ctx(t), &awsbatch.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"env", "absent"}}))
			delete(want, "env")
			if got := list(arn); !maps.Equal(got, want) {
				t.Fatalf("after untag = %v, want %v", got, want)
			}
		})
	}
	// The tags are on the resource as Describe shows it.
	if q := must(c.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{JobQueues: []string{"q"}})).JobQueues[0]; q.Tags["team"] != "b" {
		t.Fatalf("queue tags = %v", q.Tags)
	}
	if d := must(c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{JobDefinitions: []string{"sleep:1", "sleep:2"}})).JobDefinitions; d[0].Tags["team"] != "b" || d[1].Tags["team"] != "" {
		t.Fatalf("only revision 2 is tagged: %v / %v", d[0].Tags, d[1].Tags)
	}

	// Limits and errors.
	fifty := map[string]string{}
	for i := range 49 {
		fifty[fmt.Sprintf("k%d", i)] = "v"
	}
	qarn := batch.ARN(batch.KindJobQueue, "q")
	must(c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(qarn), Tags: fifty})) // 49 + team = 50
	for _, tc := range []struct {
		name string
		arn  string
		tags map[string]string
		want string
	}{
		{"51 tags", qarn, map[string]string{"one-more": "x"}, "the resource would have 51 tags: at most 50"},
		{"aws prefix", qarn, map[string]string{"AWS:name": "x"}, "the aws: prefix is reserved"},
		{"long key", qarn, map[string]string{strings.Repeat("k", 129): "x"}, "keys are 1 to 128 characters"},
		{"long value", qarn, map[string]string{"k": strings.Repeat("v", 257)}, "at most 256 are allowed"},
		{"unknown queue", batch.ARN(batch.KindJobQueue, "nope"), map[string]string{"k": "v"}, "resource " + batch.ARN(batch.KindJobQueue, "nope") + " does not exist"},
		{"no revision", batch.ARN(batch.KindJobDefinition, "sleep"), map[string]string{"k": "v"}, "must name one job definition revision"},
		{"child job", batch.ARN(batch.KindJob, "0000-1:3"), map[string]string{"k": "v"}, "a child of an array or multi-node parallel job"},
		{"not an arn", "q", map[string]string{"k": "v"}, `resourceArn "q" is not an AWS Batch ARN`},
		{"other kind", "arn:aws:batch:us-east-1:000000000000:quota-share/x", map[string]string{"k": "v"}, `resources of type "quota-share" have no tags`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(tc.arn), Tags: tc.tags})
			clientException(t, err, tc.want)
		})
	}
	_, err := c.ListTagsForResource(ctx(t), &awsbatch.ListTagsForResourceInput{ResourceArn: aws.String(batch.ARN(batch.KindSchedulingPolicy, "nope"))})
	clientException(t, err, "does not exist")
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	_, err = c.UntagResource(ctx(t), &awsbatch.UntagResourceInput{ResourceArn: aws.String(qarn), TagKeys: many})
	clientException(t, err, "tagKeys has 51 keys: give 1 to 50")

	// The wire form: GET/POST/DELETE /v1/tags/{escaped ARN}, tagKeys in
	// the query.
	path := a.http.URL + "/v1/tags/" + url.PathEscape(batch.ARN(batch.KindSchedulingPolicy, "p"))
	do := func(method, u, body string) (int, string) {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(data)
	}
	if status, body := do(http.MethodPost, path, `{"tags":{"x":"1","y":"2"}}`); status != 200 || compactJSON(t, []byte(body)) != `{}` {
		t.Fatalf("POST tags: %d %s", status, body)
	}
	if status, body := do(http.MethodDelete, path+"?tagKeys=x&tagKeys=made", ""); status != 200 {
		t.Fatalf("DELETE tags: %d %s", status, body)
	}
	status, body := do(http.MethodGet, path, "")
	var got batch.ListTagsForResourceOutput
	if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil || !maps.Equal(got.Tags, map[string]string{"y": "2", "team": "b"}) {
		t.Fatalf("GET tags: %d %s", status, body)
	}
	if status, _ := do(http.MethodPut, path, ""); status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT tags: %d", status)
	}
}

// TestSDKJobTags checks that a job's tags change through a JobTagged fact
// stored before the answer, which the monitor applies to the record.
func TestSDKJobTags(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := a.client
	setupQueue(t, c)
	out := must(c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		Tags: map[string]string{"from": "submit"}}))
	id, arn := aws.ToString(out.JobId), aws.ToString(out.JobArn)

	// Before the monitor records the job, its tags come from the submit.
	if tags := must(c.ListTagsForResource(ctx(t), &awsbatch.ListTagsForResourceInput{ResourceArn: aws.String(arn)})).Tags; tags["from"] != "submit" {
		t.Fatalf("tags = %v", tags)
	}
	must(c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"a": "1"}}))
	must(c.UntagResource(ctx(t), &awsbatch.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"from"}}))
	must(c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"a": "1"}})) // same again: a second fact

	// The facts are stored, in order, each with its own message id.
	stream, err := a.js.Stream(t.Context(), events.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	var facts []events.JobTagged
	ids := map[string]bool{}
	for seq := uint64(1); ; seq++ {
		msg, err := stream.GetMsg(t.Context(), seq)
		if err != nil {
			break
		}
		if msg.Subject != events.TagSubject(id) {
			continue
		}
		var f events.JobTagged
		if err := json.Unmarshal(msg.Data, &f); err != nil || msg.Header.Get(events.HeaderType) != events.TypeJobTagged {
			t.Fatalf("fact %s: %v %v", msg.Data, err, msg.Header)
		}
		facts = append(facts, f)
		ids[msg.Header.Get("Nats-Msg-Id")] = true
	}
	if len(facts) != 3 || len(ids) != 3 || facts[0].Tags["a"] != "1" || facts[1].Remove[0] != "from" || facts[2].JobID != id {
		t.Fatalf("facts = %+v (ids %v)", facts, ids)
	}

	// The monitor (faked) applies them; ListTagsForResource reads the record.
	rec := must(a.srv.lookupJob(ctx(t), id))
	rec.Tags = map[string]string{"a": "1"}
	a.putRecord(t, *rec)
	if tags := must(c.ListTagsForResource(ctx(t), &awsbatch.ListTagsForResourceInput{ResourceArn: aws.String(arn)})).Tags; !maps.Equal(tags, map[string]string{"a": "1"}) {
		t.Fatalf("tags from the record = %v", tags)
	}
	_, err = c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(batch.ARN(batch.KindJob, "00000000-0000-4000-8000-000000000000")), Tags: map[string]string{"a": "1"}})
	clientException(t, err, "does not exist")
	_, err = c.TagResource(ctx(t), &awsbatch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"aws:x": "1"}})
	clientException(t, err, "reserved")
}
