package podman

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings/containers"
)

// inspectNamed reads the container named name; found is false when there
// is none (Podman also matches ID prefixes: a container whose name differs
// is not it). Podman 4.3 fails to inspect a container in the instant its
// process exits ("read /proc/<pid>/cgroup: no such process"): it asks
// again, a few times.
func (r *Runtime) inspectNamed(ctx context.Context, name string) (data *define.InspectContainerData, found bool, err error) {
	data, err = containers.Inspect(r.bind(ctx), name, nil)
	for try := 0; err != nil && !isNotFound(err) && strings.Contains(err.Error(), "no such process") && try < 5; try++ {
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("podman inspect %s: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		data, err = containers.Inspect(r.bind(ctx), name, nil)
	}
	switch {
	case isNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("podman inspect %s: %w", name, err)
	case strings.TrimPrefix(data.Name, "/") != name:
		return nil, false, nil
	}
	return data, true, nil
}
