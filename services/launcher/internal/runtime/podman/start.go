package podman

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// tracer makes the spans of the Podman calls that create and start a
// container (client spans in the launcher's trace of the job).
var tracer = telemetry.Tracer("launcher")

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// cpuPeriod is the CFS period (µs) the vCPU quota is expressed against.
const cpuPeriod = 100000

// Start creates and starts the job's container, or returns the one that
// already has spec.Name (starting it if it was only created), so that a
// launcher that restarts mid-start never runs a job attempt twice.
//
// A missing image is pulled (see pull.go: once for concurrent starts of
// the same image, with the spec's registry credentials) and the container
// created after it; an image that cannot be pulled fails with a
// *runtime.PullFailure wrapping both runtime.ErrImageNotFound and
// runtime.ErrCannotStart. A present image is never pulled again. A spec the engine refuses,
// or a command it cannot execute, fails with an error wrapping
// runtime.ErrCannotStart and carrying the engine's message; the container
// is then removed, so nothing is left behind and the name is free. Any
// other error (service unreachable, storage trouble) is returned as is, and
// a container that was created but not started is kept: the next Start with
// the same name starts it.
//
// Starts with the same name are serialized within the process; across
// processes, a Start that loses the race to create the container returns
// the winner's.
func (r *Runtime) Start(ctx context.Context, s runtime.Spec) (runtime.Container, error) {
	defer r.names.lock(s.Name)()
	gen, err := r.prepare(ctx, s)
	if err != nil {
		return runtime.Container{}, err
	}
	// Create first: the usual case costs one request. Only when it fails
	// is it asked why: a container of that name already exists (a launcher
	// restarted mid-start, or lost the race to another one), the image is
	// missing, or the spec is refused.
	id, err := r.create(ctx, gen, s)
	var pulled *runtime.ImagePull
	if err != nil {
		if c, found, err2 := r.existing(ctx, s); err2 != nil || found {
			return c, err2
		}
		ok, err2 := r.imageExists(ctx, s.Image)
		if err2 != nil {
			return runtime.Container{}, err2
		}
		if ok {
			return runtime.Container{}, createFailure(s, err)
		}
		// The image is missing: pull it, then create again, with the
		// pull recorded on the container.
		p, err := r.pull(ctx, s)
		if err != nil {
			return runtime.Container{}, err
		}
		pulled = &p
		gen.Labels = maps.Clone(gen.Labels)
		if gen.Labels == nil {
			gen.Labels = map[string]string{}
		}
		gen.Labels[labelImagePull] = pullLabel(p)
		id, err = r.create(ctx, gen, s)
		if err != nil {
			return runtime.Container{}, createFailure(s, err)
		}
	}
	r.noteVolumes(id, s.Settings)
	if err := r.start(ctx, id, s); err != nil {
		return runtime.Container{}, err
	}
	return runtime.Container{ID: id, Name: s.Name, Labels: gen.Labels, Running: true, ImagePull: pulled}, nil
}

// prepare is what Start and Create do before they create the container of
// s: a name is required; its Podman spec (SpecGenerator) and its attempt
// volumes.
func (r *Runtime) prepare(ctx context.Context, s runtime.Spec) (*specgen.SpecGenerator, error) {
	if s.Name == "" {
		return nil, runtime.CannotStart("CannotStartContainerError: container name is empty")
	}
	gen, err := r.SpecGenerator(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := r.createVolumes(ctx, s.Settings); err != nil {
		return nil, fmt.Errorf("podman volume create for %s: %w", s.Name, err)
	}
	return gen, nil
}

// create asks the service to create the container of s (gen its Podman
// spec) and returns its id; the error is the service's, as it is.
func (r *Runtime) create(ctx context.Context, gen *specgen.SpecGenerator, s runtime.Spec) (string, error) {
	cctx, span := tracer.Start(ctx, "podman.create", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("container.name", s.Name), attribute.String("container.image.name", s.Image)))
	created, err := containers.CreateWithSpec(r.bind(cctx), gen, nil)
	endSpan(span, err)
	return created.ID, err
}

// imageExists says whether the image is present on the host.
func (r *Runtime) imageExists(ctx context.Context, image string) (bool, error) {
	ok, err := images.Exists(r.bind(ctx), image, nil)
	if err != nil {
		return false, fmt.Errorf("podman image exists %s: %w", image, err)
	}
	return ok, nil
}

// createFailure words why the service refused to create the container of
// a present image.
func createFailure(s runtime.Spec, err error) error {
	if isUserFault(err) {
		return runtime.CannotStart(startReason(err, s))
	}
	return fmt.Errorf("podman create %s: %w", s.Name, err)
}

// existing finds the container named s.Name; if it was created but never
// started, it starts it.
func (r *Runtime) existing(ctx context.Context, s runtime.Spec) (runtime.Container, bool, error) {
	name := s.Name
	data, found, err := r.inspectNamed(ctx, name)
	if err != nil || !found {
		return runtime.Container{}, false, err
	}
	c := runtime.Container{ID: data.ID, Name: name}
	r.noteVolumes(data.ID, s.Settings)
	if data.Config != nil {
		c.Labels = data.Config.Labels
		c.ImagePull = pullOfLabels(c.Labels)
	}
	status := ""
	if data.State != nil {
		status = data.State.Status
	}
	switch {
	case neverStarted(status):
		if err := r.start(ctx, data.ID, s); err != nil {
			return runtime.Container{}, true, err
		}
		c.Running = true
	case status == "running" || status == "paused" || status == "stopping":
		c.Running = true
	case status == "removing":
		return runtime.Container{}, true, fmt.Errorf("podman start %s: container is being removed", name)
	}
	return c, true, nil
}

// start starts a created container. If the engine cannot run it for a
// reason in the spec, the container is removed and the error wraps
// runtime.ErrCannotStart.
func (r *Runtime) start(ctx context.Context, id string, s runtime.Spec) error {
	name := s.Name
	sctx, span := tracer.Start(ctx, "podman.start", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("container.name", name), attribute.String("container.id", id)))
	err := containers.Start(r.bind(sctx), id, nil)
	endSpan(span, err)
	if err == nil {
		return nil
	}
	if _, refused := ulimitRefused(err, s.Settings.Ulimits); !refused && !isUserFault(err) {
		return fmt.Errorf("podman start %s: %w", name, err)
	}
	if rmErr := r.Remove(context.WithoutCancel(ctx), id); rmErr != nil {
		return errors.Join(runtime.CannotStart(startReason(err, s)), rmErr)
	}
	return runtime.CannotStart(startReason(err, s))
}

// startReason words the engine refusing the container.
func startReason(err error, s runtime.Spec) string {
	if msg, ok := ulimitRefused(err, s.Settings.Ulimits); ok {
		return msg
	}
	return "CannotStartContainerError: " + err.Error()
}

// SpecGenerator is the one mapping from a runtime.Spec to Podman's spec,
// for a job's container and for each container of a multi-container job
// (which sets g.Pod on the result). It looks up the job's secrets and
// creates missing bind-mount folders, so it fails (wrapping
// runtime.ErrCannotStart) for a secret that does not exist.
func (r *Runtime) SpecGenerator(ctx context.Context, s runtime.Spec) (*specgen.SpecGenerator, error) {
	secretNames, err := r.resolveSecrets(ctx, s.Settings.Secrets)
	if err != nil {
		return nil, err
	}
	if err := r.prepareBindSources(s.Settings.Mounts); err != nil {
		return nil, err
	}
	return specGenerator(s, secretNames)
}

// specGenerator translates a runtime.Spec into Podman's container spec;
// secretNames are the Podman secrets of s.Settings.Secrets by variable.
func specGenerator(s runtime.Spec, secretNames map[string]string) (*specgen.SpecGenerator, error) {
	g := specgen.NewSpecGenerator(s.Image, false)
	g.Name = s.Name
	g.Command = s.Command
	g.Env = s.Env
	g.Labels = s.Labels
	g.User = s.User
	g.Privileged = &s.Privileged
	g.ReadOnlyFilesystem = &s.ReadOnlyRoot

	switch {
	case s.Pod != "":
		podSettings(g, s) // the pod's network
	case s.Network == "host":
		g.NetNS = specgen.Namespace{NSMode: specgen.Host}
	case s.Network == "none":
		g.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	case s.Network == "bridge", s.Network == "":
		// The engine's default: the default bridge network for root.
	default:
		return nil, runtime.CannotStart(fmt.Sprintf("CannotStartContainerError: unknown network mode %q", s.Network))
	}

	if err := applyResources(g, s); err != nil {
		return nil, err
	}
	applySettings(g, s.Settings, secretNames)

	// GPUs are CDI devices, which the Podman service resolves from the
	// host's CDI specs (nvidia-ctk cdi generate): an unknown one fails the
	// start ("unresolvable CDI devices").
	for _, d := range s.GPUDevices {
		g.Devices = append(g.Devices, spec.LinuxDevice{Path: d})
	}
	return g, nil
}
