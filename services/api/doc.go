// Package api is the AWS Batch API of batchd: the job queue, compute
// environment, job definition and job operations, served over HTTP exactly
// as AWS Batch speaks them (restJson1: POST /v1/<operation>, camelCase JSON,
// epoch-millisecond times, ClientException/ServerException errors with the
// X-Amzn-ErrorType header) and over NATS request-reply as a nats.go/micro
// service (events.ServiceAPIName; one endpoint per operation on
// events.APISubject("<Operation>"), e.g. batch.api.SubmitJob, in a queue
// group so that N replicas share the load). Both transports take and give
// the same JSON bodies; on NATS an error carries the same body plus the
// micro error headers (code "400" or "500", description = message).
//
// What the service owns and writes:
//
//	bucket batch_computeenvs   key <name>          batch.ComputeEnvironmentDetail
//	bucket batch_queues        key <name>          batch.JobQueueDetail
//	bucket batch_jobdefs       key <name>.<rev>    batch.JobDefinition
//
// It is the only writer of those three buckets. Creates use KV Create (so
// two replicas can never both create one name, nor two registrations share
// a revision); updates use compare-and-set on the revision read, retried on
// conflict. Each replica mirrors the buckets in memory through a KV watch
// and falls back to a direct read when a name is not (yet) in its mirror.
//
// What it emits:
//
//	stream BATCH_JOBS  subject batch.job.submit.<job>  events.JobSubmitted
//
// SubmitJob resolves the job completely (definition revision, parameters,
// Ref:: substitution, container overrides, retry strategy, timeout) and
// answers only after JetStream has acknowledged the JobSubmitted message,
// so an accepted job is durable. The monitor turns it into the job record.
//
// What it consumes:
//
//	bucket batch_jobs (written by the monitor): DescribeJobs reads records
//	by key; a KV watch keeps a per-replica, summary-only index for ListJobs.
//	stream BATCH_JOBS: DescribeJobs falls back to the last submit message of
//	a job whose record the monitor has not written yet.
package api
