package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// heartbeatEvery is how often an idle stream sends a comment, so that
// proxies keep it open and a closed browser is noticed.
const heartbeatEvery = 15 * time.Second

// sseMsg is one server-sent event: its name and its JSON data (one line).
type sseMsg struct {
	event string
	data  []byte
}

// sseStream writes server-sent events to one browser.
type sseStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE answers the request as an event stream.
func startSSE(w http.ResponseWriter) (*sseStream, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseStream{w: w, rc: http.NewResponseController(w)}
	// A stream may stay open for hours: no write deadline.
	_ = s.rc.SetWriteDeadline(time.Time{})
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil, err
	}
	return s, s.rc.Flush()
}

// send writes one event and flushes it.
func (s *sseStream) send(m sseMsg) error {
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", m.event, m.data); err != nil {
		return err
	}
	return s.rc.Flush()
}

// sendJSON writes an event of v.
func (s *sseStream) sendJSON(event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", event, err)
	}
	return s.send(sseMsg{event: event, data: data})
}

// ping writes a comment.
func (s *sseStream) ping() error {
	if _, err := fmt.Fprint(s.w, ": ping\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// newTicker is time.NewTicker (a seam for the streams).
func newTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
