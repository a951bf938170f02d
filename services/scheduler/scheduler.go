package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/scheduler/internal/plan"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/encoding/json"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Config configures the scheduler.
type Config struct {
	// ReplicaID names this replica in the lease (default: host, process
	// id and a random part).
	ReplicaID string
	// HostLostAfter is how long a host may be silent before it is lost and
	// its attempts fail (hostloss.go); 0: DefaultHostLostAfter.
	HostLostAfter time.Duration
}

// DefaultConfig returns the configuration used by batchd.
func DefaultConfig() Config {
	return Config{HostLostAfter: DefaultHostLostAfter}
}

// Deps are the scheduler's connections.
type Deps struct {
	NATS   *nats.Conn
	Logger *slog.Logger
	Clock  func() time.Time
}

type scheduler struct {
	log        *slog.Logger
	clock      func() time.Time
	js         jetstream.JetStream
	jobs       jetstream.KeyValue
	jobsStream jetstream.Stream
	sched      jetstream.KeyValue // the lease and the fair-share usage
	state      *plan.State
	// lease is what the lease loop holds; epoch the epoch this replica
	// took over at (decides only while they agree); lastSave when the
	// fair-share usage was last saved.
	lease    atomic.Pointer[leaseView]
	epoch    uint64
	lastSave time.Time
	tracer   trace.Tracer
	loss     *hostLoss
	hosts    jetstream.KeyValue
	// order holds back the records of jobs submitted after one not
	// recorded yet (horizon.go).
	order *horizon
	// snapshots asks the loop, which alone touches state, for the
	// capacity of the compute environments (the capacity metrics).
	snapshots chan chan map[string]plan.EnvCapacity
}

// update is a change of a bucket (a nil entry: the end of its initial
// values) or a submit heard (bucket submitsFeed).
type update struct {
	bucket string
	entry  jetstream.KeyValueEntry
	submit *heardSubmitMsg
}

// Run schedules until ctx ends.
func Run(ctx context.Context, cfg Config, d Deps) error {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	js, err := bus.JetStream(d.NATS)
	if err != nil {
		return fmt.Errorf("scheduler: jetstream: %w", err)
	}
	if err := bus.AwaitStreams(ctx, js, d.Logger); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	kvs, err := bus.Buckets(ctx, js, events.BucketJobs, events.BucketQueues, events.BucketEnvs, events.BucketHosts,
		events.BucketPolicies, events.BucketResources)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	sched, err := js.KeyValue(ctx, events.BucketScheduler)
	if err != nil {
		return fmt.Errorf("scheduler: open bucket %s: %w", events.BucketScheduler, err)
	}
	jobsStream, err := js.Stream(ctx, events.StreamJobs)
	if err != nil {
		return fmt.Errorf("scheduler: stream %s: %w", events.StreamJobs, err)
	}
	s := &scheduler{log: d.Logger.With("service", "scheduler"), clock: d.Clock, js: js, jobs: kvs[events.BucketJobs],
		jobsStream: jobsStream, sched: sched,
		state: plan.NewState(), tracer: telemetry.Tracer("scheduler"), snapshots: make(chan chan map[string]plan.EnvCapacity)}
	s.state.Clock = d.Clock
	s.loss, s.hosts = newHostLoss(cfg.HostLostAfter), kvs[events.BucketHosts]
	s.order = newHorizon(RecordLagLimit)
	reg, err := s.registerMetrics()
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	defer func() { _ = reg.Unregister() }()

	updates := make(chan update, 4096)
	for name, kv := range kvs {
		w := bus.Watch(ctx, d.NATS, kv)
		go func() {
			for e := range w {
				select {
				case updates <- update{bucket: name, entry: e}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go feedSubmits(ctx, js, jobsStream, d.Clock().Add(-RecordLagLimit), updates, s.log)
	// One replica decides at a time: the lease holder.
	holder := cfg.ReplicaID
	if holder == "" {
		holder = holderID()
	}
	l := newLease(kvLease{js: js, kv: sched}, holder, d.Clock)
	acquired := make(chan uint64, 1)
	lctx, stopLease := context.WithCancel(ctx)
	leaseDone := make(chan struct{})
	go func() { defer close(leaseDone); keepLease(lctx, l, &s.lease, acquired) }()
	defer func() {
		// A clean stop hands over at once: usage saved, lease released.
		stopLease()
		<-leaseDone
		if s.decides() {
			s.saveUsage(context.WithoutCancel(ctx))
		}
		s.lease.Store(nil)
		l.release(context.WithoutCancel(ctx))
	}()
	s.log.Info("scheduler started", "holder", holder)
	// No decision before every bucket's current values are in: a pass
	// over jobs whose queues are not known yet would publish wrong wait
	// reasons.
	loading := len(kvs) + 1 // and the submits feed
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastRotate := s.clock()
	var pendingEpoch uint64 // acquired before the buckets were loaded
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			s.pruneHosts()
			if now := s.clock(); now.Sub(lastRotate) >= RecordLagLimit {
				s.order.rotate()
				lastRotate = now
			}
			if late := s.order.overdue(s.clock()); len(late) > 0 {
				s.log.Warn("job records held for the submit order too long: placing them without it",
					"jobs", len(late), "first", late[0].ID, "waited", RecordLagLimit)
				for _, j := range late {
					s.upsert(j)
				}
			}
			if s.decides() && s.clock().Sub(s.lastSave) >= UsageSaveInterval {
				s.saveUsage(ctx)
			}
			if loading <= 0 && s.decides() {
				s.declareLost(ctx)
			}
		case epoch := <-acquired:
			pendingEpoch = epoch
		case reply := <-s.snapshots:
			reply <- s.state.Capacity()
			continue // nothing changed
		case u := <-updates:
			if s.apply(u) {
				loading--
			}
		drain:
			for i := 0; i < 10000; i++ {
				select {
				case u := <-updates:
					if s.apply(u) {
						loading--
					}
				default:
					break drain
				}
			}
		}
		s.releaseHeld()
		if loading > 0 {
			continue
		}
		if pendingEpoch != 0 {
			s.takeover(ctx, pendingEpoch)
			pendingEpoch = 0
		}
		if s.decides() {
			s.pass(ctx)
		} else if s.epoch != 0 {
			if v := s.lease.Load(); v == nil || v.epoch != s.epoch {
				s.log.Warn("scheduler lease lost: standing by", "epoch", s.epoch)
				s.epoch = 0
			}
		}
	}
}

// apply folds one bucket change into the state. A nil entry marks the end
// of a watcher's initial values; apply reports it.
func (s *scheduler) apply(u update) (loaded bool) {
	if u.bucket == submitsFeed {
		if u.submit.job == "" { // caught up
			s.order.heardUpTo(u.submit.seq)
			return true
		}
		s.order.submitted(u.submit.job, u.submit.seq, s.clock())
		return false
	}
	e := u.entry
	if e == nil {
		return true
	}
	deleted := e.Operation() != jetstream.KeyValuePut
	st := s.state
	if u.bucket != events.BucketJobs && u.bucket != events.BucketHosts {
		st.Touch()
	}
	switch u.bucket {
	case events.BucketJobs:
		if deleted {
			s.order.forget(events.JobFromToken(e.Key()))
			st.Remove(e.Key())
			return false
		}
		rec, err := decodeRecord(e.Value())
		if err != nil {
			s.log.Error("bad job record", "key", e.Key(), "err", err)
			return false
		}
		pj := planJob(&rec)
		s.order.recorded(pj.ID)
		if _, known := st.Jobs[pj.ID]; !known {
			if s.order.holds(pj.ID) || behind(&pj, s.order.limit()) {
				s.order.hold(pj, s.clock())
				return false
			}
		}
		s.upsert(pj)
	case events.BucketQueues:
		if deleted {
			delete(st.Queues, e.Key())
			return false
		}
		var q batch.JobQueueDetail
		if err := json.Unmarshal(e.Value(), &q); err != nil {
			s.log.Error("bad queue", "key", e.Key(), "err", err)
			return false
		}
		st.Queues[q.JobQueueName] = planQueue(&q)
	case events.BucketEnvs:
		if deleted {
			delete(st.Envs, e.Key())
			return false
		}
		var ce batch.ComputeEnvironmentDetail
		if err := json.Unmarshal(e.Value(), &ce); err != nil {
			s.log.Error("bad compute environment", "key", e.Key(), "err", err)
			return false
		}
		st.Envs[ce.ComputeEnvironmentName] = &plan.Env{Name: ce.ComputeEnvironmentName,
			Enabled: ce.State != "DISABLED", MaxVCPU: plan.ToMilli(ce.Capacity())}
	case events.BucketHosts:
		if deleted {
			delete(st.Hosts, e.Key())
			st.Touch()
			return false
		}
		var h events.Host
		if err := json.Unmarshal(e.Value(), &h); err != nil {
			s.log.Error("bad host", "key", e.Key(), "err", err)
			return false
		}
		// A heartbeat that changes only its time changes no decision.
		if old := st.Hosts[h.ID]; old == nil || old.VCPUs != h.VCPUs || old.MemoryMiB != h.MemoryMiB ||
			old.GPUs != h.GPUs || !slices.Equal(old.ComputeEnvironments, h.ComputeEnvironments) {
			st.Touch()
		}
		st.Hosts[h.ID] = &h
		s.loss.heartbeat(h.ID, s.clock())
	case events.BucketPolicies:
		if deleted {
			delete(st.Policies, e.Key())
			return false
		}
		var p batch.SchedulingPolicyDetail
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			s.log.Error("bad scheduling policy", "key", e.Key(), "err", err)
			return false
		}
		st.Policies[p.Name] = planPolicy(&p)
	case events.BucketResources:
		if deleted {
			delete(st.Resources, e.Key())
			return false
		}
		var r batch.ConsumableResourceDetail
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			s.log.Error("bad consumable resource", "key", e.Key(), "err", err)
			return false
		}
		st.Resources[r.ConsumableResourceName] = &plan.Resource{Name: r.ConsumableResourceName, Total: r.TotalQuantity,
			Replenishable: r.ResourceType != batch.ResourceNonReplenishable}
	}
	return false
}

func planJob(rec *batch.JobDetail) plan.Job {
	j := plan.Job{ID: rec.JobID, Trace: rec.TraceParent, Queue: rec.QueueName(), Seq: rec.Seq, Status: rec.Status,
		Attempts: len(rec.Attempts), Host: rec.HostID, Env: rec.ComputeEnvironmentName}
	r := rec.Resources() // a container's, or the sum of a task's containers
	j.VCPU, j.MemoryMiB, j.GPUs = plan.ToMilli(r.VCPUs), r.MemoryMiB, r.GPUs
	j.DependsOn, j.DependsAny = plan.ResolveDependencies(rec.JobID, rec.ArrayProperties, rec.DependsOn)
	if rec.IsArrayParent() {
		j.ArraySize = rec.ArrayProperties.Size
	}
	j.Share = rec.ShareIdentifier
	if rec.SchedulingPriority != nil {
		j.Priority = *rec.SchedulingPriority
	}
	if a := rec.ArrayProperties; a != nil && a.Index != nil {
		j.ArrayMax = a.MaxRunningJobs
	}
	if c := rec.ConsumableResourceProperties; c != nil {
		for _, r := range c.ConsumableResourceList {
			j.Needs = append(j.Needs, plan.Need{Resource: batch.NameFromRef(batch.KindConsumableResource, r.ConsumableResource),
				Quantity: r.Quantity})
		}
	}
	if rec.Status == batch.StatusRunnable {
		j.Reason = rec.StatusReason
	}
	planNodes(rec, &j)
	return j
}

func planPolicy(p *batch.SchedulingPolicyDetail) *plan.Policy {
	pp := &plan.Policy{Name: p.Name}
	if f := p.FairsharePolicy; f != nil {
		pp.DecaySeconds, pp.Reservation = f.ShareDecaySeconds, f.ComputeReservation
		for _, a := range f.ShareDistribution {
			pp.Shares = append(pp.Shares, plan.ShareRule{ID: a.ShareIdentifier, Weight: a.WeightFactor, MaxRunning: a.MaxRunningJobs})
		}
	}
	return pp
}

func planQueue(q *batch.JobQueueDetail) *plan.Queue {
	pq := &plan.Queue{Name: q.JobQueueName, Enabled: q.State != "DISABLED", Priority: q.Priority,
		MaxRunning: q.MaxRunningJobs}
	if q.SchedulingPolicyArn != "" {
		pq.Policy = batch.NameFromRef(batch.KindSchedulingPolicy, q.SchedulingPolicyArn)
	}
	order := slices.Clone(q.ComputeEnvironmentOrder)
	slices.SortStableFunc(order, func(a, b batch.ComputeEnvironmentOrder) int { return cmp.Compare(a.Order, b.Order) })
	for _, o := range order {
		pq.Envs = append(pq.Envs, batch.NameFromRef(batch.KindComputeEnvironment, o.ComputeEnvironment))
	}
	return pq
}

// upsert folds a job record into the plan.
func (s *scheduler) upsert(pj plan.Job) {
	s.state.Upsert(pj)
	s.loss.job(&pj, s.clock())
}

// releaseHeld folds in the held records that the horizon has passed, in
// submit order, and logs the submits it stopped waiting for.
func (s *scheduler) releaseHeld() {
	for _, e := range s.order.expire(s.clock()) {
		s.log.Warn("a submitted job has no record yet: the jobs submitted after it no longer wait for it",
			"job_id", e.job, "sequence", e.seq, "waited", RecordLagLimit)
	}
	for _, j := range s.order.release(s.order.limit()) {
		s.upsert(j)
	}
}

// pruneHosts forgets hosts whose launcher stopped sending heartbeats.
func (s *scheduler) pruneHosts() {
	now := s.clock()
	for id, h := range s.state.Hosts {
		if !h.Alive(now, bus.HostTTL) {
			s.log.Warn("host lost", "host", id)
			delete(s.state.Hosts, id)
			s.state.Touch()
		}
	}
}

// pass makes and publishes every decision the state allows. Each message
// about a job carries the job's trace: a gate and a placement in a span of
// their own ("scheduler.gate", "scheduler.place", children of the job's
// SubmitJob span), a wait reason in the SubmitJob span's context.
func (s *scheduler) pass(ctx context.Context) {
	now := s.clock().UnixMilli()
	var sent []sentDecision
	// publish stores a decision; undo takes it back when it cannot be
	// stored, so that the next pass makes it again (nothing waits for a
	// restart).
	publish := func(ctx context.Context, ev events.Event, undo func()) {
		f, err := bus.PublishAsync(ctx, s.js, ev)
		if err != nil {
			s.log.ErrorContext(ctx, "publish; decided again next pass", "subject", ev.Subject(), "err", err)
			undo()
			return
		}
		sent = append(sent, sentDecision{f, undo})
	}
	gates := s.state.Gates()
	// The placement part runs before the gates are published (it sees the
	// jobs they make RUNNABLE), so that a job gated RUNNABLE and not
	// placed carries its wait reason in its gate: one fact and one record
	// write instead of two.
	var places []plan.Placement
	var waits []plan.Wait
	if !s.state.Settled() {
		places, waits = s.state.Place()
	}
	reasons := map[*plan.Job]string{}
	for _, g := range gates {
		if g.Status == batch.StatusRunnable {
			reasons[g.Job] = ""
		}
	}
	if len(reasons) > 0 {
		kept := waits[:0]
		for _, w := range waits {
			if _, gated := reasons[w.Job]; gated {
				reasons[w.Job] = w.Reason
				continue
			}
			kept = append(kept, w)
		}
		waits = kept
	}
	var ungated []plan.Gate
	for _, g := range gates {
		jctx, span := s.tracer.Start(telemetry.WithTraceParent(ctx, g.Job.Trace), "scheduler.gate",
			trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(telemetry.JobID(g.Job.ID),
				attribute.String("batch.status", string(g.Status))))
		reason := g.Reason
		if g.Status == batch.StatusRunnable {
			reason = reasons[g.Job]
		}
		ev := events.JobGated{JobID: g.Job.ID, Status: g.Status, Reason: reason, Time: now}
		publish(jctx, ev, func() { ungated = append(ungated, g) })
		span.End()
	}
	if len(gates) > 0 {
		// A job is placed only once its gate is stored: a placement the
		// monitor received before the gate would change nothing.
		s.flush(ctx, sent)
		sent = sent[:0]
	}
	for _, g := range ungated {
		// Not stored: neither the gate nor what the pass decided after it
		// (its placement, its wait reason) stands; the next pass decides
		// again.
		if g.Job.Placed != 0 {
			s.state.Unplace(g.Job)
		}
		if _, ok := reasons[g.Job]; ok {
			g.Job.Reason = ""
		}
		s.state.Ungate(g)
	}
	if len(ungated) > 0 {
		kept := places[:0]
		for _, p := range places {
			if p.Job.Placed != 0 {
				kept = append(kept, p)
			}
		}
		places = kept
	}
	recs := s.fetchRecords(ctx, places)
	for i, p := range places {
		if !s.leaseValid() {
			// The lease ran out during the pass: the next holder decides.
			for _, p := range places[i:] {
				s.state.Unplace(p.Job)
			}
			break
		}
		jctx, span := s.tracer.Start(telemetry.WithTraceParent(ctx, p.Job.Trace), "scheduler.place",
			trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(telemetry.JobID(p.Job.ID),
				telemetry.Attempt(p.Attempt), attribute.String("batch.host", p.Host), attribute.String("batch.compute_environment", p.Env)))
		if len(p.Nodes) > 0 {
			job := p.Job
			publish(jctx, s.gangPlacement(p, now), func() { s.state.Unplace(job) })
			s.log.DebugContext(jctx, "placed nodes", telemetry.LogJobID, p.Job.ID, "attempt", p.Attempt, "nodes", len(p.Nodes), "env", p.Env)
			span.End()
			continue
		}
		ev, err := s.placement(jctx, p, recs[i], now)
		if err != nil {
			s.log.ErrorContext(jctx, "placement", telemetry.LogJobID, p.Job.ID, "err", err)
			span.SetStatus(codes.Error, err.Error())
			span.End()
			s.state.Unplace(p.Job)
			continue
		}
		job := p.Job
		publish(jctx, ev, func() { s.state.Unplace(job) })
		s.log.DebugContext(jctx, "placed", telemetry.LogJobID, p.Job.ID, "attempt", p.Attempt, "host", p.Host, "env", p.Env)
		span.End()
	}
	for _, w := range waits {
		ev := events.JobWaiting{JobID: w.Job.ID, Attempt: w.Job.Attempts + 1, Reason: w.Reason}
		job := w.Job
		publish(telemetry.WithTraceParent(ctx, w.Job.Trace), ev, func() {
			job.Reason = "" // say it again next pass
			s.state.Touch()
		})
	}
	s.flush(ctx, sent)
}

// sentDecision is a decision published and not yet acknowledged, and how
// to take it back should it not be stored.
type sentDecision struct {
	f    jetstream.PubAckFuture
	undo func()
}

// flush waits for the acknowledgements of a pass's publications; a
// decision that was not stored is taken back, to be made again.
func (s *scheduler) flush(ctx context.Context, decisions []sentDecision) {
	for _, d := range decisions {
		select {
		case ack := <-d.f.Ok():
			if typ := d.f.Msg().Header.Get(events.HeaderType); ack.Duplicate && (typ == events.TypeJobPlaced || typ == events.TypeJobNodesPlaced) {
				s.duplicate(ctx, ack)
			}
		case err := <-d.f.Err():
			s.log.Error("publish failed; decided again next pass", "subject", d.f.Msg().Subject, "err", err)
			d.undo()
		case <-ctx.Done():
			return
		}
	}
}

// arraySize is the size of the array a child belongs to: from the
// planner's view of the parent, else from the parent's record.
func (s *scheduler) arraySize(ctx context.Context, childID string) int {
	parent, _, ok := batch.ArrayParentOf(childID)
	if !ok {
		return 0
	}
	if pj := s.state.Jobs[parent]; pj != nil && pj.ArraySize > 0 {
		return pj.ArraySize
	}
	var rec batch.JobDetail
	if _, err := bus.GetJSON(ctx, s.jobs, events.Token(parent), &rec); err != nil || rec.ArrayProperties == nil {
		return 0
	}
	return rec.ArrayProperties.Size
}

// placement builds the launch order of an attempt from the job record.
func (s *scheduler) placement(ctx context.Context, p plan.Placement, rec fetched, now int64) (events.JobPlaced, error) {
	if rec.err != nil {
		if errors.Is(rec.err, jetstream.ErrKeyNotFound) {
			return events.JobPlaced{}, fmt.Errorf("job %s has no record", p.Job.ID)
		}
		return events.JobPlaced{}, rec.err
	}
	var extra map[string]string
	if a := rec.ArrayProperties; a != nil && a.Index != nil {
		if size := s.arraySize(ctx, rec.JobID); size > 0 {
			extra = map[string]string{"AWS_BATCH_JOB_ARRAY_SIZE": strconv.Itoa(size)}
		}
	}
	return events.PlacementOf(rec.JobDetail, p.Attempt, p.Host, p.Env, p.Job.Queue, extra, now), nil
}
