package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/natsauth"
	"github.com/nats-io/nats-server/v2/server"
)

// TestNATSConfig: `batchd nats-config` prints a configuration nats-server
// loads, with the service users, a launcher user per host and an account
// per credential, and keeps the services' passwords in --data.
func TestNATSConfig(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(creds, []byte(authE2ECredentials), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	data := filepath.Join(dir, "data")
	if err := natsConfigMain([]string{"--auth", creds, "--data", data, "--hosts", "h1,h2", "--store", filepath.Join(dir, "js")}, &out); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server does not load the configuration: %v\n%s", err, out.String())
	}
	users := map[string]bool{}
	for _, u := range opts.Users {
		users[u.Username] = true
	}
	for _, want := range []string{"api", "scheduler", "monitor", "notifier", "launcher-h1", "launcher-h2", "ADMINKEY00000001", "ENDUSERKEY000001"} {
		if !users[want] {
			t.Errorf("no NATS user %s in\n%s", want, out.String())
		}
	}
	kept, err := natsauth.LoadCredentials(data)
	if err != nil || kept["launcher-h2"] == "" {
		t.Fatalf("service passwords not kept: %v %v", kept, err)
	}
}
