package events

import (
	"errors"
	"fmt"

	"github.com/segmentio/encoding/json"
)

// RegistryCredentials are how the launcher logs in to the registry of a
// container's image when it pulls it: a Podman secret holding
// {"username": "...", "password": "..."} (AWS's format for
// repositoryCredentials in Secrets Manager).
type RegistryCredentials struct {
	// Secrets are the Podman secret names to try, in order.
	Secrets []string `json:"secrets"`
	// CredentialsParameter is what the job definition said, for messages.
	CredentialsParameter string `json:"credentialsParameter"`
}

// RegistryCredentialsOf reads containerProperties.repositoryCredentials
// (raw JSON; nil when absent). credentialsParameter names a Podman secret
// by the rule of secrets' valueFrom (SecretNames): a Secrets Manager ARN
// by its name after "secret:", with and without the random suffix.
func RegistryCredentialsOf(raw json.RawMessage) (*RegistryCredentials, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var rc struct {
		CredentialsParameter string `json:"credentialsParameter"`
	}
	if err := json.Unmarshal(raw, &rc); err != nil {
		return nil, fmt.Errorf("repositoryCredentials must be an object with credentialsParameter: %w", err)
	}
	if rc.CredentialsParameter == "" {
		return nil, errors.New(`repositoryCredentials.credentialsParameter is required: the ARN or name of the Podman secret that holds {"username": "...", "password": "..."}`)
	}
	names, err := SecretNames(rc.CredentialsParameter)
	if err != nil {
		return nil, fmt.Errorf("repositoryCredentials.credentialsParameter: %w", err)
	}
	return &RegistryCredentials{Secrets: names, CredentialsParameter: rc.CredentialsParameter}, nil
}
