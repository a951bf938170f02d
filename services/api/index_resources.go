package api

import (
	"github.com/batchd/batchd/pkg/batch"
)

// The consumable resource part of the job index: for each resource, the
// jobs that need it (in submit order) and the quantity they hold under
// each holding rule. The rule is the one in the ConsumableResourceDetail
// doc comment (pkg/batch/contract.go), which the scheduler applies too.

// resourceJobs are the jobs that need one consumable resource.
type resourceJobs struct {
	jobs orderedSet
	// held is the quantity held by the jobs if the resource is
	// REPLENISHABLE, heldForGood if it is NON_REPLENISHABLE.
	held, heldForGood int64
}

// holdsReplenishable and holdsNonReplenishable apply the holding rule of
// pkg/batch to an entry.
func holdsReplenishable(status batch.JobStatus) bool {
	return batch.HoldsResource(batch.ResourceReplenishable, status, 0, false)
}

func holdsNonReplenishable(status batch.JobStatus, attempts int) bool {
	return batch.HoldsResource(batch.ResourceNonReplenishable, status, attempts, false)
}

// resourceName is the name of a resource given by name or ARN.
func resourceName(ref string) string { return batch.NameFromRef(batch.KindConsumableResource, ref) }

// eachResource calls fn with each resource the entry needs and its quantity.
func (e *jobEntry) eachResource(fn func(name string, quantity int64)) {
	if e.resources == nil {
		return
	}
	for _, r := range e.resources.ConsumableResourceList {
		fn(resourceName(r.ConsumableResource), r.Quantity)
	}
}

// linkResources adds e to the resources it needs. Called under x.mu.
func (x *jobIndex) linkResources(e *jobEntry) {
	e.eachResource(func(name string, q int64) {
		rj := x.byResource[name]
		if rj == nil {
			rj = &resourceJobs{}
			x.byResource[name] = rj
		}
		rj.jobs.insert(e)
		if holdsReplenishable(e.status) {
			rj.held += q
		}
		if holdsNonReplenishable(e.status, int(e.attempts)) {
			rj.heldForGood += q
		}
	})
}

// unlinkResources removes e from the resources it needs. Called under x.mu.
func (x *jobIndex) unlinkResources(e *jobEntry) {
	e.eachResource(func(name string, q int64) {
		rj := x.byResource[name]
		if rj == nil || !rj.jobs.remove(e) {
			return
		}
		if holdsReplenishable(e.status) {
			rj.held -= q
		}
		if holdsNonReplenishable(e.status, int(e.attempts)) {
			rj.heldForGood -= q
		}
		if rj.jobs.len() == 0 {
			delete(x.byResource, name)
		}
	})
}

// inUse returns the quantity of a resource the jobs hold, for its type.
func (x *jobIndex) inUse(name, resourceType string) int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	rj := x.byResource[name]
	if rj == nil {
		return 0
	}
	if resourceType == batch.ResourceNonReplenishable {
		return rj.heldForGood
	}
	return rj.held
}

// resourceQuery says which jobs needing a resource to list.
type resourceQuery struct {
	resource string
	cursor   *sortKey
	limit    int
	match    func(*jobEntry) bool // nil = every job
}

// listByResource returns up to q.limit jobs that need the resource, oldest
// first, and the key of the last one when more match.
func (x *jobIndex) listByResource(q resourceQuery) ([]batch.ConsumableResourceJobSummary, *sortKey) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := []batch.ConsumableResourceJobSummary{}
	rj := x.byResource[q.resource]
	if rj == nil {
		return out, nil
	}
	var last, next *sortKey
	rj.jobs.ascend(q.cursor, func(e *jobEntry) bool {
		if q.match != nil && !q.match(e) {
			return true
		}
		if len(out) == q.limit {
			next = last
			return false
		}
		var quantity int64
		e.eachResource(func(name string, n int64) {
			if name == q.resource {
				quantity += n
			}
		})
		out = append(out, batch.ConsumableResourceJobSummary{
			JobArn: batch.ARN(batch.KindJob, e.key.id), JobQueueArn: batch.ARN(batch.KindJobQueue, e.queue),
			JobName: e.name, JobDefinitionArn: e.def, ShareIdentifier: e.share, JobStatus: e.status,
			Quantity: quantity, StatusReason: e.statusReason, StartedAt: e.startedAt, CreatedAt: e.key.createdAt,
			ConsumableResourceProperties: e.resources,
		})
		last = &e.key
		return true
	})
	return out, next
}
