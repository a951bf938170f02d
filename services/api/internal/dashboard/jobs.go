package dashboard

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// Job lists: GET /ui/api/jobs?queue=Q|array=PARENT[&status=S][&name=PREFIX]
// [&after=MS][&before=MS][&limit=N][&next=TOKEN] answers a page, newest
// first; GET /ui/events/jobs?queue=Q|array=PARENT streams a "job" event
// (its ListJobs summary) for every state change of a job of the list, and
// "resync" when changes came faster than the browser took them.

const (
	defaultPageSize = 50
	maxPageSize     = 1000
	actionListJobs  = "batch:ListJobs"
)

// jobQuery reads a list's query parameters.
func jobQuery(r *http.Request) (JobQuery, error) {
	v := r.URL.Query()
	q := JobQuery{Queue: v.Get("queue"), ArrayParent: v.Get("array"), Status: batch.JobStatus(strings.ToUpper(v.Get("status"))),
		NamePrefix: v.Get("name"), Next: v.Get("next"), Limit: defaultPageSize}
	if (q.Queue == "") == (q.ArrayParent == "") {
		return q, badRequest("give queue or array (an array job's id)")
	}
	if q.Status != "" && !q.Status.Valid() {
		return q, badRequest("status " + string(q.Status) + " is not one of SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED")
	}
	for name, dst := range map[string]*int64{"after": &q.After, "before": &q.Before} {
		if s := v.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return q, badRequest(name + " must be a time in milliseconds since 1970")
			}
			*dst = n
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return q, badRequest("limit must be 1 to " + strconv.Itoa(maxPageSize))
		}
		q.Limit = n
	}
	return q, nil
}

// listResource is the resource a list is about, for access control:
// "*", as for ListJobs.
func listResource(JobQuery) string { return "*" }

func (d *Dashboard) serveJobs(w http.ResponseWriter, r *http.Request) {
	q, err := jobQuery(r)
	if err == nil {
		err = d.allow(r, actionListJobs, listResource(q))
	}
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	page, err := d.src.Jobs(r.Context(), q)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (d *Dashboard) streamJobs(w http.ResponseWriter, r *http.Request) {
	q, err := jobQuery(r)
	if err == nil {
		err = d.allow(r, actionListJobs, listResource(q))
	}
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	queue := batch.NameFromRef(batch.KindJobQueue, q.Queue)
	wants := func(h *eventHead) bool {
		parent, _, child := batch.ArrayParentOf(h.JobID)
		if q.ArrayParent != "" {
			return child && parent == q.ArrayParent
		}
		return !child && h.queue() == queue
	}
	sub, stop := d.hub.subscribe(wants, 512)
	defer stop()
	s, err := startSSE(w)
	if err != nil {
		return
	}
	d.pumpChanges(r, s, sub, func(c change) (sseMsg, bool) {
		var j batch.JobDetail
		if json.Unmarshal(c.detail, &j) != nil {
			return sseMsg{}, false
		}
		data, err := json.Marshal(j.Summary())
		return sseMsg{event: "job", data: data}, err == nil
	}, nil)
}

// pumpChanges sends the events of sub, turned into messages by conv, and
// the messages of extra (nil: none), until the browser leaves or the
// dashboard closes. Dropped events are told as a "resync" event.
func (d *Dashboard) pumpChanges(r *http.Request, s *sseStream, sub *subscriber, conv func(change) (sseMsg, bool), extra <-chan sseMsg) {
	hb := newTicker(heartbeatEvery)
	defer hb.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		case c := <-sub.ch:
			if m, ok := conv(c); ok {
				err = s.send(m)
			}
			if err == nil && sub.takeLost() {
				err = s.send(sseMsg{event: "resync", data: []byte("{}")})
			}
		case m, ok := <-extra:
			if !ok {
				extra = nil
				continue
			}
			err = s.send(m)
		case <-hb.C:
			err = s.ping()
		}
		if err != nil {
			return
		}
	}
}
