package podman

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/images"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// labelImagePull records on a container when its image was pulled for it
// ("<startedAt ms>-<stoppedAt ms>"), so a re-adopted container still
// reports it.
const labelImagePull = "batch.image-pull"

// pullTimeout bounds one pull; a pull runs on even when the start that
// asked for it is cancelled, for the other starts waiting for it.
const pullTimeout = 30 * time.Minute

// pulls makes concurrent starts of one image pull it once.
type pulls struct {
	mu    sync.Mutex
	calls map[string]*pullCall // by image and credentials
}

type pullCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// SetInsecureRegistries names the registries (host or host:port, as in an
// image reference) that are pulled from over plain HTTP or with TLS
// certificates that are not verified (the pull's tlsVerify=false), for
// this Runtime's pulls. The Podman service's registries.conf
// ("insecure = true") does the same for every client, but the service
// reads it only when it starts.
func (r *Runtime) SetInsecureRegistries(registries []string) {
	r.insecure = slices.Clone(registries)
}

// pull gets s.Image into the local store; concurrent pulls of one image
// with the same credentials share one. It returns when the pull that
// serves this start began (or this start began waiting for it) and ended;
// a failure is a *runtime.PullFailure.
func (r *Runtime) pull(ctx context.Context, s runtime.Spec) (runtime.ImagePull, error) {
	began := time.Now()
	key := s.Image + "\x00" + strings.Join(s.Pull.CredentialSecrets, "\x00")
	r.pulls.mu.Lock()
	if r.pulls.calls == nil {
		r.pulls.calls = map[string]*pullCall{}
	}
	call := r.pulls.calls[key]
	if call == nil {
		call = &pullCall{done: make(chan struct{})}
		r.pulls.calls[key] = call
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pullTimeout)
			defer cancel()
			call.err = r.pullOnce(pctx, s)
			r.pulls.mu.Lock()
			delete(r.pulls.calls, key)
			r.pulls.mu.Unlock()
			close(call.done)
		}()
	}
	r.pulls.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return runtime.ImagePull{}, ctx.Err()
	}
	p := runtime.ImagePull{StartedAt: began, StoppedAt: time.Now()}
	if call.err != nil {
		return p, &runtime.PullFailure{Pull: p, Err: call.err}
	}
	return p, nil
}

// pullOnce asks the Podman service to pull s.Image ("missing" policy:
// nothing is fetched if it has appeared meanwhile).
func (r *Runtime) pullOnce(ctx context.Context, s runtime.Spec) error {
	ctx, span := tracer.Start(ctx, "podman.pull", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("container.image.name", s.Image)))
	opts := new(images.PullOptions).WithPolicy("missing").WithQuiet(true).WithProgressWriter(io.Discard)
	if len(s.Pull.CredentialSecrets) > 0 {
		user, pass, err := r.registryCredentials(ctx, s.Pull)
		if err != nil {
			endSpan(span, err)
			return err
		}
		opts.WithUsername(user).WithPassword(pass)
	}
	if slices.Contains(r.insecure, registryOf(s.Image)) {
		opts.WithSkipTLSVerify(true)
	}
	_, err := images.Pull(r.bind(ctx), s.Image, opts)
	endSpan(span, err)
	if err != nil {
		if ctx.Err() != nil && !isUserFault(err) {
			err = fmt.Errorf("%w (no answer within %v)", err, pullTimeout)
		}
		return runtime.CannotStart("CannotPullContainerError: pull "+s.Image+": "+pullMessage(err), runtime.ErrImageNotFound)
	}
	return nil
}

// pullMessage is the registry's answer in a pull error, without the
// engine's repetition of the reference.
func pullMessage(err error) string {
	msg := err.Error()
	// "initializing source docker://r/i:t: reading manifest t in r/i: unauthorized: ..."
	if _, rest, ok := strings.Cut(msg, "initializing source "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			return after
		}
	}
	return msg
}

// registryOf is the registry host[:port] of an image reference, "" for
// one without (a Docker Hub short name).
func registryOf(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return ""
	}
	return first
}

// pullLabel and pullOfLabels write and read labelImagePull.
func pullLabel(p runtime.ImagePull) string {
	return strconv.FormatInt(p.StartedAt.UnixMilli(), 10) + "-" + strconv.FormatInt(p.StoppedAt.UnixMilli(), 10)
}

func pullOfLabels(labels map[string]string) *runtime.ImagePull {
	a, b, ok := strings.Cut(labels[labelImagePull], "-")
	if !ok {
		return nil
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	stop, err2 := strconv.ParseInt(b, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return nil
	}
	return &runtime.ImagePull{StartedAt: time.UnixMilli(start), StoppedAt: time.UnixMilli(stop)}
}
