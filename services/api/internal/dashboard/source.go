package dashboard

import (
	"context"

	"github.com/batchd/batchd/pkg/batch"
)

// Source is what the dashboard reads and does, provided by the api service
// from its bucket mirrors and its ListJobs index; Invoke runs an API
// operation through the same code path as the HTTP API.
type Source interface {
	// Overview returns every queue with its job counts and every compute
	// environment with its capacity and hosts.
	Overview(ctx context.Context) (*Overview, error)
	// Jobs lists a page of jobs.
	Jobs(ctx context.Context, q JobQuery) (*JobPage, error)
	// Job returns a job (its record, or its submit before the record
	// exists); nil when there is no such job.
	Job(ctx context.Context, id string) (*batch.JobDetail, error)
	// Definition returns a job definition by ARN or name:revision; nil
	// when it does not exist.
	Definition(ctx context.Context, ref string) (*batch.JobDefinition, error)
	// Ready waits until the job index has loaded the records.
	Ready(ctx context.Context) error
	// StateTotals counts every job the api knows (array children too) by
	// status, in batch.AllStatuses order: the plot of jobs by state.
	StateTotals() [7]int
	// FinishedSince calls fn with the stoppedAt (ms) of every finished
	// job that stopped at or after since (array parents excepted): the
	// throughput plot after a restart. It waits for the index to load.
	FinishedSince(ctx context.Context, since int64, fn func(stoppedAt int64, status batch.JobStatus)) error
	// Invoke runs an API operation on a JSON request body as POST
	// /v1/<operation> does and returns the HTTP status and the JSON answer
	// (an AWS error shape when the status is not 200).
	Invoke(ctx context.Context, operation string, body []byte) (status int, answer []byte)
}

// Overview is the dashboard's first page.
type Overview struct {
	Time         int64       `json:"time"`
	Queues       []QueueView `json:"queues"`
	Environments []EnvView   `json:"computeEnvironments"`
	Hosts        []HostView  `json:"hosts"`
}

// QueueView is a job queue and how many of its jobs are in each status:
// Counts of the jobs its lists show (an array job once), Children of its
// array jobs' children.
type QueueView struct {
	Name             string                  `json:"name"`
	State            string                  `json:"state"`
	Status           string                  `json:"status,omitempty"`
	StatusReason     string                  `json:"statusReason,omitempty"`
	Priority         int                     `json:"priority"`
	SchedulingPolicy string                  `json:"schedulingPolicy,omitempty"`
	MaxRunningJobs   int                     `json:"maxRunningJobs,omitempty"`
	Environments     []string                `json:"computeEnvironments"`
	Counts           map[batch.JobStatus]int `json:"counts"`
	// Children counts the queue's array children by status (none: empty).
	Children map[batch.JobStatus]int `json:"children"`
}

// EnvView is a compute environment: what its STARTING and RUNNING jobs
// hold, what it can still take, and the live hosts serving it.
type EnvView struct {
	Name     string          `json:"name"`
	State    string          `json:"state"`
	Status   string          `json:"status,omitempty"`
	Type     string          `json:"type"`
	MaxVCPUs float64         `json:"maxvCpus"`
	InUse    batch.Resources `json:"inUse"`
	Free     batch.Resources `json:"free"`
	Jobs     int             `json:"jobs"`
	Hosts    []string        `json:"hosts"`
}

// HostView is a live host: its size, what the jobs there hold and what is
// free.
type HostView struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Size         batch.Resources `json:"size"`
	InUse        batch.Resources `json:"inUse"`
	Free         batch.Resources `json:"free"`
	Jobs         int             `json:"jobs"`
	Environments []string        `json:"computeEnvironments,omitempty"`
	HeartbeatAt  int64           `json:"heartbeatAt"`
}

// JobQuery selects a page of jobs: the top-level jobs of a queue or the
// children of an array, in one status or all (""), newest first.
type JobQuery struct {
	Queue       string
	ArrayParent string
	// MultiNode lists the nodes of a multi-node job.
	MultiNode string
	Status    batch.JobStatus
	// NamePrefix matches job names that start with it (case-insensitive).
	NamePrefix string
	// After and Before bound createdAt (ms, exclusive; 0: no bound).
	After, Before int64
	Limit         int
	Next          string
}

// JobPage is a page of jobs.
type JobPage struct {
	Jobs []batch.JobSummary `json:"jobs"`
	Next string             `json:"next,omitempty"`
	// Total is how many jobs the group has in the status when no filter
	// is given; -1 otherwise.
	Total int `json:"total"`
}
