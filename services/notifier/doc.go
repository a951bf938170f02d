// Package notifier delivers notifications of job events. While rules
// exist it consumes every event on BATCH_EVENTS (durable consumer
// "notifier", shared by replicas, from the earliest rule's creation on),
// matches it against the notification rules of the bucket
// batch_notification_rules (EventBridge event patterns, pattern.go) and
// stores one notification per matching rule target on
// batch.notify.<rule>.<target> (stream BATCH_NOTIFY). Each target has its
// own durable consumer of its subject, so a slow or dead endpoint holds
// back only its own notifications: webhook targets get an Amazon SNS HTTP
// notification signed with HMAC-SHA256 (webhook.go), NATS targets the
// event JSON (natstarget.go). Failed attempts are retried with exponential
// backoff; a notification that fails every attempt is stored on
// batch.dlq.<rule>.<target> (stream BATCH_DLQ), from which the api lists
// and replays it.
//
// Delivery is at least once: a notification is acknowledged only after it
// was delivered or dead-lettered, and its MessageId is the same on every
// attempt, redelivery and replay, so receivers drop duplicates by it.
package notifier
