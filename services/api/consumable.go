package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

// Consumable resources: named counters that jobs need a quantity of. The
// api stores each as a batch.ConsumableResourceDetail (plus the client
// tokens of recent updates) in events.BucketResources under its name;
// inUseQuantity and availableQuantity are derived from the job index when
// the resource is described.

const (
	filterResourceName = "CONSUMABLE_RESOURCE_NAME"
	filterJobStatus    = "JOB_STATUS"
	// clientTokenLife is how long an UpdateConsumableResource clientToken
	// is remembered (AWS: 8 hours).
	clientTokenLife = 8 * time.Hour
	maxClientToken  = 64
)

// resourceRecord is the stored form of a consumable resource. Readers of
// the bucket that decode a batch.ConsumableResourceDetail ignore the
// client tokens.
type resourceRecord struct {
	batch.ConsumableResourceDetail
	ClientTokens []clientTokenUse `json:"clientTokens,omitempty"`
}

// clientTokenUse is an UpdateConsumableResource call made with a
// clientToken: a repeat with the same token and request changes nothing
// and gets the same answer.
type clientTokenUse struct {
	Token   string `json:"token"`
	Request string `json:"request"` // "<operation> <quantity>"
	Total   int64  `json:"total"`   // the totalQuantity it answered
	Expires int64  `json:"expires"` // ms
}

// loadResource finds a resource by name or ARN; errNotFound when it does
// not exist.
func (s *Server) loadResource(ctx context.Context, ref string) (*resourceRecord, error) {
	name := resourceName(ref)
	if !validName(name) {
		return nil, errNotFound
	}
	return s.resources.load(ctx, name)
}

// findResource is the resource a request names (ref, required), or the
// error that answers it: resourceMissing when there is none.
func (s *Server) findResource(ctx context.Context, ref string) (*resourceRecord, error) {
	if ref == "" {
		return nil, clientErr("consumableResource is required: give the name or ARN of a consumable resource")
	}
	r, err := s.loadResource(ctx, ref)
	if errors.Is(err, errNotFound) {
		return nil, resourceMissing(ref)
	}
	return r, err
}

// resourceMissing is the error for an unknown resource.
func resourceMissing(ref string) error {
	return clientErr("consumable resource %s does not exist: create it with CreateConsumableResource or list them with ListConsumableResources", ref)
}

// describe is the Describe form of a stored resource, with the quantities
// in use now.
func (s *Server) describeResource(r *resourceRecord) batch.ConsumableResourceDetail {
	d := r.ConsumableResourceDetail
	d.Tags = maps.Clone(d.Tags)
	d.InUseQuantity = s.index.inUse(d.ConsumableResourceName, d.ResourceType)
	d.AvailableQuantity = max(d.TotalQuantity-d.InUseQuantity, 0)
	return d
}

// createConsumableResource is the CreateConsumableResource operation.
func (s *Server) createConsumableResource(ctx context.Context, in *batch.CreateConsumableResourceInput) (*batch.ConsumableResourceRef, error) {
	if err := checkName("consumableResourceName", in.ConsumableResourceName); err != nil {
		return nil, err
	}
	var total int64
	if in.TotalQuantity != nil {
		total = *in.TotalQuantity
	}
	if total < 0 {
		return nil, clientErr("totalQuantity %d is invalid: it must not be negative", total)
	}
	typ := in.ResourceType
	if typ == "" {
		typ = batch.ResourceReplenishable
	}
	if err := checkEnum("resourceType", typ, batch.ResourceReplenishable, batch.ResourceNonReplenishable); err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	name := in.ConsumableResourceName
	r := &resourceRecord{ConsumableResourceDetail: batch.ConsumableResourceDetail{
		ConsumableResourceName: name, ConsumableResourceArn: batch.ARN(batch.KindConsumableResource, name),
		TotalQuantity: total, ResourceType: typ, CreatedAt: s.now().UnixMilli(), Tags: maps.Clone(in.Tags),
	}}
	created, err := s.resources.create(ctx, name, r)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, clientErr("Object already exists: a consumable resource named %s exists already; choose another name or change its quantity with UpdateConsumableResource", name)
	}
	s.log.InfoContext(ctx, "consumable resource created", "name", name, "total", total, "type", typ)
	return &batch.ConsumableResourceRef{ConsumableResourceName: name, ConsumableResourceArn: r.ConsumableResourceArn}, nil
}

// describeConsumableResource is the DescribeConsumableResource operation.
func (s *Server) describeConsumableResource(ctx context.Context, in *batch.ConsumableResourceInput) (*batch.ConsumableResourceDetail, error) {
	r, err := s.findResource(ctx, in.ConsumableResource)
	if err != nil {
		return nil, err
	}
	if err := s.index.waitReady(ctx); err != nil {
		return nil, err
	}
	d := s.describeResource(r)
	return &d, nil
}

// listConsumableResources is the ListConsumableResources operation: by
// name, optionally filtered by CONSUMABLE_RESOURCE_NAME (case-insensitive,
// a trailing * matches a prefix).
func (s *Server) listConsumableResources(ctx context.Context, in *batch.ListConsumableResourcesInput) (*batch.ListConsumableResourcesOutput, error) {
	var patterns []string
	for _, f := range in.Filters {
		if f.Name != filterResourceName {
			return nil, clientErr("filter name %q is invalid: use %s", f.Name, filterResourceName)
		}
		if len(f.Values) == 0 {
			return nil, clientErr("filter %s has no values: give a name, or a prefix followed by *", f.Name)
		}
		patterns = append(patterns, f.Values...)
	}
	all := s.resources.list()
	if len(patterns) > 0 {
		all = slices.DeleteFunc(all, func(e entry[resourceRecord]) bool {
			return !slices.ContainsFunc(patterns, func(p string) bool { return matchName(p, e.key) })
		})
	}
	page, next, err := paginate(all, entryKey, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	if err := s.index.waitReady(ctx); err != nil {
		return nil, err
	}
	out := &batch.ListConsumableResourcesOutput{ConsumableResources: make([]batch.ConsumableResourceSummary, 0, len(page)), NextToken: next}
	for _, e := range page {
		d := s.describeResource(e.v)
		out.ConsumableResources = append(out.ConsumableResources, batch.ConsumableResourceSummary{
			ConsumableResourceArn: d.ConsumableResourceArn, ConsumableResourceName: d.ConsumableResourceName,
			TotalQuantity: d.TotalQuantity, InUseQuantity: d.InUseQuantity, ResourceType: d.ResourceType,
		})
	}
	return out, nil
}

// matchName matches a name case-insensitively; a trailing * matches any
// name that starts with what comes before it.
func matchName(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
	}
	return strings.EqualFold(pattern, name)
}

// updateConsumableResource is the UpdateConsumableResource operation: SET,
// ADD or REMOVE a quantity. A clientToken makes it idempotent for 8 hours:
// the same token with the same request changes the total once and answers
// the same; with another request it is refused.
func (s *Server) updateConsumableResource(ctx context.Context, in *batch.UpdateConsumableResourceInput) (*batch.ConsumableResourceRef, error) {
	if in.ConsumableResource == "" {
		return nil, clientErr("consumableResource is required: give the name or ARN of a consumable resource")
	}
	op := in.Operation
	if op == "" {
		op = batch.QuantitySet
	}
	if err := checkEnum("operation", op, batch.QuantitySet, batch.QuantityAdd, batch.QuantityRemove); err != nil {
		return nil, err
	}
	if in.Quantity == nil {
		return nil, clientErr("quantity is required: give the new total (SET) or the amount to ADD or REMOVE")
	}
	q := *in.Quantity
	if q < 0 {
		return nil, clientErr("quantity %d is invalid: it must not be negative", q)
	}
	if len(in.ClientToken) > maxClientToken {
		return nil, clientErr("clientToken is %d characters: at most %d are allowed", len(in.ClientToken), maxClientToken)
	}
	name := resourceName(in.ConsumableResource)
	if !validName(name) {
		return nil, resourceMissing(in.ConsumableResource)
	}
	request := fmt.Sprintf("%s %d", op, q)
	now := s.now()
	var answer int64
	r, err := s.resources.update(ctx, name, func(r *resourceRecord) error {
		r.ClientTokens = slices.DeleteFunc(r.ClientTokens, func(u clientTokenUse) bool { return u.Expires <= now.UnixMilli() })
		if in.ClientToken != "" {
			if i := slices.IndexFunc(r.ClientTokens, func(u clientTokenUse) bool { return u.Token == in.ClientToken }); i >= 0 {
				if u := r.ClientTokens[i]; u.Request != request {
					return clientErr("clientToken %s was used for another request (%s) in the last 8 hours: use a new token for a different update", in.ClientToken, u.Request)
				}
				answer = r.ClientTokens[i].Total
				return errUnchanged
			}
		}
		total := r.TotalQuantity
		switch op {
		case batch.QuantitySet:
			total = q
		case batch.QuantityAdd:
			total += q
		case batch.QuantityRemove:
			if q > total {
				return clientErr("cannot REMOVE %d from consumable resource %s: its totalQuantity is %d", q, name, total)
			}
			total -= q
		}
		r.TotalQuantity, answer = total, total
		if in.ClientToken != "" {
			r.ClientTokens = append(r.ClientTokens, clientTokenUse{Token: in.ClientToken, Request: request, Total: total,
				Expires: now.Add(clientTokenLife).UnixMilli()})
		}
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		r, err = s.resources.load(ctx, name)
	case errors.Is(err, errNotFound):
		return nil, resourceMissing(in.ConsumableResource)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "consumable resource updated", "name", name, "operation", op, "quantity", q, "total", answer)
	return &batch.ConsumableResourceRef{ConsumableResourceName: r.ConsumableResourceName, ConsumableResourceArn: r.ConsumableResourceArn, TotalQuantity: &answer}, nil
}

// deleteConsumableResource is the DeleteConsumableResource operation.
func (s *Server) deleteConsumableResource(ctx context.Context, in *batch.ConsumableResourceInput) (*batch.Empty, error) {
	if in.ConsumableResource == "" {
		return nil, clientErr("consumableResource is required: give the name or ARN of a consumable resource")
	}
	name := resourceName(in.ConsumableResource)
	if !validName(name) {
		return nil, resourceMissing(in.ConsumableResource)
	}
	_, err := s.resources.remove(ctx, name, func(*resourceRecord) error { return nil })
	if errors.Is(err, errNotFound) {
		return nil, resourceMissing(in.ConsumableResource)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "consumable resource deleted", "name", name)
	return &batch.Empty{}, nil
}

// listJobsByConsumableResource is the ListJobsByConsumableResource
// operation: the jobs that need the resource, oldest first, optionally
// filtered by JOB_STATUS and JOB_NAME.
func (s *Server) listJobsByConsumableResource(ctx context.Context, in *batch.ListJobsByConsumableResourceInput) (*batch.ListJobsByConsumableResourceOutput, error) {
	r, err := s.findResource(ctx, in.ConsumableResource)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	q := resourceQuery{resource: r.ConsumableResourceName, limit: limit}
	var preds []func(*jobEntry) bool
	for _, f := range in.Filters {
		if len(f.Values) == 0 {
			return nil, clientErr("filter %s has no values", f.Name)
		}
		switch f.Name {
		case filterJobStatus:
			var statuses []batch.JobStatus
			for _, v := range f.Values {
				st := batch.JobStatus(strings.ToUpper(v))
				if !st.Valid() {
					return nil, clientErr("filter JOB_STATUS value %q is invalid: use SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED or FAILED", v)
				}
				statuses = append(statuses, st)
			}
			preds = append(preds, func(e *jobEntry) bool { return slices.Contains(statuses, e.status) })
		case filterJobName:
			var names []func(*jobEntry) bool
			for _, v := range f.Values {
				names = append(names, jobNameFilter(v))
			}
			preds = append(preds, func(e *jobEntry) bool {
				return slices.ContainsFunc(names, func(m func(*jobEntry) bool) bool { return m(e) })
			})
		default:
			return nil, clientErr("filter name %q is invalid: use JOB_STATUS or JOB_NAME", f.Name)
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
	if in.NextToken != "" {
		k, err := decodeListToken(in.NextToken, false)
		if err != nil {
			return nil, err
		}
		q.cursor = &k
	}
	if err := s.index.waitReady(ctx); err != nil {
		return nil, err
	}
	jobs, next := s.index.listByResource(q)
	out := &batch.ListJobsByConsumableResourceOutput{Jobs: jobs}
	if next != nil {
		out.NextToken = encodeListToken(false, *next)
	}
	return out, nil
}
