package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// ListJobs filter names.
const (
	filterJobName         = "JOB_NAME"
	filterJobDefinition   = "JOB_DEFINITION"
	filterBeforeCreatedAt = "BEFORE_CREATED_AT"
	filterAfterCreatedAt  = "AFTER_CREATED_AT"
	filterShareIdentifier = "SHARE_IDENTIFIER"
)

// listJobs is the ListJobs operation. With jobStatus (default RUNNING) it
// lists the jobs of that status in queue order, oldest first; with filters
// it lists the jobs of every status, newest first, as AWS does.
func (s *Server) listJobs(ctx context.Context, in *batch.ListJobsInput) (*batch.ListJobsOutput, error) {
	q, err := s.listQueryFor(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.index.waitReady(ctx); err != nil {
		return nil, err
	}
	jobs, next := s.index.list(q)
	out := &batch.ListJobsOutput{JobSummaryList: jobs}
	if next != nil {
		out.NextToken = encodeListToken(q.newestFirst, *next)
	}
	return out, nil
}

// listQueryFor turns a ListJobs request into an index query.
func (s *Server) listQueryFor(ctx context.Context, in *batch.ListJobsInput) (listQuery, error) {
	var q listQuery
	given := 0
	for _, v := range []string{in.JobQueue, in.ArrayJobID, in.MultiNodeJobID} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return q, clientErr("give exactly one of jobQueue, arrayJobId or multiNodeJobId")
	}
	switch {
	case in.JobQueue != "":
		name := batch.NameFromRef(batch.KindJobQueue, in.JobQueue)
		err := errNotFound
		if validName(name) {
			_, err = s.queues.load(ctx, name)
		}
		if errors.Is(err, errNotFound) {
			return q, clientErr("job queue %s does not exist%s", in.JobQueue, s.queueHint())
		}
		if err != nil {
			return q, err
		}
		q.group = groupQueue + name
	case in.ArrayJobID != "":
		q.group = groupArray + in.ArrayJobID
	default:
		q.group = groupNodes + in.MultiNodeJobID
	}
	if in.MaxResults < 0 || in.MaxResults > maxListJobs {
		return q, clientErr("maxResults %d is out of range: use 1 to %d", in.MaxResults, maxListJobs)
	}
	if in.JobStatus != "" && !in.JobStatus.Valid() {
		return q, clientErr("jobStatus %q is invalid: use one of SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED", in.JobStatus)
	}
	q.limit = in.MaxResults
	if len(in.Filters) == 0 {
		q.status = in.JobStatus
		if q.status == "" {
			q.status = batch.StatusRunning
		}
		if q.limit == 0 {
			q.limit = maxListJobs
		}
	} else {
		if in.JobQueue == "" {
			return q, clientErr("filters apply only when listing a jobQueue, not the children of an array or multi-node job")
		}
		if err := applyFilters(&q, in); err != nil {
			return q, err
		}
		q.newestFirst = true
		if q.limit == 0 || q.limit > maxListFiltered {
			q.limit = maxListFiltered
		}
	}
	if in.NextToken != "" {
		k, err := decodeListToken(in.NextToken, q.newestFirst)
		if err != nil {
			return q, err
		}
		if q.cursor == nil || k.compare(*q.cursor) < 0 {
			q.cursor = &k
		}
	}
	return q, nil
}

// applyFilters turns the ListJobs filters into predicates. Several filters
// must all match (AWS takes one at a time).
func applyFilters(q *listQuery, in *batch.ListJobsInput) error {
	var preds []func(*jobEntry) bool
	for _, f := range in.Filters {
		if len(f.Values) != 1 {
			return clientErr("filter %s has %d values: give exactly one", f.Name, len(f.Values))
		}
		v := f.Values[0]
		switch f.Name {
		case filterJobName:
			preds = append(preds, jobNameFilter(v))
		case filterJobDefinition:
			preds = append(preds, jobDefinitionFilter(v))
		case filterBeforeCreatedAt, filterAfterCreatedAt:
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return clientErr("filter %s value %q is invalid: give a time in milliseconds since 1970-01-01 UTC", f.Name, v)
			}
			if f.Name == filterBeforeCreatedAt {
				// Newest first: start at the first job created before t.
				if q.cursor == nil || t < q.cursor.createdAt {
					q.cursor = &sortKey{createdAt: t}
				}
			} else {
				prev := q.done
				q.done = func(e *jobEntry) bool { return e.key.createdAt <= t || prev != nil && prev(e) }
			}
		case filterShareIdentifier:
			preds = append(preds, func(e *jobEntry) bool { return e.share == v })
			q.status = in.JobStatus
		default:
			return clientErr("filter name %q is invalid: use JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT, AFTER_CREATED_AT or SHARE_IDENTIFIER (names are case sensitive)", f.Name)
		}
	}
	if len(preds) > 0 {
		q.match = func(e *jobEntry) bool {
			for _, p := range preds {
				if !p(e) {
					return false
				}
			}
			return true
		}
	}
	return nil
}

// jobNameFilter matches job names case-insensitively; a trailing * matches
// any name that starts with what comes before it.
func jobNameFilter(v string) func(*jobEntry) bool {
	if prefix, ok := strings.CutSuffix(v, "*"); ok {
		prefix = strings.ToLower(prefix)
		return func(e *jobEntry) bool {
			return len(e.name) >= len(prefix) && strings.ToLower(e.name[:len(prefix)]) == prefix
		}
	}
	return func(e *jobEntry) bool { return strings.EqualFold(e.name, v) }
}

// jobDefinitionFilter matches the job definition: an ARN matches that
// revision; a name matches every revision (name:revision one revision); a
// trailing * matches the names that start with what comes before it.
func jobDefinitionFilter(v string) func(*jobEntry) bool {
	defName := func(e *jobEntry) (name, nameRev string) {
		nameRev = batch.NameFromRef(batch.KindJobDefinition, e.def)
		name, _, _ = strings.Cut(nameRev, ":")
		return name, nameRev
	}
	want := batch.NameFromRef(batch.KindJobDefinition, v)
	switch {
	case strings.HasPrefix(v, "arn:") || strings.Contains(want, ":"):
		return func(e *jobEntry) bool { _, nr := defName(e); return nr == want }
	case strings.HasSuffix(want, "*"):
		prefix := strings.TrimSuffix(want, "*")
		return func(e *jobEntry) bool { n, _ := defName(e); return strings.HasPrefix(n, prefix) }
	}
	return func(e *jobEntry) bool { n, _ := defName(e); return n == want }
}

// encodeListToken makes the opaque nextToken of a ListJobs page: the
// direction and the sort key of the last job returned.
func encodeListToken(newestFirst bool, k sortKey) string {
	dir := "a"
	if newestFirst {
		dir = "d"
	}
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s|%d|%d|%d|%s", dir, k.createdAt, k.seq, k.index, k.id))
}

// decodeListToken reads a nextToken of encodeListToken.
func decodeListToken(tok string, newestFirst bool) (sortKey, error) {
	bad := clientErr("nextToken %q is invalid: pass the nextToken of the previous ListJobs answer unchanged, with the same filters", tok)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return sortKey{}, bad
	}
	parts := strings.SplitN(string(raw), "|", 5)
	if len(parts) != 5 || parts[0] != map[bool]string{false: "a", true: "d"}[newestFirst] {
		return sortKey{}, bad
	}
	created, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseUint(parts[2], 10, 64)
	idx, err3 := strconv.ParseInt(parts[3], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return sortKey{}, bad
	}
	return sortKey{createdAt: created, seq: seq, index: int32(idx), id: parts[4]}, nil
}

// JobCounts returns how many jobs of a queue (name or ARN) this replica's
// index holds in each status, for dashboards and metrics (queue depth by
// state). Array children and multi-node nodes are not counted; jobs the
// monitor has not recorded yet are not either.
func (s *Server) JobCounts(queue string) map[batch.JobStatus]int {
	group := groupQueue + batch.NameFromRef(batch.KindJobQueue, queue)
	out := make(map[batch.JobStatus]int, len(batch.AllStatuses))
	for _, st := range batch.AllStatuses {
		out[st] = s.index.count(group, st)
	}
	return out
}
