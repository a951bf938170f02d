package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// TestHTTPTransport checks the restJson1 edges: health, unknown paths and
// operations, methods, malformed JSON, body limits, empty bodies.
func TestHTTPTransport(t *testing.T) {
	a := startAPI(t, nil, Config{})

	resp, err := http.Get(a.http.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	for _, tc := range []struct {
		name, path, body string
		status           int
		errType, message string
	}{
		{"unknown operation", "/v1/launchrocket", "{}", 404, unknownOperation, "unknown operation launchrocket: this server implements CreateComputeEnvironment"},
		{"unknown path", "/v2/submitjob", "{}", 404, unknownOperation, "no such path /v2/submitjob"},
		{"malformed JSON", "/v1/submitjob", `{"jobName":`, 400, batch.ClientException, "the request body is not valid JSON"},
		{"wrong type", "/v1/createjobqueue", `{"jobQueueName":"q","priority":"high"}`, 400, batch.ClientException, "priority must be a whole number, not a JSON string"},
		{"not an object", "/v1/describejobs", `[1,2]`, 400, batch.ClientException, "must be a JSON object"},
		{"too big", "/v1/submitjob", `{"jobName":"` + strings.Repeat("a", 31*1024) + `"}`, 400, batch.ClientException, "exceeds the SubmitJob limit of 30720 bytes"},
		{"definition too big", "/v1/registerjobdefinition", `{"jobDefinitionName":"` + strings.Repeat("a", 25*1024) + `"}`, 400, batch.ClientException, "RegisterJobDefinition limit"},
		{"empty body", "/v1/describejobs", ``, 400, batch.ClientException, "jobs is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := a.post(t, tc.path, tc.body)
			if status != tc.status || h.Get("X-Amzn-ErrorType") != tc.errType || h.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, X-Amzn-ErrorType %q, Content-Type %q: %s", status, h.Get("X-Amzn-ErrorType"), h.Get("Content-Type"), body)
			}
			var eb batch.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Type != tc.errType || !strings.Contains(eb.Message, tc.message) {
				t.Fatalf("body %s, want __type %s and a message containing %q", body, tc.errType, tc.message)
			}
		})
	}
	if status, _, body := a.post(t, "/v1/describejobs", `{"jobs":[]}`); status != 200 || compactJSON(t, body) != `{"jobs":[]}` {
		t.Fatalf("describejobs with no ids: %d %s", status, body)
	}
	// Empty body on an operation without required members is an empty request.
	if status, _, body := a.post(t, "/v1/describejobqueues", ""); status != 200 || compactJSON(t, body) != `{"jobQueues":[]}` {
		t.Fatalf("describejobqueues with no body: %d %s", status, body)
	}
	resp, err = http.Get(a.http.URL + "/v1/submitjob")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /v1/submitjob: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestNATSTransport checks that NATS request-reply gives the same bodies as
// HTTP, and the error body plus the micro error headers on bad input.
func TestNATSTransport(t *testing.T) {
	a := startAPI(t, nil, Config{DefaultEnvironment: &DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 2}})

	// Same answer on both transports.
	for _, tc := range []struct{ op, body string }{
		{"DescribeJobQueues", `{}`},
		{"DescribeComputeEnvironments", `{"computeEnvironments":["default"]}`},
	} {
		_, _, httpBody := a.post(t, "/v1/"+strings.ToLower(tc.op), tc.body)
		msg := a.request(t, tc.op, tc.body)
		if string(msg.Data) != string(httpBody) {
			t.Fatalf("%s: NATS %s != HTTP %s", tc.op, msg.Data, httpBody)
		}
	}
	q := a.request(t, "DescribeJobQueues", `{"jobQueues":["default"]}`)
	var qs batch.DescribeJobQueuesOutput
	if err := json.Unmarshal(q.Data, &qs); err != nil || len(qs.JobQueues) != 1 || qs.JobQueues[0].Priority != 1 ||
		qs.JobQueues[0].ComputeEnvironmentOrder[0].ComputeEnvironment != batch.ARN(batch.KindComputeEnvironment, "default") {
		t.Fatalf("default queue = %s", q.Data)
	}

	// Create and submit over NATS; describe over HTTP.
	msg := a.request(t, "RegisterJobDefinition", `{"jobDefinitionName":"hello","type":"container","containerProperties":{"image":"busybox","command":["echo","hi"],"resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"16"}]}}`)
	if compactJSON(t, msg.Data) != `{"jobDefinitionName":"hello","jobDefinitionArn":"`+batch.JobDefinitionARN("hello", 1)+`","revision":1}` {
		t.Fatalf("register over NATS: %s", msg.Data)
	}
	msg = a.request(t, "SubmitJob", `{"jobName":"n1","jobQueue":"default","jobDefinition":"hello"}`)
	var sub batch.SubmitJobOutput
	if err := json.Unmarshal(msg.Data, &sub); err != nil || sub.JobID == "" || msg.Header.Get(micro.ErrorCodeHeader) != "" {
		t.Fatalf("submit over NATS: %s %v", msg.Data, msg.Header)
	}
	body := `{"jobs":["` + sub.JobID + `"]}`
	_, _, httpBody := a.post(t, "/v1/describejobs", body)
	natsBody := a.request(t, "DescribeJobs", body).Data
	if string(natsBody) != string(httpBody) || !strings.Contains(string(natsBody), `"status":"SUBMITTED"`) {
		t.Fatalf("describe: NATS %s, HTTP %s", natsBody, httpBody)
	}

	// Errors: the same body as HTTP, with the micro error headers.
	for _, tc := range []struct{ op, body, code string }{
		{"SubmitJob", `{"jobName":"n","jobQueue":"nope","jobDefinition":"hello"}`, "400"},
		{"SubmitJob", `not json`, "400"},
		{"CreateJobQueue", `{"jobQueueName":"x"}`, "400"},
		{"SubmitJob", `{"jobName":"n","jobQueue":"default","jobDefinition":"hello","parameters":{"p":"` + strings.Repeat("x", 40000) + `"}}`, "400"},
	} {
		msg := a.request(t, tc.op, tc.body)
		_, _, httpBody := a.post(t, "/v1/"+strings.ToLower(tc.op), tc.body)
		var eb batch.ErrorBody
		if err := json.Unmarshal(msg.Data, &eb); err != nil || eb.Type != batch.ClientException {
			t.Fatalf("%s error body %s", tc.op, msg.Data)
		}
		if msg.Header.Get(micro.ErrorCodeHeader) != tc.code || msg.Header.Get(micro.ErrorHeader) != eb.Message {
			t.Fatalf("%s headers %v, message %q", tc.op, msg.Header, eb.Message)
		}
		if string(msg.Data) != string(httpBody) {
			t.Fatalf("%s: NATS error %s != HTTP error %s", tc.op, msg.Data, httpBody)
		}
	}
}

// TestReplicas runs two api replicas on one JetStream: what one creates the
// other sees at once, and concurrent registrations on both never share a
// revision.
func TestReplicas(t *testing.T) {
	a := startAPI(t, nil, Config{DefaultEnvironment: &DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 4}})
	b := startAPI(t, a.ns, Config{DefaultEnvironment: &DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 8}})

	// The second start left the existing default environment alone.
	envs := must(b.client.DescribeComputeEnvironments(ctx(t), &awsbatch.DescribeComputeEnvironmentsInput{}))
	if len(envs.ComputeEnvironments) != 1 || aws.ToInt32(envs.ComputeEnvironments[0].ComputeResources.MaxvCpus) != 4 {
		t.Fatalf("environments = %+v", envs.ComputeEnvironments)
	}

	const n = 12
	revs := make(chan int32, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		c := a.client
		if i%2 == 1 {
			c = b.client
		}
		wg.Go(func() {
			out, err := c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
				JobDefinitionName: aws.String("shared"), Type: types.JobDefinitionTypeContainer,
				ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(16)},
			})
			if err != nil {
				t.Error(err)
				return
			}
			revs <- aws.ToInt32(out.Revision)
		})
	}
	wg.Wait()
	close(revs)
	seen := map[int32]bool{}
	for r := range revs {
		if seen[r] {
			t.Fatalf("revision %d given twice", r)
		}
		seen[r] = true
	}
	for r := int32(1); r <= 2*n; r++ {
		if !seen[r] {
			t.Fatalf("revision %d missing: %v", r, seen)
		}
	}

	// Created on a, used on b immediately.
	must(a.client.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{
		JobQueueName: aws.String("fresh"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("default")}},
	}))
	must(a.client.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("new-def"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(16)},
	}))
	out := must(b.client.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{
		JobName: aws.String("x"), JobQueue: aws.String("fresh"), JobDefinition: aws.String("new-def"),
	}))
	// Described by the other replica.
	d := must(a.client.DescribeJobs(ctx(t), &awsbatch.DescribeJobsInput{Jobs: []string{aws.ToString(out.JobId)}}))
	if len(d.Jobs) != 1 || aws.ToString(d.Jobs[0].JobQueue) != batch.ARN(batch.KindJobQueue, "fresh") {
		t.Fatalf("describe on the other replica: %+v", d.Jobs)
	}
	// A queue disabled on b refuses submits on a.
	must(b.client.UpdateJobQueue(ctx(t), &awsbatch.UpdateJobQueueInput{JobQueue: aws.String("fresh"), State: types.JQStateDisabled}))
	eventually(t, "disabled queue refused by the other replica", func() error {
		_, err := a.client.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{
			JobName: aws.String("y"), JobQueue: aws.String("fresh"), JobDefinition: aws.String("new-def"),
		})
		if err == nil {
			return fmt.Errorf("accepted")
		}
		clientException(t, err, "is DISABLED")
		return nil
	})
}

// TestTracePropagation checks that the caller's W3C trace context reaches
// the stored JobSubmitted message and the job record, over HTTP and NATS.
func TestTracePropagation(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	a := startAPI(t, nil, Config{DefaultEnvironment: &DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 2}})
	a.request(t, "RegisterJobDefinition", `{"jobDefinitionName":"t","type":"container","containerProperties":{"image":"busybox","vcpus":1,"memory":16}}`)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	parent := "00-" + traceID + "-00f067aa0ba902b7-01"
	body := `{"jobName":"traced","jobQueue":"default","jobDefinition":"t"}`

	req, _ := http.NewRequest(http.MethodPost, a.http.URL+"/v1/submitjob", strings.NewReader(body))
	req.Header.Set("traceparent", parent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var viaHTTP batch.SubmitJobOutput
	_ = json.NewDecoder(resp.Body).Decode(&viaHTTP)
	resp.Body.Close()

	m := nats.NewMsg(events.APISubject("SubmitJob"))
	m.Data = []byte(body)
	m.Header.Set("traceparent", parent)
	reply, err := a.nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var viaNATS batch.SubmitJobOutput
	_ = json.Unmarshal(reply.Data, &viaNATS)

	stream := must(a.js.Stream(ctx(t), events.StreamJobs))
	for _, id := range []string{viaHTTP.JobID, viaNATS.JobID} {
		msg := must(stream.GetLastMsgForSubject(ctx(t), events.SubmitSubject(id)))
		if got := bus.HeaderCarrier(msg.Header).Get("traceparent"); !strings.Contains(got, traceID) {
			t.Fatalf("job %s: stored traceparent %q", id, got)
		}
		if msg.Header.Get(jetstream.MsgIDHeader) != "submit/"+id || msg.Header.Get(events.HeaderType) != events.TypeJobSubmitted {
			t.Fatalf("job %s: headers %v", id, msg.Header)
		}
		var ev events.JobSubmitted
		if err := json.Unmarshal(msg.Data, &ev); err != nil || ev.Job.TraceID != traceID {
			t.Fatalf("job %s: traceId %q (%v)", id, ev.Job.TraceID, err)
		}
	}
}

// TestRun runs the service as cmd/batchd does: HTTP on an address, the
// default environment, a clean stop when the context ends.
func TestRun(t *testing.T) {
	ns := natstest.Run(t, "")
	nc := ns.Conn(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	runCtx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Config{HTTPAddr: addr, DefaultEnvironment: &DefaultEnvironment{Name: "host", Queue: "default", MaxvCpus: 2}}, Deps{NATS: nc})
	}()
	client := newClient("http://" + addr)
	eventually(t, "HTTP API up", func() error {
		_, err := client.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{})
		return err
	})
	q := must(client.DescribeJobQueues(ctx(t), &awsbatch.DescribeJobQueuesInput{JobQueues: []string{"default"}}))
	if len(q.JobQueues) != 1 {
		t.Fatalf("default queue missing: %+v", q)
	}
	// A second instance cannot take the same address and says so.
	if err := Run(t.Context(), Config{HTTPAddr: addr}, Deps{NATS: nc}); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("second Run on %s: %v", addr, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if err := Run(t.Context(), Config{}, Deps{}); err == nil || !strings.Contains(err.Error(), "NATS is required") {
		t.Fatalf("Run without NATS: %v", err)
	}
}
