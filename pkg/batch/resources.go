package batch

import (
	"fmt"
	"strconv"
)

// Resources is what a job needs of a host: vCPUs (fractional for Fargate
// sizes), memory in MiB and whole GPUs.
type Resources struct {
	VCPUs     float64 `json:"vcpus"`
	MemoryMiB int64   `json:"memoryMiB"`
	GPUs      int     `json:"gpus,omitempty"`
}

// ParseResources reads resourceRequirements, falling back to the
// deprecated vcpus and memory fields where a type is absent.
func ParseResources(reqs []ResourceRequirement, vcpus, memory int) (Resources, error) {
	r := Resources{VCPUs: float64(vcpus), MemoryMiB: int64(memory)}
	for _, q := range reqs {
		switch q.Type {
		case ResourceVCPU:
			v, err := strconv.ParseFloat(q.Value, 64)
			if err != nil || v <= 0 {
				return r, fmt.Errorf("resourceRequirements VCPU value %q must be a positive number", q.Value)
			}
			r.VCPUs = v
		case ResourceMemory:
			v, err := strconv.ParseInt(q.Value, 10, 64)
			if err != nil || v <= 0 {
				return r, fmt.Errorf("resourceRequirements MEMORY value %q must be a positive whole number of MiB", q.Value)
			}
			r.MemoryMiB = v
		case ResourceGPU:
			v, err := strconv.Atoi(q.Value)
			if err != nil || v < 0 {
				return r, fmt.Errorf("resourceRequirements GPU value %q must be a whole number", q.Value)
			}
			r.GPUs = v
		default:
			return r, fmt.Errorf("resourceRequirements type %q is not one of VCPU, MEMORY, GPU", q.Type)
		}
	}
	return r, nil
}

// Resources returns what the resolved container needs.
func (c *ContainerDetail) Resources() Resources {
	r, _ := ParseResources(c.ResourceRequirements, c.Vcpus, c.Memory)
	return r
}
