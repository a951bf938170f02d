package events

// TypeJobTagged is the Batch-Type of a JobTagged fact.
const TypeJobTagged = "batch.job.v1.tagged"

// JobTagged changes the tags of a job (TagResource, UntagResource): Tags
// are added or replaced, then the keys in Remove are deleted. The monitor
// applies it to the record, whatever the job's status.
type JobTagged struct {
	JobID  string            `json:"jobId"`
	Tags   map[string]string `json:"tags,omitempty"`
	Remove []string          `json:"remove,omitempty"`
	// Request names the API request, so that a retried publish is stored
	// once and two requests with the same tags are two facts.
	Request string `json:"request"`
}

// MsgID is the de-duplication id of the fact: one per request.
func (e JobTagged) MsgID() string { return "tag/" + e.JobID + "/" + e.Request }

// TagSubject is where the api stores a job's tag changes.
func TagSubject(jobID string) string { return jobSubject("tag", jobID) }

// Subject, Type and Key make JobTagged an events.Keyed.
func (e JobTagged) Subject() string { return TagSubject(e.JobID) }
func (JobTagged) Type() string      { return TypeJobTagged }
func (e JobTagged) Key() string     { return e.JobID }
