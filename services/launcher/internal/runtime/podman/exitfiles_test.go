package podman

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// exitFiles reports an exit file written the way conmon writes it (a
// temporary file renamed into place) or written in place, with the file's
// change time; an incomplete file is not an exit, and a waiter whose done
// closes gives up.
func TestExitFiles(t *testing.T) {
	dir := t.TempDir()
	e, err := watchExitFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code     int
		finished time.Time
		ok       bool
	}
	waitFor := func(id string, done chan struct{}) chan result {
		out := make(chan result, 1)
		go func() {
			code, fin, ok := e.wait(done, id)
			out <- result{code, fin, ok}
		}()
		return out
	}
	ctime := func(path string) time.Time {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return time.Unix(st.Ctim.Unix())
	}

	renamed := waitFor("c1", nil)
	inPlace := waitFor("c2", nil)
	done := make(chan struct{})
	abandoned := waitFor("c3", done)
	time.Sleep(50 * time.Millisecond) // let the waiters register: not needed for correctness

	// An incomplete file (created, nothing written yet) is not an exit.
	if err := os.WriteFile(filepath.Join(dir, "c2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "c1.tmp")
	if err := os.WriteFile(tmp, []byte("7"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "c1")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-renamed:
		if !r.ok || r.code != 7 || !r.finished.Equal(ctime(filepath.Join(dir, "c1"))) {
			t.Fatalf("renamed exit file: got %+v, want code 7 at the file's change time", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("renamed exit file not noticed")
	}
	select {
	case r := <-inPlace:
		t.Fatalf("an empty exit file was taken for an exit: %+v", r)
	default:
	}
	if err := os.WriteFile(filepath.Join(dir, "c2"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-inPlace:
		if !r.ok || r.code != 0 {
			t.Fatalf("exit file written in place: got %+v, want code 0", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("exit file written in place not noticed")
	}
	close(done)
	select {
	case r := <-abandoned:
		if r.ok {
			t.Fatalf("abandoned wait reported an exit: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("abandoned wait did not return")
	}
	// A file already there is read at once.
	if code, _, ok := e.wait(nil, "c1"); !ok || code != 7 {
		t.Fatalf("existing exit file: code %d ok %v", code, ok)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.waiters) != 0 {
		t.Fatalf("waiters left registered: %v", e.waiters)
	}
}
