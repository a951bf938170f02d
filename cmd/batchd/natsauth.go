package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/natsauth"
	"github.com/batchd/batchd/services/api"
	"github.com/batchd/batchd/services/api/auth"
	"github.com/nats-io/nats-server/v2/server"
)

// natsServerConf is the embedded server's configuration file in the data
// folder of a closed deployment (it holds passwords: mode 0600).
const natsServerConf = "nats-server.conf"

// natsUsers returns, with --auth, the service users' passwords and, for the
// embedded server, the closed deployment it serves: the service passwords
// are made once and kept in the data folder; each credential of --auth is
// a NATS user in an account of its own. Without --auth both are nil (an
// open server, anonymous clients).
func natsUsers(c config, authn *auth.Authenticator, hostIDs []string) (map[string]string, *natsauth.Server, error) {
	if authn == nil {
		return nil, nil, nil
	}
	if c.natsURL != "" {
		// An external cluster: its configuration and these passwords come
		// from `batchd nats-config` (deploy/nats/README.md).
		users, err := natsauth.LoadCredentials(c.dataDir)
		if err != nil {
			return nil, nil, fmt.Errorf("--auth with --nats-url needs the services' NATS passwords in %s: copy it from where `batchd nats-config` made it: %w",
				filepath.Join(c.dataDir, natsauth.CredentialsFile), err)
		}
		return users, nil, nil
	}
	users, err := natsauth.EnsureCredentials(c.dataDir, hostIDs)
	if err != nil {
		return nil, nil, err
	}
	return users, &natsauth.Server{Services: users, Callers: natsCallers(authn)}, nil
}

// natsCallers are the NATS users of the API credentials, each allowed the
// operations its policy allows on some resource.
func natsCallers(authn *auth.Authenticator) []natsauth.Caller {
	var out []natsauth.Caller
	for _, cred := range authn.Users() {
		p := authn.Lookup(cred.AccessKeyID)
		var ops []string
		for _, op := range api.Actions() {
			if p.MayCall("batch:" + op) {
				ops = append(ops, op)
			}
		}
		out = append(out, natsauth.Caller{User: cred.AccessKeyID, Password: cred.SecretAccessKey, Operations: ops})
	}
	return out
}

// closedOptions writes the closed server's configuration into the data
// folder and loads it.
func closedOptions(dataDir string, s natsauth.Server) (*server.Options, error) {
	path := filepath.Join(dataDir, natsServerConf)
	if err := os.WriteFile(path, []byte(s.ServerConfig()), 0o600); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: configuration %s: %w", path, err)
	}
	opts.NoSigs, opts.NoLog = true, true
	return opts, nil
}

// natsConfigMain is `batchd nats-config`: it prints the configuration of
// a closed external NATS server (or cluster node) for the credentials of
// --auth and the launchers of --hosts, and makes (or keeps) the services'
// passwords in --data/nats-credentials.json, to copy to every batchd host.
func natsConfigMain(args []string, w io.Writer) error {
	var c config
	fs := flag.NewFlagSet("batchd nats-config", flag.ContinueOnError)
	fs.StringVar(&c.authFile, "auth", "", "credentials file of the API (required)")
	fs.StringVar(&c.dataDir, "data", defaultDataDir(), "folder where the services' NATS passwords are kept ("+natsauth.CredentialsFile+")")
	hosts := fs.String("hosts", "", "host ids of the launchers, comma separated (the host-id file of each host's data folder)")
	listen := fs.String("listen", "0.0.0.0:4222", "client address of the server")
	store := fs.String("store", "/var/lib/nats/jetstream", "JetStream store folder of the server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.authFile == "" {
		return fmt.Errorf("--auth is required")
	}
	authn, err := loadAuth(c)
	if err != nil {
		return err
	}
	var ids []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			ids = append(ids, h)
		}
	}
	users, err := natsauth.EnsureCredentials(c.dataDir, ids)
	if err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--listen port %q: %w", portStr, err)
	}
	s := natsauth.Server{Host: host, Port: port, StoreDir: *store, MaxPayload: 8 << 20, Services: users, Callers: natsCallers(authn)}
	_, err = io.WriteString(w, s.ServerConfig())
	return err
}
