package api

import (
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

func TestCheckShare(t *testing.T) {
	fifo := &batch.JobQueueDetail{JobQueueName: "fifo"}
	fair := &batch.JobQueueDetail{JobQueueName: "fair", SchedulingPolicyArn: batch.ARN(batch.KindSchedulingPolicy, "p")}
	wantErr(t, checkShare(fifo, ""), "")
	wantErr(t, checkShare(fifo, "a"), "shareIdentifier is not allowed: job queue fifo has no scheduling policy")
	wantErr(t, checkShare(fair, ""), "shareIdentifier must be specified.")
	wantErr(t, checkShare(fair, "a"), "")
	wantErr(t, checkShare(fair, "team1*"), "")
	wantErr(t, checkShare(fair, "team-1"), `shareIdentifier "team-1" is invalid`)
	wantErr(t, checkShare(fair, strings.Repeat("a", 256)), "is invalid: use up to 255 letters and digits")
}

func TestSharesOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"UserA*", "UserA1", true},
		{"UserA1", "UserA*", true},
		{"UserA*", "User*", true},
		{"UserA", "UserA", true},
		{"UserA", "UserB", false},
		{"UserA*", "UserB*", false},
		{"UserA*", "User", false},
		{"UserA1", "UserA", false},
	} {
		if got := sharesOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("sharesOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
