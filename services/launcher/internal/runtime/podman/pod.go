package podman

import (
	"context"
	"fmt"

	"github.com/containers/podman/v5/pkg/bindings/pods"
	entities "github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/specgen"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// CreatePod creates the task's pod with its infra container (whose pause
// image a 4.x server builds itself from catatonit, with no registry), or
// returns the pod that already has spec.Name. The attempt volumes are made
// with the containers that mount them (Create).
func (r *Runtime) CreatePod(ctx context.Context, s runtime.PodSpec) (runtime.Pod, error) {
	if s.Name == "" {
		return runtime.Pod{}, runtime.CannotStart("CannotStartContainerError: pod name is empty")
	}
	defer r.names.lock(s.Name)()
	if p, found, err := r.existingPod(ctx, s.Name); err != nil || found {
		return p, err
	}
	g := specgen.NewPodSpecGenerator()
	g.Name = s.Name
	g.Labels = s.Labels
	g.SharedNamespaces = []string{"net", "uts"}
	if s.IpcMode == "task" {
		g.SharedNamespaces = append(g.SharedNamespaces, "ipc")
	}
	if s.PidMode == "task" {
		g.SharedNamespaces = append(g.SharedNamespaces, "pid")
	}
	switch s.Network {
	case "host":
		g.NetNS = specgen.Namespace{NSMode: specgen.Host}
	case "none":
		g.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	case "bridge", "":
		g.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
	default:
		return runtime.Pod{}, runtime.CannotStart(fmt.Sprintf("CannotStartContainerError: unknown network mode %q", s.Network))
	}
	cctx, span := tracer.Start(ctx, "podman.pod.create", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("pod.name", s.Name)))
	rep, err := pods.CreatePodFromSpec(r.bind(cctx), &entities.PodSpec{PodSpecGen: *g})
	endSpan(span, err)
	if err != nil {
		if p, found, err2 := r.existingPod(ctx, s.Name); err2 != nil || found {
			return p, err2
		}
		if isUserFault(err) {
			return runtime.Pod{}, runtime.CannotStart("CannotStartContainerError: " + err.Error())
		}
		return runtime.Pod{}, fmt.Errorf("podman pod create %s: %w", s.Name, err)
	}
	return runtime.Pod{ID: rep.Id, Name: s.Name, Labels: s.Labels}, nil
}

func (r *Runtime) existingPod(ctx context.Context, name string) (runtime.Pod, bool, error) {
	data, err := pods.Inspect(r.bind(ctx), name, nil)
	if isNotFound(err) {
		return runtime.Pod{}, false, nil
	}
	if err != nil {
		return runtime.Pod{}, false, fmt.Errorf("podman pod inspect %s: %w", name, err)
	}
	if data.Name != name {
		return runtime.Pod{}, false, nil
	}
	return runtime.Pod{ID: data.ID, Name: name, Labels: data.Labels}, true, nil
}

// Create creates a container without starting it, or returns the one that
// already has spec.Name (in its state).
func (r *Runtime) Create(ctx context.Context, s runtime.Spec) (runtime.Container, error) {
	defer r.names.lock(s.Name)()
	gen, err := r.prepare(ctx, s)
	if err != nil {
		return runtime.Container{}, err
	}
	id, err := r.create(ctx, gen, s)
	if err == nil {
		r.noteVolumes(id, s.Settings)
		return runtime.Container{ID: id, Name: s.Name, Labels: s.Labels, Created: true}, nil
	}
	if c, found, err2 := r.inspectState(ctx, s.Name); err2 != nil || found {
		if found {
			r.noteVolumes(c.ID, s.Settings)
		}
		return c, err2
	}
	ok, err2 := r.imageExists(ctx, s.Image)
	if err2 != nil {
		return runtime.Container{}, err2
	}
	if !ok {
		return runtime.Container{}, runtime.CannotStart(fmt.Sprintf("CannotPullContainerError: image %q not found locally", s.Image),
			runtime.ErrImageNotFound)
	}
	return runtime.Container{}, createFailure(s, err)
}

// inspectState finds the container named name, without changing it.
func (r *Runtime) inspectState(ctx context.Context, name string) (runtime.Container, bool, error) {
	data, found, err := r.inspectNamed(ctx, name)
	if err != nil || !found {
		return runtime.Container{}, false, err
	}
	c := runtime.Container{ID: data.ID, Name: name}
	if data.Config != nil {
		c.Labels = data.Config.Labels
	}
	if data.State != nil {
		c.Created = neverStarted(data.State.Status)
		switch data.State.Status {
		case "running", "paused", "stopping":
			c.Running = true
		}
	}
	return c, true, nil
}

// StartCreated starts a created container (Podman starts its pod's infra
// container first); a container that already runs or ran is left alone.
func (r *Runtime) StartCreated(ctx context.Context, id string) error {
	c, found, err := r.inspectState(ctx, id)
	if err != nil {
		return err
	}
	if found && !c.Created {
		return nil
	}
	name := id
	if found {
		name = c.Name
	}
	return r.start(ctx, id, runtime.Spec{Name: name})
}

// RemovePod removes the pod with its containers (killed if they run) and
// their attempt volumes.
func (r *Runtime) RemovePod(ctx context.Context, name string) error {
	var ids []string
	if data, err := pods.Inspect(r.bind(ctx), name, nil); err == nil {
		for _, c := range data.Containers {
			ids = append(ids, c.ID)
		}
	}
	_, err := pods.Remove(r.bind(ctx), name, new(pods.RemoveOptions).WithForce(true).WithTimeout(0))
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("podman pod rm %s: %w", name, err)
	}
	for _, id := range ids {
		r.removeVolumes(ctx, id)
	}
	return nil
}

// podSettings joins a container to its pod: the pod's network, the task's
// IPC and PID modes.
func podSettings(g *specgen.SpecGenerator, s runtime.Spec) {
	g.Pod = s.Pod
	switch s.IpcMode {
	case "host":
		g.IpcNS = specgen.Namespace{NSMode: specgen.Host}
	case "none", "":
		g.IpcNS = specgen.Namespace{NSMode: specgen.Private}
	}
	switch s.PidMode {
	case "host":
		g.PidNS = specgen.Namespace{NSMode: specgen.Host}
	case "":
		g.PidNS = specgen.Namespace{NSMode: specgen.Private}
	}

}
