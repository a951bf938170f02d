package api

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
)

// The ListJobs index: each replica watches the jobs bucket (written by the
// monitor) and keeps, per job, only what a JobSummary shows. Jobs are
// grouped by what ListJobs lists them by: top-level jobs by queue name
// ("q/<queue>"), array children by parent ("a/<parent id>"), multi-node
// nodes by parent ("m/<parent id>"). Each group keeps its jobs in an
// orderedSet per status and one for all statuses, sorted by sortKey, so
// listing a queue in one status walks only those jobs.

// jobEntry is the summary of one job, about 200 bytes plus its id and name;
// the strings shared by many jobs (queue, definition, reasons) are interned.
type jobEntry struct {
	key          sortKey
	group        string
	name         string
	status       batch.JobStatus
	statusReason string
	share        string
	def          string
	startedAt    int64
	stoppedAt    int64
	reason       string
	exitCode     int32
	hasExitCode  bool
	child        bool
	arraySize    int32
	// node, mainNode: a node of a multi-node job (child is set too);
	// numNodes: a multi-node job.
	node, mainNode bool
	numNodes       int32
	queue          string // queue name, for children too
	priority       int32  // schedulingPriority
	attempts       int32
	updatedAt      int64  // when the record last changed (ms)
	runnableAt     int64  // when the job was last seen entering RUNNABLE (ms)
	vcpuMilli      int64  // thousandths of the vCPUs the job needs
	memoryMiB      int64  // the memory it needs
	gpus           int32  // the GPUs it needs
	host, env      string // where it runs (STARTING, RUNNING) or ran last
	// resources are the consumable resources the job needs (nil: none).
	resources *batch.ConsumableResourceProperties
}

// summary is the ListJobs form of the entry.
func (e *jobEntry) summary() batch.JobSummary {
	s := batch.JobSummary{
		JobArn: batch.ARN(batch.KindJob, e.key.id), JobID: e.key.id, JobName: e.name, CreatedAt: e.key.createdAt,
		ShareIdentifier: e.share, Status: e.status, StatusReason: e.statusReason,
		StartedAt: e.startedAt, StoppedAt: e.stoppedAt, JobDefinition: e.def,
	}
	if e.hasExitCode || e.reason != "" {
		s.Container = &batch.ContainerSummary{Reason: e.reason}
		if e.hasExitCode {
			code := int(e.exitCode)
			s.Container.ExitCode = &code
		}
	}
	switch {
	case e.node:
		idx := int(e.key.index)
		s.NodeProperties = &batch.NodePropertiesSummary{NodeIndex: &idx, IsMainNode: e.mainNode}
	case e.numNodes > 0:
		s.NodeProperties = &batch.NodePropertiesSummary{NumNodes: int(e.numNodes)}
	case e.child:
		idx := int(e.key.index)
		s.ArrayProperties = &batch.ArrayPropertiesSummary{Index: &idx}
	case e.arraySize > 0:
		s.ArrayProperties = &batch.ArrayPropertiesSummary{Size: int(e.arraySize)}
	}
	return s
}

// jobRecord is the part of a job record the index reads.
type jobRecord struct {
	JobID           string           `json:"jobId"`
	JobName         string           `json:"jobName"`
	JobQueue        string           `json:"jobQueue"`
	JobQueueName    string           `json:"jobQueueName"`
	Status          batch.JobStatus  `json:"status"`
	StatusReason    string           `json:"statusReason"`
	ShareIdentifier string           `json:"shareIdentifier"`
	CreatedAt       int64            `json:"createdAt"`
	StartedAt       int64            `json:"startedAt"`
	StoppedAt       int64            `json:"stoppedAt"`
	JobDefinition   string           `json:"jobDefinition"`
	HostID          string           `json:"hostId"`
	ComputeEnv      string           `json:"computeEnvironmentName"`
	Seq             uint64           `json:"seq"`
	Container       *recordContainer `json:"container"`
	EcsProperties   *struct {
		TaskProperties []struct {
			Containers []recordContainer `json:"containers"`
		} `json:"taskProperties"`
	} `json:"ecsProperties"`
	ArrayProperties *struct {
		Size int `json:"size"`
	} `json:"arrayProperties"`
	NodeProperties *struct {
		NumNodes int `json:"numNodes"`
	} `json:"nodeProperties"`
	NodeDetails *struct {
		IsMainNode bool `json:"isMainNode"`
	} `json:"nodeDetails"`
	SchedulingPriority           *int                                `json:"schedulingPriority"`
	Attempts                     elementCount                        `json:"attempts"`
	ConsumableResourceProperties *batch.ConsumableResourceProperties `json:"consumableResourceProperties"`
}

// recordContainer is the part of a job's container the index reads. The
// resources are kept raw and read once per job (they never change).
type recordContainer struct {
	ExitCode             *int            `json:"exitCode"`
	Reason               string          `json:"reason"`
	Vcpus                int             `json:"vcpus"`
	Memory               int             `json:"memory"`
	ResourceRequirements json.RawMessage `json:"resourceRequirements"`
}

// resources returns what the container needs: thousandths of vCPUs,
// memory and GPUs.
func (c *recordContainer) resources() (vcpuMilli, memoryMiB int64, gpus int32) {
	var reqs []batch.ResourceRequirement
	if len(c.ResourceRequirements) > 0 {
		_ = json.Unmarshal(c.ResourceRequirements, &reqs)
	}
	res, err := batch.ParseResources(reqs, c.Vcpus, c.Memory)
	if err != nil {
		return 0, 0, 0
	}
	return int64(math.Round(res.VCPUs * 1000)), res.MemoryMiB, int32(res.GPUs)
}

// elementCount decodes a JSON list as the number of its elements, without
// decoding them.
type elementCount int

func (c *elementCount) UnmarshalJSON(data []byte) error {
	n, depth, inString, escaped, empty := 0, 0, false, false, true
	for _, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		case b == '"':
			inString = true
		case b == '[' || b == '{':
			depth++
			continue
		case b == ']' || b == '}':
			depth--
			continue
		case b == ',' && depth == 1:
			n++
			continue
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			continue
		}
		if depth >= 1 {
			empty = false
		}
	}
	if !empty {
		n++
	}
	*c = elementCount(n)
	return nil
}

// Group key prefixes.
const (
	groupQueue  = "q/"
	groupArray  = "a/"
	groupNodes  = "m/"
	maxInterned = 100_000
)

// jobGroup holds the jobs ListJobs lists together.
type jobGroup struct {
	all      orderedSet
	byStatus [7]orderedSet // in batch.AllStatuses order
}

func statusSlot(s batch.JobStatus) int {
	for i, v := range batch.AllStatuses {
		if v == s {
			return i
		}
	}
	return -1
}

// jobIndex is the in-memory ListJobs index of one replica.
type jobIndex struct {
	mu       sync.RWMutex
	jobs     map[string]*jobEntry // by KV key (events.Token of the id)
	groups   map[string]*jobGroup
	interned map[string]string
	ready    chan struct{}
	// runnable holds the RUNNABLE jobs of each queue (children included),
	// by queue name: GetJobQueueSnapshot reads it.
	runnable map[string]*orderedSet
	// byResource holds the jobs that need each consumable resource, by
	// resource name, with the quantities they hold.
	byResource map[string]*resourceJobs
	// usage is the capacity the STARTING and RUNNING jobs of each queue
	// use, by queue name.
	usage map[string]*queueUsage
	// byQueue counts every job (children too) per queue name and status,
	// in batch.AllStatuses order: the jobs metric.
	byQueue map[string]*[7]int
	// held is the capacity the STARTING and RUNNING jobs hold, by host
	// id and by compute environment name.
	held heldCapacity
}

func newJobIndex() *jobIndex {
	return &jobIndex{jobs: map[string]*jobEntry{}, groups: map[string]*jobGroup{}, interned: map[string]string{}, ready: make(chan struct{}),
		runnable: map[string]*orderedSet{}, byResource: map[string]*resourceJobs{}, usage: map[string]*queueUsage{},
		byQueue: map[string]*[7]int{}, held: newHeldCapacity()}
}

// intern returns the shared copy of s (bounded, so unique strings such as
// free-text reasons cannot grow the table without limit).
func (x *jobIndex) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := x.interned[s]; ok {
		return v
	}
	if len(x.interned) < maxInterned {
		x.interned[s] = s
	}
	return s
}

// placement returns the group of a record and its array index.
func placement(r *jobRecord) (group string, index int32, child bool) {
	if i := strings.LastIndexAny(r.JobID, ":#"); i > 0 {
		n, _ := strconv.Atoi(r.JobID[i+1:])
		if r.JobID[i] == '#' {
			return groupNodes + r.JobID[:i], int32(n), true
		}
		return groupArray + r.JobID[:i], int32(n), true
	}
	return groupQueue + batch.QueueName(r.JobQueueName, r.JobQueue), 0, false
}

// put adds or updates the job stored under key, as recorded at time at
// (ms); r nil removes it.
func (x *jobIndex) put(key string, r *jobRecord, at int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.jobs[key]
	if r == nil {
		if e != nil {
			x.unlink(e)
			x.unlinkRunnable(e)
			x.unlinkResources(e)
			x.unlinkUsage(e)
			x.unlinkHosts(e)
			x.uncountQueue(e)
			delete(x.jobs, key)
		}
		return
	}
	runnableAt, vcpus, mem, gpus := at, int64(-1), int64(0), int32(0)
	if e != nil {
		vcpus, mem, gpus = e.vcpuMilli, e.memoryMiB, e.gpus
		x.unlinkRunnable(e)
		x.unlinkResources(e)
		x.unlinkUsage(e)
		x.unlinkHosts(e)
		x.uncountQueue(e)
		if e.status == batch.StatusRunnable && r.Status == batch.StatusRunnable && e.runnableAt != 0 {
			runnableAt = e.runnableAt
		}
	}
	group, idx, child := placement(r)
	id := r.JobID
	if id == key {
		id = key // share the map key's bytes
	}
	k := sortKey{createdAt: r.CreatedAt, seq: r.Seq, index: idx, id: id}
	moved := e == nil || e.key != k || e.group != group || e.status != r.Status
	if e == nil {
		e = &jobEntry{}
		x.jobs[key] = e
	} else if moved {
		x.unlink(e)
	}
	*e = jobEntry{
		key: k, group: x.intern(group), name: r.JobName, status: batch.JobStatus(x.intern(string(r.Status))),
		statusReason: x.intern(r.StatusReason), share: x.intern(r.ShareIdentifier), def: x.intern(r.JobDefinition),
		startedAt: r.StartedAt, stoppedAt: r.StoppedAt, child: child,
	}
	if e.name == "" {
		e.name = r.JobID
	}
	if c := r.Container; c != nil {
		e.reason = x.intern(c.Reason)
		if c.ExitCode != nil {
			e.exitCode, e.hasExitCode = int32(*c.ExitCode), true
		}
		e.vcpuMilli, e.memoryMiB, e.gpus = vcpus, mem, gpus
		if vcpus < 0 {
			e.vcpuMilli, e.memoryMiB, e.gpus = c.resources()
		}
	}
	if ecs := r.EcsProperties; ecs != nil && len(ecs.TaskProperties) > 0 {
		// A multi-container job needs the sum of its containers.
		e.vcpuMilli, e.memoryMiB, e.gpus = vcpus, mem, gpus
		if vcpus < 0 {
			e.vcpuMilli, e.memoryMiB, e.gpus = 0, 0, 0
			for i := range ecs.TaskProperties[0].Containers {
				v, m, g := ecs.TaskProperties[0].Containers[i].resources()
				e.vcpuMilli, e.memoryMiB, e.gpus = e.vcpuMilli+v, e.memoryMiB+m, e.gpus+g
			}
		}
	}
	if a := r.ArrayProperties; a != nil && !child {
		e.arraySize = int32(a.Size)
	}
	if n := r.NodeDetails; n != nil {
		e.node, e.mainNode = true, n.IsMainNode
	} else if n := r.NodeProperties; n != nil {
		e.numNodes = int32(n.NumNodes)
	}
	e.queue = x.intern(batch.QueueName(r.JobQueueName, r.JobQueue))
	if p := r.SchedulingPriority; p != nil {
		e.priority = int32(*p)
	}
	e.attempts = int32(r.Attempts)
	e.host, e.env = x.intern(r.HostID), x.intern(r.ComputeEnv)
	e.updatedAt = at
	if e.status == batch.StatusRunnable {
		e.runnableAt = runnableAt
	}
	if c := r.ConsumableResourceProperties; c != nil && len(c.ConsumableResourceList) > 0 {
		e.resources = c
	}
	if moved {
		x.link(e)
	}
	x.linkRunnable(e)
	x.linkResources(e)
	x.linkUsage(e)
	x.linkHosts(e)
	x.countQueue(e)
}

// countQueue adds the job to its queue's count of its status;
// uncountQueue takes it away.
func (x *jobIndex) countQueue(e *jobEntry) {
	i := statusSlot(e.status)
	if i < 0 {
		return
	}
	c := x.byQueue[e.queue]
	if c == nil {
		c = new([7]int)
		x.byQueue[e.queue] = c
	}
	c[i]++
}

func (x *jobIndex) uncountQueue(e *jobEntry) {
	i := statusSlot(e.status)
	c := x.byQueue[e.queue]
	if i < 0 || c == nil {
		return
	}
	c[i]--
	if *c == ([7]int{}) {
		delete(x.byQueue, e.queue)
	}
}

// queueCounts calls fn with the number of jobs of every queue that has
// jobs, per status in batch.AllStatuses order.
func (x *jobIndex) queueCounts(fn func(queue string, counts *[7]int)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for q, c := range x.byQueue {
		fn(q, c)
	}
}

func (x *jobIndex) link(e *jobEntry) {
	g := x.groups[e.group]
	if g == nil {
		g = &jobGroup{}
		x.groups[e.group] = g
	}
	g.all.insert(e)
	if i := statusSlot(e.status); i >= 0 {
		g.byStatus[i].insert(e)
	}
}

func (x *jobIndex) unlink(e *jobEntry) {
	g := x.groups[e.group]
	if g == nil {
		return
	}
	g.all.remove(e)
	if i := statusSlot(e.status); i >= 0 {
		g.byStatus[i].remove(e)
	}
	if g.all.len() == 0 {
		delete(x.groups, e.group)
	}
}

// has reports whether the job stored under key is known.
func (x *jobIndex) has(key string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.jobs[key] != nil
}

// count returns how many jobs of a group are in a status ("" = all).
func (x *jobIndex) count(group string, status batch.JobStatus) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.groups[group]
	if g == nil {
		return 0
	}
	if status == "" {
		return g.all.len()
	}
	if i := statusSlot(status); i >= 0 {
		return g.byStatus[i].len()
	}
	return 0
}

// listQuery says which jobs of a group to list and in what order.
type listQuery struct {
	group       string
	status      batch.JobStatus // "" = every status
	newestFirst bool
	cursor      *sortKey // continue after (or, newest first, before) this key
	limit       int
	match       func(*jobEntry) bool // nil = every job
	// done, newest first, ends the walk at the first job it reports: no
	// older job can match.
	done func(*jobEntry) bool
}

// list returns up to q.limit summaries and, when more jobs match, the key
// of the last one returned.
func (x *jobIndex) list(q listQuery) ([]batch.JobSummary, *sortKey) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := []batch.JobSummary{}
	g := x.groups[q.group]
	if g == nil {
		return out, nil
	}
	set := &g.all
	if q.status != "" {
		i := statusSlot(q.status)
		if i < 0 {
			return out, nil
		}
		set = &g.byStatus[i]
	}
	var last, next *sortKey
	visit := func(e *jobEntry) bool {
		if q.done != nil && q.done(e) {
			return false
		}
		if q.match != nil && !q.match(e) {
			return true
		}
		if len(out) == q.limit {
			next = last
			return false
		}
		out = append(out, e.summary())
		last = &e.key
		return true
	}
	if q.newestFirst {
		set.descend(q.cursor, visit)
	} else {
		set.ascend(q.cursor, visit)
	}
	return out, next
}

// waitReady waits until the index holds the initial content of the bucket.
func (x *jobIndex) waitReady(ctx context.Context) error {
	select {
	case <-x.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the job list is still loading: %w", ctx.Err())
	}
}

// watch keeps the index current from the jobs bucket until ctx is done.
func (x *jobIndex) watch(ctx context.Context, nc *nats.Conn, kv jetstream.KeyValue, wg *sync.WaitGroup, log *slog.Logger) error {
	loaded := func() {
		close(x.ready)
		log.Debug("job index loaded", "jobs", x.size())
	}
	return watchBucket(ctx, nc, kv, wg, log, loaded, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			x.put(e.Key(), nil, 0)
			return
		}
		var r jobRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil || r.JobID == "" {
			log.Warn("job index: skipping undecodable job record", "key", e.Key(), "err", err)
			return
		}
		x.put(e.Key(), &r, e.Created().UnixMilli())
	})
}

func (x *jobIndex) size() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.jobs)
}
