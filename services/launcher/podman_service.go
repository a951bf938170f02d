package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultPodmanURI is the rootful Podman API socket, or CONTAINER_HOST.
func DefaultPodmanURI() string {
	if v := os.Getenv("CONTAINER_HOST"); v != "" {
		return v
	}
	return "unix:///run/podman/podman.sock"
}

// EnsurePodmanService makes sure a Podman API service answers on uri (a
// unix:// socket). When none does, it starts `podman system service` in its
// own process group, so that it outlives this process: containers and the
// API keep running across a restart of batchd.
func EnsurePodmanService(ctx context.Context, uri string, log *slog.Logger) error {
	path, ok := strings.CutPrefix(uri, "unix://")
	if !ok {
		return nil // a remote engine is not ours to start
	}
	switch answers, stale := probeSocket(path); {
	case answers:
		return nil
	case !stale:
		// A service is there but slow to answer (a loaded machine):
		// starting another would take the socket from it.
		return awaitSocket(ctx, path, uri)
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return fmt.Errorf("podman is not installed (run scripts/setup.sh): %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("podman socket dir: %w", err)
	}
	_ = os.Remove(path) // a stale socket from a dead service
	// The service outlives this process: it must not keep open what this
	// process inherited (a lock, a listener), which only fds 0-2 are for it.
	closeInheritedOnExec()
	cmd := exec.Command("podman", "system", "service", "--time=0", uri)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// conmon of Podman 4.3 drops "oom" marker files in the service's
	// working directory.
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start podman system service: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	log.Info("started the Podman API service", "uri", uri, "pid", cmd.Process.Pid)
	return awaitSocket(ctx, path, uri)
}

// awaitSocket waits up to 20 s for the service on path to answer.
func awaitSocket(ctx context.Context, path, uri string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if answers, _ := probeSocket(path); answers {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("podman system service did not answer on %s within 20s", uri)
}

// closeInheritedOnExec marks every file descriptor above 2 close-on-exec
// (Go opens its own so; inherited ones may not be).
func closeInheritedOnExec() {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range fds {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// probeSocket reports whether a Podman service answers on path, and if
// not, whether none listens there at all (no socket, or refused: stale).
func probeSocket(path string) (answers, stale bool) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false, errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET /_ping HTTP/1.0\r\n\r\n")); err != nil {
		return false, false
	}
	buf := make([]byte, 12)
	n, _ := c.Read(buf)
	return n >= 12 && strings.HasPrefix(string(buf[:n]), "HTTP/1."), false
}
