package api

import (
	"cmp"
	"maps"
	"slices"

	"github.com/batchd/batchd/pkg/batch"
)

// The capacity part of the job index: the vCPUs the STARTING and RUNNING
// jobs of each queue use, in total and by share identifier, for
// GetJobQueueSnapshot's queueUtilization. Children of array jobs count
// (they are the ones that run).

// queueUsage is the capacity the running jobs of one queue use.
type queueUsage struct {
	vcpuMilli int64
	byShare   map[string]int64 // thousandths of vCPUs, by share identifier
	jobs      int
	updatedAt int64
}

// usesCapacity reports whether a job in this status holds capacity.
func usesCapacity(s batch.JobStatus) bool { return s.HoldsCapacity() }

// linkUsage adds the capacity of a STARTING or RUNNING e to its queue.
// Called under x.mu.
func (x *jobIndex) linkUsage(e *jobEntry) {
	if !usesCapacity(e.status) || e.queue == "" {
		return
	}
	u := x.usage[e.queue]
	if u == nil {
		u = &queueUsage{byShare: map[string]int64{}}
		x.usage[e.queue] = u
	}
	u.vcpuMilli += e.vcpuMilli
	u.jobs++
	if e.share != "" {
		u.byShare[e.share] += e.vcpuMilli
	}
	u.updatedAt = max(u.updatedAt, e.updatedAt)
}

// unlinkUsage removes the capacity of e from its queue. Called under x.mu.
func (x *jobIndex) unlinkUsage(e *jobEntry) {
	if !usesCapacity(e.status) {
		return
	}
	u := x.usage[e.queue]
	if u == nil {
		return
	}
	u.vcpuMilli -= e.vcpuMilli
	u.jobs--
	if e.share != "" {
		if u.byShare[e.share] -= e.vcpuMilli; u.byShare[e.share] <= 0 {
			delete(u.byShare, e.share)
		}
	}
	if u.jobs <= 0 {
		delete(x.usage, e.queue)
	}
}

// maxTopShares is how many shares queueUtilization lists (AWS: the top 20).
const maxTopShares = 20

// queueUtilization is the capacity a queue's running jobs use: in total
// and, for a fair-share queue, for the (at most 20) shares using the most.
func (x *jobIndex) queueUtilization(queue string, fairShare bool, now int64) *batch.QueueUtilization {
	x.mu.RLock()
	defer x.mu.RUnlock()
	u := x.usage[queue]
	out := &batch.QueueUtilization{TotalCapacityUsage: []batch.CapacityUsage{{CapacityUnit: batch.ResourceVCPU, Quantity: 0}}, LastUpdatedAt: now}
	if u != nil {
		out.TotalCapacityUsage[0].Quantity = float64(u.vcpuMilli) / 1000
		out.LastUpdatedAt = max(u.updatedAt, 1)
	}
	if !fairShare {
		return out
	}
	fs := &batch.FairshareUtilization{TopCapacityUtilization: []batch.ShareCapacityUtilization{}}
	out.FairshareUtilization = fs
	if u == nil {
		return out
	}
	shares := slices.Collect(maps.Keys(u.byShare))
	slices.SortFunc(shares, func(a, b string) int {
		if c := cmp.Compare(u.byShare[b], u.byShare[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	fs.ActiveShareCount = int64(len(shares))
	for _, sh := range shares[:min(maxTopShares, len(shares))] {
		fs.TopCapacityUtilization = append(fs.TopCapacityUtilization, batch.ShareCapacityUtilization{
			ShareIdentifier: sh, CapacityUsage: []batch.CapacityUsage{{CapacityUnit: batch.ResourceVCPU, Quantity: float64(u.byShare[sh]) / 1000}},
		})
	}
	return out
}
