package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// PolicyVersion is the only policy language version accepted (the one
// whose wildcards and variables IAM documents today).
const PolicyVersion = "2012-10-17"

// Effect is what a matching statement does.
type Effect string

// Statement effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Policy is an IAM identity policy document: statements that allow or deny
// actions on resources.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one rule of a policy. Action and Resource are one string or
// a list in the document; both are required.
type Statement struct {
	Sid      string  `json:"Sid,omitempty"`
	Effect   Effect  `json:"Effect"`
	Action   Strings `json:"Action"`
	Resource Strings `json:"Resource"`
}

// Strings is a JSON string or list of strings.
type Strings []string

// UnmarshalJSON reads "x" or ["x", "y"].
func (s *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or a list of strings")
	}
	*s = many
	return nil
}

// Decision is the outcome of evaluating a policy for one request.
type Decision int

// Decisions: DefaultDeny when no statement allows it, ExplicitDeny when a
// Deny statement matches (it wins over any Allow).
const (
	DefaultDeny Decision = iota
	Allowed
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicit deny"
	}
	return "implicit deny"
}

// ParsePolicy reads a policy document and checks it: the version, an
// Effect of Allow or Deny, actions of the form "batch:<Operation>" (or
// wildcards; an exact batch action must be one known), resources that are
// "*" or ARNs. Elements it does not implement (NotAction, NotResource,
// Condition, Principal) are refused rather than ignored.
func ParsePolicy(data []byte, known func(action string) bool) (Policy, error) {
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Policy{}, fmt.Errorf("policy: %w (a policy has Version, an optional Id and Statement)", err)
	}
	p := Policy{Version: raw.Version}
	if p.Version != PolicyVersion {
		return Policy{}, fmt.Errorf("policy: Version must be %q, not %q", PolicyVersion, p.Version)
	}
	stmts := bytes.TrimSpace(raw.Statement)
	if len(stmts) == 0 {
		return Policy{}, errors.New("policy: Statement is required")
	}
	if stmts[0] == '{' {
		stmts = append(append([]byte{'['}, stmts...), ']')
	}
	var list []json.RawMessage
	if err := json.Unmarshal(stmts, &list); err != nil {
		return Policy{}, errors.New("policy: Statement must be a statement or a list of statements")
	}
	for i, one := range list {
		st, err := parseStatement(one, known)
		if err != nil {
			return Policy{}, fmt.Errorf("policy: Statement[%d]: %w", i, err)
		}
		p.Statement = append(p.Statement, st)
	}
	return p, nil
}

func parseStatement(data []byte, known func(string) bool) (Statement, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return Statement{}, errors.New("a statement must be a JSON object")
	}
	for k := range probe {
		switch k {
		case "Sid", "Effect", "Action", "Resource":
		case "NotAction", "NotResource", "Condition", "Principal", "NotPrincipal":
			return Statement{}, fmt.Errorf("%s is not supported by batchd; write the statement with Effect, Action and Resource", k)
		default:
			return Statement{}, fmt.Errorf("unknown element %q (a statement has Sid, Effect, Action and Resource)", k)
		}
	}
	var st Statement
	if err := json.Unmarshal(data, &st); err != nil {
		return Statement{}, err
	}
	if st.Effect != Allow && st.Effect != Deny {
		return Statement{}, fmt.Errorf("Effect must be Allow or Deny, not %q", st.Effect)
	}
	if len(st.Action) == 0 {
		return Statement{}, errors.New("Action is required (e.g. \"batch:SubmitJob\", \"batch:Describe*\" or \"*\")")
	}
	for _, a := range st.Action {
		if err := checkAction(a, known); err != nil {
			return Statement{}, err
		}
	}
	if len(st.Resource) == 0 {
		return Statement{}, errors.New("Resource is required (\"*\" or ARNs such as \"arn:aws:batch:us-east-1:000000000000:job-queue/*\")")
	}
	for _, r := range st.Resource {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return Statement{}, fmt.Errorf("Resource %q must be \"*\" or an ARN (arn:aws:batch:<region>:<account>:<type>/<name>)", r)
		}
	}
	return st, nil
}

// checkAction accepts "*", "<service>:<pattern>" and refuses a batch
// action without wildcards that does not exist (a typo would otherwise
// silently allow or deny nothing).
func checkAction(a string, known func(string) bool) error {
	if a == "*" {
		return nil
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return fmt.Errorf("Action %q must be \"*\" or <service>:<action>, e.g. batch:SubmitJob", a)
	}
	if strings.EqualFold(svc, "batch") && !strings.ContainsAny(name, "*?") && known != nil && !known(name) {
		return fmt.Errorf("Action %q: AWS Batch has no action %s", a, name)
	}
	return nil
}

// Decide evaluates the policy for one action on one resource ARN: an
// explicit Deny wins, then an Allow, else the default deny. Actions match
// without regard to case, resources exactly (both with * and ?).
func (p *Policy) Decide(action, resource string) Decision {
	d := DefaultDeny
	for i := range p.Statement {
		st := &p.Statement[i]
		if !st.matches(action, resource) {
			continue
		}
		if st.Effect == Deny {
			return ExplicitDeny
		}
		d = Allowed
	}
	return d
}

func (st *Statement) matches(action, resource string) bool {
	return slices.ContainsFunc(st.Action, func(a string) bool { return matchFold(a, action) }) &&
		slices.ContainsFunc(st.Resource, func(r string) bool { return match(r, resource) })
}

// MayCall reports whether some resource could be allowed for the action:
// an Allow statement names it and no Deny statement denies it on every
// resource. It decides which NATS subjects a credential may publish to;
// the api still decides each request on its resources.
func (p *Policy) MayCall(action string) bool {
	allowed := false
	for i := range p.Statement {
		st := &p.Statement[i]
		if !slices.ContainsFunc(st.Action, func(a string) bool { return matchFold(a, action) }) {
			continue
		}
		if st.Effect == Deny && slices.Contains(st.Resource, "*") {
			return false
		}
		if st.Effect == Allow {
			allowed = true
		}
	}
	return allowed
}
