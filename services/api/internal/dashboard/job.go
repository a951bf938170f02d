package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/batchd/batchd/pkg/batch"
)

// A job's page: GET /ui/api/jobs/{id} answers a jobView; GET
// /ui/events/jobs/{id} streams "job" (a jobView without the definition) at
// once and after state changes of the job (the newest of each 0.3 s),
// "children" ({changed: n}) when array children changed in the last 0.3 s, "logs" (a list of log lines)
// from the first stored line on, "logs-stored" once the stored lines are
// sent, and "resync" when changes came faster than the browser took them.

const (
	actionDescribeJobs = "batch:DescribeJobs"
	// maxShownDependencies bounds the dependencies a page looks up.
	maxShownDependencies = 100
)

// jobView is what a job's page shows.
type jobView struct {
	Job          *batch.JobDetail     `json:"job"`
	Definition   *batch.JobDefinition `json:"definition,omitempty"`
	Explanation  string               `json:"explanation"`
	Dependencies []dependencyView     `json:"dependencies"`
	Timeline     []Transition         `json:"timeline"`
	TraceURL     string               `json:"traceUrl,omitempty"`
	Can          actionsView          `json:"can"`
}

// dependencyView is a job this one depends on and where it is.
type dependencyView struct {
	JobID     string          `json:"jobId"`
	Type      string          `json:"type,omitempty"`
	Condition string          `json:"condition,omitempty"`
	Name      string          `json:"name,omitempty"`
	Status    batch.JobStatus `json:"status,omitempty"`
}

// actionsView says which actions the page offers.
type actionsView struct {
	Terminate bool `json:"terminate"`
	Cancel    bool `json:"cancel"`
	Resubmit  bool `json:"resubmit"`
}

// view builds the page of a job; withDefinition also reads its definition.
func (d *Dashboard) view(ctx context.Context, r *http.Request, j *batch.JobDetail, withDefinition bool) (*jobView, error) {
	v := &jobView{Job: j, Dependencies: []dependencyView{}, TraceURL: d.traceLink(j.TraceID)}
	if withDefinition && j.JobDefinition != "" {
		def, err := d.src.Definition(ctx, j.JobDefinition)
		if err != nil {
			return nil, err
		}
		v.Definition = def
	}
	for i, dep := range j.DependsOn {
		dv := dependencyView{JobID: dep.JobID, Type: dep.Type, Condition: dep.Condition}
		if i < maxShownDependencies && dep.JobID != "" {
			dj, err := d.src.Job(ctx, dep.JobID)
			if err != nil {
				return nil, err
			}
			if dj != nil {
				dv.Name, dv.Status = dj.JobName, dj.Status
			}
		}
		v.Dependencies = append(v.Dependencies, dv)
	}
	v.Explanation = explain(j, v.Dependencies)
	v.Timeline = jobTimeline(j, d.tl.get(j.JobID))
	arn := batch.ARN(batch.KindJob, j.JobID)
	final := j.Status.Final()
	_, _, child := batch.ArrayParentOf(j.JobID)
	v.Can = actionsView{
		Terminate: !final && d.can(r, actionTerminateJob, arn),
		Cancel:    !final && d.can(r, actionCancelJob, arn),
		Resubmit: final && !child && d.can(r, actionSubmitJob, batch.ARN(batch.KindJobQueue, queueOf(j))) &&
			d.can(r, actionSubmitJob, j.JobDefinition),
	}
	return v, nil
}

// queueOf is the name of the job's queue.
func queueOf(j *batch.JobDetail) string {
	if j.JobQueueName != "" {
		return j.JobQueueName
	}
	return batch.NameFromRef(batch.KindJobQueue, j.JobQueue)
}

// loadJob reads the job of the request's {id}, checking access.
func (d *Dashboard) loadJob(r *http.Request) (*batch.JobDetail, error) {
	id := batch.NameFromRef(batch.KindJob, r.PathValue("id"))
	if err := d.allow(r, actionDescribeJobs, "*"); err != nil {
		return nil, err
	}
	j, err := d.src.Job(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, &httpError{http.StatusNotFound, "job " + id + " does not exist (or its record was deleted after its retention)"}
	}
	return j, nil
}

func (d *Dashboard) serveJob(w http.ResponseWriter, r *http.Request) {
	j, err := d.loadJob(r)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	v, err := d.view(r.Context(), r, j, true)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (d *Dashboard) streamJob(w http.ResponseWriter, r *http.Request) {
	id := batch.NameFromRef(batch.KindJob, r.PathValue("id"))
	if err := d.allow(r, actionDescribeJobs, "*"); err != nil {
		d.writeErr(w, r, err)
		return
	}
	// Subscribe first, then read the record: no change falls in between.
	sub, stop := d.hub.subscribe(func(h *eventHead) bool {
		if h.JobID == id {
			return true
		}
		if parent, _, ok := batch.ArrayParentOf(h.JobID); ok && parent == id {
			return true
		}
		parent, _, ok := batch.MultiNodeParentOf(h.JobID)
		return ok && parent == id
	}, 256)
	defer stop()
	j, err := d.loadJob(r)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	v, err := d.view(r.Context(), r, j, false)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	s, err := startSSE(w)
	if err != nil {
		return
	}
	if s.sendJSON("job", v) != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	logs := make(chan sseMsg, 16)
	if !j.IsArrayParent() {
		go d.followLogs(ctx, id, logs)
	}
	d.pumpChanges(r, s, sub, func(cs []change) []sseMsg {
		var own *change
		children := 0
		for i := range cs {
			if cs[i].head.JobID == id {
				own = &cs[i]
			} else {
				children++
			}
		}
		var out []sseMsg
		if own != nil {
			var j batch.JobDetail
			if json.Unmarshal(own.detail, &j) == nil {
				if v, err := d.view(ctx, r, &j, false); err == nil {
					if data, err := json.Marshal(v); err == nil {
						out = append(out, sseMsg{event: "job", data: data})
					}
				}
			}
		}
		if children > 0 {
			out = append(out, sseMsg{event: "children", data: fmt.Appendf(nil, `{"changed":%d}`, children)})
		}
		return out
	}, logs)
}
