// Package taskplan decides, from the state of a task's containers alone,
// what the launcher does next: which containers to start (their dependsOn
// is met), which never start (a dependency can no longer be met), which to
// stop (an essential container stopped, or the attempt is being stopped),
// and when the attempt is over with which result. It is pure: the
// launcher feeds it what the engine reports, so a launcher that restarts
// decides the same from what it finds.
package taskplan

import (
	"fmt"
	"strings"
)

// Conditions of a dependency (as in AWS Batch's TaskContainerDependency).
const (
	Start    = "START"    // the dependency has started
	Complete = "COMPLETE" // the dependency has exited
	Success  = "SUCCESS"  // the dependency has exited with code 0
)

// State of a container.
type State int

// The states a container goes through: Waiting (created, not started),
// then Running and Exited, or Skipped (it never starts).
const (
	Waiting State = iota
	Running
	Exited
	Skipped
)

// Dep is one dependsOn entry.
type Dep struct {
	Container string
	Condition string
}

// Member is one container of the task and what is known of it.
type Member struct {
	Name      string
	Essential bool
	DependsOn []Dep
	State     State
	// ExitCode is set once Exited; Order is the order of the exits (1
	// for the first container that exited), so the result can name the
	// first essential container that ended the task.
	ExitCode int
	Order    int
	// Reason is why a Skipped container never started.
	Reason string
}

// Decision is what to do now.
type Decision struct {
	// Start are the indexes of waiting containers whose dependencies are
	// met.
	Start []int
	// Skip are waiting containers that will never start, with the reason.
	Skip map[int]string
	// Stop are running containers to stop (SIGTERM, then SIGKILL after
	// their stop timeout).
	Stop []int
	// Done is true once no container runs or will start: the attempt is
	// over.
	Done bool
}

// Stopping reports whether the task is ending: an essential container has
// exited or will never start, or stop (the attempt is being stopped:
// timeout, termination) is true.
func Stopping(ms []Member, stop bool) bool {
	if stop {
		return true
	}
	for _, m := range ms {
		if m.Essential && (m.State == Exited || m.State == Skipped) {
			return true
		}
	}
	return false
}

// Decide works out the next step. stop is true when the attempt is being
// stopped from outside (timeout, termination).
//
// Skipped containers are decided first, repeatedly (a container that
// waits on one that will never start will never start either); then, when
// the task is ending, every waiting container is skipped and every running
// one stopped; otherwise the waiting containers whose dependencies are met
// start.
func Decide(ms []Member, stop bool) Decision {
	d := Decision{Skip: map[int]string{}}
	state := func(i int) State {
		if _, ok := d.Skip[i]; ok {
			return Skipped
		}
		return ms[i].State
	}
	idx := make(map[string]int, len(ms))
	for i, m := range ms {
		idx[m.Name] = i
	}
	for changed := true; changed; {
		changed = false
		for i, m := range ms {
			if state(i) != Waiting {
				continue
			}
			if reason := never(ms, m, idx, state); reason != "" {
				d.Skip[i] = reason
				changed = true
			}
		}
	}
	ending := stop
	for i, m := range ms {
		if m.Essential && (state(i) == Exited || state(i) == Skipped) {
			ending = true
		}
	}
	running := false
	for i, m := range ms {
		switch state(i) {
		case Running:
			if ending {
				d.Stop = append(d.Stop, i)
			}
			running = true
		case Waiting:
			switch {
			case ending:
				d.Skip[i] = "the task stopped before its dependencies were met"
			case met(ms, m, idx):
				d.Start = append(d.Start, i)
			}
		}
	}
	if len(d.Skip) == 0 {
		d.Skip = nil
	}
	waiting := false
	for i := range ms {
		if state(i) == Waiting && !contains(d.Start, i) {
			waiting = true
		}
	}
	d.Done = !running && !waiting && len(d.Start) == 0
	return d
}

// never returns why m's dependencies can never be met, or "".
func never(ms []Member, m Member, idx map[string]int, state func(int) State) string {
	for _, dep := range m.DependsOn {
		j, ok := idx[dep.Container]
		if !ok {
			return fmt.Sprintf("dependency %s is not a container of the task", dep.Container)
		}
		t := ms[j]
		switch st := state(j); {
		case st == Skipped:
			return fmt.Sprintf("dependency %s (condition %s) never started", t.Name, dep.Condition)
		case dep.Condition == Success && st == Exited && t.ExitCode != 0:
			return fmt.Sprintf("dependency %s (condition SUCCESS) exited with code %d", t.Name, t.ExitCode)
		}
	}
	return ""
}

// met reports whether every dependency of m is met.
func met(ms []Member, m Member, idx map[string]int) bool {
	for _, dep := range m.DependsOn {
		t := ms[idx[dep.Container]]
		switch dep.Condition {
		case Start:
			if t.State != Running && t.State != Exited {
				return false
			}
		case Complete:
			if t.State != Exited {
				return false
			}
		case Success:
			if t.State != Exited || t.ExitCode != 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Result is the attempt's outcome once Decide says Done.
type Result struct {
	// ExitCode is the job's exit code: that of the first essential
	// container (in exit order) that exited non-zero, else 0; nil when an
	// essential container never started.
	ExitCode *int
	// Container names the container the exit code (or the failure) is
	// about; "" when every essential container exited 0.
	Container string
	// StatusReason is the job's reason when an essential container never
	// started (naming it and the dependency that failed), else "".
	StatusReason string
}

// Outcome follows AWS Batch: the job fails if an essential container exits
// non-zero (or never runs); non-essential containers' exits change nothing.
func Outcome(ms []Member) Result {
	var first *Member
	for i := range ms {
		m := &ms[i]
		if !m.Essential {
			continue
		}
		if m.State == Skipped || m.State == Waiting {
			reason := m.Reason
			if reason == "" {
				reason = "it never started"
			}
			return Result{Container: m.Name, StatusReason: truncate(fmt.Sprintf("Essential container %s never started: %s", m.Name, reason))}
		}
		if m.State == Exited && m.ExitCode != 0 && (first == nil || m.Order < first.Order) {
			first = m
		}
	}
	if first == nil {
		zero := 0
		return Result{ExitCode: &zero}
	}
	code := first.ExitCode
	return Result{ExitCode: &code, Container: first.Name}
}

func truncate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 255 {
		return s[:255]
	}
	return s
}
