package podman

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containers/podman/v5/pkg/bindings/secrets"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// registryCredentials reads the registry user name and password from the
// first Podman secret of p.CredentialSecrets that exists. The secret holds
// JSON, the format AWS documents for repositoryCredentials in Secrets
// Manager: {"username": "...", "password": "..."}.
//
// Podman 4.3's API does not return a secret's value (showsecret came in
// 4.7 and is asked for first); with its "file" driver, the default, the
// value is read from the driver's store on this host
// (<path>/secretsdata.json, readable by root), which needs the service to
// be local.
func (r *Runtime) registryCredentials(ctx context.Context, p runtime.Pull) (user, pass string, err error) {
	fail := func(format string, args ...any) (string, string, error) {
		return "", "", runtime.CannotStart("CannotPullContainerError: repositoryCredentials.credentialsParameter "+
			p.CredentialsParameter+": "+fmt.Sprintf(format, args...), runtime.ErrImageNotFound)
	}
	for _, name := range p.CredentialSecrets {
		info, err := secrets.Inspect(r.bind(ctx), name, new(secrets.InspectOptions).WithShowSecret(true))
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("podman secret inspect %s: %w", name, err)
		}
		data := info.SecretData
		if data == "" {
			if info.Spec.Driver.Name != "file" {
				return fail("the value of Podman secret %s (driver %s) cannot be read: use the file driver", name, info.Spec.Driver.Name)
			}
			if data, err = fileDriverValue(info.Spec.Driver.Options["path"], info.ID); err != nil {
				return fail("the value of Podman secret %s cannot be read: %v", name, err)
			}
		}
		var c struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil || c.Username == "" {
			return fail(`Podman secret %s does not hold {"username": "...", "password": "..."}`, name)
		}
		return c.Username, c.Password, nil
	}
	return fail("no Podman secret %q exists", p.CredentialSecrets[0])
}

// fileDriverValue reads a secret's value from the store of Podman's file
// secret driver: a JSON object from secret id to base64 value.
func fileDriverValue(dir, id string) (string, error) {
	if dir == "" {
		dir = "/var/lib/containers/storage/secrets/filedriver"
	}
	b, err := os.ReadFile(filepath.Join(dir, "secretsdata.json"))
	if err != nil {
		return "", err
	}
	var store map[string]string
	if err := json.Unmarshal(b, &store); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, "secretsdata.json"), err)
	}
	v, ok := store[id]
	if !ok {
		return "", fmt.Errorf("secret %s is not in the file driver's store", id)
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return "", err
	}
	return string(raw), nil
}
