package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profileChunk is the length of one CPU profile; a phase is covered by
// consecutive chunks, which go tool pprof merges when given together.
const profileChunk = 5 * time.Second

// profilePhase records CPU profiles of batchd into dir/<phase>-<n>.pprof
// until the returned stop is called (it waits for the chunk under way).
func (b *bench) profilePhase(ctx context.Context, phase string) (stop func()) {
	if b.cfg.profileDir == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	name := strings.ReplaceAll(phase, " ", "-")
	wg.Go(func() {
		for n := 0; ctx.Err() == nil; n++ {
			path := filepath.Join(b.cfg.profileDir, fmt.Sprintf("%s-%02d.pprof", name, n))
			if err := b.fetchProfile(path); err != nil {
				b.logf("  profile: %v", err)
				return
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

func (b *bench) fetchProfile(path string) error {
	return b.fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(profileChunk.Seconds())), path)
}

// fetch saves one of batchd's pprof answers into path.
func (b *bench) fetch(endpoint, path string) error {
	srv := b.srv
	if p := b.profiled.Load(); p != nil {
		srv = p // a phase that runs its own batchd
	}
	url := "http://" + srv.pprofAddr + endpoint
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
