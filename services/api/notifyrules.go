package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/eventpattern"
	"github.com/nats-io/nats.go/jetstream"
)

// Limits of notification rules (EventBridge's where it has one).
const (
	maxRuleNameLen    = 64
	maxRuleTargets    = 5
	maxEventPattern   = 4096
	maxRuleDesc       = 512
	maxTargetEndpoint = 2048
	maxSecretLen      = 256
)

// reservedSubjects are the subject roots of batchd itself: a NATS target
// may not publish there (it would feed events back into the system).
var reservedSubjects = []string{"batch.job", "batch.events", "batch.logs", "batch.api", "batch.notify", "batch.dlq", "_INBOX"}

const ruleNameRule = "1 to 64 letters, digits, hyphens (-) and underscores (_), starting with a letter or digit"

// checkRuleName validates a rule name or target id: it is a KV key, a
// subject token and part of a consumer name.
func checkRuleName(field, s string) error {
	if s == "" {
		return clientErr("%s is required: use %s", field, ruleNameRule)
	}
	if len(s) > maxRuleNameLen || !validName(s) {
		return clientErr("%s %q is invalid: use %s", field, s, ruleNameRule)
	}
	return nil
}

// checkEventPattern validates an event pattern against the supported grammar.
func checkEventPattern(p string) error {
	if strings.TrimSpace(p) == "" {
		return clientErr(`eventPattern is required: give an EventBridge event pattern as a JSON string, for example "{\"detail-type\":[\"Batch Job State Change\"],\"detail\":{\"status\":[\"FAILED\"]}}"`)
	}
	if len(p) > maxEventPattern {
		return clientErr("eventPattern is %d bytes: at most %d are allowed", len(p), maxEventPattern)
	}
	if _, err := eventpattern.Compile(p); err != nil {
		return clientErr("eventPattern is invalid: %v (see docs/events.md for the supported grammar)", err)
	}
	return nil
}

// checkTargets validates the targets of a rule. old, when set, is the rule
// being updated: a WEBHOOK target without a secret keeps the secret of the
// old target with the same id.
func checkTargets(targets []batch.NotificationTarget, old *batch.NotificationRule) ([]batch.NotificationTarget, error) {
	if len(targets) == 0 {
		return nil, clientErr("targets is required: give 1 to %d targets as {id, type (WEBHOOK or NATS), endpoint, secret}", maxRuleTargets)
	}
	if len(targets) > maxRuleTargets {
		return nil, clientErr("targets has %d entries: a rule has at most %d targets", len(targets), maxRuleTargets)
	}
	out := make([]batch.NotificationTarget, 0, len(targets))
	seen := map[string]bool{}
	for i, t := range targets {
		f := fmt.Sprintf("targets[%d]", i)
		if err := checkRuleName(f+".id", t.ID); err != nil {
			return nil, err
		}
		if seen[t.ID] {
			return nil, clientErr("%s.id %q is used twice: give each target of a rule its own id", f, t.ID)
		}
		seen[t.ID] = true
		if len(t.Endpoint) > maxTargetEndpoint {
			return nil, clientErr("%s.endpoint is %d bytes: at most %d are allowed", f, len(t.Endpoint), maxTargetEndpoint)
		}
		if len(t.Secret) > maxSecretLen {
			return nil, clientErr("%s.secret is %d bytes: at most %d are allowed", f, len(t.Secret), maxSecretLen)
		}
		switch t.Type {
		case batch.TargetWebhook:
			u, err := url.Parse(t.Endpoint)
			if t.Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, clientErr("%s.endpoint %q is invalid: a WEBHOOK target takes an http:// or https:// URL", f, t.Endpoint)
			}
			if t.Secret == "" && old != nil {
				if prev, ok := old.Target(t.ID); ok && prev.Type == batch.TargetWebhook {
					t.Secret = prev.Secret
				}
			}
			if t.Secret == "" {
				return nil, clientErr("%s.secret is required for a WEBHOOK target: deliveries are signed with it (header X-Batchd-Signature: sha256=HMAC-SHA256(secret, body))", f)
			}
		case batch.TargetNATS:
			if err := checkSubject(f+".endpoint", t.Endpoint); err != nil {
				return nil, err
			}
			if t.Secret != "" {
				return nil, clientErr("%s.secret is only for WEBHOOK targets: remove it from the NATS target", f)
			}
		case "":
			return nil, clientErr("%s.type is required: use WEBHOOK or NATS", f)
		default:
			return nil, clientErr("%s.type %q is invalid: use WEBHOOK or NATS", f, t.Type)
		}
		t.HasSecret = false
		out = append(out, t)
	}
	return out, nil
}

// checkSubject validates the subject of a NATS target: a literal subject
// outside batchd's own subjects.
func checkSubject(field, s string) error {
	if s == "" {
		return clientErr("%s is required: a NATS target takes a subject such as alerts.batch", field)
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			return clientErr("%s %q is not a literal NATS subject: use dot-separated tokens without spaces or wildcards", field, s)
		}
	}
	if strings.HasPrefix(s, "$") {
		return clientErr("%s %q is a system subject ($...): choose another subject", field, s)
	}
	for _, r := range reservedSubjects {
		if s == r || strings.HasPrefix(s, r+".") {
			return clientErr("%s %q is under %s, which batchd itself uses: choose another subject", field, s, r)
		}
	}
	return nil
}

// createNotificationRule is the CreateNotificationRule operation.
func (s *Server) createNotificationRule(ctx context.Context, in *batch.CreateNotificationRuleInput) (*batch.NotificationRuleRef, error) {
	if err := checkRuleName("ruleName", in.RuleName); err != nil {
		return nil, err
	}
	if err := checkEventPattern(in.EventPattern); err != nil {
		return nil, err
	}
	state := in.State
	if state == "" {
		state = batch.RuleEnabled
	}
	if err := checkEnum("state", state, batch.RuleEnabled, batch.RuleDisabled); err != nil {
		return nil, err
	}
	if len(in.Description) > maxRuleDesc {
		return nil, clientErr("description is %d bytes: at most %d are allowed", len(in.Description), maxRuleDesc)
	}
	targets, err := checkTargets(in.Targets, nil)
	if err != nil {
		return nil, err
	}
	r := &batch.NotificationRule{
		RuleName: in.RuleName, RuleArn: batch.ARN(batch.KindRule, in.RuleName), EventPattern: in.EventPattern,
		State: state, Description: in.Description, Targets: targets, CreatedAt: s.now().UnixMilli(),
	}
	created, err := s.rules.create(ctx, r.RuleName, r)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, clientErr("Object already exists: a notification rule named %s exists already; choose another name or change it with UpdateNotificationRule", r.RuleName)
	}
	s.log.Info("notification rule created", "name", r.RuleName, "targets", len(r.Targets))
	return &batch.NotificationRuleRef{RuleName: r.RuleName, RuleArn: r.RuleArn}, nil
}

// updateNotificationRule is the UpdateNotificationRule operation.
func (s *Server) updateNotificationRule(ctx context.Context, in *batch.UpdateNotificationRuleInput) (*batch.NotificationRuleRef, error) {
	name := batch.NameFromRef(batch.KindRule, in.RuleName)
	if err := checkRuleName("ruleName", name); err != nil {
		return nil, err
	}
	if in.EventPattern != nil {
		if err := checkEventPattern(*in.EventPattern); err != nil {
			return nil, err
		}
	}
	if err := checkEnum("state", in.State, batch.RuleEnabled, batch.RuleDisabled); err != nil {
		return nil, err
	}
	if in.Description != nil && len(*in.Description) > maxRuleDesc {
		return nil, clientErr("description is %d bytes: at most %d are allowed", len(*in.Description), maxRuleDesc)
	}
	r, err := s.rules.update(ctx, name, func(r *batch.NotificationRule) error {
		if in.Targets != nil {
			targets, err := checkTargets(in.Targets, r)
			if err != nil {
				return err
			}
			r.Targets = targets
		}
		if in.EventPattern != nil {
			r.EventPattern = *in.EventPattern
		}
		if in.State != "" {
			r.State = in.State
		}
		if in.Description != nil {
			r.Description = *in.Description
		}
		r.UpdatedAt = s.now().UnixMilli()
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, clientErr("notification rule %s does not exist: create it with CreateNotificationRule", in.RuleName)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("notification rule updated", "name", r.RuleName)
	return &batch.NotificationRuleRef{RuleName: r.RuleName, RuleArn: r.RuleArn}, nil
}

// describeNotificationRules is the DescribeNotificationRules operation.
// Secrets are never returned: a target that has one says hasSecret.
func (s *Server) describeNotificationRules(ctx context.Context, in *batch.DescribeNotificationRulesInput) (*batch.DescribeNotificationRulesOutput, error) {
	page, next, err := describeNamed(ctx, s.rules, batch.KindRule, "ruleNames", in.RuleNames, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &batch.DescribeNotificationRulesOutput{NotificationRules: make([]batch.NotificationRule, 0, len(page)), NextToken: next}
	for _, e := range page {
		r := *e.v
		r.Targets = slices.Clone(r.Targets)
		for i := range r.Targets {
			r.Targets[i].HasSecret = r.Targets[i].Secret != ""
			r.Targets[i].Secret = ""
		}
		out.NotificationRules = append(out.NotificationRules, r)
	}
	return out, nil
}

// deleteNotificationRule is the DeleteNotificationRule operation. Deleting
// a rule that does not exist succeeds (as EventBridge's DeleteRule). The
// notifier stops delivering its pending notifications.
func (s *Server) deleteNotificationRule(ctx context.Context, in *batch.DeleteNotificationRuleInput) (*batch.DeleteNotificationRuleOutput, error) {
	name := batch.NameFromRef(batch.KindRule, in.RuleName)
	if err := checkRuleName("ruleName", name); err != nil {
		return nil, err
	}
	_, rev, err := s.rules.read(ctx, name)
	if errors.Is(err, errNotFound) {
		return &batch.DeleteNotificationRuleOutput{}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := s.rules.kv.Delete(ctx, name, jetstream.LastRevision(rev)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, clientErr("notification rule %s changed while it was being deleted: try again", name)
		}
		return nil, fmt.Errorf("delete notification rule %s: %w", name, err)
	}
	s.rules.apply(name, rev+1, nil)
	s.log.Info("notification rule deleted", "name", name)
	return &batch.DeleteNotificationRuleOutput{}, nil
}
