package events

import (
	"strconv"
	"strings"
	"testing"
)

// Every fact of a job is in its partition (a node's in its job's), and
// the partition's filter matches it.
func TestFactsCarryTheirPartition(t *testing.T) {
	for _, job := range []string{"j1", "0b3c8d2e-5f7a-4a19-9c1e-2d4f6a8b0c1d", "arr:7", "mnp#2"} {
		p := Partition(job)
		if p < 0 || p >= JobPartitions {
			t.Fatalf("partition %d of %s", p, job)
		}
		subjects := []string{SubmitSubject(job), GateSubject(job), WaitSubject(job), PlacedSubject("h1", job),
			GangSubject(job), StartedSubject("h1", job), ExitedSubject("h1", job), CancelSubject(job),
			TerminateSubject(job), StopSubject("h1", job), TagSubject(job), HostLostSubject(job)}
		for _, s := range subjects {
			if !matches(PartitionFilter(p), s) {
				t.Errorf("%s is not in partition %d (%s)", s, p, PartitionFilter(p))
			}
			for _, f := range JobFactFilters(job) {
				if matches(f, s) {
					goto purged
				}
			}
			t.Errorf("%s is not matched by the job's purge filters %v", s, JobFactFilters(job))
		purged:
		}
		if !matches(HostFactFilter("placed", "h1"), PlacedSubject("h1", job)) || matches(HostFactFilter("placed", "h2"), PlacedSubject("h1", job)) {
			t.Errorf("host filter of %s", PlacedSubject("h1", job))
		}
		if !matches(FactFilter("submit"), SubmitSubject(job)) || !matches(SubjectSubmitAll, SubmitSubject(job)) {
			t.Errorf("submit filter of %s", SubmitSubject(job))
		}
	}
	if Partition("mnp#2") != Partition("mnp") {
		t.Error("a node is not in its job's partition")
	}
}

// The partitions share jobs about evenly.
func TestPartitionsShareJobs(t *testing.T) {
	var counts [JobPartitions]int
	const n = 16000
	for i := range n {
		counts[Partition("job-"+strconv.Itoa(i))]++
	}
	for p, c := range counts {
		if c < n/JobPartitions*8/10 || c > n/JobPartitions*12/10 {
			t.Errorf("partition %d has %d of %d jobs", p, c, n)
		}
	}
}

// matches is NATS subject matching of filter against subject.
func matches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, t := range f {
		if t == ">" {
			return len(s) > i
		}
		if i >= len(s) || (t != "*" && t != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

func TestPrePartitionFilter(t *testing.T) {
	for f, want := range map[string]bool{
		"batch.job.placed.h1.*": true, "batch.job.>": false, "batch.job.submit.*": true,
		PlacedHostFilter("h1"): false, PartitionFilter(3): false, "batch.events.>": false,
	} {
		if got := PrePartitionFilter(f); got != want {
			t.Errorf("PrePartitionFilter(%q) = %v, want %v", f, got, want)
		}
	}
}
