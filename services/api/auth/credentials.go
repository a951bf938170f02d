package auth

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credential is one entry of the credentials file: an access key, its
// secret and its IAM policy document.
type Credential struct {
	AccessKeyID     string          `json:"accessKeyId"`
	SecretAccessKey string          `json:"secretAccessKey"`
	Policy          json.RawMessage `json:"policy"`
}

// Options tune an Authenticator.
type Options struct {
	// Regions a signature may be scoped to; empty means DefaultRegions.
	Regions []string
	// Known tells the batch actions that exist (the names after "batch:");
	// nil accepts any.
	Known func(action string) bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// SessionTTL is how long a dashboard session lasts (0: 12 hours).
	SessionTTL time.Duration
}

// DefaultRegions are the regions accepted when none are configured: the
// one this installation's ARNs name.
var DefaultRegions = []string{"us-east-1"}

// MaxSkew is how far a request's signing time may be from the server's
// clock, as AWS allows.
const MaxSkew = 5 * time.Minute

// Access key ids are user names on NATS too, secrets passwords: they are
// kept to characters that need no quoting anywhere.
var (
	accessKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_]{16,128}$`)
	secretPattern    = regexp.MustCompile(`^[A-Za-z0-9/+=._-]{16,128}$`)
)

// Authenticator knows the credentials and verifies requests.
type Authenticator struct {
	byKey   map[string]*entry
	keys    []string
	regions []string
	now     func() time.Time
	signer  *v4.Signer

	sessionTTL time.Duration
	mu         sync.Mutex
	sessions   map[string]session
}

type entry struct {
	secret    string
	principal *Principal
}

// LoadFile reads the credentials file of `batchd --auth`: a JSON list of
// credentials. It must not be readable by other users.
func LoadFile(path string, opts Options) (*Authenticator, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("credentials file %s is readable by other users (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	a, err := Parse(data, opts)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return a, nil
}

// Parse reads a credentials list (the file's content).
func Parse(data []byte, opts Options) (*Authenticator, error) {
	var creds []Credential
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&creds); err != nil {
		return nil, fmt.Errorf("want a JSON list of {\"accessKeyId\", \"secretAccessKey\", \"policy\"}: %w", err)
	}
	return New(creds, opts)
}

// New makes an Authenticator of credentials, checking each one.
func New(creds []Credential, opts Options) (*Authenticator, error) {
	if len(creds) == 0 {
		return nil, fmt.Errorf("no credentials: give at least one {\"accessKeyId\", \"secretAccessKey\", \"policy\"}")
	}
	a := &Authenticator{byKey: map[string]*entry{}, regions: opts.Regions, now: opts.Now,
		signer: v4.NewSigner(), sessionTTL: opts.SessionTTL, sessions: map[string]session{}}
	if len(a.regions) == 0 {
		a.regions = DefaultRegions
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.sessionTTL <= 0 {
		a.sessionTTL = 12 * time.Hour
	}
	for i, c := range creds {
		if !accessKeyPattern.MatchString(c.AccessKeyID) {
			return nil, fmt.Errorf("credential %d: accessKeyId %q must be 16 to 128 letters, digits or _", i, c.AccessKeyID)
		}
		if !secretPattern.MatchString(c.SecretAccessKey) {
			return nil, fmt.Errorf("credential %s: secretAccessKey must be 16 to 128 characters of A-Z a-z 0-9 / + = . _ -", c.AccessKeyID)
		}
		if _, dup := a.byKey[c.AccessKeyID]; dup {
			return nil, fmt.Errorf("credential %s: accessKeyId given twice", c.AccessKeyID)
		}
		if len(c.Policy) == 0 {
			return nil, fmt.Errorf("credential %s: policy is required (an IAM policy document)", c.AccessKeyID)
		}
		p, err := ParsePolicy(c.Policy, opts.Known)
		if err != nil {
			return nil, fmt.Errorf("credential %s: %w", c.AccessKeyID, err)
		}
		a.byKey[c.AccessKeyID] = &entry{secret: c.SecretAccessKey, principal: &Principal{AccessKeyID: c.AccessKeyID, policy: p}}
		a.keys = append(a.keys, c.AccessKeyID)
	}
	slices.Sort(a.keys)
	return a, nil
}

// Lookup returns the principal of an access key id, or nil.
func (a *Authenticator) Lookup(accessKeyID string) *Principal {
	if e := a.byKey[accessKeyID]; e != nil {
		return e.principal
	}
	return nil
}

// Users lists every access key id with its secret, in key order (the NATS
// users of the credentials).
func (a *Authenticator) Users() []Credential {
	out := make([]Credential, 0, len(a.keys))
	for _, k := range a.keys {
		out = append(out, Credential{AccessKeyID: k, SecretAccessKey: a.byKey[k].secret})
	}
	return out
}

// CheckSecret returns the principal whose key and secret these are
// (compared in constant time), or UnrecognizedClientException.
func (a *Authenticator) CheckSecret(accessKeyID, secret string) (*Principal, error) {
	e := a.byKey[accessKeyID]
	if e == nil || subtle.ConstantTimeCompare([]byte(e.secret), []byte(secret)) != 1 {
		return nil, errUnrecognized
	}
	return e.principal, nil
}
