package events

import (
	"strconv"
	"strings"
)

// LogAttempt returns the attempt number (from 1) of a LogSubject subject,
// 0 when the subject is not one.
func LogAttempt(subject string) int {
	if !strings.HasPrefix(subject, "batch.logs.") {
		return 0
	}
	n, err := strconv.Atoi(subject[strings.LastIndexByte(subject, '.')+1:])
	if err != nil {
		return 0
	}
	return n
}
