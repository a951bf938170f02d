// Package notifier will deliver SNS-style notifications of job events to
// webhooks and NATS subjects, with retries and a dead-letter stream. It is
// not built yet (issue 4); batchd does not run it.
package notifier
