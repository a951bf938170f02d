package natsauth

import "github.com/batchd/batchd/pkg/events"

// startedFilter and exitedFilter are the started and exited facts a
// launcher may publish: those of its own host
// (batch.job.<partition>.started.<host>.<job>); the bus refuses a fact whose payload
// names another host than its subject, and the monitor applies one only
// from the host the job's record holds.
func startedFilter(hostID string) []string { return []string{events.HostFactFilter("started", hostID)} }

func exitedFilter(hostID string) []string { return []string{events.HostFactFilter("exited", hostID)} }
