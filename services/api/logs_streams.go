package api

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// filterLogEventsInput is FilterLogEvents' request.
type filterLogEventsInput struct {
	LogGroupName        string   `json:"logGroupName,omitempty"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier,omitempty"`
	LogStreamNames      []string `json:"logStreamNames,omitempty"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix,omitempty"`
	StartTime           *int64   `json:"startTime,omitempty"`
	EndTime             *int64   `json:"endTime,omitempty"`
	FilterPattern       string   `json:"filterPattern,omitempty"`
	NextToken           string   `json:"nextToken,omitempty"`
	Limit               *int     `json:"limit,omitempty"`
	StartFromHead       *bool    `json:"startFromHead,omitempty"`
	Interleaved         *bool    `json:"interleaved,omitempty"` // ignored by AWS since 2019: events are always interleaved
	Unmask              bool     `json:"unmask,omitempty"`      // nothing is masked
}

func (in *filterLogEventsInput) unmasked() bool { return in.Unmask }

type filteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type filterLogEventsOutput struct {
	Events             []filteredLogEvent `json:"events"`
	SearchedLogStreams []struct{}         `json:"searchedLogStreams"`
	NextToken          string             `json:"nextToken,omitempty"`
}

// filterLogEvents searches the lines of some log streams (all of them by
// default) in stream order, which is the order they were stored in.
func (s *Server) filterLogEvents(ctx context.Context, in *filterLogEventsInput) (*filterLogEventsOutput, error) {
	if err := checkLogGroup(in.LogGroupName, in.LogGroupIdentifier); err != nil {
		return nil, err
	}
	if err := checkTimes(in.StartTime, in.EndTime); err != nil {
		return nil, err
	}
	limit, err := eventLimit(in.Limit, logsMaxEvents)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalidParam("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	if len(in.LogStreamNames) > logsMaxNames {
		return nil, invalidParam("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to %d", logsMaxNames)
	}
	if in.StartFromHead != nil && !*in.StartFromHead && in.NextToken == "" {
		return nil, invalidParam("startFromHead false (the latest events first) is not supported by batchd's FilterLogEvents: search from the head, or read one log stream backwards with GetLogEvents")
	}
	if len(in.FilterPattern) > 1024 {
		return nil, invalidParam("1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	pattern, err := parseLogPattern(in.FilterPattern)
	if err != nil {
		return nil, invalidParam("%v", err)
	}
	var from uint64
	if in.NextToken != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(in.NextToken, "s/"), 10, 64)
		if err != nil || !strings.HasPrefix(in.NextToken, "s/") {
			return nil, invalidParam("The specified nextToken is invalid.")
		}
		from = n + 1
	}
	filters, prefix, err := s.streamFilters(ctx, in.LogStreamNames, in.LogStreamNamePrefix)
	if err != nil {
		return nil, err
	}
	out := &filterLogEventsOutput{Events: []filteredLogEvent{}, SearchedLogStreams: []struct{}{}}
	if len(filters) == 0 {
		return out, nil
	}
	win := timeWindow{in.StartTime, in.EndTime}
	bytes := 0
	last, end, err := s.logs.forward(ctx, filters, from, win.since(), logsScanBudget, func(l *logLine) bool {
		if !win.has(l.time) || !strings.HasPrefix(l.subject, prefix) || !pattern.match(l.message) {
			return true
		}
		if len(out.Events) == limit || len(out.Events) > 0 && bytes+l.size() > logsMaxBytes {
			return false
		}
		bytes += l.size()
		out.Events = append(out.Events, filteredLogEvent{LogStreamName: l.subject, Timestamp: l.time, Message: l.message,
			IngestionTime: l.stored, EventID: strconv.FormatUint(l.seq, 10)})
		return true
	})
	if err != nil {
		return nil, err
	}
	if !end {
		out.NextToken = "s/" + strconv.FormatUint(max(last, sub(from, 1)), 10)
	}
	return out, nil
}

// streamFilters are the subject filters of the log streams a request
// names: the names given, or the streams whose names begin with prefix
// (every one when it is empty). A prefix that ends inside a subject token
// matches through the subjects listed (or, when they are many, through a
// wildcard, with prefix returned for the caller to check each line).
func (s *Server) streamFilters(ctx context.Context, names []string, prefix string) (filters []string, check string, err error) {
	if len(names) > 0 {
		for _, n := range names {
			if _, ok := events.ParseLogSubject(n); ok && !slices.Contains(filters, n) {
				filters = append(filters, n)
			}
		}
		return filters, "", nil
	}
	wide, exact, ok := prefixFilter(prefix)
	if !ok {
		return nil, "", nil
	}
	if exact {
		return []string{wide}, "", nil
	}
	subjects, err := s.logs.subjects(ctx, wide)
	if err != nil {
		return nil, "", err
	}
	for subj := range subjects {
		if strings.HasPrefix(subj, prefix) {
			filters = append(filters, subj)
		}
	}
	if len(filters) > logsMaxLiteral {
		return []string{wide}, prefix, nil
	}
	slices.Sort(filters)
	return filters, "", nil
}

// prefixFilter is the narrowest subject filter that holds every log stream
// whose name begins with prefix; exact when it holds only those. ok is
// false when no log stream can begin so.
func prefixFilter(prefix string) (filter string, exact, ok bool) {
	all := logsSubjectPrefix + ">"
	if !strings.HasPrefix(prefix, logsSubjectPrefix) {
		return all, prefix == "", strings.HasPrefix(logsSubjectPrefix, prefix)
	}
	rest := prefix[len(logsSubjectPrefix):]
	if strings.ContainsAny(rest, "*> \t\r\n") || strings.Contains(rest, "..") || strings.HasPrefix(rest, ".") {
		return "", false, false
	}
	i := strings.LastIndexByte(rest, '.')
	complete, partial := rest[:i+1], rest[i+1:]
	return logsSubjectPrefix + complete + ">", partial == "", true
}

// describeLogStreamsInput is DescribeLogStreams' request.
type describeLogStreamsInput struct {
	LogGroupName        string `json:"logGroupName,omitempty"`
	LogGroupIdentifier  string `json:"logGroupIdentifier,omitempty"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix,omitempty"`
	OrderBy             string `json:"orderBy,omitempty"`
	Descending          *bool  `json:"descending,omitempty"`
	NextToken           string `json:"nextToken,omitempty"`
	Limit               *int   `json:"limit,omitempty"`
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp"`
	LastIngestionTime   int64  `json:"lastIngestionTime"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"` // always 0, as AWS reports it since 2019
}

type describeLogStreamsOutput struct {
	LogStreams []logStreamOut `json:"logStreams"`
	NextToken  string         `json:"nextToken,omitempty"`
}

// describeLogStreams lists the log streams (subjects with lines) by name.
func (s *Server) describeLogStreams(ctx context.Context, in *describeLogStreamsInput) (*describeLogStreamsOutput, error) {
	if err := checkLogGroup(in.LogGroupName, in.LogGroupIdentifier); err != nil {
		return nil, err
	}
	switch in.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		if in.LogStreamNamePrefix != "" {
			return nil, invalidParam("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
		return nil, invalidParam("orderBy LastEventTime is not supported by batchd: order by LogStreamName (a job's log stream is its container.logStreamName in DescribeJobs)")
	default:
		return nil, invalidParam("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	limit, err := eventLimit(in.Limit, logsMaxStreams)
	if err != nil {
		return nil, err
	}
	desc := in.Descending != nil && *in.Descending
	after := ""
	if in.NextToken != "" {
		var ok bool
		if after, ok = strings.CutPrefix(in.NextToken, "n/"); !ok || after == "" {
			return nil, invalidParam("The specified nextToken is invalid.")
		}
	}
	out := &describeLogStreamsOutput{LogStreams: []logStreamOut{}}
	wide, _, ok := prefixFilter(in.LogStreamNamePrefix)
	if !ok {
		return out, nil
	}
	subjects, err := s.logs.subjects(ctx, wide)
	if err != nil {
		return nil, err
	}
	var names []string
	for subj := range subjects {
		if !strings.HasPrefix(subj, in.LogStreamNamePrefix) {
			continue
		}
		if after != "" && (!desc && subj <= after || desc && subj >= after) {
			continue
		}
		names = append(names, subj)
	}
	slices.Sort(names)
	if desc {
		slices.Reverse(names)
	}
	if len(names) > limit {
		names = names[:limit]
		out.NextToken = "n/" + names[limit-1]
	}
	out.LogStreams = make([]logStreamOut, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ls := logStreamOut{LogStreamName: name, Arn: logStreamARN(name)}
			first, err := s.logs.first(ctx, name)
			if err == nil && first != nil {
				ls.CreationTime, ls.FirstEventTimestamp = first.stored, first.time
			}
			var last *logLine
			if err == nil {
				last, err = s.logs.last(ctx, name)
			}
			if err == nil && last != nil {
				ls.LastEventTimestamp, ls.LastIngestionTime = last.time, last.stored
			}
			out.LogStreams[i], errs[i] = ls, err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// describeLogGroupsInput is DescribeLogGroups' request.
type describeLogGroupsInput struct {
	AccountIdentifiers    []string `json:"accountIdentifiers,omitempty"`
	LogGroupNamePrefix    string   `json:"logGroupNamePrefix,omitempty"`
	LogGroupNamePattern   string   `json:"logGroupNamePattern,omitempty"`
	NextToken             string   `json:"nextToken,omitempty"`
	Limit                 *int     `json:"limit,omitempty"`
	IncludeLinkedAccounts *bool    `json:"includeLinkedAccounts,omitempty"`
	LogGroupClass         string   `json:"logGroupClass,omitempty"`
	LogGroupIdentifiers   []string `json:"logGroupIdentifiers,omitempty"`
}

type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn"`
	StoredBytes       uint64 `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
}

type describeLogGroupsOutput struct {
	LogGroups []logGroupOut `json:"logGroups"`
	NextToken string        `json:"nextToken,omitempty"`
}

// describeLogGroups shows the one log group: BATCH_LOGS.
func (s *Server) describeLogGroups(ctx context.Context, in *describeLogGroupsInput) (*describeLogGroupsOutput, error) {
	if _, err := eventLimit(in.Limit, logsMaxStreams); err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, invalidParam("logGroupNamePrefix and logGroupNamePattern are mutually exclusive parameters.")
	}
	if len(in.LogGroupIdentifiers) > 0 && (in.LogGroupNamePrefix != "" || in.LogGroupNamePattern != "") {
		return nil, invalidParam("logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern.")
	}
	if len(in.AccountIdentifiers) > 0 && (in.IncludeLinkedAccounts == nil || !*in.IncludeLinkedAccounts) {
		return nil, invalidParam("accountIdentifiers requires includeLinkedAccounts true.")
	}
	switch in.LogGroupClass {
	case "", "STANDARD", "INFREQUENT_ACCESS", "ESSENTIALS", "DELIVERY":
	default:
		return nil, invalidParam("1 validation error detected: Value '%s' at 'logGroupClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY, ESSENTIALS]", in.LogGroupClass)
	}
	if in.NextToken != "" { // one group: there is never a next page
		return nil, invalidParam("The specified nextToken is invalid.")
	}
	out := &describeLogGroupsOutput{LogGroups: []logGroupOut{}}
	match := (in.LogGroupClass == "" || in.LogGroupClass == "STANDARD") &&
		strings.HasPrefix(LogGroup, in.LogGroupNamePrefix) && strings.Contains(LogGroup, in.LogGroupNamePattern)
	if len(in.AccountIdentifiers) > 0 && !slices.Contains(in.AccountIdentifiers, batch.Account) {
		match = false
	}
	if len(in.LogGroupIdentifiers) > 0 {
		named := false
		for _, id := range in.LogGroupIdentifiers {
			named = named || checkLogGroup("", id) == nil
		}
		match = match && named
	}
	if !match {
		return out, nil
	}
	info, err := s.logs.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", events.StreamLogs, err)
	}
	g := logGroupOut{LogGroupName: LogGroup, CreationTime: info.Created.UnixMilli(), Arn: logGroupARN(),
		LogGroupArn: strings.TrimSuffix(logGroupARN(), ":*"), StoredBytes: info.State.Bytes, LogGroupClass: "STANDARD"}
	if age := info.Config.MaxAge; age > 0 && age%(24*time.Hour) == 0 {
		g.RetentionInDays = int(age / (24 * time.Hour))
	}
	out.LogGroups = append(out.LogGroups, g)
	return out, nil
}
