// Package runtime is the launcher's seam to a container engine: start a
// job's container, wait for it, stream its logs, stop it, and find the
// containers a previous launcher process left behind. The Podman
// implementation lives in runtime/podman; runtime/sim simulates containers
// (their command interpreted by a small shell) for scale tests; runtime/fake
// is for unit tests of the launcher's decisions.
package runtime

import (
	"context"
	"errors"
	"time"
)

// Spec is what the launcher asks the engine to run for one job attempt.
type Spec struct {
	// Name is unique per job attempt ("batch-<jobid>-<attempt>"): a second
	// Start with the same name finds the first container, never a new one.
	Name      string
	Image     string
	Command   []string // empty: the image's default command
	Env       map[string]string
	Labels    map[string]string
	User      string
	VCPUs     float64 // CPU in cores (Settings.CPULimit: shares or quota); 0: no limit
	MemoryMiB int64   // hard memory limit; 0: no limit
	// GPUDevices are CDI device names ("nvidia.com/gpu=0") given to the
	// container.
	GPUDevices []string
	// Pull says how to get Image when it is not present (pull.go).
	Pull Pull
	// Network is "host", "bridge" or "none".
	Network      string
	Privileged   bool
	ReadOnlyRoot bool
	// Settings are the job's volumes, secrets, ulimits and
	// linuxParameters, and the CPU limit kind (settings.go).
	Settings Settings

	// Pod, when set, is the name of the pod the container belongs to (see
	// PodSpec): Network is then the pod's.
	Pod string
	// IpcMode and PidMode are the task's (see PodSpec).
	IpcMode string
	PidMode string
}

// Container identifies a container the engine runs.
type Container struct {
	ID     string
	Name   string
	Labels map[string]string
	// Running is false once the container has exited (or never started).
	Running bool
	// Created is true for a container that was created but never started
	// (a launcher died between the two steps): Start with its name starts
	// it; Wait of it fails with ErrNotStarted.
	Created bool
	// ImagePull is when the image was pulled for this container; nil when
	// it was present.
	ImagePull *ImagePull
}

// HasLabels reports whether the container's labels include all of want
// (the match of Runtime.List).
func (c Container) HasLabels(want map[string]string) bool {
	for k, v := range want {
		if got, ok := c.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Exit is how a container ended.
type Exit struct {
	ExitCode  int
	OOMKilled bool
	// Reason is a person-readable cause when the engine knows one beyond
	// the exit code (for example "OutOfMemoryError: Container killed due to memory usage").
	Reason     string
	StartedAt  time.Time
	FinishedAt time.Time
}

// LogLine is one line of a container's output.
type LogLine struct {
	Stream string // "stdout" or "stderr"
	Text   string // without the trailing newline
	Time   time.Time
}

// ErrImageNotFound is returned by Start when the image is not present
// locally and could not be pulled (see PullFailure).
var ErrImageNotFound = errors.New("image not found")

// Runtime runs job containers.
type Runtime interface {
	// Start creates and starts the container, or returns the existing one
	// with the same Spec.Name (started if it was only created). Errors that
	// mean the job cannot run (image missing, bad spec) wrap ErrCannotStart.
	Start(ctx context.Context, spec Spec) (Container, error)
	// Wait blocks until the container exits and returns how it ended. A
	// container that was created but never started has not ended: Wait
	// fails at once with an error wrapping ErrNotStarted.
	Wait(ctx context.Context, id string) (Exit, error)
	// Logs streams the container's output from the given time (zero: from
	// the start) until it exits or ctx ends; it closes out when done.
	Logs(ctx context.Context, id string, since time.Time, out chan<- LogLine) error
	// Stop sends SIGTERM, then SIGKILL after grace.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Remove deletes the container; removing a missing one is not an error.
	Remove(ctx context.Context, id string) error
	// List returns the containers (running or exited) whose labels include
	// all of the given ones.
	List(ctx context.Context, labels map[string]string) ([]Container, error)

	// CreatePod creates the pod, or returns the existing one with the same
	// PodSpec.Name. Errors that mean the task cannot run wrap
	// ErrCannotStart.
	CreatePod(ctx context.Context, spec PodSpec) (Pod, error)
	// Create creates a container (spec.Pod names its pod) without starting
	// it, or returns the existing one with the same Spec.Name in whatever
	// state it is. A missing image wraps ErrImageNotFound and
	// ErrCannotStart.
	Create(ctx context.Context, spec Spec) (Container, error)
	// StartCreated starts a created container; one already started is not
	// an error. Errors that mean it cannot run wrap ErrCannotStart.
	StartCreated(ctx context.Context, id string) error
	// RemovePod removes the pod, all its containers (killed if they still
	// run) and its attempt volumes; a missing pod is not an error.
	RemovePod(ctx context.Context, name string) error
}

// ErrNotStarted is Wait's answer for a container that was created but
// never started.
var ErrNotStarted = errors.New("container was created but never started")

// ErrCannotStart marks a start failure that retrying will not fix.
var ErrCannotStart = errors.New("container cannot start")

// CannotStart is a start failure that retrying will not fix. Its message
// is meant for the job's status reason; it wraps ErrCannotStart and the
// more specific causes given (such as ErrImageNotFound).
func CannotStart(msg string, causes ...error) error {
	return &startError{msg: msg, cause: append([]error{ErrCannotStart}, causes...)}
}

type startError struct {
	msg   string
	cause []error
}

func (e *startError) Error() string   { return e.msg }
func (e *startError) Unwrap() []error { return e.cause }
