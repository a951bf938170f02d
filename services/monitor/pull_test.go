package monitor

import (
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// The image pull of an attempt shows on the running job's container and
// stays on the attempt; a pull that failed shows on the attempt too.
func TestApplyImagePull(t *testing.T) {
	j := job(batch.StatusStarting, 0, nil)
	s := started(1)
	s.PullStartedAt, s.PullStoppedAt = 1500, 1900
	if !applyStarted(&j, s) || j.Container.PullStartedAt != 1500 || j.Container.PullStoppedAt != 1900 {
		t.Fatalf("after the start: container %+v", j.Container)
	}
	if !applyExited(&j, exited(1, intp(0))) {
		t.Fatal("exit not applied")
	}
	if a := j.Attempts[0].Container; a.PullStartedAt != 1500 || a.PullStoppedAt != 1900 {
		t.Fatalf("attempt container %+v, want the start's pull times", a)
	}

	j = job(batch.StatusStarting, 0, nil)
	e := exited(1, nil)
	e.StartedAt, e.StatusReason, e.PullStartedAt, e.PullStoppedAt = 0, "CannotPullContainerError: unauthorized", 700, 800
	if !applyExited(&j, e) {
		t.Fatal("exit not applied")
	}
	if a := j.Attempts[0].Container; a.PullStartedAt != 700 || a.PullStoppedAt != 800 || j.Status != batch.StatusFailed {
		t.Fatalf("job %s, attempt container %+v, want FAILED with the failed pull's times", j.Status, a)
	}
}
