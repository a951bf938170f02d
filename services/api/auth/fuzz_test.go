package auth

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

const sampleAuthorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE000001/20260101/us-east-1/batch/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"

// FuzzParseAuthorization parses any Authorization header: no panic, and
// what it accepts is well formed.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(sampleAuthorization)
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("A", 64))
	f.Add("AWS4-HMAC-SHA256 ,,,==")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, h string) {
		s, err := ParseAuthorization(h)
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("error %v is not an auth error", err)
			}
			return
		}
		if len(s.Signature) != 64 || len(s.Date) != 8 || s.AccessKeyID == "" || len(s.SignedHeaders) == 0 {
			t.Fatalf("accepted a malformed header %q: %+v", h, s)
		}
	})
}

// FuzzVerify verifies requests with any Authorization, date and body: no
// panic, and nothing forged is accepted.
func FuzzVerify(f *testing.F) {
	a := testAuthenticator(f, func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
	f.Add(sampleAuthorization, "20260101T000000Z", []byte(`{"jobs":["x"]}`), "content-type")
	f.Add(strings.Replace(sampleAuthorization, "AKIDEXAMPLE000001", testKey, 1), "20260101T000000Z", []byte(`{}`), "content-length")
	f.Fuzz(func(t *testing.T, authz, date string, body []byte, extra string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/describejobs", bytes.NewReader(body))
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("Content-Type", "application/json")
		if extra != "" && !strings.ContainsAny(extra, "\r\n:") {
			r.Header.Set(extra, "v")
		}
		if p, err := a.Verify(r, body); err == nil {
			t.Fatalf("a request nobody signed was accepted as %s", p.AccessKeyID)
		}
	})
}

// FuzzPolicy parses any policy and decides any request with it: no panic,
// and the decision follows the statements (Deny wins).
func FuzzPolicy(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"batch:*","Resource":"*"},{"Effect":"Deny","Action":"batch:Submit?ob","Resource":"arn:aws:batch:*:*:job-queue/p*"}]}`,
		"batch:SubmitJob", "arn:aws:batch:us-east-1:000000000000:job-queue/prod")
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["batch:Describe*"],"Resource":["*"]}}`, "batch:DescribeJobs", "*")
	f.Fuzz(func(t *testing.T, doc, action, resource string) {
		p, err := ParsePolicy([]byte(doc), nil)
		if err != nil {
			return
		}
		d := p.Decide(action, resource)
		for _, st := range p.Statement {
			if st.Effect == Deny && st.matches(action, resource) && d != ExplicitDeny {
				t.Fatalf("a matching Deny did not win")
			}
		}
		if d == Allowed && !p.MayCall(action) {
			t.Fatalf("allowed on %q but MayCall is false", resource)
		}
	})
}

// FuzzMatch compares the wildcard matcher with a regular expression.
func FuzzMatch(f *testing.F) {
	f.Add("arn:aws:batch:*:*:job-queue/p?od", "arn:aws:batch:us-east-1:000000000000:job-queue/prod")
	f.Add("*a*a*a*a*b", strings.Repeat("a", 100))
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 64 || len(s) > 256 {
			return
		}
		re := "(?s)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		rx, err := regexp.Compile(re)
		if err != nil {
			return
		}
		// regexp works on runes, match on bytes: compare on ASCII only.
		for i := 0; i < len(p); i++ {
			if p[i] >= 0x80 {
				return
			}
		}
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return
			}
		}
		if got, want := match(p, s), rx.MatchString(s); got != want {
			t.Fatalf("match(%q, %q) = %v, regexp says %v", p, s, got, want)
		}
	})
}
