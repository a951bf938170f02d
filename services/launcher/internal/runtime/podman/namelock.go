package podman

import "sync"

// nameLocks serializes Starts of the same container name within this
// process, so that a concurrent Start never sees the container between
// create and start and starts it a second time after it exited (Podman
// re-runs an exited container that is started again).
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]*nameLock
}

// nameLock is one name's lock and the number of Starts holding or
// waiting for it.
type nameLock struct {
	sync.Mutex
	refs int
}

// lock locks name and returns the function that unlocks it.
func (l *nameLocks) lock(name string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*nameLock{}
	}
	nl := l.locks[name]
	if nl == nil {
		nl = &nameLock{}
		l.locks[name] = nl
	}
	nl.refs++
	l.mu.Unlock()

	nl.Lock()
	return func() {
		nl.Unlock()
		l.mu.Lock()
		if nl.refs--; nl.refs == 0 {
			delete(l.locks, name)
		}
		l.mu.Unlock()
	}
}
