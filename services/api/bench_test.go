package api

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/events"
)

// The submission targets (DESIGN §5) are 10,000 jobs/s over NATS and 3,000
// jobs/s over HTTP, accepted and durably stored. These benchmarks measure
// the api's share: go test -run x -bench Submit -benchtime 20000x.

const benchSubmit = `{"jobName":"bench","jobQueue":"default","jobDefinition":"bench","containerOverrides":{"environment":[{"name":"K","value":"V"}]}}`

func benchAPI(b *testing.B) *testAPI {
	a := startAPI(b, nil, Config{DefaultEnvironment: &DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 2}})
	msg, err := a.nc.Request(events.APISubject("RegisterJobDefinition"),
		[]byte(`{"jobDefinitionName":"bench","type":"container","containerProperties":{"image":"busybox","command":["true"],"vcpus":1,"memory":16}}`), 5*time.Second)
	if err != nil || msg.Header.Get("Nats-Service-Error-Code") != "" {
		b.Fatalf("register: %v %s", err, msg.Data)
	}
	return a
}

func BenchmarkSubmitNATS(b *testing.B) {
	a := benchAPI(b)
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			msg, err := a.nc.Request(events.APISubject("SubmitJob"), []byte(benchSubmit), 10*time.Second)
			if err != nil || msg.Header.Get("Nats-Service-Error-Code") != "" {
				b.Errorf("submit: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

func BenchmarkSubmitHTTP(b *testing.B) {
	a := benchAPI(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(a.http.URL+"/v1/submitjob", "application/json", bytes.NewReader([]byte(benchSubmit)))
			if err != nil {
				b.Errorf("submit: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("submit: HTTP %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
