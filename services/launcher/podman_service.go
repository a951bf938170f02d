package launcher

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	if socketAnswers(path) {
		return nil
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return fmt.Errorf("podman is not installed (run scripts/setup.sh): %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("podman socket dir: %w", err)
	}
	_ = os.Remove(path) // a stale socket from a dead service
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
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if socketAnswers(path) {
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

func socketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET /_ping HTTP/1.0\r\n\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 12)
	n, _ := c.Read(buf)
	return n >= 12 && strings.HasPrefix(string(buf[:n]), "HTTP/1.")
}
