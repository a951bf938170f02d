package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Retention says how long the streams keep what they hold; zero keeps it
// for ever.
type Retention struct {
	Jobs   time.Duration // commands and facts (the job history)
	Events time.Duration // state change events
	Logs   time.Duration // job output
	// Notifications waiting for delivery (BATCH_NOTIFY); what is older is
	// dropped undelivered.
	Notifications time.Duration
	// DeadLetters: undeliverable notifications (BATCH_DLQ).
	DeadLetters time.Duration
}

// DefaultRetention keeps jobs, logs and dead letters, and events and
// notifications for 7 days.
var DefaultRetention = Retention{Events: 7 * 24 * time.Hour, Notifications: 7 * 24 * time.Hour}

// HostTTL is how long a launcher's host entry lives without a heartbeat.
const HostTTL = 15 * time.Second

// HeartbeatInterval is how often a launcher refreshes its host entry.
const HeartbeatInterval = 3 * time.Second

func dupWindow(maxAge time.Duration) time.Duration {
	const want = 10 * time.Minute
	if maxAge > 0 && maxAge < want {
		return maxAge
	}
	return want
}

// EnsureStreams creates or updates every stream and bucket of the wire
// contract. Every service calls it at start, so no start order is needed.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, r Retention) error {
	streams := []jetstream.StreamConfig{
		{Name: events.StreamJobs, Subjects: []string{events.SubjectJobs}, Storage: jetstream.FileStorage,
			MaxAge: r.Jobs, Duplicates: dupWindow(r.Jobs), Description: "job commands and facts"},
		{Name: events.StreamEvents, Subjects: []string{events.SubjectEventsAll}, Storage: jetstream.FileStorage,
			MaxAge: r.Events, Duplicates: dupWindow(r.Events), Description: "job state change events"},
		{Name: events.StreamLogs, Subjects: []string{events.SubjectLogsAll}, Storage: jetstream.FileStorage,
			MaxAge: r.Logs, Duplicates: dupWindow(r.Logs), Description: "job output"},
		{Name: events.StreamNotify, Subjects: []string{events.SubjectNotifyAll}, Storage: jetstream.FileStorage,
			MaxAge: r.Notifications, Duplicates: dupWindow(r.Notifications), Description: "notifications waiting for delivery"},
		{Name: events.StreamDeadLetters, Subjects: []string{events.SubjectDeadAll}, Storage: jetstream.FileStorage,
			MaxAge: r.DeadLetters, Duplicates: dupWindow(r.DeadLetters), Description: "undeliverable notifications"},
	}
	for _, sc := range streams {
		if err := retryRace(func() error { _, err := js.CreateOrUpdateStream(ctx, sc); return err }); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: events.BucketJobs, Storage: jetstream.FileStorage, Description: "job records (writer: monitor)"},
		{Bucket: events.BucketDefinitions, Storage: jetstream.FileStorage, Description: "job definitions (writer: api)"},
		{Bucket: events.BucketQueues, Storage: jetstream.FileStorage, Description: "job queues (writer: api)"},
		{Bucket: events.BucketEnvs, Storage: jetstream.FileStorage, Description: "compute environments (writer: api)"},
		{Bucket: events.BucketHosts, Storage: jetstream.FileStorage, TTL: HostTTL, Description: "live launcher hosts (writer: launcher)"},
		{Bucket: events.BucketPolicies, Storage: jetstream.FileStorage, Description: "scheduling policies (writer: api)"},
		{Bucket: events.BucketResources, Storage: jetstream.FileStorage, Description: "consumable resources (writer: api)"},
		{Bucket: events.BucketRules, Storage: jetstream.FileStorage, Description: "notification rules (writer: api)"},
		{Bucket: events.BucketSettings, Storage: jetstream.FileStorage, Description: "deployment markers (writer: api)"},
	}
	for _, kc := range buckets {
		if err := retryRace(func() error { _, err := js.CreateOrUpdateKeyValue(ctx, kc); return err }); err != nil {
			return fmt.Errorf("ensure bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

// retryRace runs a create-or-update again when another process created the
// same stream between its lookup and its create: services (and replicas)
// start concurrently and all ensure the same streams.
func retryRace(op func() error) error {
	var err error
	for try := 0; try < 5; try++ {
		if err = op(); err == nil || !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return err
		}
		time.Sleep(time.Duration(try+1) * 20 * time.Millisecond)
	}
	return err
}
