package api

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of the HTTP server, against slow or greedy clients: a request's
// headers must arrive within HTTPReadHeaderTimeout and the whole request
// (its body is at most 1 MiB) within HTTPReadTimeout; headers are at most
// HTTPMaxHeaderBytes; at most HTTPMaxConnections connections are open at
// once (more wait in the kernel's accept queue until one closes). No write
// timeout: an answer may stream (the dashboard's live updates); each
// operation is bounded inside the server.
const (
	HTTPReadHeaderTimeout = 10 * time.Second
	HTTPReadTimeout       = 60 * time.Second
	HTTPIdleTimeout       = 2 * time.Minute
	HTTPMaxHeaderBytes    = 64 << 10
	HTTPMaxConnections    = 1024
)

// NewHTTPServer is the HTTP server of a handler with batchd's limits.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: HTTPReadHeaderTimeout, ReadTimeout: HTTPReadTimeout,
		IdleTimeout: HTTPIdleTimeout, MaxHeaderBytes: HTTPMaxHeaderBytes}
}

// LimitListener accepts at most n connections open at once.
func LimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
