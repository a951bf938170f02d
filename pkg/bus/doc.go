// Package bus is how every service talks to JetStream: it creates the
// streams and buckets of the wire contract, publishes messages with a
// de-duplication id and the trace context in their headers, and carries
// that context back out on the consuming side.
package bus
