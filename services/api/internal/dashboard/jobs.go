package dashboard

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

// Job lists: GET /ui/api/jobs?queue=Q|array=PARENT[&status=S][&name=PREFIX]
// [&after=MS][&before=MS][&limit=N][&next=TOKEN] answers a page, newest
// first; GET /ui/events/jobs?queue=Q|array=PARENT streams "jobs" events (the
// ListJobs summaries of the jobs of the list that changed, gathered for
// 0.3 s), and "resync" when more changed than one event carries or changes
// came faster than the browser took them.

const (
	defaultPageSize = 50
	maxPageSize     = 1000
	actionListJobs  = "batch:ListJobs"
)

// jobQuery reads a list's query parameters.
func jobQuery(r *http.Request) (JobQuery, error) {
	v := r.URL.Query()
	q := JobQuery{Queue: v.Get("queue"), ArrayParent: v.Get("array"), MultiNode: v.Get("multinode"), Status: batch.JobStatus(strings.ToUpper(v.Get("status"))),
		NamePrefix: v.Get("name"), Next: v.Get("next"), Limit: defaultPageSize}
	given := 0
	for _, s := range []string{q.Queue, q.ArrayParent, q.MultiNode} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return q, badRequest("give one of queue, array (an array job's id) or multinode (a multi-node job's id)")
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
		node, _, isNode := batch.MultiNodeParentOf(h.JobID)
		switch {
		case q.ArrayParent != "":
			return child && parent == q.ArrayParent
		case q.MultiNode != "":
			return isNode && node == q.MultiNode
		}
		return !child && !isNode && h.queue() == queue
	}
	sub, stop := d.hub.subscribe(wants, 4096)
	defer stop()
	s, err := startSSE(w)
	if err != nil {
		return
	}
	d.pumpChanges(r, s, sub, func(cs []change) []sseMsg {
		if len(cs) > maxJobsPerEvent {
			return []sseMsg{{event: "resync", data: []byte("{}")}}
		}
		// The newest change of each job, in the order they came.
		latest := map[string]int{}
		for i, c := range cs {
			latest[c.head.JobID] = i
		}
		out := []batch.JobSummary{}
		for i, c := range cs {
			var j batch.JobDetail
			if latest[c.head.JobID] != i || json.Unmarshal(c.detail, &j) != nil {
				continue
			}
			out = append(out, j.Summary())
		}
		data, err := json.Marshal(out)
		if err != nil {
			return nil
		}
		return []sseMsg{{event: "jobs", data: data}}
	}, nil)
}

// maxJobsPerEvent bounds the changes of one "jobs" event; more in one
// flush send "resync" (the browser reads the page again) instead.
const maxJobsPerEvent = 200

// flushEvery is how long a stream gathers changes before it sends them:
// a queue where thousands of jobs change a second costs the browser a few
// messages a second.
const flushEvery = 300 * time.Millisecond

// pumpChanges gathers the events of sub for flushEvery, turns them into
// messages with flush, and sends them with the messages of extra (nil:
// none), until the browser leaves or the dashboard closes. Events dropped
// because the browser was slower than them send "resync".
func (d *Dashboard) pumpChanges(r *http.Request, s *sseStream, sub *subscriber, flush func([]change) []sseMsg, extra <-chan sseMsg) {
	hb := newTicker(heartbeatEvery)
	defer hb.Stop()
	var pending []change
	var due <-chan time.Time
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		case c := <-sub.ch:
			pending = append(pending, c)
			if due == nil {
				due = time.After(flushEvery)
			}
		case <-due:
			due = nil
			msgs := flush(pending)
			pending = pending[:0]
			if sub.takeLost() {
				msgs = append(msgs, sseMsg{event: "resync", data: []byte("{}")})
			}
			for _, m := range msgs {
				if err = s.send(m); err != nil {
					break
				}
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
