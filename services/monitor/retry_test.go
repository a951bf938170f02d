package monitor

import (
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"1", "1", true},
		{"1", "10", false},
		{"1*", "10", true},
		{"1*", "1", true},
		{"1*", "21", false},
		{"*", "", true},
		{"*", "anything at all", true},
		{"", "", true},
		{"", "x", false},
		{"Host EC2*", "Host EC2 (instance i-0abc) terminated.", true},
		{"Host EC2*", "host EC2 (instance i-0abc) terminated.", false}, // patterns are case-sensitive
		{"AGENT", "AGENT", true},
		{"AGENT", "AGENT2", false},
		{"AG*NT", "AGENT", false}, // only a trailing * is a glob
		{"AG*NT", "AG*NT", true},
		{"Task failed to start", "Task failed to start", true},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.value); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}

func TestShouldRetry(t *testing.T) {
	type exit struct {
		code                 *int
		reason, statusReason string
	}
	code := func(c int) exit { return exit{code: intp(c), statusReason: reasonEssentialExited} }
	oom := exit{code: intp(137), reason: "OutOfMemoryError: Container killed", statusReason: reasonEssentialExited}
	spot := exit{reason: "Host terminated", statusReason: "Host EC2 (instance i-0abc) terminated."}
	pull := exit{statusReason: "CannotPullContainerError: pull access denied"}
	agent := exit{code: intp(1), reason: "AGENT", statusReason: reasonEssentialExited}
	rs := func(attempts int, e ...batch.EvaluateOnExit) *batch.RetryStrategy {
		return &batch.RetryStrategy{Attempts: attempts, EvaluateOnExit: e}
	}
	tests := []struct {
		name     string
		rs       *batch.RetryStrategy
		attempts int // made so far, including this one
		exit     exit
		want     bool
	}{
		// Attempt counting.
		{"no strategy: one attempt", nil, 1, code(1), false},
		{"attempts 0 means 1", rs(0), 1, code(1), false},
		{"attempts 1", rs(1), 1, code(1), false},
		{"attempts 3, first failed", rs(3), 1, code(1), true},
		{"attempts 3, second failed", rs(3), 2, code(1), true},
		{"attempts 3 exhausted", rs(3), 3, code(1), false},
		{"attempts exhausted even when RETRY matches", rs(2, batch.EvaluateOnExit{OnExitCode: "1", Action: "RETRY"}), 2, code(1), false},
		{"start failure retried while attempts remain", rs(2), 1, pull, true},

		// No match retries.
		{"no entry matches: retry", rs(3, batch.EvaluateOnExit{OnExitCode: "2", Action: "EXIT"}), 1, code(1), true},
		{"empty list: retry", rs(3), 1, code(5), true},

		// onExitCode.
		{"onExitCode exact EXIT", rs(3, batch.EvaluateOnExit{OnExitCode: "1", Action: "EXIT"}), 1, code(1), false},
		{"onExitCode exact does not match 10", rs(3, batch.EvaluateOnExit{OnExitCode: "1", Action: "EXIT"}), 1, code(10), true},
		{"onExitCode prefix glob", rs(3, batch.EvaluateOnExit{OnExitCode: "13*", Action: "EXIT"}), 1, code(137), false},
		{"onExitCode prefix glob miss", rs(3, batch.EvaluateOnExit{OnExitCode: "13*", Action: "EXIT"}), 1, code(143), true},
		{"onExitCode * matches any code", rs(3, batch.EvaluateOnExit{OnExitCode: "*", Action: "EXIT"}), 1, code(0), false},
		{"onExitCode never matches a missing exit code", rs(3, batch.EvaluateOnExit{OnExitCode: "*", Action: "EXIT"}), 1, pull, true},
		{"onExitCode RETRY", rs(3, batch.EvaluateOnExit{OnExitCode: "3", Action: "RETRY"}, batch.EvaluateOnExit{OnReason: "*", Action: "EXIT"}), 1, code(3), true},

		// onReason (container reason).
		{"onReason exact RETRY before catch-all EXIT", rs(3,
			batch.EvaluateOnExit{OnReason: "AGENT", Action: "RETRY"},
			batch.EvaluateOnExit{OnReason: "*", Action: "EXIT"}), 1, agent, true},
		{"onReason catch-all EXIT", rs(3,
			batch.EvaluateOnExit{OnReason: "AGENT", Action: "RETRY"},
			batch.EvaluateOnExit{OnReason: "*", Action: "EXIT"}), 1, code(1), false},
		{"onReason prefix glob", rs(3, batch.EvaluateOnExit{OnReason: "OutOfMemoryError*", Action: "EXIT"}), 1, oom, false},
		{"onReason does not look at statusReason", rs(3, batch.EvaluateOnExit{OnReason: "Essential*", Action: "EXIT"}), 1, code(1), true},

		// onStatusReason (job statusReason).
		{"onStatusReason spot RETRY", rs(3,
			batch.EvaluateOnExit{OnStatusReason: "Host EC2*", Action: "RETRY"},
			batch.EvaluateOnExit{OnReason: "*", Action: "EXIT"}), 1, spot, true},
		{"onStatusReason exact", rs(3, batch.EvaluateOnExit{OnStatusReason: reasonEssentialExited, Action: "EXIT"}), 1, code(2), false},
		{"onStatusReason exact miss", rs(3, batch.EvaluateOnExit{OnStatusReason: "Essential container", Action: "EXIT"}), 1, code(2), true},
		{"onStatusReason does not look at reason", rs(3, batch.EvaluateOnExit{OnStatusReason: "AGENT", Action: "EXIT"}), 1, agent, true},
		{"onStatusReason start failure EXIT", rs(3, batch.EvaluateOnExit{OnStatusReason: "CannotPullContainerError*", Action: "EXIT"}), 1, pull, false},

		// Combinations: every given condition must match.
		{"code and reason both match", rs(3, batch.EvaluateOnExit{OnExitCode: "137", OnReason: "OutOfMemory*", Action: "EXIT"}), 1, oom, false},
		{"code matches, reason does not", rs(3, batch.EvaluateOnExit{OnExitCode: "137", OnReason: "AGENT", Action: "EXIT"}), 1, oom, true},
		{"reason matches, code does not", rs(3, batch.EvaluateOnExit{OnExitCode: "1", OnReason: "OutOfMemory*", Action: "EXIT"}), 1, oom, true},
		{"all three match", rs(3, batch.EvaluateOnExit{OnExitCode: "13*", OnReason: "OutOfMemory*", OnStatusReason: "Essential*", Action: "EXIT"}), 1, oom, false},
		{"all three, statusReason misses", rs(3, batch.EvaluateOnExit{OnExitCode: "13*", OnReason: "OutOfMemory*", OnStatusReason: "Host*", Action: "EXIT"}), 1, oom, true},
		{"statusReason and code: no code on start failure", rs(3, batch.EvaluateOnExit{OnExitCode: "1", OnStatusReason: "CannotPull*", Action: "EXIT"}), 1, pull, true},

		// Action is case-insensitive.
		{"action exit lower case", rs(3, batch.EvaluateOnExit{OnExitCode: "1", Action: "exit"}), 1, code(1), false},
		{"action Exit mixed case", rs(3, batch.EvaluateOnExit{OnExitCode: "1", Action: "Exit"}), 1, code(1), false},
		{"action retry lower case", rs(3, batch.EvaluateOnExit{OnExitCode: "1", Action: "retry"}, batch.EvaluateOnExit{OnReason: "*", Action: "EXIT"}), 1, code(1), true},
		{"action ReTrY mixed case", rs(3, batch.EvaluateOnExit{OnExitCode: "1", Action: "ReTrY"}, batch.EvaluateOnExit{OnReason: "*", Action: "EXIT"}), 1, code(1), true},

		// First match wins.
		{"first match EXIT wins over later RETRY", rs(3,
			batch.EvaluateOnExit{OnExitCode: "1*", Action: "EXIT"},
			batch.EvaluateOnExit{OnExitCode: "1", Action: "RETRY"}), 1, code(1), false},
		{"first match RETRY wins over later EXIT", rs(3,
			batch.EvaluateOnExit{OnExitCode: "1", Action: "RETRY"},
			batch.EvaluateOnExit{OnExitCode: "1*", Action: "EXIT"}), 1, code(1), true},
		{"non-matching first entry is skipped", rs(3,
			batch.EvaluateOnExit{OnExitCode: "2", Action: "RETRY"},
			batch.EvaluateOnExit{OnExitCode: "1", Action: "EXIT"},
			batch.EvaluateOnExit{OnReason: "*", Action: "RETRY"}), 1, code(1), false},
		{"AWS docs example: AGENT, Task failed to start, EXIT *", rs(5,
			batch.EvaluateOnExit{OnReason: "AGENT", Action: "RETRY"},
			batch.EvaluateOnExit{OnStatusReason: "Task failed to start", Action: "RETRY"},
			batch.EvaluateOnExit{OnReason: "*", Action: "EXIT"}), 1, exit{statusReason: "Task failed to start"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := shouldRetry(tc.rs, tc.attempts, tc.exit.code, tc.exit.reason, tc.exit.statusReason)
			if got != tc.want {
				t.Errorf("shouldRetry = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExitedRetryStrategy checks that applyExited hands shouldRetry the
// right attempt count, reason and statusReason.
func TestExitedRetryStrategy(t *testing.T) {
	tests := []struct {
		name string
		rs   *batch.RetryStrategy
		prev int // attempts already made
		code *int
		why  string // container reason
		want batch.JobStatus
	}{
		{"statusReason derived for non-zero exit is matched", &batch.RetryStrategy{Attempts: 3,
			EvaluateOnExit: []batch.EvaluateOnExit{{OnStatusReason: "Essential container*", Action: "EXIT"}}},
			0, intp(1), "", batch.StatusFailed},
		{"onReason matches the container reason", &batch.RetryStrategy{Attempts: 3,
			EvaluateOnExit: []batch.EvaluateOnExit{{OnReason: "AGENT", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}},
			0, intp(1), "AGENT", batch.StatusRunnable},
		{"catch-all EXIT", &batch.RetryStrategy{Attempts: 3,
			EvaluateOnExit: []batch.EvaluateOnExit{{OnReason: "AGENT", Action: "RETRY"}, {OnReason: "*", Action: "EXIT"}}},
			0, intp(1), "", batch.StatusFailed},
		{"third of three attempts is the last", &batch.RetryStrategy{Attempts: 3}, 2, intp(1), "", batch.StatusFailed},
		{"second of three attempts retries", &batch.RetryStrategy{Attempts: 3}, 1, intp(1), "", batch.StatusRunnable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := job(batch.StatusRunning, tc.prev, tc.rs)
			f := exited(tc.prev+1, tc.code)
			f.Reason = tc.why
			if !applyExited(&j, f) {
				t.Fatal("exit did not apply")
			}
			if j.Status != tc.want {
				t.Errorf("status = %s, want %s", j.Status, tc.want)
			}
		})
	}
}
