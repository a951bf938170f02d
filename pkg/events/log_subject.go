package events

import (
	"strconv"
	"strings"
)

// LogAttempt returns the attempt number (from 1) of a LogSubject or
// LogContainerSubject subject, 0 when the subject is not one.
func LogAttempt(subject string) int {
	ls, _ := ParseLogSubject(subject)
	return ls.Attempt
}

// LogStream is what a log subject (a job's logStreamName) names: the job,
// the attempt and, for a container of a multi-container job, its name.
type LogStream struct {
	JobID     string
	Attempt   int
	Container string
}

// ParseLogSubject reads a LogSubject or LogContainerSubject subject; ok is
// false for anything else (wildcards, empty tokens, a bad attempt number).
func ParseLogSubject(subject string) (_ LogStream, ok bool) {
	rest, found := strings.CutPrefix(subject, "batch.logs.")
	if !found {
		return LogStream{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 2 && len(parts) != 3 {
		return LogStream{}, false
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "*> \t\r\n") {
			return LogStream{}, false
		}
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 1 || strconv.Itoa(n) != parts[1] {
		return LogStream{}, false
	}
	ls := LogStream{JobID: JobFromToken(parts[0]), Attempt: n}
	if len(parts) == 3 {
		ls.Container = parts[2]
	}
	return ls, true
}
