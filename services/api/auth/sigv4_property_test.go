package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"pgregory.net/rapid"
)

// TestVerifyProperty: a request the SDK signed verifies; the same request
// with its body, path, query or a signed header changed does not.
func TestVerifyProperty(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := testAuthenticator(t, func() time.Time { return now })
	rapid.Check(t, func(t *rapid.T) {
		body := []byte(rapid.StringN(0, 64, -1).Draw(t, "body"))
		seg := rapid.StringMatching(`[a-z0-9:/%+ ]{1,12}`).Draw(t, "path segment")
		query := rapid.StringMatching(`[a-z0-9 ]{0,8}`).Draw(t, "query")
		value := rapid.StringMatching(`[ -~]{1,16}`).Draw(t, "header value")
		path := "/v1/tags/" + url.PathEscape(seg)
		target := path
		if query != "" {
			target += "?tagKeys=" + url.QueryEscape(query)
		}
		build := func(body []byte, target, value string) *http.Request {
			r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Batchd-Test", value)
			return r
		}
		client := build(body, "http://example.com"+target, value)
		client.Host = "example.com"
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
			client, hex.EncodeToString(sum[:]), "batch", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		server := func(body []byte, target, value string) *http.Request {
			r := build(body, target, value)
			for _, k := range []string{"Authorization", "X-Amz-Date"} {
				r.Header.Set(k, client.Header.Get(k))
			}
			r.ContentLength = int64(len(body))
			return r
		}
		if _, err := a.Verify(server(body, target, value), body); err != nil {
			t.Fatalf("a signed request did not verify: %v", err)
		}
		mutated := append(bytes.Clone(body), 'x')
		if _, err := a.Verify(server(mutated, target, value), mutated); err == nil {
			t.Fatal("a changed body verified")
		}
		if _, err := a.Verify(server(body, target+"x", value), body); err == nil {
			t.Fatal("a changed path verified")
		}
		if _, err := a.Verify(server(body, target, value+"x"), body); err == nil {
			t.Fatal("a changed signed header verified")
		}
	})
}
