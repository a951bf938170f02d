package api

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

func record(id, name, queue string, status batch.JobStatus, created int64, seq uint64) *jobRecord {
	return &jobRecord{
		JobID: id, JobName: name, JobQueue: batch.ARN(batch.KindJobQueue, queue), Status: status,
		CreatedAt: created, Seq: seq, JobDefinition: batch.JobDefinitionARN("def", 1),
	}
}

func ids(list []batch.JobSummary) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.JobID
	}
	return out
}

func TestJobIndex(t *testing.T) {
	x := newJobIndex()
	for i := range 6 {
		id := fmt.Sprintf("j%d", i)
		x.put(id, record(id, fmt.Sprintf("name-%d", i), "q", batch.StatusRunnable, int64(100+i), uint64(i+1)), 0)
	}
	x.put("other", record("other", "x", "q2", batch.StatusRunnable, 50, 99), 0)
	if got := x.count(groupQueue+"q", batch.StatusRunnable); got != 6 {
		t.Fatalf("runnable in q = %d", got)
	}
	// A status change moves the job between sets.
	r := record("j2", "name-2", "q", batch.StatusRunning, 102, 3)
	exit := 0
	r.StartedAt = 500
	r.Container = &recordContainer{ExitCode: &exit}
	x.put("j2", r, 0)
	list, next := x.list(listQuery{group: groupQueue + "q", status: batch.StatusRunnable, limit: 10})
	if got := fmt.Sprint(ids(list)); got != "[j0 j1 j3 j4 j5]" || next != nil {
		t.Fatalf("runnable = %s next=%v", got, next)
	}
	list, _ = x.list(listQuery{group: groupQueue + "q", status: batch.StatusRunning, limit: 10})
	if len(list) != 1 || list[0].StartedAt != 500 || list[0].Container == nil || *list[0].Container.ExitCode != 0 {
		t.Fatalf("running = %+v", list)
	}
	if list[0].JobArn != batch.ARN(batch.KindJob, "j2") || list[0].JobDefinition != batch.JobDefinitionARN("def", 1) {
		t.Fatalf("summary = %+v", list[0])
	}
	// Paging: two at a time, oldest first.
	var all []string
	var cursor *sortKey
	for range 10 {
		page, next := x.list(listQuery{group: groupQueue + "q", status: batch.StatusRunnable, limit: 2, cursor: cursor})
		all = append(all, ids(page)...)
		if next == nil {
			break
		}
		cursor = next
	}
	if got := fmt.Sprint(all); got != "[j0 j1 j3 j4 j5]" {
		t.Fatalf("paged = %s", got)
	}
	// Newest first over every status, with a predicate.
	list, _ = x.list(listQuery{group: groupQueue + "q", newestFirst: true, limit: 100, match: jobNameFilter("NAME-*")})
	if got := fmt.Sprint(ids(list)); got != "[j5 j4 j3 j2 j1 j0]" {
		t.Fatalf("newest first = %s", got)
	}
	// Deletion.
	x.put("j0", nil, 0)
	if x.has("j0") || x.count(groupQueue+"q", "") != 5 {
		t.Fatal("j0 not removed")
	}
	// Array children are listed by parent, not in the queue, in index order.
	for i := range 3 {
		id := fmt.Sprintf("p:%d", 2-i)
		x.put(events.Token(id), record(id, "p", "q", batch.StatusPending, 200, 0), 0)
	}
	list, _ = x.list(listQuery{group: groupArray + "p", status: batch.StatusPending, limit: 10})
	if got := fmt.Sprint(ids(list)); got != "[p:0 p:1 p:2]" || list[1].ArrayProperties == nil || *list[1].ArrayProperties.Index != 1 {
		t.Fatalf("children = %s", got)
	}
	if x.count(groupQueue+"q", batch.StatusPending) != 0 {
		t.Fatal("children listed in the queue")
	}
}

func TestListTokens(t *testing.T) {
	k := sortKey{createdAt: 1700000000000, seq: 42, index: 3, id: "abc-def"}
	for _, newest := range []bool{false, true} {
		tok := encodeListToken(newest, k)
		got, err := decodeListToken(tok, newest)
		if err != nil || got != k {
			t.Fatalf("round trip: %v %v", got, err)
		}
		_, err = decodeListToken(tok, !newest)
		wantErr(t, err, "nextToken")
	}
	_, err := decodeListToken("!!", false)
	wantErr(t, err, "is invalid: pass the nextToken of the previous ListJobs answer unchanged")
}

func TestJobDefinitionFilter(t *testing.T) {
	e := &jobEntry{def: batch.JobDefinitionARN("sleep-long", 3)}
	for v, want := range map[string]bool{
		"sleep-long":                            true,
		"sleep":                                 false,
		"sleep*":                                true,
		"sleep-long:3":                          true,
		"sleep-long:2":                          false,
		batch.JobDefinitionARN("sleep-long", 3): true,
		batch.JobDefinitionARN("sleep-long", 1): false,
		"other*":                                false,
	} {
		if got := jobDefinitionFilter(v)(e); got != want {
			t.Errorf("JOB_DEFINITION %q: %v, want %v", v, got, want)
		}
	}
	for v, want := range map[string]bool{"Sleep-Job": true, "sleep-job": true, "sleep*": true, "SLEEP*": true, "sleep": false, "x*": false} {
		if got := jobNameFilter(v)(&jobEntry{name: "sleep-job"}); got != want {
			t.Errorf("JOB_NAME %q: %v, want %v", v, got, want)
		}
	}
}

// TestJobIndexMemory measures what 100,000 jobs cost in the index: the
// whole server must stay well under 1 GiB with that many.
func TestJobIndexMemory(t *testing.T) {
	const n = 100_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	x := newJobIndex()
	statuses := []batch.JobStatus{batch.StatusRunnable, batch.StatusSucceeded, batch.StatusFailed}
	for i := range n {
		id := newUUID()
		r := record(id, fmt.Sprintf("job-%d", i), fmt.Sprintf("queue-%d", i%4), statuses[i%3], int64(1_700_000_000_000+i), uint64(i+1))
		r.StatusReason = "Essential container in task exited"
		x.put(events.Token(id), r, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("index: %.0f bytes per job, %.1f MiB for %d jobs", per, per*n/(1<<20), n)
	if per > 600 {
		t.Fatalf("index uses %.0f bytes per job, want at most 600", per)
	}
	runtime.KeepAlive(x)
}

func TestElementCount(t *testing.T) {
	for in, want := range map[string]int{
		`[]`: 0, ` [ ] `: 0, `[1]`: 1, `[{"a":[1,2],"b":"x,]"}]`: 1, `[{},{"s":"\"],["},[1,[2,3]]]`: 3, `["a\",b"]`: 1, `["a\\",["b"]]`: 2, `null`: 0,
	} {
		var c elementCount
		if err := json.Unmarshal([]byte(in), &c); err != nil || int(c) != want {
			t.Errorf("%s: %d (%v), want %d", in, c, err, want)
		}
	}
}
