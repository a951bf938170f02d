package plan

import (
	"fmt"
	"strings"
)

// Every RUNNABLE job that is not placed has a reason, in plain words, so a
// user can tell waiting from stuck. Where AWS Batch has a code for the
// situation the reason starts with it ("CODE - words"); the others start
// with "Waiting for ...". A reason names the job's own needs and the
// limits that hold it, never counts that move as other jobs come and go,
// so it changes (and costs a record write) only when what holds the job
// changes. Checked in this order, the first that holds wins:
//
//  1. the queue is DISABLED or does not exist;
//  2. the job can never run here: no ENABLED environment
//     (ACTION_REQUIRED), more vCPUs than every environment's maxvCpus
//     (MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE), no host of the
//     environments large enough (MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT),
//     no host at all, a consumable resource that does not exist or is
//     smaller than the need;
//  3. a concurrency limit: the queue's, the share's, the array's
//     maxRunningJobs;
//  4. a consumable resource held by other jobs;
//  5. capacity: the fair-share computeReservation, or no room in the
//     queue's environments now.

// Codes AWS Batch uses for a blocked RUNNABLE job.
const (
	ReasonEnvMaxResource = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
	ReasonJobRequirement = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
	ReasonInvalidEnvs    = "ACTION_REQUIRED"
)

// Beginnings of the reasons AWS has no code for.
const (
	WaitQueue     = "Waiting for job queue"
	WaitHost      = "Waiting for a host"
	WaitLimit     = "Waiting for a concurrency limit"
	WaitResource  = "Waiting for consumable resource"
	WaitCapacity  = "Waiting for capacity"
	WaitFairShare = "Waiting for capacity held back by fair share"
)

func reasonQueueDisabled(queue string) string {
	return fmt.Sprintf("%s %s: the queue is DISABLED, its RUNNABLE jobs wait until it is ENABLED again.", WaitQueue, queue)
}

func reasonNoQueue(queue string) string {
	return fmt.Sprintf("%s %s: the queue does not exist.", WaitQueue, queue)
}

func reasonQueueLimit(q *Queue) string {
	return fmt.Sprintf("%s: job queue %s is at its maxRunningJobs limit of %d.", WaitLimit, q.Name, q.MaxRunning)
}

func reasonShareLimit(q *Queue, share string, max int) string {
	return fmt.Sprintf("%s: share identifier %s of job queue %s is at its maxRunningJobs limit of %d (scheduling policy %s).",
		WaitLimit, share, q.Name, max, q.Policy)
}

func reasonArrayLimit(array string, max int) string {
	return fmt.Sprintf("%s: array job %s is at its maxRunningJobs limit of %d.", WaitLimit, array, max)
}

func reasonReservation(q *Queue) string {
	return fmt.Sprintf("%s: scheduling policy %s of job queue %s keeps part of the queue's capacity free (computeReservation) for share identifiers that have no jobs yet.",
		WaitFairShare, q.Policy, q.Name)
}

// needs describes what a job asks of a host.
func needs(j *Job) string {
	if j.gang() {
		return fmt.Sprintf("its %d nodes (%s)", len(j.Nodes), nodeNeeds(j))
	}
	s := fmt.Sprintf("%g vCPUs and %d MiB of memory", j.VCPU.Float(), j.MemoryMiB)
	if j.GPUs > 0 {
		s = fmt.Sprintf("%g vCPUs, %d MiB of memory and %d GPUs", j.VCPU.Float(), j.MemoryMiB, j.GPUs)
	}
	return s
}

// staticReason says why a job can never run on the queue's environments
// and hosts as they are, "" when it fits an idle one.
func (s *State) staticReason(p *pass, q *Queue, j *Job) string {
	anyEnabled, envFits, served := false, false, false
	var off []string
	for _, name := range q.Envs {
		e := s.Envs[name]
		switch {
		case e == nil:
			off = append(off, name+" does not exist")
			continue
		case !e.Enabled:
			off = append(off, name+" is DISABLED")
			continue
		}
		anyEnabled = true
		if e.MaxVCPU != 0 && j.VCPU > e.MaxVCPU {
			continue
		}
		envFits = true
		for _, h := range p.hosts {
			if !h.Serves(name) {
				continue
			}
			served = true
			if j.VCPU <= ToMilli(h.VCPUs) && j.MemoryMiB <= h.MemoryMiB && j.GPUs <= h.GPUs {
				return ""
			}
		}
	}
	switch {
	case !anyEnabled:
		return fmt.Sprintf("%s - no compute environment of job queue %s is ENABLED (%s).", ReasonInvalidEnvs, q.Name, strings.Join(off, ", "))
	case !envFits:
		return fmt.Sprintf("%s - the job needs %g vCPUs, more than the maxvCpus of every ENABLED compute environment of job queue %s.",
			ReasonEnvMaxResource, j.VCPU.Float(), q.Name)
	case served:
		return fmt.Sprintf("%s - no host of the compute environments of job queue %s has %s.", ReasonJobRequirement, q.Name, needs(j))
	}
	return fmt.Sprintf("%s: no host serves the ENABLED compute environments of job queue %s yet.", WaitHost, q.Name)
}

// resourceReason says why a job cannot have its consumable resources: with
// busy false only what holds whatever other jobs do (a resource that does
// not exist or is too small), with busy true also the quantities held now.
func (s *State) resourceReason(p *pass, j *Job, busy bool) string {
	for _, n := range j.Needs {
		r := s.Resources[n.Resource]
		switch {
		case r == nil:
			return fmt.Sprintf("%s %s: it does not exist.", WaitResource, n.Resource)
		case n.Quantity > r.Total:
			return fmt.Sprintf("%s %s: the job needs %d, more than its totalQuantity of %d.", WaitResource, n.Resource, n.Quantity, r.Total)
		case !busy:
		case !r.Replenishable && j.consumed():
			// Consumed by an earlier attempt.
		case p.resources[n.Resource]+n.Quantity > r.Total:
			held := "running jobs hold"
			if !r.Replenishable {
				held = "jobs have consumed"
			}
			return fmt.Sprintf("%s %s: the job needs %d of its totalQuantity of %d, and %s too much of it.",
				WaitResource, n.Resource, n.Quantity, r.Total, held)
		}
	}
	return ""
}

// capacityReason says which environments have no room for a job now.
func (s *State) capacityReason(q *Queue, j *Job) string {
	var full, off []string
	for _, name := range q.Envs {
		switch e := s.Envs[name]; {
		case e == nil:
			off = append(off, name+" does not exist")
		case !e.Enabled:
			off = append(off, name+" is DISABLED")
		default:
			full = append(full, name)
		}
	}
	envs := "compute environment " + full[0]
	if len(full) > 1 {
		envs = "compute environments " + strings.Join(full, ", ")
	}
	r := fmt.Sprintf("%s: no room for %s in %s of job queue %s", WaitCapacity, needs(j), envs, q.Name)
	if len(off) > 0 {
		r += " (" + strings.Join(off, ", ") + ")"
	}
	return r + "."
}
