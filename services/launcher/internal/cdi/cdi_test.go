package cdi

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDevices(t *testing.T) {
	etc, run := t.TempDir(), t.TempDir()
	// nvidia-ctk with both name strategies: each GPU by index and by UUID,
	// and "all".
	write(t, etc, "nvidia.yaml", `cdiVersion: "0.5.0"
kind: nvidia.com/gpu
devices:
- name: "10"
  containerEdits:
    deviceNodes: [{path: /dev/nvidia10}]
- name: "2"
  containerEdits:
    deviceNodes: [{path: /dev/nvidia2}]
- name: GPU-aaaa
  containerEdits:
    deviceNodes: [{path: /dev/nvidia2}]
- name: all
  containerEdits:
    deviceNodes: [{path: /dev/nvidia2}, {path: /dev/nvidia10}]
containerEdits:
  deviceNodes: [{path: /dev/nvidiactl}]
`)
	// A JSON spec with env-only devices (no device nodes), one name
	// repeated from another file.
	write(t, run, "fake.json", `{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[
		{"name":"x","containerEdits":{"env":["FAKE_GPU=x"]}},
		{"name":"2","containerEdits":{"env":["FAKE_GPU=2"]}}]}`)
	write(t, run, "other.yaml", "kind: vendor.com/fpga\ndevices: [{name: \"0\"}]\n")
	write(t, run, "notes.txt", "not a spec")
	got, err := Devices([]string{etc, run, filepath.Join(run, "missing")}, GPUKind)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nvidia.com/gpu=2", "nvidia.com/gpu=10", "nvidia.com/gpu=x"}
	if !slices.Equal(got, want) {
		t.Fatalf("devices %v, want %v", got, want)
	}
}

func TestDevicesBadFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "kind: nvidia.com/gpu\ndevices: [{name: \"0\"}]\n")
	write(t, dir, "b.json", "{not json")
	got, err := Devices([]string{dir}, GPUKind)
	if err == nil || !strings.Contains(err.Error(), "b.json") {
		t.Fatalf("error %v, want one naming b.json", err)
	}
	if !slices.Equal(got, []string{"nvidia.com/gpu=0"}) {
		t.Fatalf("devices %v, want the good file's", got)
	}
}

func TestIndexedAndName(t *testing.T) {
	got := Indexed(GPUKind, 2)
	if !slices.Equal(got, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}) {
		t.Fatalf("Indexed: %v", got)
	}
	if Name(got[1]) != "1" {
		t.Fatalf("Name(%s) = %s", got[1], Name(got[1]))
	}
}
