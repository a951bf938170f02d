package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/batchd/batchd/pkg/batch"
)

// NewContainerSpec carries the credentials to the launcher, and refuses
// bad ones.
func TestContainerSpecRegistryCredentials(t *testing.T) {
	spec, err := NewContainerSpec(batch.ContainerSettings{Image: "r.example:5000/app:1",
		RepositoryCredentials: json.RawMessage(`{"credentialsParameter":"regcreds"}`)})
	if err != nil || spec.RegistryCredentials == nil || spec.RegistryCredentials.Secrets[0] != "regcreds" {
		t.Fatalf("spec %+v, err %v", spec.RegistryCredentials, err)
	}
	if _, err := NewContainerSpec(batch.ContainerSettings{Image: "x", RepositoryCredentials: json.RawMessage(`{}`)}); err == nil {
		t.Fatal("repositoryCredentials without credentialsParameter accepted")
	}
}

func TestRegistryCredentialsOf(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    []string
		wantErr string
	}{
		{raw: ``},
		{raw: `null`},
		{raw: `{"credentialsParameter":"regcreds"}`, want: []string{"regcreds"}},
		{raw: `{"credentialsParameter":"arn:aws:secretsmanager:us-east-1:123456789012:secret:regcreds-AbC123"}`, want: []string{"regcreds-AbC123", "regcreds"}},
		{raw: `{"credentialsParameter":"arn:aws:secretsmanager:us-east-1:123456789012:secret:regcreds"}`, want: []string{"regcreds"}},
		// A plain name is taken as it is, suffix or not.
		{raw: `{"credentialsParameter":"my-regcreds-abcdef"}`, want: []string{"my-regcreds-abcdef"}},
		{raw: `{}`, wantErr: "credentialsParameter is required"},
		{raw: `{"credentialsParameter":"arn:aws:secretsmanager:us-east-1:1:secret:x:password::"}`, wantErr: "selects a JSON key"},
		{raw: `{"credentialsParameter":"arn:aws:iam::1:role/x"}`, wantErr: "neither a Secrets Manager secret ARN nor an SSM parameter ARN"},
		{raw: `"x"`, wantErr: "must be an object"},
	} {
		got, err := RegistryCredentialsOf(json.RawMessage(tc.raw))
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one saying %q", tc.raw, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.raw, err)
		case tc.want == nil && got != nil:
			t.Errorf("%s: got %+v, want none", tc.raw, got)
		case tc.want != nil && (got == nil || !reflect.DeepEqual(got.Secrets, tc.want)):
			t.Errorf("%s: got %+v, want secrets %v", tc.raw, got, tc.want)
		}
	}
}
