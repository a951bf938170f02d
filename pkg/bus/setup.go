package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
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
	// Replicas is how many servers of the NATS cluster keep a copy of
	// every stream and bucket (0 is 1). An existing stream or bucket with
	// another count is changed to this one.
	Replicas int
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
// contract. The api does it at start (it is the only service whose NATS
// user may create and change streams, pkg/natsauth); the other services
// wait for them with AwaitStreams, so no start order is needed.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, r Retention) error {
	for _, sc := range streamConfigs(r) {
		if err := retryJS(ctx, func(ctx context.Context) error { _, err := js.CreateOrUpdateStream(ctx, sc); return err }); err != nil {
			return fmt.Errorf("ensure %s: %w", sc.Name, err)
		}
	}
	return nil
}

// AwaitStreams waits until every stream and bucket of the wire contract
// exists (EnsureStreams, by the api, makes them), saying every
// awaitNotice what it waits for. It changes nothing.
func AwaitStreams(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	noticed := time.Now()
	for _, sc := range streamConfigs(Retention{}) {
		wait := 50 * time.Millisecond
		for {
			actx, cancel := context.WithTimeout(ctx, jsAttemptTimeout)
			_, err := js.Stream(actx, sc.Name)
			cancel()
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrStreamNotFound) && !Transient(err) {
				return fmt.Errorf("look up %s: %w", sc.Name, err)
			}
			if time.Since(noticed) >= awaitNotice {
				log.WarnContext(ctx, "waiting for the api to create the streams", "stream", sc.Name, "err", err)
				noticed = time.Now()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("await %s: %w", sc.Name, ctx.Err())
			case <-time.After(wait):
			}
			wait = min(2*wait, time.Second)
		}
	}
	return nil
}

// awaitNotice is how often AwaitStreams says it is still waiting.
const awaitNotice = 10 * time.Second

// streamConfigs are the streams of the wire contract and those of its
// buckets, with r's retention and copies.
func streamConfigs(r Retention) []jetstream.StreamConfig {
	replicas := max(r.Replicas, 1)
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
	for i := range streams {
		streams[i].Replicas = replicas
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
		// Per-key TTLs (the scheduler lease) need limit markers.
		{Bucket: events.BucketScheduler, Storage: jetstream.FileStorage, LimitMarkerTTL: time.Minute,
			Description: "scheduler lease and fair-share usage (writer: scheduler)"},
		{Bucket: events.BucketMonitor, Storage: jetstream.FileStorage, LimitMarkerTTL: time.Minute,
			Description: "monitor partition leases and replicas (writer: monitor)"},
	}
	for _, kc := range buckets {
		streams = append(streams, bucketStream(kc, replicas))
	}
	return streams
}

// bucketStream is the stream of a KV bucket, as jetstream.CreateKeyValue
// makes it, except that a bucket with more than one copy does not answer
// reads from its followers: a follower's direct get may return a value
// older than one the reader has just written or seen announced (the
// monitor would then find a job still SUBMITTED after its gate). With
// AllowDirect off, jetstream.KeyValue reads from the stream leader.
func bucketStream(kc jetstream.KeyValueConfig, replicas int) jetstream.StreamConfig {
	dup := 2 * time.Minute
	if kc.TTL > 0 && kc.TTL < dup {
		dup = kc.TTL
	}
	return jetstream.StreamConfig{
		Name: "KV_" + kc.Bucket, Subjects: []string{"$KV." + kc.Bucket + ".>"}, Description: kc.Description,
		MaxMsgsPerSubject: 1, MaxBytes: -1, MaxAge: kc.TTL, MaxMsgSize: -1, Storage: kc.Storage, Replicas: replicas,
		AllowRollup: true, DenyDelete: true, Duplicates: dup, MaxMsgs: -1, MaxConsumers: -1,
		AllowDirect: replicas == 1, Discard: jetstream.DiscardNew,
		AllowMsgTTL: kc.LimitMarkerTTL > 0, SubjectDeleteMarkerTTL: kc.LimitMarkerTTL,
	}
}

// jsAttemptTimeout bounds one JetStream API call: in a cluster electing
// its meta leader a call can hang until its context ends.
const jsAttemptTimeout = 3 * time.Second

// jsRetryFor is how long a call is retried while the cluster is not ready.
const jsRetryFor = time.Minute

// retryJS runs a JetStream API call with a timeout per attempt, again
// (with backoff) while it fails for a reason that passes: the cluster is
// electing a leader or not formed yet, the call timed out, or another
// process created the same stream between this one's lookup and its
// create (services and replicas start concurrently and all ensure the same
// streams).
func retryJS(ctx context.Context, op func(ctx context.Context) error) error {
	deadline := time.Now().Add(jsRetryFor)
	wait := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, jsAttemptTimeout)
		err := op(actx)
		cancel()
		if err == nil || !Transient(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// Transient reports whether a JetStream call failed for a reason that
// passes by itself: a timeout, no server answering yet, a cluster without
// a leader (API errors with code 503), or a concurrent create of the same
// stream.
func Transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}
