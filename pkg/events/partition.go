package events

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// JobPartitions is how many partitions the facts of BATCH_JOBS are split
// into. Every fact subject carries its job's partition as its third token
// (batch.job.<partition>.<verb>...), so that a consumer of one partition
// filters on batch.job.<partition>.> (PartitionFilter): the monitor applies
// each partition in order, by one replica at a time, and the partitions in
// parallel. It is part of the wire contract: changing it moves jobs between
// partitions, so it is fixed.
const JobPartitions = 16

// OrderKey is the job whose facts are ordered with jobID's: the job itself,
// or for a node of a multi-node job ("p#3") the multi-node job, so that the
// facts of a job and of its nodes are in one partition.
func OrderKey(jobID string) string {
	if parent, _, ok := batch.MultiNodeParentOf(jobID); ok {
		return parent
	}
	return jobID
}

// Partition is the partition (0 to JobPartitions-1) of a job's facts: the
// FNV-1a hash of its OrderKey, modulo JobPartitions.
func Partition(jobID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(OrderKey(jobID)))
	return int(h.Sum32() % JobPartitions)
}

// partitionTokens are the subject tokens of the partitions.
var partitionTokens = func() (t [JobPartitions]string) {
	for p := range t {
		t[p] = strconv.Itoa(p)
	}
	return t
}()

// PartitionFilter matches every fact of partition p.
func PartitionFilter(p int) string { return "batch.job." + partitionTokens[p] + ".>" }

// jobSubject is the subject of a fact about jobID without a host:
// batch.job.<partition>.<verb>.<job>.
func jobSubject(verb, jobID string) string {
	return "batch.job." + partitionTokens[Partition(jobID)] + "." + verb + "." + Token(jobID)
}

// hostSubject is the subject of a fact about jobID on hostID:
// batch.job.<partition>.<verb>.<host>.<job>.
func hostSubject(verb, hostID, jobID string) string {
	return "batch.job." + partitionTokens[Partition(jobID)] + "." + verb + "." + hostID + "." + Token(jobID)
}

// FactFilter matches the facts of one verb without a host token (such as
// "submit", "gate", "cancel") of every job and partition; for NATS
// permissions and consumers.
func FactFilter(verb string) string { return "batch.job.*." + verb + ".*" }

// HostFactFilter matches the facts of one verb with a host token
// ("placed", "started", "exited", "stop") of hostID ("*": any host).
func HostFactFilter(verb, hostID string) string { return "batch.job.*." + verb + "." + hostID + ".*" }

// PrePartitionFilter reports whether a consumer filter on BATCH_JOBS is
// of a build before the partitions (batch.job.<verb>..., no partition
// token): such a consumer's facts are on subjects no current filter
// matches.
func PrePartitionFilter(filter string) bool {
	rest, ok := strings.CutPrefix(filter, "batch.job.")
	if !ok {
		return false
	}
	tok, _, _ := strings.Cut(rest, ".")
	if tok == "*" || tok == ">" {
		return false
	}
	_, err := strconv.Atoi(tok)
	return err != nil
}

// factVerbs are the verbs of the job facts (the token before the host or
// job in their subjects).
var factVerbs = []string{"submit", "gate", "wait", "placed", "gang", "started", "exited", "cancel", "terminate", "stop", "tag", "hostlost"}

// PrePartitionFilters match the facts a build before the partitions
// stored (batch.job.<verb>...).
func PrePartitionFilters() []string {
	out := make([]string, len(factVerbs))
	for i, v := range factVerbs {
		out[i] = "batch.job." + v + ".>"
	}
	return out
}
