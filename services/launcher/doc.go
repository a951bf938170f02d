// Package launcher runs job containers on one host. It advertises the
// host's capacity in the hosts bucket (a heartbeat every few seconds),
// consumes the placements the scheduler makes for this host, starts each
// attempt's container through a runtime.Runtime (Podman in production),
// streams its output to the logs stream, and reports JobStarted and
// JobExited facts. Containers are named by job and attempt and labelled
// with the host, so a restarted launcher re-adopts what is running instead
// of starting it again.
//
// The launcher is the only service that reaches Podman.
package launcher
