package events

import (
	"strconv"
	"strings"
)

// The monitor's own bucket: which replica applies each partition of the
// job facts (JobPartitions), and which replicas are alive to share them.
const (
	// BucketMonitor holds, with per-key TTLs, one PartitionLease per
	// partition (PartitionLeaseKey) and one MonitorMember per live replica
	// (MonitorMemberKey), and without a TTL the sequence each partition's
	// consumer resumes from (PartitionResumeKey); writer: the monitor.
	BucketMonitor = "batch_monitor"
	// MonitorMemberFilter matches the keys of the live replicas.
	MonitorMemberFilter = "member.*"
)

// PartitionLeaseKey is the key of partition p's lease.
func PartitionLeaseKey(p int) string { return "partition." + strconv.Itoa(p) }

// PartitionResumeKey is the key of partition p's resume point.
func PartitionResumeKey(p int) string { return "resume." + strconv.Itoa(p) }

// MonitorMemberKey is the key of a live monitor replica.
func MonitorMemberKey(replica string) string { return "member." + replica }

// MonitorMemberOf is the replica of a MonitorMemberKey.
func MonitorMemberOf(key string) (string, bool) {
	return strings.CutPrefix(key, "member.")
}

// PartitionConsumer is a durable consumer of partition p on BATCH_JOBS
// (filter PartitionFilter(p)), used by whichever replica holds p's lease.
// A replica that takes a partition over from one that left deliveries
// unsettled makes a new one, named for its lease's epoch
// (PartitionResume.Consumer says which is current).
func PartitionConsumer(prefix string, p int, epoch uint64) string {
	return PartitionConsumerPrefix(prefix, p) + strconv.FormatUint(epoch, 10)
}

// PartitionConsumerPrefix begins the names of partition p's consumers.
func PartitionConsumerPrefix(prefix string, p int) string {
	return prefix + "-" + strconv.Itoa(p) + "-"
}

// PartitionLease is the value of a partition's lease: the replica applying
// the partition. Its epoch is the KV revision at which it was acquired.
type PartitionLease struct {
	Holder string `json:"holder"`
	Epoch  uint64 `json:"epoch,omitempty"` // 0 in the acquiring write itself
	Time   int64  `json:"time"`            // unix ms of the write
}

// MonitorMember is the heartbeat of a live monitor replica.
type MonitorMember struct {
	Replica string `json:"replica"`
	Time    int64  `json:"time"` // unix ms of the write
}

// PartitionResume is where a partition's consumer starts when it is made
// again (after its holder died with deliveries unsettled): the first
// stream sequence that may not be applied yet, and the last one the
// previous consumer delivered (facts up to it count as redelivered).
type PartitionResume struct {
	Consumer  string `json:"consumer"` // the current consumer
	From      uint64 `json:"from"`
	Delivered uint64 `json:"delivered"`
}
