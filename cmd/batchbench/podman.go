package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// referenceArgs is the bare-Podman equivalent of a batchd job of definition
// bench-true: the same image and command, host network (batchd's default),
// and the limits batchd's launcher sets for 1 vCPU and 64 MiB (CPU quota
// 100 ms per 100 ms, memory+swap = memory).
func referenceArgs(image string) []string {
	return []string{"run", "--rm", "--network", "host", "--cpus", "1", "--memory", "64m", "--memory-swap", "64m", image, "true"}
}

// runPodman runs n reference containers, concurrency at a time, and
// returns the wall time from the first start to the last end.
func runPodman(ctx context.Context, image string, n, concurrency int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				out, err := exec.CommandContext(ctx, "podman", referenceArgs(image)...).CombinedOutput()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("podman %s: %w: %s", strings.Join(referenceArgs(image), " "), err, out)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// podmanAPI reads container state from the Podman service (the same one
// batchd's launcher uses), over its REST API.
type podmanAPI struct{ http *http.Client }

func newPodmanAPI(socket string) *podmanAPI {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &podmanAPI{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// startTimes returns when Podman began creating a container (its Created
// time, taken as libpod builds the container) and when it had it running
// (State.StartedAt, taken after the OCI runtime started it): the
// container's own start time is the difference.
func (p *podmanAPI) startTimes(ctx context.Context, name string) (created, started time.Time, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://d/v4.0.0/libpod/containers/"+name+"/json", nil)
	if err != nil {
		return created, started, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return created, started, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return created, started, fmt.Errorf("podman inspect %s: HTTP %d", name, resp.StatusCode)
	}
	var data struct {
		Created time.Time
		State   struct{ StartedAt time.Time }
	}
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return created, started, fmt.Errorf("podman inspect %s: %w", name, err)
	}
	return data.Created, data.State.StartedAt, nil
}

func podmanVersion() string {
	out, err := exec.Command("podman", "version", "--format", "{{.Server.Version}}").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// hostContainers lists the containers labelled with batchd's host id.
func (p *podmanAPI) hostContainers(ctx context.Context, hostID string) ([]string, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {"batch.host=" + hostID}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://d/v4.0.0/libpod/containers/json?all=true&filters="+url.QueryEscape(string(filters)), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list []struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("podman ps: %w", err)
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// cleanUp waits (up to 15 s) for batchd's launcher to remove the containers
// of the jobs it ran, then removes any still there: the bench leaves no
// container behind.
func (p *podmanAPI) cleanUp(hostID string, stopped bool) {
	if hostID == "" {
		return // never match other batchd hosts' containers
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deadline := time.Now().Add(15 * time.Second)
	for !stopped && time.Now().Before(deadline) {
		ids, err := p.hostContainers(ctx, hostID)
		if err != nil || len(ids) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	ids, _ := p.hostContainers(ctx, hostID)
	for _, id := range ids {
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://d/v4.0.0/libpod/containers/"+id+"?force=true", nil)
		if err != nil {
			continue
		}
		if resp, err := p.http.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}
