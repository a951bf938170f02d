// Package scheduler decides when jobs run. It watches the job records, the
// queues, the compute environments, the live hosts, the scheduling
// policies and the consumable resources in their buckets, keeps them in a
// plan.State, and publishes its decisions on the jobs stream: JobGated
// (SUBMITTED/PENDING to RUNNABLE, PENDING or FAILED when a dependency
// failed), JobPlaced (a RUNNABLE job's next attempt on a host, with the
// resolved container) and JobWaiting (why a RUNNABLE job waits, when that
// changed). It never writes a job record; the monitor applies its
// decisions.
//
// Decisions are event-driven: every change it sees triggers a pass, with
// changes that arrive together handled in one pass, and a pass places
// nothing new unless something changed that could allow it (plan.State
// Settled). It decides nothing until every bucket's current values are
// loaded. Any number of replicas can run: the one holding the lease in the
// batch_scheduler bucket decides (lease.go), the others keep their state
// current and take over within a few seconds of its loss (handover.go).
package scheduler
