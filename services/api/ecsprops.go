package api

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// This file validates multi-container job definitions (ecsProperties) and
// resolves them, with ecsPropertiesOverride and the parameters, into the
// job record's task. Everything here is a pure function.

const (
	ecsField = "ecsProperties.taskProperties[0]"
	// soleContainerName names the container of a one-container task that
	// gives no name.
	soleContainerName = "default"
	maxContainerName  = 255
)

// checkEcsProperties validates a definition's ecsProperties and returns
// them normalized (the sole container named, JSON nulls dropped).
func checkEcsProperties(raw json.RawMessage, fargate bool) (*batch.EcsProperties, error) {
	p, err := batch.ParseEcsProperties(raw)
	if err != nil {
		return nil, clientErr("%v: see the EcsProperties shape of the AWS Batch API", err)
	}
	if len(p.TaskProperties) != 1 {
		return nil, clientErr("ecsProperties.taskProperties has %d tasks: give exactly one (it may hold up to %d containers)", len(p.TaskProperties), batch.MaxTaskContainers)
	}
	t := &p.TaskProperties[0]
	if err := checkTask(t, fargate); err != nil {
		return nil, err
	}
	if _, err := taskResources(t.Containers, fargate); err != nil {
		return nil, err
	}
	return p, nil
}

// checkTask validates the task's structure: containers, names, essential,
// dependsOn, volumes and mount points, namespaces.
func checkTask(t *batch.EcsTaskProperties, fargate bool) error {
	n := len(t.Containers)
	switch {
	case n == 0:
		return clientErr("%s.containers is empty: give at least one container with an image", ecsField)
	case n > batch.MaxTaskContainers:
		return clientErr("%s.containers has %d containers: a task holds at most %d", ecsField, n, batch.MaxTaskContainers)
	}
	if n == 1 && t.Containers[0].Name == "" {
		t.Containers[0].Name = soleContainerName
	}
	if err := checkEnum(ecsField+".ipcMode", t.IpcMode, "host", "task", "none"); err != nil {
		return err
	}
	if err := checkEnum(ecsField+".pidMode", t.PidMode, "host", "task"); err != nil {
		return err
	}
	if fargate && (t.IpcMode == "host" || t.PidMode == "host") {
		return clientErr("%s: ipcMode and pidMode host are not available on FARGATE", ecsField)
	}
	vols, err := checkTaskVolumes(t.Volumes, fargate)
	if err != nil {
		return err
	}
	byName := map[string]*batch.TaskContainerProperties{}
	essential := 0
	for i := range t.Containers {
		c := &t.Containers[i]
		field := fmt.Sprintf("%s.containers[%d]", ecsField, i)
		if err := checkContainerName(field, c.Name); err != nil {
			return err
		}
		if byName[c.Name] != nil {
			return clientErr("%s.containers has two containers named %q: give each container its own name", ecsField, c.Name)
		}
		byName[c.Name] = c
		field = fmt.Sprintf("%s.containers[%d] (%s)", ecsField, i, c.Name)
		if c.Image == "" {
			return clientErr("%s.image is required: give the container image to run, for example busybox:latest", field)
		}
		if strings.TrimSpace(c.Image) != c.Image {
			return clientErr("%s.image %q has surrounding spaces: give the image reference alone", field, c.Image)
		}
		if slices.Contains(c.Command, "") {
			return clientErr("%s.command has an empty string: every element must have text", field)
		}
		if err := checkEnvironment(field+".environment", c.Environment); err != nil {
			return err
		}
		if c.IsEssential() {
			essential++
		}
		if c.StartTimeout != nil {
			return clientErr("%s.startTimeout is not supported: leave it out (dependencies are waited for as long as the attempt runs)", field)
		}
		if s := c.StopTimeout; s != nil && (*s < 0 || fargate && (*s < 2 || *s > 120)) {
			return clientErr("%s.stopTimeout %d is out of range: give the seconds between SIGTERM and SIGKILL (2 to 120 on FARGATE; default %d)", field, *s, batch.DefaultStopTimeout)
		}
		for _, m := range c.MountPoints {
			if !slices.Contains(vols, m.SourceVolume) {
				return clientErr("%s.mountPoints names sourceVolume %q, which is not one of the task's volumes: add it to %s.volumes", field, m.SourceVolume, ecsField)
			}
			if !path.IsAbs(m.ContainerPath) {
				return clientErr("%s.mountPoints containerPath %q must be an absolute path", field, m.ContainerPath)
			}
		}
		dropNulls(&c.FirelensConfiguration, &c.RepositoryCredentials)
	}
	dropNulls(&t.EphemeralStorage, &t.NetworkConfiguration)
	if essential == 0 {
		return clientErr("%s.containers has no essential container: at least one container must be essential (leave essential out or set it true on the main container)", ecsField)
	}
	for i := range t.Containers {
		if err := checkContainerDeps(&t.Containers[i], byName); err != nil {
			return err
		}
	}
	return checkDepCycles(t.Containers)
}

func dropNulls(raws ...*json.RawMessage) {
	for _, r := range raws {
		*r = orNil(*r)
	}
}

// checkContainerName validates a container name: letters, digits, '-' and
// '_', up to 255 characters (it names the container's log stream).
func checkContainerName(field, name string) error {
	if name == "" {
		return clientErr("%s.name is required in a task of several containers: give every container a unique name", field)
	}
	ok := len(name) <= maxContainerName
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return clientErr("%s.name %q is invalid: use up to %d letters, digits, hyphens and underscores", field, name, maxContainerName)
	}
	return nil
}

// checkTaskVolumes validates the task's volumes and returns their names.
func checkTaskVolumes(vols []batch.Volume, fargate bool) ([]string, error) {
	var names []string
	for i, v := range vols {
		field := fmt.Sprintf("%s.volumes[%d]", ecsField, i)
		if err := checkContainerName(field, v.Name); err != nil {
			return nil, err
		}
		if slices.Contains(names, v.Name) {
			return nil, clientErr("%s.volumes has two volumes named %q: give each volume its own name", ecsField, v.Name)
		}
		names = append(names, v.Name)
		if v.Host != nil && v.Host.SourcePath != "" {
			if fargate {
				return nil, clientErr("%s (%s): host.sourcePath is not available on FARGATE: leave host empty", field, v.Name)
			}
			if !path.IsAbs(v.Host.SourcePath) {
				return nil, clientErr("%s (%s): host.sourcePath %q must be an absolute path", field, v.Name, v.Host.SourcePath)
			}
		}
	}
	return names, nil
}

// checkContainerDeps validates one container's dependsOn. A COMPLETE or
// SUCCESS dependency must be on a container that is not essential (AWS:
// "This condition can't be set on an essential container"): an essential
// container's exit stops the whole task, so nothing could start after it.
func checkContainerDeps(c *batch.TaskContainerProperties, byName map[string]*batch.TaskContainerProperties) error {
	field := fmt.Sprintf("%s container %s", ecsField, c.Name)
	seen := map[string]bool{}
	for _, d := range c.DependsOn {
		target := byName[d.ContainerName]
		switch {
		case d.ContainerName == "":
			return clientErr("%s: a dependsOn entry has no containerName: name the container it waits for", field)
		case d.ContainerName == c.Name:
			return clientErr("%s: dependsOn names the container itself: a container cannot wait for itself", field)
		case target == nil:
			return clientErr("%s: dependsOn names %q, which is not a container of the task", field, d.ContainerName)
		case seen[d.ContainerName]:
			return clientErr("%s: dependsOn names %s twice: give one condition per container", field, d.ContainerName)
		}
		seen[d.ContainerName] = true
		switch d.Condition {
		case batch.DependStart:
		case batch.DependComplete, batch.DependSuccess:
			if target.IsEssential() {
				return clientErr("%s: dependsOn %s with condition %s, but %s is essential: COMPLETE and SUCCESS can only be set on a container with essential false (an essential container's exit stops the task)", field, d.ContainerName, d.Condition, d.ContainerName)
			}
		case "HEALTHY":
			return clientErr("%s: dependsOn condition HEALTHY needs a health check, which a Batch task container cannot define: use START, COMPLETE or SUCCESS", field)
		case "":
			return clientErr("%s: dependsOn %s has no condition: use START, COMPLETE or SUCCESS", field, d.ContainerName)
		default:
			return clientErr("%s: dependsOn %s condition %q is invalid: use START, COMPLETE or SUCCESS", field, d.ContainerName, d.Condition)
		}
	}
	return nil
}

// checkDepCycles refuses a dependsOn cycle, naming it.
func checkDepCycles(cs []batch.TaskContainerProperties) error {
	idx := map[string]int{}
	for i, c := range cs {
		idx[c.Name] = i
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(cs))
	var stack []string
	var visit func(i int) error
	visit = func(i int) error {
		state[i] = onPath
		stack = append(stack, cs[i].Name)
		for _, d := range cs[i].DependsOn {
			j := idx[d.ContainerName]
			switch state[j] {
			case onPath:
				from := slices.Index(stack, d.ContainerName)
				cycle := append(slices.Clone(stack[from:]), d.ContainerName)
				return clientErr("%s.containers dependsOn has a cycle: %s; no container of it could ever start", ecsField, strings.Join(cycle, " -> "))
			case unseen:
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return nil
	}
	for i := range cs {
		if state[i] == unseen {
			if err := visit(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// taskResources validates each container's resourceRequirements and the
// task's total, which must name VCPU and MEMORY as a single container
// does (a container may leave one out: it then has no limit of its own
// within the task's total).
func taskResources(cs []batch.TaskContainerProperties, fargate bool) (batch.Resources, error) {
	var sum batch.Resources
	for i := range cs {
		c := &cs[i]
		field := fmt.Sprintf("%s.containers[%d] (%s)", ecsField, i, c.Name)
		seen := map[string]bool{}
		for _, r := range c.ResourceRequirements {
			if seen[r.Type] {
				return sum, clientErr("%s.resourceRequirements lists %s twice: give each type once", field, r.Type)
			}
			seen[r.Type] = true
		}
		r, err := batch.ParseResources(c.ResourceRequirements, 0, 0)
		if err != nil {
			return sum, clientErr("%s: %v", field, err)
		}
		if fargate && r.GPUs > 0 {
			return sum, clientErr("%s asks for GPU, which is not available on FARGATE: use platformCapabilities EC2 for GPU jobs", field)
		}
		if r.MemoryMiB > 0 && r.MemoryMiB < 6 {
			return sum, clientErr("%s MEMORY %d MiB is too small: a container of a task needs at least 6 MiB", field, r.MemoryMiB)
		}
		sum.VCPUs += r.VCPUs
		sum.MemoryMiB += r.MemoryMiB
		sum.GPUs += r.GPUs
	}
	total := []batch.ResourceRequirement{}
	if sum.VCPUs > 0 {
		total = append(total, batch.ResourceRequirement{Type: batch.ResourceVCPU, Value: strconv.FormatFloat(sum.VCPUs, 'f', -1, 64)})
	}
	if sum.MemoryMiB > 0 {
		total = append(total, batch.ResourceRequirement{Type: batch.ResourceMemory, Value: strconv.FormatInt(sum.MemoryMiB, 10)})
	}
	if sum.GPUs > 0 {
		total = append(total, batch.ResourceRequirement{Type: batch.ResourceGPU, Value: strconv.Itoa(sum.GPUs)})
	}
	if _, err := checkResources(ecsField+" (the sum of its containers)", total, 0, 0, fargate); err != nil {
		return sum, fmt.Errorf("%w (give VCPU and MEMORY in the resourceRequirements of the containers; the task needs their sum)", err)
	}
	return sum, nil
}

// checkEcsOverride validates ecsPropertiesOverride on its own.
func checkEcsOverride(raw json.RawMessage) (*batch.EcsPropertiesOverride, error) {
	ov, err := batch.ParseEcsPropertiesOverride(raw)
	if err != nil {
		return nil, clientErr("%v: see the EcsPropertiesOverride shape of the AWS Batch API", err)
	}
	if len(ov.TaskProperties) > 1 {
		return nil, clientErr("ecsPropertiesOverride.taskProperties has %d entries: a job has one task, give at most one", len(ov.TaskProperties))
	}
	for _, tp := range ov.TaskProperties {
		for i, c := range tp.Containers {
			field := fmt.Sprintf("ecsPropertiesOverride.taskProperties[0].containers[%d]", i)
			if slices.Contains(c.Command, "") {
				return nil, clientErr("%s.command has an empty string: every element must have text", field)
			}
			if err := checkEnvironment(field+".environment", c.Environment); err != nil {
				return nil, err
			}
		}
	}
	return ov, nil
}

// resolveTask builds the job record's task: the definition's task with
// the overrides applied per container (command replaced, environment
// merged by name, resource requirements replaced per type), then the
// parameters substituted in each command. It checks the task's resources
// again, as the overrides may change them.
func resolveTask(defRaw, ovRaw json.RawMessage, params map[string]string, fargate bool) (*batch.EcsPropertiesDetail, error) {
	var ovs []*batch.EcsPropertiesOverride
	if present(ovRaw) {
		ov, err := checkEcsOverride(ovRaw)
		if err != nil {
			return nil, err
		}
		ovs = append(ovs, ov)
	}
	return resolveTaskWith(defRaw, ovs, "ecsPropertiesOverride", params, fargate)
}

// resolveTaskWith is resolveTask with overrides already validated
// (checkEcsOverride), applied in order; field names them in errors.
func resolveTaskWith(defRaw json.RawMessage, ovs []*batch.EcsPropertiesOverride, field string, params map[string]string, fargate bool) (*batch.EcsPropertiesDetail, error) {
	p, err := checkEcsProperties(defRaw, fargate)
	if err != nil {
		return nil, err
	}
	t := p.TaskProperties[0]
	for _, ov := range ovs {
		if err := overrideTask(&t, ov, field); err != nil {
			return nil, err
		}
	}
	if len(ovs) > 0 {
		if _, err := taskResources(t.Containers, fargate); err != nil {
			return nil, err
		}
	}
	for i := range t.Containers {
		t.Containers[i].Command = substituteRefs(t.Containers[i].Command, params)
	}
	return &batch.EcsPropertiesDetail{TaskProperties: []batch.EcsTaskDetails{t.Detail()}}, nil
}

// overrideTask applies one ecsPropertiesOverride to the task t (its
// containers are t's own copies: a command is replaced, environment and
// resources merged into new slices).
func overrideTask(t *batch.EcsTaskProperties, ov *batch.EcsPropertiesOverride, field string) error {
	if len(ov.TaskProperties) != 1 {
		return nil
	}
	t.Containers = slices.Clone(t.Containers)
	for i, o := range ov.TaskProperties[0].Containers {
		name := o.Name
		if name == "" && len(t.Containers) == 1 {
			name = t.Containers[0].Name
		}
		k := slices.IndexFunc(t.Containers, func(c batch.TaskContainerProperties) bool { return c.Name == name })
		switch {
		case name == "":
			return clientErr("%s.taskProperties[0].containers[%d].name is required: name the container of the job definition's task it changes", field, i)
		case k < 0:
			return clientErr("%s.taskProperties[0].containers[%d] names %q, which is not a container of the job definition's task", field, i, name)
		}
		c := &t.Containers[k]
		if o.Command != nil {
			c.Command = o.Command
		}
		c.Environment = mergeEnvironment(c.Environment, o.Environment)
		c.ResourceRequirements = mergeResources(c.ResourceRequirements, o.ResourceRequirements)
	}
	return nil
}
