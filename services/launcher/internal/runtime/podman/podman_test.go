package podman_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/specgen"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/runtime/podman"
	"github.com/batchd/batchd/services/launcher/internal/runtime/runtimetest"
)

// image is the busybox image scripts/setup.sh builds.
const image = "localhost/batch-sample:latest"

// The suite needs a real Podman: it never skips. If no service answers at
// $CONTAINER_HOST or the rootful socket, it starts one (and stops it at the
// end); if the image is missing, it runs scripts/setup.sh.
var (
	setupOnce sync.Once
	shared    *podman.Runtime
	setupErr  error
	service   *serviceProcess // the service this test started, if any
)

// serviceProcess is a `podman system service` this test started.
type serviceProcess struct {
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopService()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, connect, image)
}

// TestPodSharing: a pod's containers share its loopback and volumes.
func TestPodSharing(t *testing.T) {
	runtimetest.PodSharing(t, connect, image)
}

// TestStartCreated checks that Start starts a container left created (a
// launcher that died between create and start) instead of failing or making
// another.
func TestStartCreated(t *testing.T) {
	rt := connect(t).(*podman.Runtime)
	ctx := t.Context()
	conn, err := bindings.NewConnection(ctx, rt.URI())
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("rtt-start-created-%d", time.Now().UnixNano())
	gen := specgen.NewSpecGenerator(image, false)
	gen.Name = name
	gen.Command = []string{"sh", "-c", "echo created"}
	gen.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	created, err := containers.CreateWithSpec(conn, gen, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = rt.Remove(context.Background(), created.ID) })

	c, err := rt.Start(ctx, runtime.Spec{Name: name, Image: image, Command: []string{"false"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if c.ID != created.ID || !c.Running {
		t.Errorf("Start = %+v, want the created container %s, running", c, created.ID)
	}
	exit, err := rt.Wait(ctx, c.ID)
	if err != nil || exit.ExitCode != 0 {
		t.Errorf("Wait = %+v, %v; want the created command's exit 0", exit, err)
	}
}

func TestDefaultURI(t *testing.T) {
	t.Setenv("CONTAINER_HOST", "")
	if got := podman.DefaultURI(); got != "unix:///run/podman/podman.sock" {
		t.Errorf("DefaultURI() = %q without CONTAINER_HOST", got)
	}
	t.Setenv("CONTAINER_HOST", "tcp://example:8080")
	if got := podman.DefaultURI(); got != "tcp://example:8080" {
		t.Errorf("DefaultURI() = %q with CONTAINER_HOST set", got)
	}
}

// connect returns the runtime shared by all cases, setting Podman up once.
func connect(t *testing.T) runtime.Runtime {
	t.Helper()
	setupOnce.Do(func() { shared, setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("Podman is not usable for this test: %v", setupErr)
	}
	return shared
}

// setup connects to (or starts) the Podman service and makes sure the test
// image exists.
func setup() (*podman.Runtime, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	uri := podman.DefaultURI()
	rt, err := dial(ctx, uri)
	if err != nil {
		if os.Getenv("CONTAINER_HOST") != "" {
			return nil, fmt.Errorf("CONTAINER_HOST=%s does not answer: %w", uri, err)
		}
		if rt, err = startService(ctx, uri); err != nil {
			return nil, err
		}
	}
	if err := ensureImage(ctx, uri); err != nil {
		return nil, err
	}
	return rt, nil
}

// dial connects, giving up quickly if nothing answers.
func dial(ctx context.Context, uri string) (*podman.Runtime, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return podman.New(ctx, uri)
}

// startService runs `podman system service` on the rootful socket and
// waits until it answers.
func startService(ctx context.Context, uri string) (*podman.Runtime, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, fmt.Errorf("no Podman service at %s and no podman binary to start one (%w); install it with scripts/setup.sh (as root)", uri, err)
	}
	if err := os.MkdirAll("/run/podman", 0o755); err != nil {
		return nil, fmt.Errorf("start podman service: %w", err)
	}
	// conmon (2.1.6, with Podman 4.3) writes its "oom" marker into the
	// service's working directory: give it a throwaway one.
	dir, err := os.MkdirTemp("", "podman-service-")
	if err != nil {
		return nil, fmt.Errorf("start podman service: %w", err)
	}
	logPath := filepath.Join(dir, "service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start podman service: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "system", "service", "--time=0", uri)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	service = &serviceProcess{cmd: cmd, exited: exited}

	deadline := time.Now().Add(30 * time.Second)
	for {
		rt, err := dial(ctx, uri)
		if err == nil {
			return rt, nil
		}
		select {
		case werr := <-exited:
			service = nil
			_ = os.RemoveAll(dir)
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited (%v) before answering: %s", cmd, werr, bytes.TrimSpace(out))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s does not answer after 30s: %w (log: %s)", cmd, err, logPath)
		}
	}
}

// stopService stops the service startService started, if any.
func stopService() {
	if service == nil {
		return
	}
	_ = service.cmd.Process.Signal(os.Interrupt)
	select {
	case <-service.exited:
	case <-time.After(10 * time.Second):
		_ = service.cmd.Process.Kill()
		<-service.exited
	}
	_ = os.RemoveAll(service.cmd.Dir)
}

// ensureImage builds the test image with scripts/setup.sh if it is missing.
func ensureImage(ctx context.Context, uri string) error {
	exists := func() (bool, error) {
		conn, err := bindings.NewConnection(ctx, uri)
		if err != nil {
			return false, err
		}
		return images.Exists(conn, image, nil)
	}
	ok, err := exists()
	if err != nil || ok {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return fmt.Errorf("image %s is missing and scripts/setup.sh was not found: %w", image, err)
	}
	script := filepath.Join(root, "scripts", "setup.sh")
	out, err := exec.CommandContext(ctx, "bash", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("image %s is missing and %s failed: %w: %s", image, script, err, bytes.TrimSpace(out))
	}
	if ok, err = exists(); err != nil || !ok {
		return errors.Join(fmt.Errorf("image %s still missing after %s: %s", image, script, strings.TrimSpace(string(out))), err)
	}
	return nil
}

// repoRoot is the nearest directory above the working directory that holds
// go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the test's directory")
		}
		dir = parent
	}
}

// TestLogsExact: Logs gives a container's output exactly as it wrote it,
// for bursts of 10,000 lines that end within moments (Podman 4.3's live
// follow cut short or dropped a line in about 1 of 60 of these) and for
// a container followed live before its burst (the lines followed are
// checked against a read after the exit: Logs fails if they differ).
func TestLogsExact(t *testing.T) {
	rt := connect(t)
	const n = 10000
	burst := fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "line $i"; i=$((i+1)); done`, n)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("line %d", i+1)
	}
	for run := range 6 {
		cmd := burst
		if run == 0 {
			cmd = "sleep 3; " + burst // followed live
		}
		c, err := rt.Start(t.Context(), runtime.Spec{Name: fmt.Sprintf("rtt-logs-exact-%d-%d", time.Now().UnixNano(), run),
			Image: image, Command: []string{"sh", "-c", cmd}, Network: "none"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Remove(context.Background(), c.ID) })
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		out := make(chan runtime.LogLine, 256)
		errc := make(chan error, 1)
		go func() { errc <- rt.Logs(ctx, c.ID, time.Time{}, out) }()
		var got []string
		for l := range out {
			got = append(got, l.Text)
		}
		err = <-errc
		cancel()
		if err != nil {
			t.Fatalf("run %d: Logs: %v", run, err)
		}
		if !slices.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("run %d: %d lines, want %d; first difference at line %d: %q", run, len(got), n, i+1, got[i:min(i+2, len(got))])
		}
	}
}
