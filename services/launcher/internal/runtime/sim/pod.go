package sim

import (
	"context"
	"fmt"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// CreatePod records the pod; simulated containers share nothing, so a
// task's containers cannot reach each other, but they start, stop and exit
// as in a real pod.
func (r *Runtime) CreatePod(_ context.Context, spec runtime.PodSpec) (runtime.Pod, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pods[spec.Name] = true
	return runtime.Pod{ID: fmt.Sprintf("simpod-%s", spec.Name), Name: spec.Name, Labels: spec.Labels}, nil
}

// RemovePod removes the pod's containers (killed if they run).
func (r *Runtime) RemovePod(ctx context.Context, name string) error {
	r.mu.Lock()
	var ids []string
	for id, c := range r.byID {
		if c.spec.Pod == name {
			ids = append(ids, id)
		}
	}
	delete(r.pods, name)
	r.mu.Unlock()
	for _, id := range ids {
		_ = r.Remove(ctx, id)
	}
	return nil
}
