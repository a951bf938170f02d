package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// credentials finds the keys to sign with, as the AWS CLI does (static
// keys only): AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN); else the profile AWS_PROFILE (or "default") of the
// shared credentials and config files (AWS_SHARED_CREDENTIALS_FILE and
// AWS_CONFIG_FILE, by default ~/.aws/credentials and ~/.aws/config); else
// dummy keys, which a batchd without --auth accepts. A profile named in
// AWS_PROFILE that has no keys is an error.
func (a *app) credentials(ctx context.Context) (aws.Credentials, error) {
	id, secret, token := a.env.Getenv("AWS_ACCESS_KEY_ID"), a.env.Getenv("AWS_SECRET_ACCESS_KEY"), a.env.Getenv("AWS_SESSION_TOKEN")
	if id != "" && secret != "" {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, Source: "environment"}, nil
	}
	profile := a.env.Getenv("AWS_PROFILE")
	named := profile != ""
	if !named {
		profile = "default"
	}
	home := a.env.Getenv("HOME")
	credFile := a.getenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials"))
	confFile := a.getenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.CredentialsFiles, o.ConfigFiles = []string{credFile}, []string{confFile}
	})
	if err == nil && sc.Credentials.HasKeys() {
		return sc.Credentials, nil
	}
	var missing config.SharedConfigProfileNotExistError
	if named {
		if err == nil || errors.As(err, &missing) {
			return aws.Credentials{}, fmt.Errorf("profile %s (AWS_PROFILE) has no aws_access_key_id and aws_secret_access_key in %s or %s", profile, credFile, confFile)
		}
		return aws.Credentials{}, fmt.Errorf("profile %s: %w", profile, err)
	}
	return aws.Credentials{AccessKeyID: dummyKey, SecretAccessKey: dummyKey, Source: "batchctl"}, nil
}
