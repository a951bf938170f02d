// Package natsauth is the NATS side of a closed deployment (batchd
// --auth): one account for batchd's services, one user per service with
// least-privilege permissions (it publishes only the facts and buckets it
// owns), and one account per API credential that may call only the
// batch.api.<Operation> subjects its policy allows and subscribe to events.
// ServerConfig writes it all as a nats-server configuration, used by the
// embedded server and given to an external cluster (deploy/nats).
package natsauth

import (
	"slices"

	"github.com/batchd/batchd/pkg/events"
)

// Account is the NATS account of batchd's services, streams and buckets.
const Account = "BATCHD"

// Services are the service users (a launcher's user is per host:
// LauncherUser).
var Services = []string{"api", "scheduler", "monitor", "notifier"}

// LauncherUser is the NATS user of the launcher of a host.
func LauncherUser(hostID string) string { return "launcher-" + hostID }

// Permissions are a NATS user's publish and subscribe rules.
type Permissions struct {
	Publish, PublishDeny, Subscribe []string
	// AllowResponses lets the user answer requests it receives.
	AllowResponses bool
}

// jetStreamClient is what every service needs of JetStream: the API
// (consumers, reads, stream lookups), acknowledgements and its inboxes,
// but none of the calls that destroy data and none that create or change
// a stream: only the api sets the streams and buckets up
// (bus.EnsureStreams), so a stolen password of another service cannot
// add sources or republishing to a stream and copy messages onto subjects
// it may not publish on.
var jetStreamClient = Permissions{
	Publish: []string{"$JS.API.>", "$JS.ACK.>", "$JS.FC.>"},
	PublishDeny: []string{"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>",
		"$JS.API.STREAM.SNAPSHOT.>", "$JS.API.STREAM.RESTORE.>", "$JS.API.ACCOUNT.PURGE.>", "$JS.API.META.>", "$JS.API.SERVER.>"},
	Subscribe: []string{"_INBOX.>"},
}

func kv(bucket string) string { return "$KV." + bucket + ".>" }

// ServicePermissions are the permissions of a service user ("api",
// "scheduler", "monitor", "notifier", or "launcher" with its host id):
// the subjects of the facts it owns (docs/architecture.md, "Who owns what")
// and of its buckets.
func ServicePermissions(service, hostID string) Permissions {
	p := Permissions{
		Publish:     slices.Clone(jetStreamClient.Publish),
		PublishDeny: slices.Clone(jetStreamClient.PublishDeny),
		Subscribe:   slices.Clone(jetStreamClient.Subscribe),
	}
	allow := func(subjects ...string) { p.Publish = append(p.Publish, subjects...) }
	undeny := func(subject string) {
		p.PublishDeny = slices.DeleteFunc(p.PublishDeny, func(s string) bool { return s == subject })
	}
	switch service {
	case "api":
		allow(events.FactFilter("submit"), events.FactFilter("tag"), events.FactFilter("cancel"), events.FactFilter("terminate"),
			"batch.notify.>", // ReplayDeadLetters
			kv(events.BucketEnvs), kv(events.BucketQueues), kv(events.BucketDefinitions), kv(events.BucketPolicies),
			kv(events.BucketResources), kv(events.BucketRules), kv(events.BucketSettings))
		undeny("$JS.API.STREAM.MSG.DELETE.>") // a replayed dead letter leaves BATCH_DLQ
		undeny("$JS.API.STREAM.CREATE.>")     // it sets the streams and buckets up
		undeny("$JS.API.STREAM.UPDATE.>")
		p.Subscribe = append(p.Subscribe, events.SubjectAPIPrefix+".>", "$SRV.>")
		p.AllowResponses = true
	case "scheduler":
		allow(events.FactFilter("gate"), events.FactFilter("wait"), events.SubjectPlacedAll, events.SubjectGangAll, events.FactFilter("hostlost"),
			kv(events.BucketScheduler))
	case "monitor":
		allow(events.FactFilter("cancel"), events.FactFilter("terminate"), events.HostFactFilter("stop", "*"), events.SubjectPlacedAll,
			events.SubjectEventsAll, kv(events.BucketJobs), kv(events.BucketMonitor))
		undeny("$JS.API.STREAM.PURGE.>") // --job-retention purges old jobs' facts
	case "notifier":
		// Notifications and dead letters, and the subjects of NATS
		// targets, which the rules choose: anything but batchd's own.
		allow(">")
		p.PublishDeny = append(p.PublishDeny, "batch.job.>", "batch.events.>", "batch.logs.>", "batch.api.>", "$KV.>", "$SRV.>")
	case "launcher":
		allow(startedFilter(hostID)...)
		allow(exitedFilter(hostID)...)
		allow(events.SubjectLogsAll, "$KV."+events.BucketHosts+"."+hostID)
	default:
		return Permissions{}
	}
	return p
}
