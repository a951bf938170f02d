// Package cdi reads the devices a host offers from its Container Device
// Interface specs: the YAML or JSON files that `nvidia-ctk cdi generate`
// (or an operator) writes to /etc/cdi and /var/run/cdi, and that Podman
// reads to inject a device named "<kind>=<name>" into a container.
package cdi

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// DefaultDirs are where Podman looks for CDI specs, lowest priority first.
var DefaultDirs = []string{"/etc/cdi", "/var/run/cdi"}

// GPUKind is the kind of NVIDIA GPU devices.
const GPUKind = "nvidia.com/gpu"

// spec is the part of a CDI spec file this package reads.
type spec struct {
	Kind    string `json:"kind"`
	Devices []struct {
		Name           string `json:"name"`
		ContainerEdits struct {
			DeviceNodes []struct {
				Path string `json:"path"`
			} `json:"deviceNodes"`
		} `json:"containerEdits"`
	} `json:"devices"`
}

// Devices returns the fully qualified names ("nvidia.com/gpu=0") of the
// devices of kind that the spec files (*.json, *.yaml, *.yml) in dirs
// declare, each physical device once, in name order (numbers numerically).
//
// A spec may name one device several ways (nvidia-ctk's index and uuid
// name strategies) and adds "all" for every device at once: "all" is
// skipped, and devices whose containerEdits list the same device nodes
// are one device, named by the first name met (files in name order, dirs
// in order). Missing dirs are not an error. A file that cannot be read or
// parsed is skipped and reported in the error, which may come with
// devices.
func Devices(dirs []string, kind string) ([]string, error) {
	var errs []error
	seen := map[string]bool{}  // names
	nodes := map[string]bool{} // device node sets already counted
	var names []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cdi: %w", err))
			continue
		}
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if e.IsDir() || (ext != ".json" && ext != ".yaml" && ext != ".yml") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("cdi: %w", err))
				continue
			}
			var s spec
			if err := yaml.Unmarshal(data, &s); err != nil {
				errs = append(errs, fmt.Errorf("cdi: spec %s: %w", path, err))
				continue
			}
			if s.Kind != kind {
				continue
			}
			for _, d := range s.Devices {
				if d.Name == "" || d.Name == "all" || seen[d.Name] {
					continue
				}
				seen[d.Name] = true
				var paths []string
				for _, n := range d.ContainerEdits.DeviceNodes {
					paths = append(paths, n.Path)
				}
				if len(paths) > 0 {
					slices.Sort(paths)
					key := strings.Join(paths, "\x00")
					if nodes[key] {
						continue
					}
					nodes[key] = true
				}
				names = append(names, d.Name)
			}
		}
	}
	slices.SortFunc(names, compareNames)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = kind + "=" + n
	}
	return out, errors.Join(errs...)
}

// Indexed returns n devices of kind named by index: "<kind>=0" ... .
func Indexed(kind string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = kind + "=" + strconv.Itoa(i)
	}
	return out
}

// Name returns the device name of a qualified name ("0" of
// "nvidia.com/gpu=0").
func Name(qualified string) string {
	_, name, ok := strings.Cut(qualified, "=")
	if !ok {
		return qualified
	}
	return name
}

// compareNames orders numbers numerically and before other names.
func compareNames(a, b string) int {
	na, errA := strconv.Atoi(a)
	nb, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(na, nb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}
