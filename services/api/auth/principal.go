package auth

import (
	"context"
	"fmt"
)

// Account is the account id in the ARNs of this installation's users (the
// same as in its resource ARNs).
const Account = "000000000000"

// Principal is an authenticated caller: an access key id and its policy.
type Principal struct {
	AccessKeyID string
	policy      Policy
}

// ARN names the caller the way AWS names an IAM user in its messages.
func (p *Principal) ARN() string { return "arn:aws:iam::" + Account + ":user/" + p.AccessKeyID }

// Decide evaluates the caller's policy for the action on every resource
// (none means "*"): an explicit Deny on any of them wins, and each must be
// allowed. It returns the decision and the resource that decided a denial.
func (p *Principal) Decide(action string, resources ...string) (Decision, string) {
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	var denied string
	for _, r := range resources {
		switch p.policy.Decide(action, r) {
		case ExplicitDeny:
			return ExplicitDeny, r
		case DefaultDeny:
			if denied == "" {
				denied = r
			}
		}
	}
	if denied != "" {
		return DefaultDeny, denied
	}
	return Allowed, ""
}

// Allowed reports whether the caller may do the action (e.g.
// "batch:SubmitJob") on all of the resources (ARNs; none means "*").
func (p *Principal) Allowed(action string, resources ...string) bool {
	d, _ := p.Decide(action, resources...)
	return d == Allowed
}

// Authorize is Allowed as an error: nil, or AccessDeniedException in AWS's
// words.
func (p *Principal) Authorize(action string, resources ...string) error {
	d, r := p.Decide(action, resources...)
	switch d {
	case Allowed:
		return nil
	case ExplicitDeny:
		return refuse(AccessDenied, fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", p.ARN(), action, r))
	}
	return refuse(AccessDenied, fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.ARN(), action, r, action))
}

// MayCall reports whether the policy allows the action on some resource
// (see Policy.MayCall).
func (p *Principal) MayCall(action string) bool { return p.policy.MayCall(action) }

type principalKey struct{}

// WithPrincipal returns ctx carrying the authenticated caller.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller WithPrincipal stored, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
