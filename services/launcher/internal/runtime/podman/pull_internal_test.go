package podman

import (
	"errors"
	"testing"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

func TestRegistryOf(t *testing.T) {
	for image, want := range map[string]string{
		"127.0.0.1:5000/app:1":          "127.0.0.1:5000",
		"registry.example.com/a/b:tag":  "registry.example.com",
		"localhost/batch-sample:latest": "localhost",
		"busybox":                       "",
		"library/busybox:1":             "",
	} {
		if got := registryOf(image); got != want {
			t.Errorf("registryOf(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestPullMessage(t *testing.T) {
	err := errors.New(`initializing source docker://127.0.0.1:5000/app:latest: reading manifest latest in 127.0.0.1:5000/app: unauthorized: authentication required`)
	if got, want := pullMessage(err), "reading manifest latest in 127.0.0.1:5000/app: unauthorized: authentication required"; got != want {
		t.Fatalf("pullMessage = %q, want %q", got, want)
	}
	if got := pullMessage(errors.New("other")); got != "other" {
		t.Fatalf("pullMessage = %q", got)
	}
}

func TestPullLabel(t *testing.T) {
	p := runtime.ImagePull{StartedAt: time.UnixMilli(1700000000123), StoppedAt: time.UnixMilli(1700000000456)}
	got := pullOfLabels(map[string]string{labelImagePull: pullLabel(p)})
	if got == nil || !got.StartedAt.Equal(p.StartedAt) || !got.StoppedAt.Equal(p.StoppedAt) {
		t.Fatalf("round trip of %+v gave %+v", p, got)
	}
	if pullOfLabels(map[string]string{}) != nil || pullOfLabels(map[string]string{labelImagePull: "x-y"}) != nil {
		t.Fatal("a missing or bad label gave a pull")
	}
}
