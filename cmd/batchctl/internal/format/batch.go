package format

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/jedib0t/go-pretty/v6/table"
)

// reasonWidth is the widest a reason column gets before it is cut.
const reasonWidth = 60

// JobRow is what a job table shows of one job.
type JobRow struct {
	ID, Name, Queue string
	Status, Reason  string
	// CreatedAt, StartedAt and StoppedAt are epoch milliseconds, 0 unknown.
	CreatedAt, StartedAt, StoppedAt int64
	ExitCode                        *int
	// Attempts is the number of attempts so far, -1 when unknown.
	Attempts int
	// ArraySize is the size of an array parent, ArrayIndex the index of a
	// child (-1 when not a child).
	ArraySize, ArrayIndex int
	// TraceID is the job's OpenTelemetry trace (DescribeJobs knows it).
	TraceID string
}

// JobRowFromSummary makes the row of a ListJobs entry.
func JobRowFromSummary(s batch.JobSummary) JobRow {
	r := JobRow{ID: s.JobID, Name: s.JobName, Status: string(s.Status), Reason: s.StatusReason,
		CreatedAt: s.CreatedAt, StartedAt: s.StartedAt, StoppedAt: s.StoppedAt, Attempts: -1, ArrayIndex: -1}
	if c := s.Container; c != nil {
		r.ExitCode = c.ExitCode
		r.Reason = joinReason(r.Reason, c.Reason)
	}
	if a := s.ArrayProperties; a != nil {
		r.ArraySize = a.Size
		if a.Index != nil {
			r.ArrayIndex = *a.Index
		}
	}
	return r
}

// JobRowFromDetail makes the row of a DescribeJobs entry.
func JobRowFromDetail(d batch.JobDetail) JobRow {
	r := JobRow{ID: d.JobID, Name: d.JobName, Queue: batch.NameFromRef(batch.KindJobQueue, d.JobQueue),
		Status: string(d.Status), Reason: d.StatusReason, CreatedAt: d.CreatedAt, StartedAt: d.StartedAt,
		StoppedAt: d.StoppedAt, Attempts: len(d.Attempts), ArrayIndex: -1, TraceID: d.TraceID}
	containerReason := ""
	if n := len(d.Attempts); n > 0 && d.Attempts[n-1].Container != nil {
		last := d.Attempts[n-1].Container
		r.ExitCode, containerReason = last.ExitCode, last.Reason
	}
	if c := d.Container; c != nil {
		if c.ExitCode != nil {
			r.ExitCode = c.ExitCode
		}
		if c.Reason != "" {
			containerReason = c.Reason
		}
	}
	r.Reason = joinReason(r.Reason, containerReason)
	if a := d.ArrayProperties; a != nil {
		r.ArraySize = a.Size
		if a.Index != nil {
			r.ArrayIndex = *a.Index
		}
	}
	return r
}

func joinReason(status, container string) string {
	switch {
	case container == "" || strings.Contains(status, container):
		return status
	case status == "":
		return container
	}
	return status + " (" + container + ")"
}

// LocalTime formats epoch milliseconds in loc, or "" for 0.
func LocalTime(ms int64, loc *time.Location) string {
	if ms <= 0 {
		return ""
	}
	if loc == nil {
		loc = time.Local
	}
	return time.UnixMilli(ms).In(loc).Format("2006-01-02 15:04:05")
}

// JobsTable writes one row per job: id, name, status, reason, the
// created, started and stopped times in loc and the exit code. withQueue
// adds the queue, the number of attempts and the trace id (DescribeJobs
// knows them).
func JobsTable(w io.Writer, title string, rows []JobRow, loc *time.Location, withQueue bool) error {
	t := newTable()
	if title != "" {
		t.SetTitle("%s", title)
	}
	header := table.Row{"JOB ID", "NAME"}
	if withQueue {
		header = append(header, "QUEUE")
	}
	header = append(header, "STATUS", "REASON", "CREATED", "STARTED", "STOPPED", "EXIT")
	if withQueue {
		header = append(header, "ATTEMPTS", "TRACE ID")
	}
	t.AppendHeader(header)
	for _, r := range rows {
		name := r.Name
		switch {
		case r.ArrayIndex >= 0:
			name += fmt.Sprintf(" [%d]", r.ArrayIndex)
		case r.ArraySize > 0:
			name += fmt.Sprintf(" [array of %d]", r.ArraySize)
		}
		exit := ""
		if r.ExitCode != nil {
			exit = strconv.Itoa(*r.ExitCode)
		}
		row := table.Row{r.ID, name}
		if withQueue {
			row = append(row, r.Queue)
		}
		row = append(row, r.Status, truncate(r.Reason, reasonWidth), LocalTime(r.CreatedAt, loc),
			LocalTime(r.StartedAt, loc), LocalTime(r.StoppedAt, loc), exit)
		if withQueue {
			attempts := ""
			if r.Attempts >= 0 {
				attempts = strconv.Itoa(r.Attempts)
			}
			row = append(row, attempts, r.TraceID)
		}
		t.AppendRow(row)
	}
	return render(w, t)
}

// Readable writes the readable table of an operation's (complete, merged)
// answer, and reports false when the operation has none or the answer does
// not have the expected shape, so that the caller falls back to Table.
func Readable(w io.Writer, api string, body []byte, loc *time.Location) (bool, error) {
	switch api {
	case "ListJobs":
		var out batch.ListJobsOutput
		if json.Unmarshal(body, &out) != nil {
			return false, nil
		}
		rows := make([]JobRow, len(out.JobSummaryList))
		for i, s := range out.JobSummaryList {
			rows[i] = JobRowFromSummary(s)
		}
		return true, JobsTable(w, "", rows, loc, false)
	case "DescribeJobs":
		var out batch.DescribeJobsOutput
		if json.Unmarshal(body, &out) != nil {
			return false, nil
		}
		rows := make([]JobRow, len(out.Jobs))
		for i, d := range out.Jobs {
			rows[i] = JobRowFromDetail(d)
		}
		return true, JobsTable(w, "", rows, loc, true)
	case "DescribeJobQueues":
		var out batch.DescribeJobQueuesOutput
		if json.Unmarshal(body, &out) != nil {
			return false, nil
		}
		return true, queuesTable(w, out.JobQueues)
	case "DescribeComputeEnvironments":
		var out batch.DescribeComputeEnvironmentsOutput
		if json.Unmarshal(body, &out) != nil {
			return false, nil
		}
		return true, envsTable(w, out.ComputeEnvironments)
	case "DescribeJobDefinitions":
		var out batch.DescribeJobDefinitionsOutput
		if json.Unmarshal(body, &out) != nil {
			return false, nil
		}
		return true, definitionsTable(w, out.JobDefinitions)
	}
	return false, nil
}

func queuesTable(w io.Writer, queues []batch.JobQueueDetail) error {
	t := newTable()
	t.AppendHeader(table.Row{"NAME", "STATE", "STATUS", "PRIORITY", "COMPUTE ENVIRONMENTS", "REASON"})
	for _, q := range queues {
		var envs []string
		for _, o := range q.ComputeEnvironmentOrder {
			envs = append(envs, fmt.Sprintf("%d:%s", o.Order, batch.NameFromRef(batch.KindComputeEnvironment, o.ComputeEnvironment)))
		}
		t.AppendRow(table.Row{q.JobQueueName, q.State, q.Status, q.Priority, strings.Join(envs, " "),
			truncate(q.StatusReason, reasonWidth)})
	}
	return render(w, t)
}

func envsTable(w io.Writer, envs []batch.ComputeEnvironmentDetail) error {
	t := newTable()
	t.AppendHeader(table.Row{"NAME", "TYPE", "STATE", "STATUS", "RESOURCES", "MAX VCPUS", "REASON"})
	for _, e := range envs {
		kind, maxv := "", ""
		switch {
		case e.ComputeResources != nil:
			kind, maxv = e.ComputeResources.Type, strconv.Itoa(e.ComputeResources.MaxvCpus)
		case e.UnmanagedvCpus != nil:
			maxv = strconv.Itoa(*e.UnmanagedvCpus)
		}
		t.AppendRow(table.Row{e.ComputeEnvironmentName, e.Type, e.State, e.Status, kind, maxv,
			truncate(e.StatusReason, reasonWidth)})
	}
	return render(w, t)
}

func definitionsTable(w io.Writer, defs []batch.JobDefinition) error {
	t := newTable()
	t.AppendHeader(table.Row{"NAME", "REVISION", "STATUS", "TYPE", "IMAGE", "COMMAND"})
	for _, d := range defs {
		image, command := "", ""
		if c := d.ContainerProperties; c != nil {
			image, command = c.Image, strings.Join(c.Command, " ")
		}
		t.AppendRow(table.Row{d.JobDefinitionName, d.Revision, d.Status, d.Type, image, truncate(command, reasonWidth)})
	}
	return render(w, t)
}
