package api

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

var errDecoded = errors.New("decoded")

// FuzzRequestBodies decodes any body as the request of any operation, the
// way the transports do, and runs the pure checks of the inputs that have
// them (SubmitJob, RegisterJobDefinition, CreateComputeEnvironment, the
// tag ARNs, the resources an operation acts on, the privilege rule): no
// input panics or hangs.
func FuzzRequestBodies(f *testing.F) {
	var s Server
	ops := s.operations()
	for _, o := range ops {
		o.authorize = func(ctx context.Context, name string, in any) error {
			switch in := in.(type) {
			case *batch.SubmitJobInput:
				_ = checkSubmitInput(in)
			case *batch.RegisterJobDefinitionInput:
				if def, err := newJobDefinition(in); err == nil {
					_ = findPrivilege(roundTrip(def), "")
				}
			case *batch.CreateComputeEnvironmentInput:
				_, _ = newComputeEnvironment(in, "00000000-0000-0000-0000-000000000000")
			case *batch.TagResourceInput:
				_, _ = parseTagArn(in.ResourceArn)
			}
			if _, submit := in.(*batch.SubmitJobInput); !submit {
				_ = s.resourcesOf(ctx, in) // SubmitJob's needs the definitions
			}
			return errDecoded
		}
	}
	seeds := []string{
		`{"jobName":"j","jobQueue":"q","jobDefinition":"d:1","arrayProperties":{"size":3},"dependsOn":[{"jobId":"x","type":"N_TO_N"}],"containerOverrides":{"command":["a"],"resourceRequirements":[{"type":"VCPU","value":"0.5"}]}}`,
		`{"jobDefinitionName":"d","type":"container","containerProperties":{"image":"busybox","vcpus":1,"memory":64,"privileged":true,"linuxParameters":{"devices":[{"hostPath":"/dev/x"}]}},"retryStrategy":{"attempts":3,"evaluateOnExit":[{"onExitCode":"1*","action":"RETRY"}]}}`,
		`{"computeEnvironmentName":"e","type":"MANAGED","computeResources":{"type":"EC2","maxvCpus":4}}`,
		`{"resourceArn":"arn:aws:batch:us-east-1:000000000000:job-queue/q","tags":{"a":"b"}}`,
		`{"jobQueueName":"q","priority":1,"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"e"}]}`,
		`{}`, `[]`, `null`, `{"jobs":[1]}`, "",
	}
	for i, b := range seeds {
		f.Add(uint8(i), []byte(b))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		o := ops[int(which)%len(ops)]
		_, err := o.call(context.Background(), body)
		if err != nil && !errors.Is(err, errDecoded) {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Type != batch.ClientException {
				t.Fatalf("%s: a body that does not decode must be a ClientException, got %v", o.name, err)
			}
		}
	})
}

func roundTrip(v any) any {
	data, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}
