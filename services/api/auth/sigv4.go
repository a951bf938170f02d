package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Service is the SigV4 signing name of the AWS Batch API.
const Service = "batch"

// ServiceLogs is the SigV4 signing name of the CloudWatch Logs API (the
// job output that the api serves).
const ServiceLogs = "logs"

const (
	algorithm  = "AWS4-HMAC-SHA256"
	amzDate    = "X-Amz-Date"
	amzTimeFmt = "20060102T150405Z"
)

// Signature is the parsed Authorization header of a SigV4 request.
type Signature struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lower case, in the order given
	Signature     string   // hex
}

// ParseAuthorization reads "AWS4-HMAC-SHA256 Credential=<key>/<date>/
// <region>/<service>/aws4_request, SignedHeaders=<a;b>, Signature=<hex>".
// The error is an IncompleteSignatureException.
func ParseAuthorization(h string) (Signature, error) {
	var s Signature
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithm {
		return s, refuse(IncompleteSignature, fmt.Sprintf("Authorization header requires the algorithm %s (got %q)", algorithm, truncate(alg, 40)))
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return s, refuse(IncompleteSignature, fmt.Sprintf("Authorization header component %q is not key=value", truncate(part, 40)))
		}
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			signed, haveSigned = v, true
		case "Signature":
			sig, haveSig = v, true
		default:
			return s, refuse(IncompleteSignature, fmt.Sprintf("Authorization header has an unknown component %q", truncate(k, 40)))
		}
	}
	switch {
	case !haveCred:
		return s, refuse(IncompleteSignature, "Authorization header requires 'Credential' parameter.")
	case !haveSigned:
		return s, refuse(IncompleteSignature, "Authorization header requires 'SignedHeaders' parameter.")
	case !haveSig:
		return s, refuse(IncompleteSignature, "Authorization header requires 'Signature' parameter.")
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return s, refuse(IncompleteSignature, "Credential must have the form <access key>/<yyyymmdd>/<region>/<service>/aws4_request")
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = scope[0], scope[1], scope[2], scope[3]
	if len(s.Date) != 8 {
		return s, refuse(IncompleteSignature, "Credential date must be yyyymmdd")
	}
	if signed == "" {
		return s, refuse(IncompleteSignature, "SignedHeaders must name the signed headers")
	}
	s.SignedHeaders = strings.Split(signed, ";")
	if len(sig) != 64 {
		return s, refuse(IncompleteSignature, "Signature must be 64 hexadecimal digits")
	}
	if _, err := hex.DecodeString(sig); err != nil {
		return s, refuse(IncompleteSignature, "Signature must be 64 hexadecimal digits")
	}
	s.Signature = strings.ToLower(sig)
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Verify checks the SigV4 signature of an AWS Batch request (signed for
// Service) whose body has been read into body, and returns who signed it.
func (a *Authenticator) Verify(r *http.Request, body []byte) (*Principal, error) {
	return a.VerifyService(r, body, Service)
}

// VerifyService checks the SigV4 signature of a request signed for service
// (Service, ServiceLogs). It rebuilds the request from the signed headers
// alone, signs it again with the key's secret using the AWS SDK's signer
// and compares the signatures in constant time.
func (a *Authenticator) VerifyService(r *http.Request, body []byte, service string) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Has("X-Amz-Signature") {
			return nil, refuse(IncompleteSignature, "presigned URLs are not accepted: sign the Authorization header")
		}
		return nil, errMissing
	}
	sig, err := ParseAuthorization(h)
	if err != nil {
		return nil, err
	}
	e := a.byKey[sig.AccessKeyID]
	if e == nil {
		return nil, errUnrecognized
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		// batchd issues no temporary credentials.
		return nil, errUnrecognized
	}
	if sig.Service != service {
		return nil, refuse(InvalidSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service))
	}
	if !slices.Contains(a.regions, sig.Region) {
		return nil, refuse(InvalidSignature, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. This server accepts %s.", truncate(sig.Region, 40), strings.Join(a.regions, ", ")))
	}
	if !slices.Contains(sig.SignedHeaders, "host") {
		return nil, refuse(InvalidSignature, "'Host' must be a signed header.")
	}
	if !slices.Contains(sig.SignedHeaders, "x-amz-date") {
		return nil, refuse(IncompleteSignature, "'X-Amz-Date' must be a signed header.")
	}
	t, err := time.Parse(amzTimeFmt, r.Header.Get(amzDate))
	if err != nil {
		return nil, refuse(IncompleteSignature, "X-Amz-Date must be an ISO 8601 basic time such as 20260101T000000Z")
	}
	if t.Format("20060102") != sig.Date {
		return nil, refuse(InvalidSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", sig.Date, t.Format("20060102")))
	}
	now := a.now().UTC()
	if t.Before(now.Add(-MaxSkew)) {
		return nil, refuse(InvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			t.Format(amzTimeFmt), now.Add(-MaxSkew).Format(amzTimeFmt), now.Format(amzTimeFmt)))
	}
	if t.After(now.Add(MaxSkew)) {
		return nil, refuse(InvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			t.Format(amzTimeFmt), now.Add(MaxSkew).Format(amzTimeFmt), now.Format(amzTimeFmt)))
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != hash {
		return nil, refuse(InvalidSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	// The request as the client signed it: method, path, query, host and
	// the signed headers, nothing else.
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	re := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	for _, name := range sig.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil && r.ContentLength >= 0 {
				n = r.ContentLength
			}
			re.ContentLength = n
		default:
			if vs := r.Header.Values(name); len(vs) > 0 {
				re.Header[http.CanonicalHeaderKey(name)] = vs
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: sig.AccessKeyID, SecretAccessKey: e.secret}
	if err := a.signer.SignHTTP(r.Context(), creds, re, hash, sig.Service, sig.Region, t); err != nil {
		return nil, refuse(InvalidSignature, "the signature cannot be computed: "+err.Error())
	}
	mine, err := ParseAuthorization(re.Header.Get("Authorization"))
	if err != nil {
		return nil, errMismatch
	}
	if strings.Join(mine.SignedHeaders, ";") != strings.Join(sig.SignedHeaders, ";") {
		return nil, refuse(InvalidSignature, fmt.Sprintf("The request signature we calculated does not match the signature you provided: the signed headers must be %s (sorted, lower case), not %s.",
			strings.Join(mine.SignedHeaders, ";"), strings.Join(sig.SignedHeaders, ";")))
	}
	if !hmac.Equal([]byte(mine.Signature), []byte(sig.Signature)) {
		return nil, errMismatch
	}
	return e.principal, nil
}
