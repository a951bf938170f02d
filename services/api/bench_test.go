package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/api/auth"
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

// BenchmarkSubmitHTTPSigned is BenchmarkSubmitHTTP with access control:
// every request signed (SigV4, by the client in this process) and
// verified and authorised by the server.
func BenchmarkSubmitHTTPSigned(b *testing.B) {
	a := startAPI(b, nil, Config{DefaultEnvironment: &DefaultEnvironment{Name: "default", Queue: "default", MaxvCpus: 2},
		Auth: benchAuth(b)})
	admin := signedClient(a.http.URL, "ADMINKEY00000001", "admin-secret-0000000001")
	if _, err := admin.RegisterJobDefinition(b.Context(), &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("bench"),
		Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"),
			Command: []string{"true"}, Vcpus: aws.Int32(1), Memory: aws.Int32(16)}}); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	creds := aws.Credentials{AccessKeyID: "ADMINKEY00000001", SecretAccessKey: "admin-secret-0000000001"}
	sum := sha256.Sum256([]byte(benchSubmit))
	hash := hex.EncodeToString(sum[:])
	signer := v4.NewSigner()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, a.http.URL+"/v1/submitjob", bytes.NewReader([]byte(benchSubmit)))
			req.Header.Set("Content-Type", "application/json")
			if err := signer.SignHTTP(context.Background(), creds, req, hash, "batch", "us-east-1", time.Now()); err != nil {
				b.Errorf("sign: %v", err)
				return
			}
			resp, err := client.Do(req)
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

func benchAuth(b *testing.B) *auth.Authenticator {
	a, err := auth.Parse([]byte(testCredentials), auth.Options{Known: KnownAction})
	if err != nil {
		b.Fatal(err)
	}
	return a
}
