package plan

import (
	"cmp"
	"slices"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// usage sums what placed and running jobs hold per environment and host.
type usage struct {
	env  map[string]Milli
	cpu  map[string]Milli
	mem  map[string]int64
	gpus map[string]int
}

func (s *State) usage() usage {
	u := usage{env: map[string]Milli{}, cpu: map[string]Milli{}, mem: map[string]int64{}, gpus: map[string]int{}}
	for _, j := range s.Jobs {
		if !j.occupies() {
			continue
		}
		u.env[j.Env] += j.VCPU
		u.cpu[j.Host] += j.VCPU
		u.mem[j.Host] += j.MemoryMiB
		u.gpus[j.Host] += j.GPUs
	}
	return u
}

// Place decides which RUNNABLE jobs start now: queues by priority (higher
// first), jobs in submit order, environments in the queue's order, hosts
// with the most free vCPUs first. A job that does not fit does not block
// smaller ones behind it. It also returns the wait reasons that changed.
func (s *State) Place() ([]Placement, []Wait) {
	u := s.usage()
	queues := make([]*Queue, 0, len(s.Queues))
	for _, q := range s.Queues {
		queues = append(queues, q)
	}
	slices.SortFunc(queues, func(a, b *Queue) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	hosts := make([]*events.Host, 0, len(s.Hosts))
	for _, h := range s.Hosts {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b *events.Host) int { return cmp.Compare(a.ID, b.ID) })

	var places []Placement
	var waits []Wait
	for _, q := range queues {
		list := s.compact(q.Name)
		for _, j := range list {
			if j.Placed != 0 {
				continue
			}
			if p, ok := s.fit(q, j, hosts, &u); ok {
				j.Placed = p.Attempt
				j.Host, j.Env = p.Host, p.Env
				j.Reason = ""
				places = append(places, p)
				continue
			}
			if r := s.waitReason(q, j, hosts); r != j.Reason {
				j.Reason = r
				waits = append(waits, Wait{Job: j, Reason: r})
			}
		}
	}
	return places, waits
}

// compact drops the jobs that are no longer waiting and sorts the rest.
func (s *State) compact(queue string) []*Job {
	list := s.runnable[queue]
	kept := list[:0]
	for _, j := range list {
		if j.Status == batch.StatusRunnable && j.Placed == 0 && s.Jobs[j.ID] == j {
			kept = append(kept, j)
		} else {
			j.listed = false
		}
	}
	clear(list[len(kept):])
	if s.unsorted[queue] {
		slices.SortFunc(kept, func(a, b *Job) int { return cmp.Compare(a.Seq, b.Seq) })
		delete(s.unsorted, queue)
	}
	s.runnable[queue] = kept
	return kept
}

func (s *State) fit(q *Queue, j *Job, hosts []*events.Host, u *usage) (Placement, bool) {
	for _, name := range q.Envs {
		e := s.Envs[name]
		if e == nil || !e.Enabled {
			continue
		}
		if e.MaxVCPU > 0 && u.env[name]+j.VCPU > e.MaxVCPU {
			continue
		}
		var best *events.Host
		var bestFree Milli
		for _, h := range hosts {
			if !h.Serves(name) {
				continue
			}
			free := ToMilli(h.VCPUs) - u.cpu[h.ID]
			if free < j.VCPU || h.MemoryMiB-u.mem[h.ID] < j.MemoryMiB || h.GPUs-u.gpus[h.ID] < j.GPUs {
				continue
			}
			if best == nil || free > bestFree {
				best, bestFree = h, free
			}
		}
		if best == nil {
			continue
		}
		u.env[name] += j.VCPU
		u.cpu[best.ID] += j.VCPU
		u.mem[best.ID] += j.MemoryMiB
		u.gpus[best.ID] += j.GPUs
		return Placement{Job: j, Attempt: j.Attempts + 1, Host: best.ID, Env: name}, true
	}
	return Placement{}, false
}
