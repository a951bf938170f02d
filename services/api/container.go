package api

import (
	"maps"
	"slices"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
)

// containerSpec validates one container's settings, as a job definition
// states them or as a job resolves them (definition, overrides and Ref::
// parameters applied), and returns the spec the launcher will run: the
// same function (events.NewContainerSpec) the scheduler builds placements
// with, plus the rules of this deployment (EFS file systems must be
// mapped). field names the container in messages ("containerProperties",
// or a container of ecsProperties). Errors are ClientExceptions.
func (s *Server) containerSpec(field string, c batch.ContainerSettings) (events.ContainerSpec, error) {
	spec, err := events.NewContainerSpec(c)
	if err != nil {
		return events.ContainerSpec{}, clientErr("%s: %v", field, err)
	}
	for _, m := range spec.Mounts {
		if m.Kind != events.MountEFS {
			continue
		}
		if _, ok := s.cfg.EFSVolumes[m.Source]; !ok {
			return events.ContainerSpec{}, clientErr("%s: EFS file system %s is not available here: the operator maps each file system id to a host folder (batchd --efs-volume %s=/path); known: %v",
				field, m.Source, m.Source, sortedKeys(s.cfg.EFSVolumes))
		}
	}
	return spec, nil
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
