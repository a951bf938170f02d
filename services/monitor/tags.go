package monitor

import (
	"maps"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// applyTagged changes a job's tags (TagResource, UntagResource): the
// fact's tags are added or replace those with the same keys, then its
// Remove keys are deleted. It applies in any status and reports whether
// the tags changed.
func applyTagged(j *batch.JobDetail, f events.JobTagged) bool {
	tags := maps.Clone(j.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, f.Tags)
	for _, k := range f.Remove {
		delete(tags, k)
	}
	if maps.Equal(tags, j.Tags) || len(tags) == 0 && len(j.Tags) == 0 {
		return false
	}
	if len(tags) == 0 {
		tags = nil
	}
	j.Tags = tags
	return true
}
