package auth

import (
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

const (
	queueProd = "arn:aws:batch:us-east-1:000000000000:job-queue/prod"
	queueDev  = "arn:aws:batch:us-east-1:000000000000:job-queue/dev"
	defA1     = "arn:aws:batch:us-east-1:000000000000:job-definition/a:1"
)

func knownForTest(a string) bool {
	switch strings.ToLower(a) {
	case "submitjob", "canceljob", "describejobs", "createjobqueue", "terminatejob":
		return true
	}
	return false
}

func mustPolicy(t *testing.T, doc string) Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc), knownForTest)
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

func TestPolicyDecide(t *testing.T) {
	cases := []struct {
		name     string
		doc      string
		action   string
		resource string
		want     Decision
	}{
		{"empty statement list denies", `{"Version":"2012-10-17","Statement":[]}`, "batch:SubmitJob", queueProd, DefaultDeny},
		{"allow all", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "batch:SubmitJob", queueProd, Allowed},
		{"action exact", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"batch:SubmitJob","Resource":"*"}]}`, "batch:SubmitJob", queueProd, Allowed},
		{"action is case insensitive", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"Batch:submitjob","Resource":"*"}]}`, "batch:SubmitJob", queueProd, Allowed},
		{"other action not allowed", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"batch:SubmitJob","Resource":"*"}]}`, "batch:CancelJob", queueProd, DefaultDeny},
		{"action wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["batch:Describe*","batch:List*"],"Resource":"*"}]}`, "batch:DescribeJobs", "*", Allowed},
		{"action ? wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"batch:?ancelJob","Resource":"*"}]}`, "batch:CancelJob", "*", Allowed},
		{"other service", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "batch:CancelJob", "*", DefaultDeny},
		{"resource wildcard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:batch:*:*:job-queue/pr*"}]}`, "batch:SubmitJob", queueProd, Allowed},
		{"resource mismatch", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:batch:*:*:job-queue/pr*"}]}`, "batch:SubmitJob", queueDev, DefaultDeny},
		{"resource is case sensitive", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:batch:*:*:job-queue/PROD"}]}`, "batch:SubmitJob", queueProd, DefaultDeny},
		{"resource star does not match the literal star", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:batch:*"}]}`, "batch:DescribeJobs", "*", DefaultDeny},
		{"deny wins over allow", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"batch:SubmitJob","Resource":"` + queueProd + `"}]}`, "batch:SubmitJob", queueProd, ExplicitDeny},
		{"deny elsewhere leaves allow", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"batch:SubmitJob","Resource":"` + queueProd + `"}]}`, "batch:SubmitJob", queueDev, Allowed},
		{"deny first still wins", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"batch:*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "batch:DescribeJobs", "*", ExplicitDeny},
		{"job definition revisions", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"batch:SubmitJob","Resource":"arn:aws:batch:us-east-1:000000000000:job-definition/a:*"}]}`, "batch:SubmitJob", defA1, Allowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustPolicy(t, c.doc)
			if got := p.Decide(c.action, c.resource); got != c.want {
				t.Fatalf("Decide(%s, %s) = %v, want %v", c.action, c.resource, got, c.want)
			}
		})
	}
}

func TestParsePolicyRefuses(t *testing.T) {
	cases := map[string]string{
		"version":          `{"Version":"2008-10-17","Statement":[]}`,
		"no version":       `{"Statement":[]}`,
		"no statement":     `{"Version":"2012-10-17"}`,
		"effect":           `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`,
		"no action":        `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`,
		"no resource":      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*"}]}`,
		"unknown action":   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"batch:SubmitJobs","Resource":"*"}]}`,
		"bare action":      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"SubmitJob","Resource":"*"}]}`,
		"resource not arn": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"job-queue/x"}]}`,
		"condition":        `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}`,
		"not action":       `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"*","Resource":"*"}]}`,
		"unknown element":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Bogus":1}]}`,
		"unknown top":      `{"Version":"2012-10-17","Statement":[],"Bogus":1}`,
		"action number":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":7,"Resource":"*"}]}`,
	}
	for name, doc := range cases {
		if _, err := ParsePolicy([]byte(doc), knownForTest); err == nil {
			t.Errorf("%s: ParsePolicy accepted %s", name, doc)
		}
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"", "", true}, {"*", "", true}, {"?", "", false}, {"a*b", "ab", true}, {"a*b", "axxb", true},
		{"a*b", "axxbc", false}, {"a?c", "abc", true}, {"*a*a*a*a*b", strings.Repeat("a", 60), false},
		{"job-queue/*", "job-queue/", true}, {"**", "x", true},
		{"*", "*0", true}, {"a*", "a*b", true}, {"?*", "*", true}, // found by FuzzMatch: a * in the text

	}
	for _, c := range cases {
		if got := match(c.p, c.s); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// patternGen draws IAM patterns and strings over a small alphabet, so that
// they often match.
var (
	alphabet   = rapid.SampledFrom([]rune("ab:/*?"))
	patternGen = rapid.StringOfN(alphabet, 0, 8, -1)
	textGen    = rapid.StringOfN(alphabet, 0, 8, -1) // texts may hold * and ? too
)

// TestMatchProperty compares match with a regular expression built from
// the pattern.
func TestMatchProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, s := patternGen.Draw(t, "pattern"), textGen.Draw(t, "text")
		re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		want := regexp.MustCompile("(?s)" + re).MatchString(s)
		if got := match(p, s); got != want {
			t.Fatalf("match(%q, %q) = %v, regexp %s says %v", p, s, got, re, want)
		}
	})
}

func statementGen(effect Effect) *rapid.Generator[Statement] {
	return rapid.Custom(func(t *rapid.T) Statement {
		acts := rapid.SliceOfN(rapid.SampledFrom([]string{"*", "batch:*", "batch:SubmitJob", "batch:CancelJob", "batch:Describe*", "batch:?ancelJob"}), 1, 3).Draw(t, "actions")
		res := rapid.SliceOfN(rapid.SampledFrom([]string{"*", queueProd, queueDev, "arn:aws:batch:*:*:job-queue/*", "arn:aws:batch:*:*:job-queue/p?od", defA1}), 1, 3).Draw(t, "resources")
		return Statement{Effect: effect, Action: acts, Resource: res}
	})
}

var (
	actionGen   = rapid.SampledFrom([]string{"batch:SubmitJob", "batch:CancelJob", "batch:DescribeJobs", "batch:TerminateJob"})
	resourceGen = rapid.SampledFrom([]string{"*", queueProd, queueDev, defA1})
	anyStmtGen  = rapid.Custom(func(t *rapid.T) Statement {
		return statementGen(rapid.SampledFrom([]Effect{Allow, Deny}).Draw(t, "effect")).Draw(t, "statement")
	})
)

// TestPolicyProperties: an explicit Deny always wins, an empty policy
// denies, the order of statements never matters, more Allow statements
// never take a permission away, more Deny statements never give one.
func TestPolicyProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		stmts := rapid.SliceOfN(anyStmtGen, 0, 6).Draw(t, "statements")
		action, resource := actionGen.Draw(t, "action"), resourceGen.Draw(t, "resource")
		p := Policy{Version: PolicyVersion, Statement: stmts}
		d := p.Decide(action, resource)

		// Deny wins: if a Deny statement matches, the decision is ExplicitDeny.
		for _, st := range stmts {
			if st.Effect == Deny && st.matches(action, resource) && d != ExplicitDeny {
				t.Fatalf("a matching Deny did not win: %v", d)
			}
		}
		// Default deny: Allowed only if an Allow statement matches.
		if d == Allowed {
			found := false
			for _, st := range stmts {
				found = found || (st.Effect == Allow && st.matches(action, resource))
			}
			if !found {
				t.Fatalf("allowed with no matching Allow statement")
			}
		}
		// Order does not matter.
		rev := Policy{Version: PolicyVersion}
		for i := len(stmts) - 1; i >= 0; i-- {
			rev.Statement = append(rev.Statement, stmts[i])
		}
		if got := rev.Decide(action, resource); got != d {
			t.Fatalf("reversed statements decide %v, not %v", got, d)
		}
		// Monotonic: an extra Allow never denies what was allowed; an extra
		// Deny never allows what was denied; a Deny of everything denies.
		more := Policy{Version: PolicyVersion, Statement: append(append([]Statement{}, stmts...), statementGen(Allow).Draw(t, "extra allow"))}
		if d == Allowed && more.Decide(action, resource) != Allowed {
			t.Fatalf("an extra Allow took a permission away")
		}
		less := Policy{Version: PolicyVersion, Statement: append(append([]Statement{}, stmts...), statementGen(Deny).Draw(t, "extra deny"))}
		if d != Allowed && less.Decide(action, resource) == Allowed {
			t.Fatalf("an extra Deny gave a permission")
		}
		all := Policy{Version: PolicyVersion, Statement: append(append([]Statement{}, stmts...), Statement{Effect: Deny, Action: Strings{"*"}, Resource: Strings{"*"}})}
		if all.Decide(action, resource) != ExplicitDeny {
			t.Fatalf("Deny * on * did not deny")
		}
		// MayCall is true whenever some resource is allowed.
		if d == Allowed && !p.MayCall(action) {
			t.Fatalf("MayCall(%s) false though %s is allowed", action, resource)
		}
	})
}

func TestPrincipalAllResourcesMustBeAllowed(t *testing.T) {
	p := &Principal{AccessKeyID: "AKIDEXAMPLE000001", policy: mustPolicy(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"batch:SubmitJob","Resource":["arn:aws:batch:*:*:job-queue/*"]}]}`)}
	if p.Allowed("batch:SubmitJob", queueProd, defA1) {
		t.Fatal("allowed with the job definition not allowed")
	}
	err := p.Authorize("batch:SubmitJob", queueProd, defA1)
	if e, ok := AsError(err); !ok || e.Type != AccessDenied || e.Status != 403 || !strings.Contains(e.Message, defA1) || !strings.Contains(e.Message, "because no identity-based policy allows") {
		t.Fatalf("Authorize = %v", err)
	}
	if !p.Allowed("batch:SubmitJob", queueProd) {
		t.Fatal("queue alone not allowed")
	}
}
