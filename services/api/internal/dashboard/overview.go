package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// The overview: GET /ui/api/overview and /ui/api/history answer it once;
// GET /ui/events/overview streams it: an "overview" event at once and
// again after job events (at most every overviewEvery, and every
// overviewIdle without events, as hosts come and go), a "history" event at
// once and after every sample.

const (
	overviewEvery = 500 * time.Millisecond
	overviewIdle  = 5 * time.Second
)

// Actions the overview needs when access control is on.
const actionDescribeQueues = "batch:DescribeJobQueues"

func (d *Dashboard) serveOverview(w http.ResponseWriter, r *http.Request) {
	if err := d.allow(r, actionDescribeQueues, "*"); err != nil {
		d.writeErr(w, r, err)
		return
	}
	ov, err := d.src.Overview(r.Context())
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ov)
}

func (d *Dashboard) serveHistory(w http.ResponseWriter, r *http.Request) {
	if err := d.allow(r, actionDescribeQueues, "*"); err != nil {
		d.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d.hist.view(d.now()))
}

// sample records the job counts every SampleEvery.
func (d *Dashboard) sample(ctx context.Context) {
	// No sample before the index holds the records (a plot of zeros).
	if d.src.Ready(ctx) != nil {
		return
	}
	t := time.NewTicker(SampleEvery)
	defer t.Stop()
	for {
		now := d.now()
		d.hist.sample(now, d.src.StateTotals())
		if data, err := json.Marshal(d.hist.view(now)); err == nil {
			d.push(sseMsg{event: "history", data: data})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// broadcast sends the overview to the overview streams when it may have
// changed.
func (d *Dashboard) broadcast(ctx context.Context) {
	t := time.NewTicker(overviewEvery)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		n := len(d.ovSubs)
		d.mu.Unlock()
		if n == 0 {
			d.hub.takeDirty()
			continue
		}
		if !d.hub.takeDirty() && time.Since(last) < overviewIdle {
			continue
		}
		last = time.Now()
		ov, err := d.src.Overview(ctx)
		if err != nil {
			continue
		}
		if data, err := json.Marshal(ov); err == nil {
			d.push(sseMsg{event: "overview", data: data})
		}
	}
}

// push hands a message to every overview stream; a stream that has not
// taken the previous ones loses the oldest (each is a whole state).
func (d *Dashboard) push(m sseMsg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range d.ovSubs {
		for {
			select {
			case ch <- m:
			default:
				select {
				case <-ch:
				default:
				}
				continue
			}
			break
		}
	}
}

func (d *Dashboard) streamOverview(w http.ResponseWriter, r *http.Request) {
	if err := d.allow(r, actionDescribeQueues, "*"); err != nil {
		d.writeErr(w, r, err)
		return
	}
	ov, err := d.src.Overview(r.Context())
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	ch := make(chan sseMsg, 4)
	d.mu.Lock()
	d.ovSubs[ch] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.ovSubs, ch)
		d.mu.Unlock()
	}()
	s, err := startSSE(w)
	if err != nil {
		return
	}
	if s.sendJSON("overview", ov) != nil || s.sendJSON("history", d.hist.view(d.now())) != nil {
		return
	}
	d.pump(r, s, ch)
}

// pump sends the messages of ch until the browser leaves or the
// dashboard closes.
func (d *Dashboard) pump(r *http.Request, s *sseStream, ch <-chan sseMsg) {
	hb := time.NewTicker(heartbeatEvery)
	defer hb.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		case m := <-ch:
			err = s.send(m)
		case <-hb.C:
			err = s.ping()
		}
		if err != nil {
			return
		}
	}
}
