package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
)

// client calls batchd's public API: HTTP (POST /v1/<operation>, the AWS
// restJson1 protocol) and NATS (batch.api.<Operation>).
type client struct {
	base string
	http *http.Client
	nc   *nats.Conn
}

func newClient(s *server) (*client, error) {
	nc, err := nats.Connect("nats://"+s.natsAddr, nats.Name("batchbench"))
	if err != nil {
		return nil, fmt.Errorf("connect to batchd's NATS: %w", err)
	}
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}
	return &client{base: "http://" + s.httpAddr, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, nc: nc}, nil
}

func (c *client) close() { c.nc.Close() }

// call runs an operation over HTTP and decodes its answer into out.
func (c *client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	data, err := c.post(ctx, op, body)
	if err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (c *client) post(ctx context.Context, op string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/"+strings.ToLower(op), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d %s: %s", op, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), data)
	}
	return data, nil
}

// request runs an operation over NATS on nc.
func request(ctx context.Context, nc *nats.Conn, op string, body []byte) ([]byte, error) {
	msg, err := nc.RequestWithContext(ctx, events.APISubject(op), body)
	if err != nil {
		return nil, fmt.Errorf("%s over NATS: %w", op, err)
	}
	if code := msg.Header.Get("Nats-Service-Error-Code"); code != "" {
		return nil, fmt.Errorf("%s over NATS: %s %s", op, code, msg.Data)
	}
	return msg.Data, nil
}

// submitBody is a SubmitJob request body.
func submitBody(name, queue, def string) []byte {
	b, _ := json.Marshal(batch.SubmitJobInput{JobName: name, JobQueue: queue, JobDefinition: def})
	return b
}

func jobID(answer []byte) (string, error) {
	var out batch.SubmitJobOutput
	if err := json.Unmarshal(answer, &out); err != nil || out.JobID == "" {
		return "", fmt.Errorf("SubmitJob answer without jobId: %s", answer)
	}
	return out.JobID, nil
}

// setup creates the environments, queues and job definitions of the bench:
// environment bench-run (ENABLED, maxvCpus = concurrency) serving the
// queues of the phases that run containers, and environment bench-hold
// (DISABLED) serving queue bench-hold, where submitted jobs wait.
func (c *client) setup(ctx context.Context, cfg config) error {
	ce := func(name, state string) map[string]any {
		return map[string]any{"computeEnvironmentName": name, "type": "MANAGED", "state": state,
			"computeResources": map[string]any{"type": "EC2", "maxvCpus": cfg.concurrency, "minvCpus": 0,
				"instanceTypes": []string{"optimal"}, "subnets": []string{"subnet-bench"}, "securityGroupIds": []string{"sg-bench"}}}
	}
	if err := c.call(ctx, "CreateComputeEnvironment", ce("bench-run", "ENABLED"), nil); err != nil {
		return err
	}
	if err := c.call(ctx, "CreateComputeEnvironment", ce("bench-hold", "DISABLED"), nil); err != nil {
		return err
	}
	for _, q := range []struct{ name, env string }{{queueWarm, "bench-run"}, {queueSched, "bench-run"},
		{queueLatency, "bench-run"}, {queueE2E, "bench-run"}, {queueHold, "bench-hold"}} {
		if err := c.call(ctx, "CreateJobQueue", map[string]any{"jobQueueName": q.name, "priority": 1, "state": "ENABLED",
			"computeEnvironmentOrder": []map[string]any{{"order": 1, "computeEnvironment": q.env}}}, nil); err != nil {
			return err
		}
	}
	def := func(name string, command ...string) map[string]any {
		return map[string]any{"jobDefinitionName": name, "type": "container", "containerProperties": map[string]any{
			"image": cfg.image, "command": command, "resourceRequirements": []map[string]string{
				{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}}}}
	}
	if err := c.call(ctx, "RegisterJobDefinition", def(defTrue, "true"), nil); err != nil {
		return err
	}
	sleep := fmt.Sprintf("%g", cfg.latencySleep.Seconds())
	return c.call(ctx, "RegisterJobDefinition", def(defSleep, "sleep", sleep), nil)
}

// Names the bench creates.
const (
	queueWarm    = "bench-warm"
	queueSched   = "bench-sched"
	queueLatency = "bench-latency"
	queueE2E     = "bench-e2e"
	queueHold    = "bench-hold"
	defTrue      = "bench-true"
	defSleep     = "bench-sleep"
)
