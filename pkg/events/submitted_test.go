package events

import (
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

func TestSubmittedJobUndoesMsgID(t *testing.T) {
	for _, id := range []string{"6f1c", "parent:3", "mnp#0"} {
		got, ok := SubmittedJob(JobSubmitted{Job: batch.JobDetail{JobID: id}}.MsgID())
		if !ok || got != id {
			t.Fatalf("SubmittedJob of %q's submit id: %q %v", id, got, ok)
		}
	}
	for _, msgID := range []string{"", "submit/", "gate/x/RUNNABLE", "x"} {
		if got, ok := SubmittedJob(msgID); ok {
			t.Fatalf("SubmittedJob(%q) = %q, want none", msgID, got)
		}
	}
}
