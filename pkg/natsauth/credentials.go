package natsauth

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CredentialsFile is where a deployment's service passwords are kept, in
// its data folder (mode 0600).
const CredentialsFile = "nats-credentials.json"

// LoadCredentials reads the service passwords of the data folder dir.
func LoadCredentials(dir string) (map[string]string, error) {
	path := filepath.Join(dir, CredentialsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	users := map[string]string{}
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, fmt.Errorf("nats credentials %s: %w", path, err)
	}
	return users, nil
}

// EnsureCredentials returns the service passwords kept in dir, creating
// random ones for the users that have none (the services and the
// launchers of hosts) and storing them with mode 0600.
func EnsureCredentials(dir string, hosts []string) (map[string]string, error) {
	users, err := LoadCredentials(dir)
	if errors.Is(err, fs.ErrNotExist) {
		users, err = map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	want := append([]string{}, Services...)
	for _, h := range hosts {
		want = append(want, LauncherUser(h))
	}
	changed := false
	for _, u := range want {
		if users[u] != "" {
			continue
		}
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		users[u], changed = hex.EncodeToString(b), true
	}
	if !changed {
		return users, nil
	}
	data, err := json.MarshalIndent(users, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	path := filepath.Join(dir, CredentialsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	return users, nil
}
