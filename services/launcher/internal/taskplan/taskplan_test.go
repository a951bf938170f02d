package taskplan

import (
	"slices"
	"strings"
	"testing"
)

// pod: init (non-essential, SUCCESS for main), side (non-essential, START
// for main), main (essential).
func pod() []Member {
	return []Member{
		{Name: "init"},
		{Name: "side"},
		{Name: "main", Essential: true, DependsOn: []Dep{{"init", Success}, {"side", Start}}},
	}
}

func TestDecideStartsInDependencyOrder(t *testing.T) {
	ms := pod()
	d := Decide(ms, false)
	if !slices.Equal(d.Start, []int{0, 1}) || d.Done || len(d.Stop) != 0 {
		t.Fatalf("first step = %+v, want init and side started", d)
	}
	ms[0].State, ms[1].State = Running, Running
	if d := Decide(ms, false); len(d.Start) != 0 || d.Done {
		t.Fatalf("init running = %+v, want main to wait for its SUCCESS", d)
	}
	ms[0].State, ms[0].ExitCode, ms[0].Order = Exited, 0, 1
	if d := Decide(ms, false); !slices.Equal(d.Start, []int{2}) {
		t.Fatalf("init succeeded = %+v, want main started", d)
	}
	ms[2].State = Running
	if d := Decide(ms, false); len(d.Start)+len(d.Stop) != 0 || d.Done {
		t.Fatalf("all running = %+v, want nothing to do", d)
	}
	ms[2].State, ms[2].ExitCode, ms[2].Order = Exited, 0, 2
	d = Decide(ms, false)
	if !slices.Equal(d.Stop, []int{1}) || d.Done {
		t.Fatalf("essential exited = %+v, want the sidecar stopped", d)
	}
	ms[1].State, ms[1].ExitCode, ms[1].Order = Exited, 143, 3
	if d := Decide(ms, false); !d.Done {
		t.Fatalf("all exited = %+v, want done", d)
	}
	if r := Outcome(ms); r.ExitCode == nil || *r.ExitCode != 0 {
		t.Fatalf("outcome = %+v, want success: the sidecar is not essential", r)
	}
}

func TestFailedSuccessDependency(t *testing.T) {
	ms := pod()
	ms[0].State, ms[0].ExitCode, ms[0].Order = Exited, 3, 1
	ms[1].State = Running
	d := Decide(ms, false)
	if reason := d.Skip[2]; !strings.Contains(reason, "init (condition SUCCESS) exited with code 3") {
		t.Fatalf("skip = %v, want main never started because of init", d.Skip)
	}
	if !slices.Equal(d.Stop, []int{1}) {
		t.Fatalf("stop = %v, want the sidecar stopped: the essential container will never run", d.Stop)
	}
	ms[2].State, ms[2].Reason = Skipped, d.Skip[2]
	ms[1].State, ms[1].ExitCode, ms[1].Order = Exited, 143, 2
	if d := Decide(ms, false); !d.Done {
		t.Fatalf("want done, got %+v", d)
	}
	r := Outcome(ms)
	if r.ExitCode != nil || !strings.Contains(r.StatusReason, "main") || !strings.Contains(r.StatusReason, "init") {
		t.Fatalf("outcome = %+v, want a failure naming main and init", r)
	}
}

func TestSkipPropagates(t *testing.T) {
	ms := []Member{
		{Name: "a"},
		{Name: "b", DependsOn: []Dep{{"a", Success}}},
		{Name: "c", DependsOn: []Dep{{"b", Start}}},
		{Name: "main", Essential: true},
	}
	ms[0].State, ms[0].ExitCode, ms[0].Order = Exited, 1, 1
	ms[3].State = Running
	d := Decide(ms, false)
	if len(d.Skip) != 2 || !strings.Contains(d.Skip[2], "b (condition START) never started") {
		t.Fatalf("skip = %v, want b and c skipped", d.Skip)
	}
	if len(d.Stop) != 0 || d.Done {
		t.Fatalf("%+v: non-essential containers that never start change nothing", d)
	}
}

func TestNonEssentialExitChangesNothing(t *testing.T) {
	ms := []Member{{Name: "side", State: Exited, ExitCode: 9, Order: 1}, {Name: "main", Essential: true, State: Running}}
	if d := Decide(ms, false); len(d.Stop) != 0 || d.Done {
		t.Fatalf("%+v: a non-essential exit must not stop the task", d)
	}
	ms[1].State, ms[1].Order = Exited, 2
	if r := Outcome(ms); *r.ExitCode != 0 {
		t.Fatalf("outcome %+v, want 0", r)
	}
}

func TestFirstEssentialFailureIsTheJobs(t *testing.T) {
	ms := []Member{
		{Name: "a", Essential: true, State: Exited, ExitCode: 143, Order: 2},
		{Name: "b", Essential: true, State: Exited, ExitCode: 5, Order: 1},
		{Name: "c", State: Exited, ExitCode: 7, Order: 3},
	}
	r := Outcome(ms)
	if *r.ExitCode != 5 || r.Container != "b" {
		t.Fatalf("outcome = %+v, want b's 5: it exited first and stopped the task", r)
	}
}

func TestStopFromOutside(t *testing.T) {
	ms := pod()
	ms[0].State, ms[1].State = Running, Running
	d := Decide(ms, true)
	if !slices.Equal(d.Stop, []int{0, 1}) || d.Skip[2] == "" {
		t.Fatalf("%+v: want both running stopped and main never started", d)
	}
}

func TestCompleteAcceptsFailure(t *testing.T) {
	ms := []Member{{Name: "a", State: Exited, ExitCode: 4, Order: 1}, {Name: "main", Essential: true, DependsOn: []Dep{{"a", Complete}}}}
	if d := Decide(ms, false); !slices.Equal(d.Start, []int{1}) {
		t.Fatalf("%+v: COMPLETE is met by any exit", d)
	}
}
