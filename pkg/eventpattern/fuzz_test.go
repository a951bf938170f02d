package eventpattern

import "testing"

// FuzzPattern compiles any pattern and matches any event with it: no
// input panics or hangs, and matching is deterministic.
func FuzzPattern(f *testing.F) {
	for _, p := range []string{
		`{"detail-type":["Batch Job State Change"],"source":["aws.batch"],"detail":{"status":["FAILED"]}}`,
		`{"detail":{"container":{"exitCode":[{"numeric":[">",0,"<=",5]}]}}}`,
		`{"detail":{"jobName":[{"prefix":"nightly"}],"tags":{"team":[{"anything-but":["ops"]}]}}}`,
		`{"detail":{"jobQueueName":[{"wildcard":"pr*d"}],"statusReason":[{"suffix":"exited"}]}}`,
		`{"detail":{"x":[{"exists":false}],"y":[{"equals-ignore-case":"A"}],"hostIp":[{"cidr":"10.0.0.0/8"}]}}`,
		`{"$or":[{"detail":{"status":["FAILED"]}},{"source":["aws.batch"]}]}`,
		`{"a":[null,true,1e400,"x"]}`,
	} {
		f.Add(p, sampleEvent)
	}
	f.Add(`{"a":["b"]}`, `{"a":"b"}`)
	f.Add(`{"a":[{"wildcard":"*a*a*a*a*a*a*b"}]}`, `{"a":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		m1, err1 := p.MatchJSON([]byte(event))
		m2, err2 := p.MatchJSON([]byte(event))
		if m1 != m2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("matching is not deterministic: %v/%v then %v/%v", m1, err1, m2, err2)
		}
	})
}
