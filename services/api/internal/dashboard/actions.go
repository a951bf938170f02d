package dashboard

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// Actions: POST /ui/api/jobs/{id}/terminate, /cancel (body {"reason"})
// and /resubmit run TerminateJob, CancelJob and SubmitJob through the
// api's operations, as POST /v1/... does, and answer what the operation
// answers (AWS error shapes included).

const (
	actionTerminateJob = "batch:TerminateJob"
	actionCancelJob    = "batch:CancelJob"
	actionSubmitJob    = "batch:SubmitJob"
	// defaultReason is the reason when the user gives none.
	defaultReason = "from the dashboard"
)

func (d *Dashboard) serveAction(w http.ResponseWriter, r *http.Request) {
	if err := needJSON(r); err != nil {
		d.writeErr(w, r, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		d.writeErr(w, r, badRequest("the body must be a JSON object, e.g. {\"reason\": \"...\"}"))
		return
	}
	id := batch.NameFromRef(batch.KindJob, r.PathValue("id"))
	arn := batch.ARN(batch.KindJob, id)
	reason := strings.TrimSpace(in.Reason)
	var op, action string
	var body any
	switch r.PathValue("action") {
	case "terminate":
		op, action = "TerminateJob", actionTerminateJob
		body = batch.TerminateJobInput{JobID: id, Reason: orDefault(reason, "Terminated "+defaultReason)}
	case "cancel":
		op, action = "CancelJob", actionCancelJob
		body = batch.CancelJobInput{JobID: id, Reason: orDefault(reason, "Cancelled "+defaultReason)}
	case "resubmit":
		d.resubmit(w, r, id)
		return
	default:
		d.writeErr(w, r, &httpError{http.StatusNotFound, "unknown action " + r.PathValue("action") + ": use terminate, cancel or resubmit"})
		return
	}
	if err := d.allow(r, action, arn); err != nil {
		d.writeErr(w, r, err)
		return
	}
	d.invoke(w, r, op, body)
}

// invoke runs an operation and answers its answer.
func (d *Dashboard) invoke(w http.ResponseWriter, r *http.Request, op string, in any) {
	data, err := json.Marshal(in)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	status, out := d.src.Invoke(d.opContext(r), op, data)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// resubmit submits a finished job again: same name, queue, definition
// revision, parameters, overrides, array size, retry strategy, timeout,
// scheduling priority, share, consumable resources, time limits and tags.
// Dependencies are not repeated (the jobs it waited for have finished).
func (d *Dashboard) resubmit(w http.ResponseWriter, r *http.Request, id string) {
	j, err := d.loadJob(r)
	if err != nil {
		d.writeErr(w, r, err)
		return
	}
	if !j.Status.Final() {
		d.writeErr(w, r, badRequest("job "+id+" is "+string(j.Status)+": only a SUCCEEDED or FAILED job can be resubmitted"))
		return
	}
	if _, _, child := batch.ArrayParentOf(id); child {
		d.writeErr(w, r, badRequest("job "+id+" is a child of an array job: resubmit the array job"))
		return
	}
	queue := queueOf(j)
	for _, res := range []string{batch.ARN(batch.KindJobQueue, queue), j.JobDefinition} {
		if err := d.allow(r, actionSubmitJob, res); err != nil {
			d.writeErr(w, r, err)
			return
		}
	}
	in := batch.SubmitJobInput{
		JobName: j.JobName, JobQueue: queue, JobDefinition: j.JobDefinition, ShareIdentifier: j.ShareIdentifier,
		SchedulingPriorityOverride: j.SchedulingPriority, Parameters: j.Parameters, ContainerOverrides: j.ContainerOverrides,
		RetryStrategy: j.RetryStrategy, PropagateTags: j.PropagateTags, Timeout: j.Timeout, Tags: j.Tags,
		ConsumableResourcePropertiesOverride: j.ConsumableResourceProperties, JobStateTimeLimitActions: j.JobStateTimeLimitActions,
	}
	if a := j.ArrayProperties; a != nil && a.Size > 0 {
		in.ArrayProperties = &batch.ArrayProperties{Size: a.Size, MaxRunningJobs: a.MaxRunningJobs}
	}
	d.invoke(w, r, "SubmitJob", in)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
