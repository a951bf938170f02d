package monitor

import (
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// Retry actions.
const (
	actionRetry = "RETRY"
	actionExit  = "EXIT"
)

// shouldRetry applies a retry strategy to a failed attempt: attempts is the
// number of attempts made so far, including this one. The first matching
// evaluateOnExit entry decides; when none matches, the job is retried (AWS
// Batch's rule) as long as attempts remain.
func shouldRetry(rs *batch.RetryStrategy, attempts int, exitCode *int, reason, statusReason string) bool {
	max := 1
	if rs != nil && rs.Attempts > 0 {
		max = rs.Attempts
	}
	if attempts >= max {
		return false
	}
	if rs == nil {
		return true
	}
	for _, e := range rs.EvaluateOnExit {
		if matches(e, exitCode, reason, statusReason) {
			return strings.EqualFold(e.Action, actionRetry)
		}
	}
	return true
}

func matches(e batch.EvaluateOnExit, exitCode *int, reason, statusReason string) bool {
	if e.OnExitCode != "" {
		if exitCode == nil || !globMatch(e.OnExitCode, strconv.Itoa(*exitCode)) {
			return false
		}
	}
	if e.OnReason != "" && !globMatch(e.OnReason, reason) {
		return false
	}
	if e.OnStatusReason != "" && !globMatch(e.OnStatusReason, statusReason) {
		return false
	}
	return true
}

// globMatch is AWS Batch's pattern rule: a trailing "*" matches any suffix,
// otherwise the whole value must be equal.
func globMatch(pattern, value string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(value, p)
	}
	return pattern == value
}
