package cli

import (
	"strings"
	"testing"
)

func TestCreateNotificationRule(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/createnotificationrule", answer{body: `{"ruleName":"failed","ruleArn":"arn:aws:batch:us-east-1:000000000000:notification-rule/failed"}`})
	r := runCLI(t, srv.URL, "create-notification-rule", "--rule-name", "failed",
		"--event-pattern", `{"detail":{"status":["FAILED"]}}`,
		"--targets", "id=ops,type=WEBHOOK,endpoint=https://hooks.example.com/x,secret=s3", "id=bus,type=NATS,endpoint=alerts.batch")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	req := api.only(t)
	if req.Path != "/v1/createnotificationrule" || !strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		t.Fatalf("request %s %v", req.Path, req.Header)
	}
	assertJSONEqual(t, req.Body, `{"ruleName":"failed","eventPattern":"{\"detail\":{\"status\":[\"FAILED\"]}}",
		"targets":[{"id":"ops","type":"WEBHOOK","endpoint":"https://hooks.example.com/x","secret":"s3"},{"id":"bus","type":"NATS","endpoint":"alerts.batch"}]}`)
	if !strings.Contains(r.stdout, `"ruleArn": "arn:aws:batch:us-east-1:000000000000:notification-rule/failed"`) {
		t.Fatalf("stdout %s", r.stdout)
	}
	// Required parameters.
	if r := runCLI(t, srv.URL, "create-notification-rule", "--rule-name", "x"); r.code != ExitUsage || !strings.Contains(r.stderr, "--event-pattern") {
		t.Fatalf("missing parameters: %d %s", r.code, r.stderr)
	}
}

func TestDescribeNotificationRulesPages(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/describenotificationrules",
		answer{body: `{"notificationRules":[{"ruleName":"a"}],"nextToken":"t1"}`},
		answer{body: `{"notificationRules":[{"ruleName":"b"}]}`})
	r := runCLI(t, srv.URL, "describe-notification-rules", "a", "b", "--query", "notificationRules[].ruleName", "--output", "text")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "a\tb" {
		t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	reqs := api.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	assertJSONEqual(t, reqs[0].Body, `{"ruleNames":["a","b"]}`)
	assertJSONEqual(t, reqs[1].Body, `{"ruleNames":["a","b"],"nextToken":"t1"}`)
}

func TestDLQCommands(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/listdeadletters", answer{body: `{"deadLetters":[{"id":"7","messageId":"m","ruleName":"r","targetId":"w","attempts":5}]}`})
	api.on("/v1/replaydeadletters", answer{body: `{"replayed":[{"id":"7","messageId":"m"}]}`})
	r := runCLI(t, srv.URL, "dlq", "list", "--rule-name", "r")
	if r.code != 0 || !strings.Contains(r.stdout, `"messageId": "m"`) {
		t.Fatalf("dlq list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, srv.URL, "dlq", "replay", "7", "8")
	if r.code != 0 {
		t.Fatalf("dlq replay: %d %s", r.code, r.stderr)
	}
	reqs := api.requests()
	assertJSONEqual(t, reqs[0].Body, `{"ruleName":"r"}`)
	assertJSONEqual(t, reqs[1].Body, `{"ids":["7","8"]}`)
	r = runCLI(t, srv.URL, "replay-dead-letters", "--all", "--rule-name", "r")
	if r.code != 0 {
		t.Fatalf("replay --all: %d %s", r.code, r.stderr)
	}
	assertJSONEqual(t, api.requests()[2].Body, `{"all":true,"ruleName":"r"}`)
}

func TestExtensionServiceError(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.on("/v1/deletenotificationrule", answer{status: 400, errType: "ClientException", body: `{"__type":"ClientException","message":"ruleName \"a.b\" is invalid"}`})
	r := runCLI(t, srv.URL, "delete-notification-rule", "--rule-name", "a.b")
	if r.code != ExitService || !strings.Contains(r.stderr, `An error occurred (ClientException) when calling the DeleteNotificationRule operation: ruleName "a.b" is invalid`) {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}
