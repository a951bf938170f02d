package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIDEXAMPLE000001"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

func testAuthenticator(t testing.TB, now func() time.Time) *Authenticator {
	t.Helper()
	a, err := Parse([]byte(`[{"accessKeyId":"`+testKey+`","secretAccessKey":"`+testSecret+`",
		"policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}}]`), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// verifyServer answers 200 with the access key of a verified request, or
// the error type with 403.
func verifyServer(t *testing.T, a *Authenticator) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := a.Verify(r, body)
		if err != nil {
			e, _ := AsError(err)
			w.Header().Set("X-Amzn-ErrorType", e.Type)
			w.WriteHeader(e.Status)
			_, _ = io.WriteString(w, e.Message)
			return
		}
		_, _ = io.WriteString(w, p.AccessKeyID)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type signOpts struct {
	key, secret, region, service string
	at                           time.Time
	tamperBody                   bool
}

func send(t *testing.T, srv *httptest.Server, path string, o signOpts) (int, string, string) {
	t.Helper()
	body := []byte(`{"jobName":"x","jobQueue":"q","jobDefinition":"d"}`)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if o.key == "" {
		o.key, o.secret = testKey, testSecret
	}
	if o.region == "" {
		o.region = "us-east-1"
	}
	if o.service == "" {
		o.service = "batch"
	}
	if o.at.IsZero() {
		o.at = time.Now()
	}
	if o.key != "-" {
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: o.key, SecretAccessKey: o.secret},
			req, hex.EncodeToString(sum[:]), o.service, o.region, o.at)
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.tamperBody {
		tampered := []byte(strings.Replace(string(body), `"x"`, `"y"`, 1))
		req.Body = io.NopCloser(bytes.NewReader(tampered))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(out)
}

func TestVerify(t *testing.T) {
	a := testAuthenticator(t, nil)
	srv := verifyServer(t, a)
	cases := []struct {
		name     string
		path     string
		o        signOpts
		wantType string
		wantMsg  string
	}{
		{"valid", "/v1/submitjob", signOpts{}, "", testKey},
		{"valid with escaped path and query", "/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A000000000000%3Ajob-queue%2Fq?tagKeys=a&tagKeys=b%20c", signOpts{}, "", testKey},
		{"no signature", "/v1/submitjob", signOpts{key: "-"}, MissingAuthenticationToken, "Missing Authentication Token"},
		{"unknown key", "/v1/submitjob", signOpts{key: "AKIDNOTKNOWN00000", secret: testSecret}, UnrecognizedClient, "security token included in the request is invalid"},
		{"wrong secret", "/v1/submitjob", signOpts{key: testKey, secret: "wrongwrongwrongwrongwrong"}, InvalidSignature, "does not match the signature you provided"},
		{"tampered body", "/v1/submitjob", signOpts{tamperBody: true}, InvalidSignature, "does not match"},
		{"expired", "/v1/submitjob", signOpts{at: time.Now().Add(-6 * time.Minute)}, InvalidSignature, "Signature expired"},
		{"future", "/v1/submitjob", signOpts{at: time.Now().Add(6 * time.Minute)}, InvalidSignature, "Signature not yet current"},
		{"within skew", "/v1/submitjob", signOpts{at: time.Now().Add(-4 * time.Minute)}, "", testKey},
		{"wrong service", "/v1/submitjob", signOpts{service: "s3"}, InvalidSignature, "correct service: 'batch'"},
		{"wrong region", "/v1/submitjob", signOpts{region: "eu-west-1"}, InvalidSignature, "valid region"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, typ, msg := send(t, srv, c.path, c.o)
			if typ != c.wantType || !strings.Contains(msg, c.wantMsg) {
				t.Fatalf("status %d type %q message %q; want type %q message containing %q", status, typ, msg, c.wantType, c.wantMsg)
			}
			if c.wantType != "" && status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", status)
			}
		})
	}
}

func TestParseAuthorizationRefuses(t *testing.T) {
	for _, h := range []string{
		"AWS4-HMAC-SHA1 Credential=a/20260101/us-east-1/batch/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64),
		"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + strings.Repeat("0", 64),
		"AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/batch/aws4_request, Signature=" + strings.Repeat("0", 64),
		"AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/batch/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/batch, SignedHeaders=host, Signature=" + strings.Repeat("0", 64),
		"AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/batch/aws4_request, SignedHeaders=host, Signature=zz" + strings.Repeat("0", 62),
		"AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/batch/aws4_request, SignedHeaders=host, Bogus=1, Signature=" + strings.Repeat("0", 64),
	} {
		if _, err := ParseAuthorization(h); err == nil {
			t.Errorf("accepted %q", h)
		} else if e, ok := AsError(err); !ok || e.Type != IncompleteSignature {
			t.Errorf("%q: %v, want IncompleteSignatureException", h, err)
		}
	}
}

func TestSessions(t *testing.T) {
	now := time.Now()
	a := testAuthenticator(t, func() time.Time { return now })
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	if _, err := a.Login(rec, r, testKey, "not the secret at all"); err == nil {
		t.Fatal("login with a wrong secret")
	}
	p, err := a.Login(rec, r, testKey, testSecret)
	if err != nil || p.AccessKeyID != testKey {
		t.Fatalf("Login = %v, %v", p, err)
	}
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v", cookie)
	}
	call := httptest.NewRequest(http.MethodPost, "/v1/describejobs", nil)
	call.AddCookie(cookie)
	if _, err := a.Authenticate(call, nil); err == nil {
		t.Fatal("a session cookie without the session header authenticated an API call")
	}
	call.Header.Set(SessionHeader, "1")
	if p, err := a.Authenticate(call, nil); err != nil || p.AccessKeyID != testKey {
		t.Fatalf("Authenticate = %v, %v", p, err)
	}
	now = now.Add(13 * time.Hour)
	if _, err := a.Authenticate(call, nil); err == nil {
		t.Fatal("an expired session authenticated")
	}
}

// BenchmarkVerify measures the verification of one signed SubmitJob
// request (parse, rebuild, re-sign, compare).
func BenchmarkVerify(b *testing.B) {
	a := testAuthenticator(b, nil)
	body := bytes.Repeat([]byte("x"), 2048)
	client, _ := http.NewRequest(http.MethodPost, "http://example.com/v1/submitjob", bytes.NewReader(body))
	client.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		client, hex.EncodeToString(sum[:]), "batch", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/submitjob", nil)
	r.Header = client.Header.Clone()
	r.Header.Set("Content-Length", "2048")
	r.ContentLength = 2048
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}
