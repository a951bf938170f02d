package events

import "testing"

func TestParseLogSubject(t *testing.T) {
	for _, c := range []struct {
		subject string
		want    LogStream
		ok      bool
	}{
		{LogSubject("abc", 2), LogStream{JobID: "abc", Attempt: 2}, true},
		{LogSubject("abc:3", 1), LogStream{JobID: "abc:3", Attempt: 1}, true},
		{LogSubject("abc#0", 1), LogStream{JobID: "abc#0", Attempt: 1}, true},
		{LogContainerSubject("abc", 1, "main"), LogStream{JobID: "abc", Attempt: 1, Container: "main"}, true},
		{"batch.logs.abc", LogStream{}, false},
		{"batch.logs.abc.0", LogStream{}, false},
		{"batch.logs.abc.01", LogStream{}, false},
		{"batch.logs.abc.x", LogStream{}, false},
		{"batch.logs.*.1", LogStream{}, false},
		{"batch.logs.abc.1.main.x", LogStream{}, false},
		{"batch.job.submit.abc", LogStream{}, false},
	} {
		got, ok := ParseLogSubject(c.subject)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: %+v %v, want %+v %v", c.subject, got, ok, c.want, c.ok)
		}
	}
}

func TestLogAttempt(t *testing.T) {
	for subject, want := range map[string]int{
		LogSubject("abc", 3):                  3,
		LogContainerSubject("abc", 2, "main"): 2,
		"batch.logs.abc":                      0,
		"batch.job.submit.abc":                0,
	} {
		if got := LogAttempt(subject); got != want {
			t.Errorf("%s: %d, want %d", subject, got, want)
		}
	}
}
