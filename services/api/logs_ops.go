package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Limits of the CloudWatch Logs operations, as AWS sets them.
const (
	logsMaxEvents     = 10000   // events a page holds at most (and by default)
	logsMaxBytes      = 1 << 20 // 1 MB of events (message bytes + 26 each)
	logsMaxStreams    = 50      // DescribeLogStreams / DescribeLogGroups page size
	logsMaxNames      = 100     // FilterLogEvents logStreamNames
	logsMaxLiteral    = 256     // a prefix matching more streams is scanned through its wildcard
	logsSubjectPrefix = "batch.logs."
)

// logsScanBudget is how many lines one call scans at most: a page may then
// be partial or empty with a token to go on, as AWS's may.
var logsScanBudget uint64 = 200000

// getLogEventsInput is GetLogEvents' request.
type getLogEventsInput struct {
	LogGroupName       string `json:"logGroupName,omitempty"`
	LogGroupIdentifier string `json:"logGroupIdentifier,omitempty"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          *int64 `json:"startTime,omitempty"`
	EndTime            *int64 `json:"endTime,omitempty"`
	NextToken          string `json:"nextToken,omitempty"`
	Limit              *int   `json:"limit,omitempty"`
	StartFromHead      *bool  `json:"startFromHead,omitempty"`
	Unmask             bool   `json:"unmask,omitempty"` // nothing is masked: every line is shown as written
}

func (in *getLogEventsInput) unmasked() bool { return in.Unmask }

type outputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

// checkLogGroup accepts the one log group, by name or ARN.
func checkLogGroup(name, ident string) error {
	switch {
	case name != "" && ident != "":
		return invalidParam("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name == "" && ident == "":
		return invalidParam("Either logGroupName or logGroupIdentifier must be given (the log group of job output is %s).", LogGroup)
	case ident != "":
		name = strings.TrimSuffix(ident, ":*")
		if arn, ok := strings.CutPrefix(name, "arn:aws:logs:"+batch.Region+":"+batch.Account+":log-group:"); ok {
			name = arn
		}
	}
	if name != LogGroup {
		return &apiError{Type: logsResourceNotFound, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("The specified log group does not exist. (batchd has one log group, %s: the output of jobs)", LogGroup)}
	}
	return nil
}

// checkTimes validates startTime and endTime (ms, at least 0).
func checkTimes(start, end *int64) error {
	for _, t := range []struct {
		name string
		v    *int64
	}{{"startTime", start}, {"endTime", end}} {
		if t.v != nil && *t.v < 0 {
			return invalidParam("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to 0", *t.v, t.name)
		}
	}
	return nil
}

// eventLimit is a request's limit: 1 to 10,000, by default 10,000.
func eventLimit(limit *int, maxV int) (int, error) {
	if limit == nil {
		return maxV, nil
	}
	switch {
	case *limit < 1:
		return 0, invalidParam("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *limit)
	case *limit > maxV:
		return 0, invalidParam("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to %d", *limit, maxV)
	}
	return *limit, nil
}

// timeWindow is [start, end) in ms; 0 bounds are open.
type timeWindow struct {
	start, end *int64
}

func (w timeWindow) has(t int64) bool {
	return (w.start == nil || t >= *w.start) && (w.end == nil || t < *w.end)
}

// since is the store time a scan for the window starts at (zero: the
// first line).
func (w timeWindow) since() time.Time {
	if w.start == nil || *w.start == 0 {
		return time.Time{}
	}
	return time.UnixMilli(*w.start).Add(-logSkew)
}

func streamNotFound() error {
	return &apiError{Type: logsResourceNotFound, Status: http.StatusBadRequest, Message: "The specified log stream does not exist."}
}

// Tokens of GetLogEvents: f/<sequence> reads the lines after that stream
// sequence, b/<sequence> the lines before it.
func logToken(dir byte, seq uint64) string { return fmt.Sprintf("%c/%020d", dir, seq) }

func parseLogToken(t string) (byte, uint64, error) {
	if len(t) > 2 && (t[0] == 'f' || t[0] == 'b') && t[1] == '/' {
		if n, err := strconv.ParseUint(t[2:], 10, 64); err == nil {
			return t[0], n, nil
		}
	}
	return 0, 0, invalidParam("The specified nextToken is invalid.")
}

// streamExists tells whether a log stream that has no line yet exists: the
// job record names it (its container started, as AWS creates the stream
// then).
func (s *Server) streamExists(ctx context.Context, name string) (bool, error) {
	ls, ok := events.ParseLogSubject(name)
	if !ok {
		return false, nil
	}
	e, err := s.jobsKV.Get(ctx, events.Token(ls.JobID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read job %s: %w", ls.JobID, err)
	}
	var j batch.JobDetail
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return false, fmt.Errorf("read job %s: %w", ls.JobID, err)
	}
	return namesLogStream(&j, name), nil
}

// namesLogStream tells whether a record shows a log stream name.
func namesLogStream(j *batch.JobDetail, name string) bool {
	if j.Container != nil && j.Container.LogStreamName == name {
		return true
	}
	for _, a := range j.Attempts {
		if a.Container != nil && a.Container.LogStreamName == name {
			return true
		}
		for _, t := range a.TaskProperties {
			for _, c := range t.Containers {
				if c.LogStreamName == name {
					return true
				}
			}
		}
	}
	if t := j.EcsProperties.Task(); t != nil {
		for _, c := range t.Containers {
			if c.LogStreamName == name {
				return true
			}
		}
	}
	return false
}

// getLogEvents reads one log stream (one attempt's lines), forward from a
// position or the head, or backward from a position or the end.
func (s *Server) getLogEvents(ctx context.Context, in *getLogEventsInput) (*getLogEventsOutput, error) {
	if err := checkLogGroup(in.LogGroupName, in.LogGroupIdentifier); err != nil {
		return nil, err
	}
	if in.LogStreamName == "" {
		return nil, invalidParam("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
	}
	if err := checkTimes(in.StartTime, in.EndTime); err != nil {
		return nil, err
	}
	limit, err := eventLimit(in.Limit, logsMaxEvents)
	if err != nil {
		return nil, err
	}
	dir, pos := byte('b'), uint64(0)
	if in.StartFromHead != nil && *in.StartFromHead {
		dir = 'f'
	}
	if in.NextToken != "" {
		if dir, pos, err = parseLogToken(in.NextToken); err != nil {
			return nil, err
		}
	}
	name := in.LogStreamName
	if _, ok := events.ParseLogSubject(name); !ok {
		return nil, streamNotFound()
	}
	lastLine, err := s.logs.last(ctx, name)
	if err != nil {
		return nil, err
	}
	var last uint64
	if lastLine != nil {
		last = lastLine.seq
	} else if ok, err := s.streamExists(ctx, name); err != nil {
		return nil, err
	} else if !ok {
		return nil, streamNotFound()
	}
	if in.NextToken == "" && dir == 'b' {
		pos = last + 1
	}
	win := timeWindow{in.StartTime, in.EndTime}
	out := &getLogEventsOutput{Events: []outputLogEvent{}}
	if dir == 'f' {
		bytes := 0
		took, first := pos, pos+1
		if last > pos {
			var lastTaken uint64
			lastTaken, _, err = s.logs.forward(ctx, []string{name}, pos+1, win.since(), logsScanBudget, func(l *logLine) bool {
				if !win.has(l.time) {
					return true
				}
				if len(out.Events) == limit || len(out.Events) > 0 && bytes+l.size() > logsMaxBytes {
					return false
				}
				if len(out.Events) == 0 {
					first = l.seq
				}
				bytes += l.size()
				out.Events = append(out.Events, outputLogEvent{Timestamp: l.time, Message: l.message, IngestionTime: l.stored})
				return true
			})
			if err != nil {
				return nil, err
			}
			took = max(took, lastTaken)
		}
		out.NextForwardToken = logToken('f', took)
		out.NextBackwardToken = logToken('b', first)
		return out, nil
	}
	hi := min(sub(pos, 1), last)
	lines, floor, lowest, err := s.logs.backward(ctx, []string{name}, hi, win.since(), limit, logsScanBudget, func(l *logLine) bool { return win.has(l.time) })
	if err != nil {
		return nil, err
	}
	bytes, from := 0, len(lines)
	for from > 0 && (from == len(lines) || bytes+lines[from-1].size() <= logsMaxBytes) {
		bytes += lines[from-1].size()
		from--
	}
	lines = lines[from:]
	for _, l := range lines {
		out.Events = append(out.Events, outputLogEvent{Timestamp: l.time, Message: l.message, IngestionTime: l.stored})
	}
	out.NextBackwardToken = logToken('b', pos)
	out.NextForwardToken = logToken('f', sub(pos, 1))
	if !floor && len(lines) == 0 { // the scan budget ran out: go on from where it stopped
		out.NextBackwardToken = logToken('b', lowest)
	}
	if len(lines) > 0 {
		out.NextBackwardToken = logToken('b', lines[0].seq)
		out.NextForwardToken = logToken('f', lines[len(lines)-1].seq)
	}
	return out, nil
}
