package podman_test

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/podman"
)

// An attempt volume is removed with its container, also when the container
// was started by another process (a launcher that restarted): that one's
// Remove sweeps the attempt volumes no container uses.
func TestAttemptVolumeRemovedWithContainer(t *testing.T) {
	first := connect(t).(*podman.Runtime)
	ctx := t.Context()
	for _, restarted := range []bool{false, true} {
		name := fmt.Sprintf("rtt-volume-%d", time.Now().UnixNano())
		vol := name + "-scratch"
		t.Cleanup(func() { _ = exec.Command("podman", "volume", "rm", "-f", vol).Run() })
		c, err := first.Start(ctx, runtime.Spec{Name: name, Image: image, Network: "none",
			Command:  []string{"sh", "-c", "echo kept > /scratch/f; cat /scratch/f"},
			Settings: runtime.Settings{Mounts: []runtime.Mount{{Kind: runtime.MountVolume, Source: vol, Destination: "/scratch"}}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = first.Remove(context.Background(), c.ID) })
		if exit, err := first.Wait(ctx, c.ID); err != nil || exit.ExitCode != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		if err := exec.Command("podman", "volume", "exists", vol).Run(); err != nil {
			t.Fatalf("volume %s missing while its container exists: %v", vol, err)
		}
		remover := first
		if restarted {
			if remover, err = podman.New(ctx, first.URI()); err != nil {
				t.Fatal(err)
			}
		}
		if err := remover.Remove(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if exec.Command("podman", "volume", "exists", vol).Run() == nil {
			t.Fatalf("volume %s left after Remove (restarted launcher: %v)", vol, restarted)
		}
	}
}
