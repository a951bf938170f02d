package auth

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"
)

// SessionCookie is the cookie of a dashboard session.
const SessionCookie = "batchd_session"

// SessionHeader must accompany a session cookie on API calls
// (X-Batchd-Session: 1): a custom header cannot be sent cross-site without
// a CORS preflight, which batchd never grants, so another site cannot make
// a logged-in browser call the API.
const SessionHeader = "X-Batchd-Session"

type session struct {
	key     string
	expires time.Time
}

// Login checks a key and its secret and starts a session: an HttpOnly,
// SameSite=Strict cookie (Secure when the request came over TLS).
func (a *Authenticator) Login(w http.ResponseWriter, r *http.Request, accessKeyID, secret string) (*Principal, error) {
	p, err := a.CheckSecret(accessKeyID, secret)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := a.now()
	a.mu.Lock()
	for t, s := range a.sessions { // drop expired sessions
		if now.After(s.expires) {
			delete(a.sessions, t)
		}
	}
	a.sessions[token] = session{key: accessKeyID, expires: now.Add(a.sessionTTL)}
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(a.sessionTTL.Seconds())})
	return p, nil
}

// Session returns the principal of the request's session cookie, or
// MissingAuthenticationTokenException when it has none that is valid.
func (a *Authenticator) Session(r *http.Request) (*Principal, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, errMissing
	}
	a.mu.Lock()
	s, ok := a.sessions[c.Value]
	if ok && a.now().After(s.expires) {
		delete(a.sessions, c.Value)
		ok = false
	}
	a.mu.Unlock()
	if !ok {
		return nil, errMissing
	}
	return a.Lookup(s.key), nil
}

// Logout ends the request's session and clears its cookie.
func (a *Authenticator) Logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// Authenticate returns the caller of an API request: its SigV4 signature,
// or else a session cookie sent with the SessionHeader. body is the
// request body already read.
func (a *Authenticator) Authenticate(r *http.Request, body []byte) (*Principal, error) {
	return a.AuthenticateService(r, body, Service)
}

// AuthenticateService is Authenticate for a request signed for service
// (Service, ServiceLogs).
func (a *Authenticator) AuthenticateService(r *http.Request, body []byte, service string) (*Principal, error) {
	if r.Header.Get("Authorization") == "" && r.Header.Get(SessionHeader) != "" {
		return a.Session(r)
	}
	return a.VerifyService(r, body, service)
}
