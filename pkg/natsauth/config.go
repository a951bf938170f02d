package natsauth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/events"
)

// Caller is an API credential as a NATS user: its account (named by the
// access key id) may publish to the batch.api.<Operation> subjects of
// Operations and subscribe to events.
type Caller struct {
	User, Password string
	Operations     []string
}

// CallerPermissions are the permissions of an API credential's NATS user.
func CallerPermissions(operations []string) Permissions {
	p := Permissions{Subscribe: []string{"_INBOX.>", events.SubjectEventsAll}}
	for _, op := range operations {
		p.Publish = append(p.Publish, events.APISubject(op))
	}
	if len(p.Publish) == 0 {
		// NATS reads an empty allow list as "anything": allow a subject
		// no one serves instead.
		p.Publish = []string{events.SubjectAPIPrefix + ".none"}
	}
	return p
}

// Server describes a closed NATS deployment.
type Server struct {
	// Host and Port to listen on; StoreDir is JetStream's folder.
	Host     string
	Port     int
	StoreDir string
	// Name is the server's name; MaxPayload its message size limit.
	Name       string
	MaxPayload int
	// Services maps each service user ("api", ..., LauncherUser(host)) to
	// its password.
	Services map[string]string
	// Callers are the API credentials.
	Callers []Caller
}

// ServerConfig writes the nats-server configuration: the batchd account
// with JetStream and the service users, exporting the API service and the
// event stream; one account per caller importing them. Nobody connects
// without a user and password.
func (s Server) ServerConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# batchd: a closed NATS deployment (generated; keep it private: it holds passwords)\n")
	if s.Name != "" {
		fmt.Fprintf(&b, "server_name: %s\n", q(s.Name))
	}
	if s.Host != "" {
		fmt.Fprintf(&b, "host: %s\n", q(s.Host))
	}
	if s.Port != 0 {
		fmt.Fprintf(&b, "port: %d\n", s.Port)
	}
	if s.MaxPayload > 0 {
		fmt.Fprintf(&b, "max_payload: %d\n", s.MaxPayload)
	}
	fmt.Fprintf(&b, "jetstream: {store_dir: %s}\n", q(s.StoreDir))
	b.WriteString("accounts: {\n")
	fmt.Fprintf(&b, "  %s: {\n    jetstream: enabled\n    users: [\n", Account)
	users := make([]string, 0, len(s.Services))
	for u := range s.Services {
		users = append(users, u)
	}
	slices.Sort(users)
	for _, u := range users {
		service, host := u, ""
		if h, ok := strings.CutPrefix(u, "launcher-"); ok {
			service, host = "launcher", h
		}
		writeUser(&b, u, s.Services[u], ServicePermissions(service, host))
	}
	b.WriteString("    ]\n")
	fmt.Fprintf(&b, "    exports: [{service: %s}, {stream: %s}]\n  }\n", q(events.SubjectAPIPrefix+".>"), q(events.SubjectEventsAll))
	for _, c := range s.Callers {
		fmt.Fprintf(&b, "  %s: {\n    users: [\n", q(c.User))
		writeUser(&b, c.User, c.Password, CallerPermissions(c.Operations))
		b.WriteString("    ]\n")
		fmt.Fprintf(&b, "    imports: [{service: {account: %s, subject: %s}}, {stream: {account: %s, subject: %s}}]\n  }\n",
			Account, q(events.SubjectAPIPrefix+".>"), Account, q(events.SubjectEventsAll))
	}
	b.WriteString("}\n")
	return b.String()
}

func writeUser(b *strings.Builder, user, password string, p Permissions) {
	fmt.Fprintf(b, "      {user: %s, password: %s, permissions: {\n", q(user), q(password))
	fmt.Fprintf(b, "        publish: {allow: %s", list(p.Publish))
	if len(p.PublishDeny) > 0 {
		fmt.Fprintf(b, ", deny: %s", list(p.PublishDeny))
	}
	fmt.Fprintf(b, "}\n        subscribe: {allow: %s}\n", list(p.Subscribe))
	if p.AllowResponses {
		b.WriteString("        allow_responses: true\n")
	}
	b.WriteString("      }}\n")
}

func q(s string) string { return strconv.Quote(s) }

func list(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q(s)
	}
	return "[" + strings.Join(out, ", ") + "]"
}
