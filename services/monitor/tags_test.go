package monitor

import (
	"reflect"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

func TestApplyTagged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  map[string]string
		fact    events.JobTagged
		after   map[string]string
		changed bool
	}{
		{"add to none", nil, events.JobTagged{Tags: map[string]string{"a": "1"}}, map[string]string{"a": "1"}, true},
		{"add and replace", map[string]string{"a": "1", "b": "2"}, events.JobTagged{Tags: map[string]string{"b": "3", "c": "4"}},
			map[string]string{"a": "1", "b": "3", "c": "4"}, true},
		{"same again", map[string]string{"a": "1"}, events.JobTagged{Tags: map[string]string{"a": "1"}}, map[string]string{"a": "1"}, false},
		{"remove", map[string]string{"a": "1", "b": "2"}, events.JobTagged{Remove: []string{"a", "missing"}}, map[string]string{"b": "2"}, true},
		{"remove last", map[string]string{"a": "1"}, events.JobTagged{Remove: []string{"a"}}, nil, true},
		{"remove from none", nil, events.JobTagged{Remove: []string{"a"}}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, st := range []batch.JobStatus{batch.StatusRunnable, batch.StatusRunning, batch.StatusSucceeded} {
				j := job(st, 0, nil)
				j.Tags = tc.before
				before := clone(t, j)
				tc.fact.JobID = testJobID
				if got := applyTagged(&j, tc.fact); got != tc.changed {
					t.Fatalf("%s: changed = %v, want %v", st, got, tc.changed)
				}
				if !reflect.DeepEqual(j.Tags, tc.after) {
					t.Fatalf("%s: tags = %v, want %v", st, j.Tags, tc.after)
				}
				// Nothing but the tags changes, and a repeat changes nothing.
				j.Tags = before.Tags
				if !reflect.DeepEqual(j, before) {
					t.Fatalf("%s: the record changed beyond its tags: %+v", st, j)
				}
				j.Tags = tc.after
				if applyTagged(&j, tc.fact) {
					t.Fatalf("%s: applying the fact twice changed the record again", st)
				}
			}
		})
	}
}
