package launcher

import (
	"errors"
	"time"

	"github.com/batchd/batchd/pkg/bus"

	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// pullOf says how the engine pulls a missing image of the container.
func pullOf(c events.ContainerSpec) runtime.Pull {
	if rc := c.RegistryCredentials; rc != nil {
		return runtime.Pull{CredentialSecrets: rc.Secrets, CredentialsParameter: rc.CredentialsParameter}
	}
	return runtime.Pull{}
}

// pullTimes are the epoch-ms times of an image pull, zero for none.
func pullTimes(p *runtime.ImagePull) (started, stopped int64) {
	if p == nil {
		return 0, 0
	}
	return p.StartedAt.UnixMilli(), p.StoppedAt.UnixMilli()
}

// failedPull is the pull of a start that failed pulling, nil for another
// failure.
func failedPull(err error) *runtime.ImagePull {
	var pf *runtime.PullFailure
	if errors.As(err, &pf) {
		return &pf.Pull
	}
	return nil
}

// keepInProgress tells the server every interval that the delivery is
// still being worked on, until stop is called.
func keepInProgress(d *bus.Delivery, interval time.Duration) (stop func()) {
	if d == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = d.InProgress()
			}
		}
	}()
	return func() { close(done) }
}
