package podman

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// exitFiles follows the exit files conmon writes. When a container's
// process has ended and its output is drained into the log, conmon writes
// <exit dir>/<container id> holding the exit code. Podman itself learns of
// the exit only at its next state sync of the container, which waits for
// the container lock that the `podman container cleanup` conmon starts
// holds: on a busy 2-core host that is 150 ms to over a second later, and
// every job's next one waits for it. Watching the folder (inotify) tells
// within milliseconds.
type exitFiles struct {
	dir string

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]bool // container id -> waiters
}

// localExitDir is the exit folder of a Podman service on this host's
// default paths, or "" when the service is remote or the folder is not
// there: rootful /run/libpod/exits, rootless
// $XDG_RUNTIME_DIR/libpod/tmp/exits.
func localExitDir(uri string) string {
	if !strings.HasPrefix(uri, "unix://") {
		return ""
	}
	dir := "/run/libpod/exits"
	if os.Geteuid() != 0 {
		xdg := os.Getenv("XDG_RUNTIME_DIR")
		if xdg == "" {
			return ""
		}
		dir = filepath.Join(xdg, "libpod", "tmp", "exits")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return dir
}

// watchExitFiles starts following dir; the watch lasts for the process.
func watchExitFiles(dir string) (*exitFiles, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// conmon writes a temporary file and renames it (IN_MOVED_TO); a
	// direct write is seen at its close.
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	e := &exitFiles{dir: dir, waiters: map[string]map[chan struct{}]bool{}}
	go e.loop(fd)
	return e, nil
}

func (e *exitFiles) loop(fd int) {
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			// The watch is gone: wake everyone; Wait falls back to Podman.
			e.wakeAll()
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				break
			}
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:end], "\x00"))
			off = end
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				e.wakeAll()
				continue
			}
			e.wake(name)
		}
	}
}

func (e *exitFiles) wake(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (e *exitFiles) wakeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ws := range e.waiters {
		for ch := range ws {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// wait returns the container's exit code and Podman's finish time for it
// (the exit file's change time, as Podman takes it) once its exit file is
// there; ok is false when done closes first.
func (e *exitFiles) wait(done <-chan struct{}, id string) (code int, finished time.Time, ok bool) {
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	if e.waiters[id] == nil {
		e.waiters[id] = map[chan struct{}]bool{}
	}
	e.waiters[id][ch] = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.waiters[id], ch)
		if len(e.waiters[id]) == 0 {
			delete(e.waiters, id)
		}
		e.mu.Unlock()
	}()
	for {
		if code, finished, ok := e.read(id); ok {
			return code, finished, true
		}
		select {
		case <-ch:
		case <-done:
			return 0, time.Time{}, false
		}
	}
}

// read reads a complete exit file.
func (e *exitFiles) read(id string) (int, time.Time, bool) {
	path := filepath.Join(e.dir, id)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, time.Time{}, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, time.Time{}, false // not written completely yet
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, time.Time{}, false
	}
	return code, time.Unix(st.Ctim.Unix()), true
}
