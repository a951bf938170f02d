package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// Access control. With a Guard (batchd --auth), the browser logs in with
// an access key id and its secret; the session lives in an HttpOnly
// cookie, and every request is allowed only when the session's policy
// allows the API action behind it, on the resources the API names for
// that action: batch:DescribeJobQueues, batch:ListJobs and
// batch:DescribeJobs on "*" (AWS has no resource-level permissions for
// them), batch:TerminateJob and batch:CancelJob on the job's ARN,
// batch:SubmitJob on the queue's and the definition's ARNs. The operations
// the dashboard runs authorise the principal again.

// Guard is the access control the dashboard asks (the api's
// authenticator: its sessions are HttpOnly, SameSite=Strict cookies).
type Guard interface {
	// Login checks an access key id and its secret and starts a session
	// (sets its cookie on w).
	Login(w http.ResponseWriter, r *http.Request, accessKeyID, secret string) error
	// Session returns the request's session; ErrNoSession when it has
	// none that is valid.
	Session(r *http.Request) (*Session, error)
	// Logout ends the request's session and clears its cookie.
	Logout(w http.ResponseWriter, r *http.Request)
}

// Session is a logged-in principal.
type Session struct {
	// Principal names it (its ARN).
	Principal string
	// Allowed reports whether its policy allows the action (e.g.
	// "batch:TerminateJob") on every resource (ARNs; none: "*").
	Allowed func(action string, resources ...string) bool
	// Context returns ctx carrying the principal, for the operations the
	// dashboard runs (they authorise it again).
	Context func(ctx context.Context) context.Context
}

// ErrNoSession says a request has no valid session.
var ErrNoSession = errors.New("no session: log in")

// session returns the request's session, nil when access control is off.
func (d *Dashboard) session(r *http.Request) (*Session, error) {
	if d.cfg.Guard == nil {
		return nil, nil
	}
	s, err := d.cfg.Guard.Session(r)
	if err != nil {
		return nil, &httpError{http.StatusUnauthorized, "log in with an access key id and its secret"}
	}
	return s, nil
}

// allow checks that the request may do action on resource: always when
// access control is off.
func (d *Dashboard) allow(r *http.Request, action, resource string) error {
	s, err := d.session(r)
	if err != nil || s == nil {
		return err
	}
	if !s.Allowed(action, resource) {
		return &httpError{http.StatusForbidden, "your access key's policy does not allow " + action + " on " + resource}
	}
	return nil
}

// opContext is the context an operation runs in for the request: with
// its principal when access control is on.
func (d *Dashboard) opContext(r *http.Request) context.Context {
	if s, err := d.session(r); err == nil && s != nil {
		return s.Context(r.Context())
	}
	return r.Context()
}

// can reports whether the request may do action on resource (false on
// any error): what the pages offer.
func (d *Dashboard) can(r *http.Request, action, resource string) bool {
	return d.allow(r, action, resource) == nil
}

// sessionView is what GET /ui/api/session answers.
type sessionView struct {
	Auth      bool   `json:"auth"`
	LoggedIn  bool   `json:"loggedIn"`
	Principal string `json:"principal,omitempty"`
	TraceURL  bool   `json:"traceViewer"`
}

func (d *Dashboard) serveSession(w http.ResponseWriter, r *http.Request) {
	v := sessionView{Auth: d.cfg.Guard != nil, LoggedIn: d.cfg.Guard == nil, TraceURL: d.cfg.TraceURL != ""}
	if sess, err := d.session(r); err == nil && sess != nil {
		v.LoggedIn, v.Principal = true, sess.Principal
	}
	writeJSON(w, http.StatusOK, v)
}

func (d *Dashboard) serveLogin(w http.ResponseWriter, r *http.Request) {
	g := d.cfg.Guard
	if g == nil {
		d.writeErr(w, r, badRequest("access control is off: there is nothing to log in to"))
		return
	}
	if err := needJSON(r); err != nil {
		d.writeErr(w, r, err)
		return
	}
	var in struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.AccessKeyID == "" || in.SecretAccessKey == "" {
		d.writeErr(w, r, badRequest("give accessKeyId and secretAccessKey"))
		return
	}
	if err := g.Login(w, r, in.AccessKeyID, in.SecretAccessKey); err != nil {
		d.writeErr(w, r, &httpError{http.StatusUnauthorized, "login refused: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, sessionView{Auth: true, LoggedIn: true, Principal: in.AccessKeyID, TraceURL: d.cfg.TraceURL != ""})
}

func (d *Dashboard) serveLogout(w http.ResponseWriter, r *http.Request) {
	if g := d.cfg.Guard; g != nil {
		g.Logout(w, r)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"loggedOut": true})
}

// needJSON refuses a state-changing request that is not JSON: a page of
// another site cannot send one without the browser asking first (CORS,
// which batchd never grants), so a logged-in browser cannot be made to
// act by another site.
func needJSON(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return &httpError{http.StatusUnsupportedMediaType, "send the request as application/json"}
	}
	return nil
}
