package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

const rulePattern = `{\"detail-type\":[\"Batch Job State Change\"],\"detail\":{\"status\":[\"FAILED\"]}}`

// callOK posts an operation over HTTP and decodes a 200 answer into out.
func (a *testAPI) callOK(t *testing.T, op, body string, out any) {
	t.Helper()
	code, _, data := a.post(t, "/v1/"+strings.ToLower(op), body)
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", op, code, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s answer %s: %v", op, data, err)
		}
	}
}

// callClientErr posts an operation and expects a ClientException whose
// message contains want.
func (a *testAPI) callClientErr(t *testing.T, op, body, want string) {
	t.Helper()
	code, h, data := a.post(t, "/v1/"+strings.ToLower(op), body)
	if code != http.StatusBadRequest || h.Get("X-Amzn-ErrorType") != batch.ClientException || !strings.Contains(string(data), want) {
		t.Fatalf("%s %s: got %d %s %s, want a ClientException containing %q", op, body, code, h.Get("X-Amzn-ErrorType"), data, want)
	}
}

func TestNotificationRuleLifecycle(t *testing.T) {
	a := startAPI(t, nil, Config{})
	var ref batch.NotificationRuleRef
	a.callOK(t, "CreateNotificationRule", `{"ruleName":"failures","eventPattern":"`+rulePattern+`","description":"page me",
		"targets":[{"id":"ops","type":"WEBHOOK","endpoint":"https://hooks.example.com/batch","secret":"s3cret"},
		           {"id":"bus","type":"NATS","endpoint":"alerts.batch"}]}`, &ref)
	if ref.RuleName != "failures" || ref.RuleArn != "arn:aws:batch:us-east-1:000000000000:notification-rule/failures" {
		t.Fatalf("create answer %+v", ref)
	}
	a.callClientErr(t, "CreateNotificationRule", `{"ruleName":"failures","eventPattern":"{\"source\":[\"aws.batch\"]}","targets":[{"id":"b","type":"NATS","endpoint":"x.y"}]}`, "already exists")

	var out batch.DescribeNotificationRulesOutput
	a.callOK(t, "DescribeNotificationRules", `{}`, &out)
	if len(out.NotificationRules) != 1 {
		t.Fatalf("describe: %+v", out)
	}
	r := out.NotificationRules[0]
	if r.State != batch.RuleEnabled || r.Description != "page me" || r.CreatedAt == 0 || len(r.Targets) != 2 {
		t.Fatalf("rule %+v", r)
	}
	if r.Targets[0].Secret != "" || !r.Targets[0].HasSecret || r.Targets[1].HasSecret {
		t.Fatalf("secrets shown: %+v", r.Targets)
	}
	_, _, raw := a.post(t, "/v1/describenotificationrules", `{"ruleNames":["failures"]}`)
	if strings.Contains(string(raw), "s3cret") {
		t.Fatalf("the secret is in the answer: %s", raw)
	}

	// Update: the WEBHOOK target without a secret keeps its secret; the
	// state and pattern change.
	a.callOK(t, "UpdateNotificationRule", `{"ruleName":"failures","state":"DISABLED","eventPattern":"{\"source\":[\"aws.batch\"]}",
		"targets":[{"id":"ops","type":"WEBHOOK","endpoint":"https://hooks.example.com/v2"}]}`, nil)
	kv, _ := a.js.KeyValue(t.Context(), events.BucketRules)
	var stored batch.NotificationRule
	if _, err := bus.GetJSON(t.Context(), kv, "failures", &stored); err != nil {
		t.Fatal(err)
	}
	if stored.State != batch.RuleDisabled || stored.EventPattern != `{"source":["aws.batch"]}` || len(stored.Targets) != 1 ||
		stored.Targets[0].Secret != "s3cret" || stored.Targets[0].Endpoint != "https://hooks.example.com/v2" || stored.CreatedAt != r.CreatedAt || stored.UpdatedAt == 0 {
		t.Fatalf("stored after update %+v", stored)
	}
	a.callClientErr(t, "UpdateNotificationRule", `{"ruleName":"nope","state":"ENABLED"}`, "does not exist")
	a.callClientErr(t, "UpdateNotificationRule", `{"ruleName":"failures","targets":[{"id":"new","type":"WEBHOOK","endpoint":"https://x"}]}`, "secret is required")

	// Over NATS, like every other operation.
	msg := a.request(t, "DescribeNotificationRules", `{"ruleNames":["failures"]}`)
	if !strings.Contains(string(msg.Data), `"ruleName":"failures"`) || strings.Contains(string(msg.Data), "s3cret") {
		t.Fatalf("NATS describe: %s", msg.Data)
	}

	a.callOK(t, "DeleteNotificationRule", `{"ruleName":"failures"}`, nil)
	a.callOK(t, "DeleteNotificationRule", `{"ruleName":"failures"}`, nil) // idempotent
	a.callOK(t, "DescribeNotificationRules", `{}`, &out)
	if len(out.NotificationRules) != 0 {
		t.Fatalf("after delete: %+v", out)
	}
	// The name is free again.
	a.callOK(t, "CreateNotificationRule", `{"ruleName":"failures","eventPattern":"{\"source\":[\"aws.batch\"]}","targets":[{"id":"b","type":"NATS","endpoint":"x.y"}]}`, nil)
}

func TestNotificationRuleValidation(t *testing.T) {
	a := startAPI(t, nil, Config{})
	const okTargets = `"targets":[{"id":"b","type":"NATS","endpoint":"alerts.x"}]`
	const okPattern = `"eventPattern":"{\"source\":[\"aws.batch\"]}"`
	tests := []struct{ body, want string }{
		{`{` + okPattern + `,` + okTargets + `}`, "ruleName is required"},
		{`{"ruleName":"a.b",` + okPattern + `,` + okTargets + `}`, `\"a.b\" is invalid`},
		{`{"ruleName":"` + strings.Repeat("x", 65) + `",` + okPattern + `,` + okTargets + `}`, "is invalid"},
		{`{"ruleName":"r",` + okTargets + `}`, "eventPattern is required"},
		{`{"ruleName":"r","eventPattern":"{nope",` + okTargets + `}`, "not valid JSON"},
		{`{"ruleName":"r","eventPattern":"{\"source\":\"aws.batch\"}",` + okTargets + `}`, "source: the value must be a list"},
		{`{"ruleName":"r","eventPattern":"{\"detail\":{\"status\":[{\"regex\":\"x\"}]}}",` + okTargets + `}`, `unknown matcher \"regex\"`},
		{`{"ruleName":"r","eventPattern":{"source":["aws.batch"]},` + okTargets + `}`, "eventPattern must be a string"},
		{`{"ruleName":"r",` + okPattern + `}`, "targets is required"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"NATS","endpoint":"x.a"},{"id":"a","type":"NATS","endpoint":"x.b"}]}`, `\"a\" is used twice`},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"SQS","endpoint":"x"}]}`, `type \"SQS\" is invalid`},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","endpoint":"x"}]}`, "type is required"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"type":"NATS","endpoint":"x"}]}`, "targets[0].id is required"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"WEBHOOK","endpoint":"ftp://x","secret":"k"}]}`, "http:// or https://"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"WEBHOOK","endpoint":"https://x"}]}`, "secret is required"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"NATS","endpoint":"x.y","secret":"k"}]}`, "only for WEBHOOK"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"NATS","endpoint":"alerts.*"}]}`, "not a literal NATS subject"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"NATS","endpoint":"batch.events.x"}]}`, "under batch.events"},
		{`{"ruleName":"r",` + okPattern + `,"targets":[{"id":"a","type":"NATS","endpoint":"$JS.API.x"}]}`, "system subject"},
		{`{"ruleName":"r",` + okPattern + `,"state":"OFF",` + okTargets + `}`, `state \"OFF\" is invalid`},
		{`{"ruleName":"r",` + okPattern + `,"targets":[` + strings.Repeat(`{"id":"a","type":"NATS","endpoint":"x.a"},`, 5) + `{"id":"f","type":"NATS","endpoint":"x.a"}]}`, "at most 5 targets"},
	}
	for _, tc := range tests {
		a.callClientErr(t, "CreateNotificationRule", tc.body, tc.want)
	}
	a.callClientErr(t, "DeleteNotificationRule", `{}`, "ruleName is required")
}

// putDeadLetter stores a dead letter as the notifier does.
func (a *testAPI) putDeadLetter(t *testing.T, rule, target, msgID string, job string) {
	t.Helper()
	ev, _ := json.Marshal(events.NewJobStateChange(job+"/1/FAILED", time.Now(), batch.JobDetail{JobID: job, Status: batch.StatusFailed}))
	dl := events.DeadLetter{Notification: events.Notification{MessageID: msgID, RuleName: rule, RuleCreatedAt: 1, TargetID: target,
		EventSubject: "batch.events.job.q.FAILED", EventSeq: 7, EventType: events.TypeJobStateChange, Event: ev, Time: 5},
		TargetType: batch.TargetWebhook, Endpoint: "https://x", Attempts: 5, LastError: "POST https://x: 503", FailedAt: 9}
	if _, err := bus.Publish(t.Context(), a.js, bus.WithMsgID(dl, "dlq/"+msgID)); err != nil {
		t.Fatal(err)
	}
}

func TestDeadLettersListAndReplay(t *testing.T) {
	a := startAPI(t, nil, Config{})
	a.callOK(t, "CreateNotificationRule", `{"ruleName":"r1","eventPattern":"{\"source\":[\"aws.batch\"]}",
		"targets":[{"id":"w","type":"WEBHOOK","endpoint":"https://x","secret":"k"}]}`, nil)
	a.putDeadLetter(t, "r1", "w", "m1", "j1")
	a.putDeadLetter(t, "r2", "w", "m2", "j2")
	a.putDeadLetter(t, "r1", "w", "m3", "j3")

	var all batch.ListDeadLettersOutput
	a.callOK(t, "ListDeadLetters", `{}`, &all)
	if len(all.DeadLetters) != 3 || all.NextToken != "" {
		t.Fatalf("list all: %+v", all)
	}
	d := all.DeadLetters[0]
	if d.MessageID != "m1" || d.RuleName != "r1" || d.TargetID != "w" || d.Attempts != 5 || d.LastError == "" || d.ID == "" ||
		!strings.Contains(string(d.Event), `"jobId":"j1"`) {
		t.Fatalf("dead letter %+v", d)
	}
	// Paged, filtered by rule.
	var p1, p2 batch.ListDeadLettersOutput
	a.callOK(t, "ListDeadLetters", `{"ruleName":"r1","maxResults":1}`, &p1)
	if len(p1.DeadLetters) != 1 || p1.DeadLetters[0].MessageID != "m1" || p1.NextToken == "" {
		t.Fatalf("page 1: %+v", p1)
	}
	a.callOK(t, "ListDeadLetters", `{"ruleName":"r1","maxResults":1,"nextToken":"`+p1.NextToken+`"}`, &p2)
	if len(p2.DeadLetters) != 1 || p2.DeadLetters[0].MessageID != "m3" || p2.NextToken != "" {
		t.Fatalf("page 2: %+v", p2)
	}
	a.callClientErr(t, "ListDeadLetters", `{"targetId":"w"}`, "targetId needs ruleName")

	// Replay: back on the target's subject with the same MessageId and the
	// rule's creation time, and gone from the dead letters.
	a.callClientErr(t, "ReplayDeadLetters", `{}`, "give the ids")
	a.callClientErr(t, "ReplayDeadLetters", `{"ids":["999"]}`, "does not exist")
	a.callClientErr(t, "ReplayDeadLetters", `{"ids":["`+all.DeadLetters[1].ID+`"]}`, "notification rule r2 does not exist")
	cons, err := a.js.OrderedConsumer(t.Context(), events.StreamNotify, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.NotifySubject("r1", "w")}})
	if err != nil {
		t.Fatal(err)
	}
	var rep batch.ReplayDeadLettersOutput
	a.callOK(t, "ReplayDeadLetters", `{"all":true,"ruleName":"r1"}`, &rep)
	if len(rep.Replayed) != 2 || rep.Replayed[0].MessageID != "m1" || rep.Replayed[1].MessageID != "m3" {
		t.Fatalf("replayed %+v", rep)
	}
	var rule batch.DescribeNotificationRulesOutput
	a.callOK(t, "DescribeNotificationRules", `{"ruleNames":["r1"]}`, &rule)
	for _, want := range []string{"m1", "m3"} {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var note events.Notification
		if err := json.Unmarshal(m.Data(), &note); err != nil {
			t.Fatal(err)
		}
		if note.MessageID != want || note.RuleCreatedAt != rule.NotificationRules[0].CreatedAt || note.TargetID != "w" {
			t.Fatalf("replayed notification %+v", note)
		}
	}
	a.callOK(t, "ListDeadLetters", `{}`, &all)
	if len(all.DeadLetters) != 1 || all.DeadLetters[0].MessageID != "m2" {
		t.Fatalf("after replay: %+v", all)
	}
	// Over NATS too.
	if msg := a.request(t, "ListDeadLetters", `{"ruleName":"r2"}`); !strings.Contains(string(msg.Data), `"messageId":"m2"`) {
		t.Fatalf("NATS list: %s", msg.Data)
	}
}
