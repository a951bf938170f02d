package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/api/auth"
	"github.com/batchd/batchd/services/api/internal/dashboard"
)

// dashSource gives the dashboard what it shows, from this replica's
// mirrors and job index, and runs its actions through the operations.
type dashSource struct{ s *Server }

var _ dashboard.Source = dashSource{}

// Overview lists the queues (by priority, higher first) with their job
// counts, the compute environments with what their jobs hold and what is
// free, and the live hosts.
func (d dashSource) Overview(ctx context.Context) (*dashboard.Overview, error) {
	s := d.s
	if err := s.index.waitReady(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	out := &dashboard.Overview{Time: now.UnixMilli(), Queues: []dashboard.QueueView{}, Environments: []dashboard.EnvView{},
		Hosts: []dashboard.HostView{}}
	every := map[string][7]int{}
	s.index.queueCounts(func(q string, c *[7]int) { every[q] = *c })
	for _, e := range s.queues.list() {
		q := e.v
		v := dashboard.QueueView{Name: q.JobQueueName, State: q.State, Status: q.Status, StatusReason: q.StatusReason,
			Priority: q.Priority, MaxRunningJobs: q.MaxRunningJobs, Counts: map[batch.JobStatus]int{}, Environments: []string{}}
		if q.SchedulingPolicyArn != "" {
			v.SchedulingPolicy = batch.NameFromRef(batch.KindSchedulingPolicy, q.SchedulingPolicyArn)
		}
		order := slices.Clone(q.ComputeEnvironmentOrder)
		slices.SortStableFunc(order, func(a, b batch.ComputeEnvironmentOrder) int { return cmp.Compare(a.Order, b.Order) })
		for _, o := range order {
			v.Environments = append(v.Environments, batch.NameFromRef(batch.KindComputeEnvironment, o.ComputeEnvironment))
		}
		for st, n := range s.JobCounts(q.JobQueueName) {
			v.Counts[st] = n
		}
		// Every job of the queue less the listed ones: the array children.
		v.Children = map[batch.JobStatus]int{}
		if all, ok := every[q.JobQueueName]; ok {
			for i, st := range batch.AllStatuses {
				if n := all[i] - v.Counts[st]; n > 0 {
					v.Children[st] = n
				}
			}
		}
		out.Queues = append(out.Queues, v)
	}
	slices.SortStableFunc(out.Queues, func(a, b dashboard.QueueView) int { return cmp.Compare(b.Priority, a.Priority) })

	heldHost, heldEnv, hostJobs, envJobs := s.index.heldBy()
	var hosts []*events.Host
	for _, e := range s.hosts.list() {
		if e.v.Alive(now, bus.HostTTL) {
			hosts = append(hosts, e.v)
		}
	}
	for _, h := range hosts {
		size := batch.Resources{VCPUs: h.VCPUs, MemoryMiB: h.MemoryMiB, GPUs: h.GPUs}
		out.Hosts = append(out.Hosts, dashboard.HostView{ID: h.ID, Name: h.Name, Size: size, InUse: heldHost[h.ID],
			Free: size.Free(heldHost[h.ID]), Jobs: hostJobs[h.ID], Environments: h.ComputeEnvironments, HeartbeatAt: h.HeartbeatAt})
	}
	for _, e := range s.envs.list() {
		ce := e.v
		v := dashboard.EnvView{Name: ce.ComputeEnvironmentName, State: ce.State, Status: ce.Status, Type: ce.Type,
			MaxVCPUs: ce.Capacity(), InUse: heldEnv[ce.ComputeEnvironmentName], Jobs: envJobs[ce.ComputeEnvironmentName], Hosts: []string{}}
		var free batch.Resources
		for _, hv := range out.Hosts {
			if (events.Host{ComputeEnvironments: hv.Environments}).Serves(v.Name) {
				free = free.Add(hv.Free)
				v.Hosts = append(v.Hosts, hv.ID)
			}
		}
		v.Free = batch.EnvironmentFree(ce.State != stateDisabled, v.MaxVCPUs, v.InUse, free)
		out.Environments = append(out.Environments, v)
	}
	return out, nil
}

// Jobs lists a page of a queue's top-level jobs or an array's children,
// newest first, in one status or all, with the ListJobs filters.
func (d dashSource) Jobs(ctx context.Context, q dashboard.JobQuery) (*dashboard.JobPage, error) {
	s := d.s
	if err := s.index.waitReady(ctx); err != nil {
		return nil, err
	}
	lq := listQuery{status: q.Status, newestFirst: true, limit: q.Limit}
	switch {
	case q.Queue != "":
		lq.group = groupQueue + batch.NameFromRef(batch.KindJobQueue, q.Queue)
	case q.MultiNode != "":
		lq.group = groupNodes + q.MultiNode
	default:
		lq.group = groupArray + q.ArrayParent
	}
	var filters []batch.KeyValuesPair
	if q.NamePrefix != "" {
		filters = append(filters, batch.KeyValuesPair{Name: filterJobName, Values: []string{q.NamePrefix + "*"}})
	}
	if q.After > 0 {
		filters = append(filters, batch.KeyValuesPair{Name: filterAfterCreatedAt, Values: []string{strconv.FormatInt(q.After, 10)}})
	}
	if q.Before > 0 {
		filters = append(filters, batch.KeyValuesPair{Name: filterBeforeCreatedAt, Values: []string{strconv.FormatInt(q.Before, 10)}})
	}
	if err := applyFilters(&lq, &batch.ListJobsInput{Filters: filters}); err != nil {
		return nil, err
	}
	if q.Next != "" {
		k, err := decodeListToken(q.Next, true)
		if err != nil {
			return nil, err
		}
		if lq.cursor == nil || k.compare(*lq.cursor) < 0 {
			lq.cursor = &k
		}
	}
	jobs, next := s.index.list(lq)
	page := &dashboard.JobPage{Jobs: jobs, Total: -1}
	if next != nil {
		page.Next = encodeListToken(true, *next)
	}
	if len(filters) == 0 {
		page.Total = s.index.count(lq.group, q.Status)
	}
	return page, nil
}

// Job reads a job as DescribeJobs does.
func (d dashSource) Job(ctx context.Context, id string) (*batch.JobDetail, error) {
	if !validJobID(id) {
		return nil, nil
	}
	return d.s.lookupJob(ctx, id)
}

// Definition reads a job definition revision, ACTIVE or not.
func (d dashSource) Definition(ctx context.Context, ref string) (*batch.JobDefinition, error) {
	name, rev, ok := strings.Cut(batch.NameFromRef(batch.KindJobDefinition, ref), ":")
	n, err := strconv.Atoi(rev)
	if !ok || err != nil || !validName(name) {
		return nil, nil
	}
	def, err := d.s.defs.load(ctx, defKey(name, n))
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	return def, err
}

// Ready waits for the job index to load.
func (d dashSource) Ready(ctx context.Context) error { return d.s.index.waitReady(ctx) }

// StateTotals counts every job of the index by status.
func (d dashSource) StateTotals() [7]int {
	var out [7]int
	d.s.index.queueCounts(func(_ string, c *[7]int) {
		for i := range out {
			out[i] += c[i]
		}
	})
	return out
}

// FinishedSince walks the finished jobs of the index.
func (d dashSource) FinishedSince(ctx context.Context, since int64, fn func(int64, batch.JobStatus)) error {
	if err := d.s.index.waitReady(ctx); err != nil {
		return err
	}
	d.s.index.finishedSince(since, fn)
	return nil
}

// Invoke runs an operation as the HTTP API does.
func (d dashSource) Invoke(ctx context.Context, operation string, body []byte) (int, []byte) {
	o := d.s.byPath[strings.ToLower(operation)]
	if o == nil {
		e := &apiError{Type: unknownOperation, Status: http.StatusNotFound, Message: "unknown operation " + operation}
		return e.Status, errorBody(e)
	}
	out, err := o.invoke(ctx, d.s.log, body)
	if err != nil {
		e := toAPIError(err)
		return e.Status, errorBody(e)
	}
	return http.StatusOK, out
}

// finishedSince calls fn for every finished job (array parents excepted)
// that stopped at or after since (ms).
func (x *jobIndex) finishedSince(since int64, fn func(int64, batch.JobStatus)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, e := range x.jobs {
		if e.status.Final() && e.stoppedAt >= since && e.arraySize == 0 {
			fn(e.stoppedAt, e.status)
		}
	}
}

// dashGuard is the dashboard's access control: the api's authenticator
// and its sessions.
type dashGuard struct{ a *auth.Authenticator }

func (g dashGuard) Login(w http.ResponseWriter, r *http.Request, accessKeyID, secret string) error {
	_, err := g.a.Login(w, r, accessKeyID, secret)
	return err
}

func (g dashGuard) Session(r *http.Request) (*dashboard.Session, error) {
	p, err := g.a.Session(r)
	if err != nil || p == nil {
		return nil, dashboard.ErrNoSession
	}
	return &dashboard.Session{Principal: p.ARN(), Allowed: p.Allowed,
		Context: func(ctx context.Context) context.Context { return auth.WithPrincipal(ctx, p) }}, nil
}

func (g dashGuard) Logout(w http.ResponseWriter, r *http.Request) { g.a.Logout(w, r) }
