package podman

import (
	"context"
	"strings"
	"sync"

	"github.com/containers/podman/v5/pkg/bindings/volumes"
	entities "github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// Volumes of an attempt (a job volume with an empty host) are Podman named
// volumes that the launcher names per attempt; they are created with the
// label below before the container, shared by the containers of the
// attempt, and removed with the (last) container that uses them. Volumes
// left by a launcher that stopped are removed by the next one (New).
const labelAttemptVolume = "batch.attempt-volume"

// attemptVolumes remembers the attempt volumes of each container this
// process created or adopted, to remove them with it.
type attemptVolumes struct {
	mu   sync.Mutex
	byID map[string][]string
}

// volumeNames lists the attempt volumes of s.
func volumeNames(s runtime.Settings) []string {
	var names []string
	for _, m := range s.Mounts {
		if m.Kind == runtime.MountVolume {
			names = append(names, m.Source)
		}
	}
	return names
}

// createVolumes makes the attempt volumes of s (labelled) unless they
// exist; Podman would make them unlabelled on create otherwise.
func (r *Runtime) createVolumes(ctx context.Context, s runtime.Settings) error {
	for _, name := range volumeNames(s) {
		_, err := volumes.Create(r.bind(ctx), entities.VolumeCreateOptions{Name: name,
			Label: map[string]string{labelAttemptVolume: "true"}, IgnoreIfExists: true}, nil)
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return err
		}
	}
	return nil
}

// noteVolumes remembers the attempt volumes of container id (none is
// remembered too: the container is known to this process).
func (r *Runtime) noteVolumes(id string, s runtime.Settings) {
	names := volumeNames(s)
	r.volumes.mu.Lock()
	defer r.volumes.mu.Unlock()
	if r.volumes.byID == nil {
		r.volumes.byID = map[string][]string{}
	}
	r.volumes.byID[id] = names
}

// removeVolumes removes the attempt volumes of container id (already
// removed); a volume another container of the attempt still uses stays,
// to be removed with that one. For a container this process did not start
// (one a previous launcher left running) it removes every attempt volume
// no container uses.
func (r *Runtime) removeVolumes(ctx context.Context, id string) {
	r.volumes.mu.Lock()
	names, known := r.volumes.byID[id]
	delete(r.volumes.byID, id)
	r.volumes.mu.Unlock()
	if !known {
		r.sweepVolumes(ctx)
		return
	}
	for _, name := range names {
		_ = volumes.Remove(r.bind(ctx), name, nil)
	}
}

// sweepVolumes removes attempt volumes no container uses (left behind by
// a launcher that stopped before removing them).
func (r *Runtime) sweepVolumes(ctx context.Context) {
	list, err := volumes.List(r.bind(ctx), new(volumes.ListOptions).WithFilters(map[string][]string{"label": {labelAttemptVolume + "=true"}}))
	if err != nil {
		return
	}
	for _, v := range list {
		_ = volumes.Remove(r.bind(ctx), v.Name, nil) // refused while in use
	}
}
