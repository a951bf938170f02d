package plan

import (
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

// What one scheduler replica hands over to the next when the lease moves:
// its fair-share usage, and the placements it published that the job
// records do not show yet.

// ShareUsage is the decayed fair-share usage of one share of one queue.
type ShareUsage struct {
	Queue, Share string
	Usage        Milli // decayed average of the vCPUs held
	Held         Milli // vCPUs held at At
	At           time.Time
}

// Usage returns the fair-share usage of every share, brought forward to
// the last pass.
func (s *State) Usage() []ShareUsage {
	var out []ShareUsage
	for q, uses := range s.usage {
		for share, u := range uses {
			out = append(out, ShareUsage{Queue: q, Share: share, Usage: Milli(u.avg), Held: u.held, At: u.at})
		}
	}
	return out
}

// RestoreUsage replaces the fair-share usage with what another replica
// (or this one before a restart) saved. The usage decays from its At, as
// though the share had held Held since then.
func (s *State) RestoreUsage(us []ShareUsage) {
	s.usage = map[string]map[string]*shareUse{}
	for _, u := range us {
		uses := s.usage[u.Queue]
		if uses == nil {
			uses = map[string]*shareUse{}
			s.usage[u.Queue] = uses
		}
		uses[u.Share] = &shareUse{avg: float64(u.Usage), held: u.Held, at: u.At}
	}
	s.Touch()
}

// Adopt records a placement of the job's next attempt that another
// replica published and the record does not show yet, so that it holds
// its host's capacity as though this planner had made it. A placement
// this planner made of the same attempt on another host is moved to the
// adopted one (the stream kept the other replica's: same message id). It
// reports whether anything changed.
func (s *State) Adopt(id string, attempt int, host, env string) bool {
	j := s.Jobs[id]
	if j == nil || j.Status != batch.StatusRunnable || j.Attempts+1 != attempt {
		return false // not known yet, or the record already moved on
	}
	if j.Placed == attempt && j.Host == host && j.Env == env {
		return false
	}
	j.Placed = attempt
	j.Host, j.Env = host, env
	j.Reason = ""
	if j.list != nil {
		j.list.leave()
	}
	s.track(j)
	s.Touch()
	return true
}
