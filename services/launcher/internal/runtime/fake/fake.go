// Package fake is an in-memory runtime.Runtime for unit tests of the
// launcher's decisions. Containers do not run commands: each image is
// scripted (exit code, run time, output, start failure), and an image that
// was not scripted is missing. Containers are addressed by ID or name.
package fake

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// Script is how every container of one image behaves.
type Script struct {
	ExitCode int
	// Duration is how long the container runs before it exits by itself.
	Duration time.Duration
	// Output is what the container prints, all at start (Time is set then).
	Output []runtime.LogLine
	// OOMKilled makes the exit an out-of-memory kill (ExitCode is used
	// as given, typically 137).
	OOMKilled bool
	// StartError, if set, makes Start fail with runtime.ErrCannotStart
	// and this message, creating nothing.
	StartError string
	// ExitCodes, by command (its arguments joined with spaces), replace
	// ExitCode for containers run with that command.
	ExitCodes map[string]int
}

// StopExitCode is the exit code of a container ended by Stop or Remove.
const StopExitCode = 143

// Runtime is the fake engine. The zero value is not usable; call New.
type Runtime struct {
	mu         sync.Mutex
	images     map[string]Script
	containers map[string]*container // by ID
	started    []runtime.Spec
	created    []runtime.Spec
	pods       map[string]*runtime.Pod
	podSpecs   []runtime.PodSpec
	seq        int
}

// container is one fake container.
type container struct {
	c      runtime.Container
	exit   runtime.Exit
	output []runtime.LogLine
	timer  *time.Timer
	done   chan struct{} // closed when it exits
	spec   runtime.Spec
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a fake engine with no images.
func New() *Runtime {
	return &Runtime{images: map[string]Script{}, containers: map[string]*container{}, pods: map[string]*runtime.Pod{}}
}

// SetImage makes image present, with containers behaving as s says.
func (r *Runtime) SetImage(image string, s Script) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images[image] = s
}

// Started returns the specs of the containers created so far, in order.
func (r *Runtime) Started() []runtime.Spec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runtime.Spec(nil), r.started...)
}

// Create makes a container that is created but not started (as a
// launcher that died between creating and starting it leaves one, or as a
// task's containers wait for their dependencies), or returns the existing
// one with the same name. StartCreated, or the next Start with its name,
// starts it.
func (r *Runtime) Create(_ context.Context, spec runtime.Spec) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.find(spec.Name); c != nil {
		return c.c, nil
	}
	if spec.Pod != "" && r.pods[spec.Pod] == nil {
		return runtime.Container{}, runtime.CannotStart("CannotStartContainerError: no such pod " + spec.Pod)
	}
	if _, err := r.script(spec.Image); err != nil {
		return runtime.Container{}, err
	}
	r.seq++
	c := &container{
		c: runtime.Container{ID: fmt.Sprintf("fake%08d", r.seq), Name: spec.Name, Labels: maps.Clone(spec.Labels),
			Created: true},
		done: make(chan struct{}),
		spec: spec,
	}
	r.containers[c.c.ID] = c
	r.created = append(r.created, spec)
	return c.c, nil
}

// StartCreated starts a created container as its image's script says; one
// that started already is left alone.
func (r *Runtime) StartCreated(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.find(id)
	if c == nil {
		return fmt.Errorf("fake: no such container %q", id)
	}
	if c.c.Created {
		r.run(c, r.images[c.spec.Image])
		r.started = append(r.started, c.spec)
	}
	return nil
}

// CreatePod records the pod, or returns the existing one of that name.
func (r *Runtime) CreatePod(_ context.Context, spec runtime.PodSpec) (runtime.Pod, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pods[spec.Name]; p != nil {
		return *p, nil
	}
	r.seq++
	p := &runtime.Pod{ID: fmt.Sprintf("fakepod%08d", r.seq), Name: spec.Name, Labels: maps.Clone(spec.Labels)}
	r.pods[spec.Name] = p
	r.podSpecs = append(r.podSpecs, spec)
	return *p, nil
}

// Pods returns the specs of the pods created so far, in order.
func (r *Runtime) Pods() []runtime.PodSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runtime.PodSpec(nil), r.podSpecs...)
}

// RemovePod ends and forgets the pod and its containers.
func (r *Runtime) RemovePod(ctx context.Context, name string) error {
	r.mu.Lock()
	var ids []string
	for id, c := range r.containers {
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

// Start creates and starts a container as its image's script says, or
// returns the existing one with the same name (starting it if it was only
// created).
func (r *Runtime) Start(_ context.Context, spec runtime.Spec) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.find(spec.Name); c != nil {
		if c.c.Created {
			r.run(c, r.images[spec.Image])
			r.started = append(r.started, spec)
		}
		return c.c, nil
	}
	script, err := r.script(spec.Image)
	if err != nil {
		return runtime.Container{}, err
	}
	r.seq++
	c := &container{
		c: runtime.Container{
			ID:     fmt.Sprintf("fake%08d", r.seq),
			Name:   spec.Name,
			Labels: maps.Clone(spec.Labels),
		},
		done: make(chan struct{}),
		spec: spec,
	}
	r.run(c, script)
	r.containers[c.c.ID] = c
	r.started = append(r.started, spec)
	return c.c, nil
}

// script is how the image's containers behave; a missing image, or one
// scripted to fail its start, is a start failure. r.mu must be held.
func (r *Runtime) script(image string) (Script, error) {
	script, ok := r.images[image]
	if !ok {
		return Script{}, runtime.CannotStart(fmt.Sprintf("CannotPullContainerError: image %q not found locally", image),
			runtime.ErrImageNotFound)
	}
	if script.StartError != "" {
		return Script{}, runtime.CannotStart("CannotStartContainerError: " + script.StartError)
	}
	return script, nil
}

// run starts c as script says; r.mu must be held.
func (r *Runtime) run(c *container, script Script) {
	now := time.Now()
	c.c.Running, c.c.Created = true, false
	c.exit = runtime.Exit{ExitCode: exitCode(script, c.spec.Command), OOMKilled: script.OOMKilled, StartedAt: now}
	if script.OOMKilled {
		c.exit.Reason = "OutOfMemoryError: Container killed due to memory usage"
	}
	for _, l := range script.Output {
		l.Time = now
		c.output = append(c.output, l)
	}
	c.timer = time.AfterFunc(script.Duration, func() { r.end(c, nil) })
}

func exitCode(s Script, command []string) int {
	if code, ok := s.ExitCodes[strings.Join(command, " ")]; ok {
		return code
	}
	return s.ExitCode
}

// Created returns the specs of the containers made by Create, in order.
func (r *Runtime) Created() []runtime.Spec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runtime.Spec(nil), r.created...)
}

// Wait blocks until the container exits.
func (r *Runtime) Wait(ctx context.Context, id string) (runtime.Exit, error) {
	c, err := r.get(id)
	if err != nil {
		return runtime.Exit{}, err
	}
	r.mu.Lock()
	created := c.c.Created
	r.mu.Unlock()
	if created {
		return runtime.Exit{}, fmt.Errorf("fake wait %s: %w", id, runtime.ErrNotStarted)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return runtime.Exit{}, ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return c.exit, nil
}

// Logs sends the container's scripted output stamped after since, then
// waits for it to exit.
func (r *Runtime) Logs(ctx context.Context, id string, since time.Time, out chan<- runtime.LogLine) error {
	defer close(out)
	c, err := r.get(id)
	if err != nil {
		return err
	}
	for _, l := range c.output {
		if !since.IsZero() && !l.Time.After(since) {
			continue
		}
		select {
		case out <- l:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends the container at once with StopExitCode; grace is ignored.
func (r *Runtime) Stop(_ context.Context, id string, _ time.Duration) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	r.end(c, &runtime.Exit{ExitCode: StopExitCode})
	return nil
}

// Remove ends and forgets the container; a missing one is no error.
func (r *Runtime) Remove(_ context.Context, id string) error {
	c, err := r.get(id)
	if err != nil {
		return nil
	}
	r.end(c, &runtime.Exit{ExitCode: StopExitCode})
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.containers, c.c.ID)
	return nil
}

// List returns the containers whose labels include all the given ones.
func (r *Runtime) List(_ context.Context, labels map[string]string) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Container
	for _, c := range r.containers {
		if c.c.HasLabels(labels) {
			out = append(out, c.c)
		}
	}
	return out, nil
}

// end makes c exit, with the script's exit or the given one, unless it
// already has.
func (r *Runtime) end(c *container, exit *runtime.Exit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.c.Created {
		c.c.Created = false
		close(c.done)
		return
	}
	if !c.c.Running {
		return
	}
	c.timer.Stop()
	if exit != nil {
		exit.StartedAt = c.exit.StartedAt
		c.exit = *exit
	}
	c.exit.FinishedAt = time.Now()
	c.c.Running = false
	close(c.done)
}

// get finds a container by ID or name.
func (r *Runtime) get(id string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.find(id); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("fake: no such container %q", id)
}

// find looks a container up by ID or name; r.mu must be held.
func (r *Runtime) find(idOrName string) *container {
	if c, ok := r.containers[idOrName]; ok {
		return c
	}
	for _, c := range r.containers {
		if c.c.Name == idOrName {
			return c
		}
	}
	return nil
}
