package launcher

import (
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The probe tells a live service, a stale socket (which may be replaced)
// and a service too slow to answer (which must not be).
func TestProbeSocket(t *testing.T) {
	dir := t.TempDir()
	if answers, stale := probeSocket(filepath.Join(dir, "none.sock")); answers || !stale {
		t.Fatalf("no socket: answers %v stale %v, want stale", answers, stale)
	}

	live := filepath.Join(dir, "live.sock")
	l, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 64)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n\r\nOK"))
			_ = c.Close()
		}
	}()
	if answers, _ := probeSocket(live); !answers {
		t.Fatal("a live service does not answer")
	}

	dead := filepath.Join(dir, "dead.sock")
	dl, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	dl.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = dl.Close()
	if answers, stale := probeSocket(dead); answers || !stale {
		t.Fatalf("dead socket: answers %v stale %v, want stale", answers, stale)
	}

	mute := filepath.Join(dir, "mute.sock")
	ml, err := net.Listen("unix", mute)
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close() // accepts (the backlog) but never answers
	if answers, stale := probeSocket(mute); answers || stale {
		t.Fatalf("slow service: answers %v stale %v, want neither", answers, stale)
	}
}

// A file this process inherited without close-on-exec gets it, so that the
// Podman service started from here does not hold it.
func TestCloseInheritedOnExec(t *testing.T) {
	fd, err := syscall.Open(filepath.Join(t.TempDir(), "lock"), syscall.O_CREAT|syscall.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
		t.Fatal("the test file is close-on-exec already")
	}
	closeInheritedOnExec()
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("not close-on-exec after closeInheritedOnExec: flags %d, %v", flags, err)
	}
}
