package api

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// This file turns a SubmitJob request, its job definition and its queue into
// the complete job record. Everything here is a pure function.

// checkSubmitInput validates what a SubmitJob request says on its own,
// before anything is looked up.
func checkSubmitInput(in *batch.SubmitJobInput) error {
	if err := checkName("jobName", in.JobName); err != nil {
		return err
	}
	if in.JobQueue == "" {
		return clientErr("jobQueue is required: give the name or ARN of an ENABLED job queue")
	}
	if in.JobDefinition == "" {
		return clientErr("jobDefinition is required: give a job definition name, name:revision or ARN")
	}
	if p := in.SchedulingPriorityOverride; p != nil && (*p < 0 || *p > maxSchedPriority) {
		return clientErr("schedulingPriorityOverride %d is out of range: use 0 to %d", *p, maxSchedPriority)
	}
	isArray := in.ArrayProperties != nil && in.ArrayProperties.Size != 0
	if isArray && (in.ArrayProperties.Size < minArraySize || in.ArrayProperties.Size > maxArraySize) {
		return clientErr("arrayProperties.size %d is out of range: use %d to %d", in.ArrayProperties.Size, minArraySize, maxArraySize)
	}
	if err := checkDependencies(in.DependsOn, isArray); err != nil {
		return err
	}
	if ov := in.ContainerOverrides; ov != nil {
		if err := checkEnvironment("containerOverrides.environment", ov.Environment); err != nil {
			return err
		}
		if slices.Contains(ov.Command, "") {
			return clientErr("containerOverrides.command has an empty string: every element must have text")
		}
		if ov.Vcpus < 0 || ov.Memory < 0 {
			return clientErr("containerOverrides vcpus and memory must not be negative")
		}
		if ov.Image != "" && strings.TrimSpace(ov.Image) != ov.Image {
			return clientErr("containerOverrides.image %q has surrounding spaces: give the image reference alone", ov.Image)
		}
		if ov.InstanceType != "" {
			return clientErr("containerOverrides.instanceType applies only to multi-node parallel jobs: leave it out")
		}
	}
	if _, err := normalizeRetryStrategy("retryStrategy", in.RetryStrategy); err != nil {
		return err
	}
	if err := checkTimeout("timeout", in.Timeout); err != nil {
		return err
	}
	if err := checkClientToken(in.ClientToken); err != nil {
		return err
	}
	if err := checkTimeLimitActions("jobStateTimeLimitActions", in.JobStateTimeLimitActions, true); err != nil {
		return err
	}
	if ap := in.ArrayProperties; ap != nil && ap.MaxRunningJobs < 0 {
		return clientErr("arrayProperties.maxRunningJobs %d must not be negative (0: no limit)", ap.MaxRunningJobs)
	}
	return checkTags("tags", in.Tags)
}

// unsupportedYet refuses the kinds of job batchd cannot run yet (EKS
// jobs), and checks a multi-node parallel submit. Remove a case here when
// the scheduler and launcher learn to run it.
func unsupportedYet(def *batch.JobDefinition, in *batch.SubmitJobInput) error {
	switch {
	case present(def.NodeProperties):
		return checkMultiNodeSubmit(def, in)
	case present(def.EksProperties):
		return clientErr("job definition %s uses eksProperties (EKS jobs): running these is not supported yet", def.JobDefinitionArn)
	}
	return nil
}

// checkOverridesFit refuses overrides meant for another kind of job.
func checkOverridesFit(def *batch.JobDefinition, in *batch.SubmitJobInput) error {
	switch {
	case present(in.NodeOverrides) && !present(def.NodeProperties):
		return clientErr("nodeOverrides apply only to multi-node parallel job definitions; %s is not one", def.JobDefinitionArn)
	case present(in.EcsPropertiesOverride) && !present(def.EcsProperties):
		return clientErr("ecsPropertiesOverride applies only to job definitions with ecsProperties; %s has none", def.JobDefinitionArn)
	case present(in.EksPropertiesOverride) && !present(def.EksProperties):
		return clientErr("eksPropertiesOverride applies only to job definitions with eksProperties; %s has none", def.JobDefinitionArn)
	case in.ContainerOverrides != nil && def.ContainerProperties == nil:
		return clientErr("containerOverrides apply only to job definitions with containerProperties; %s has none", def.JobDefinitionArn)
	}
	return nil
}

// buildJob makes the SUBMITTED job record. The caller has validated the
// input (checkSubmitInput) and the definition kind (unsupportedYet).
func buildJob(in *batch.SubmitJobInput, def *batch.JobDefinition, q *batch.JobQueueDetail, id string, now int64) (batch.JobDetail, error) {
	fargate, err := checkPlatforms(def.PlatformCapabilities)
	if err != nil {
		return batch.JobDetail{}, err
	}
	params := mergeParameters(def.Parameters, in.Parameters)
	var container *batch.ContainerDetail
	var nodes *batch.NodeProperties
	var task *batch.EcsPropertiesDetail
	switch {
	case present(def.NodeProperties):
		if nodes, err = resolveNodeProperties(def, in.NodeOverrides, params); err != nil {
			return batch.JobDetail{}, err
		}
	case present(def.EcsProperties):
		if task, err = resolveTask(def.EcsProperties, in.EcsPropertiesOverride, params, fargate); err != nil {
			return batch.JobDetail{}, err
		}
	case def.ContainerProperties == nil:
		return batch.JobDetail{}, clientErr("job definition %s has no containerProperties", def.JobDefinitionArn)
	default:
		c := resolveContainer(def.ContainerProperties, in.ContainerOverrides, params)
		res, err := checkResources("container", c.ResourceRequirements, c.Vcpus, c.Memory, fargate)
		if err != nil {
			return batch.JobDetail{}, err
		}
		c.ResourceRequirements = completeResources(c.ResourceRequirements, res)
		container = &c
	}

	retry := def.RetryStrategy
	if in.RetryStrategy != nil {
		if retry, err = normalizeRetryStrategy("retryStrategy", in.RetryStrategy); err != nil {
			return batch.JobDetail{}, err
		}
	}
	timeout := normalizeTimeout(def.Timeout)
	if t := normalizeTimeout(in.Timeout); t != nil {
		timeout = t
	}
	prio := def.SchedulingPriority
	if in.SchedulingPriorityOverride != nil {
		prio = in.SchedulingPriorityOverride
	}
	deps := slices.Clone(in.DependsOn)
	if deps == nil {
		deps = []batch.JobDependency{}
	}
	caps := slices.Clone(def.PlatformCapabilities)
	if caps == nil {
		caps = []string{}
	}
	var array *batch.ArrayPropertiesDetail
	if ap := in.ArrayProperties; ap != nil && ap.Size > 0 {
		array = &batch.ArrayPropertiesDetail{Size: ap.Size, MaxRunningJobs: ap.MaxRunningJobs}
	}
	return batch.JobDetail{
		ArrayProperties:          array,
		ClientToken:              in.ClientToken,
		JobStateTimeLimitActions: slices.Clone(in.JobStateTimeLimitActions),
		StatusChangedAt:          now,
		JobArn:                   batch.ARN(batch.KindJob, id),
		JobName:                  in.JobName,
		JobID:                    id,
		JobQueue:                 q.JobQueueArn,
		JobQueueName:             q.JobQueueName,
		Status:                   batch.StatusSubmitted,
		ShareIdentifier:          in.ShareIdentifier,
		SchedulingPriority:       prio,
		Attempts:                 []batch.AttemptDetail{},
		CreatedAt:                now,
		RetryStrategy:            retry,
		DependsOn:                deps,
		JobDefinition:            def.JobDefinitionArn,
		Parameters:               params,
		Container:                container,
		ContainerOverrides:       in.ContainerOverrides,
		NodeProperties:           nodes,
		EcsProperties:            task,
		Timeout:                  timeout,
		Tags:                     maps.Clone(in.Tags),
		PropagateTags:            in.PropagateTags || def.PropagateTags,
		PlatformCapabilities:     caps,
	}, nil
}

// mergeParameters returns the definition's parameters overridden by the
// submitted ones (nil when both are empty).
func mergeParameters(def, submit map[string]string) map[string]string {
	if len(def) == 0 && len(submit) == 0 {
		return nil
	}
	out := make(map[string]string, len(def)+len(submit))
	maps.Copy(out, def)
	maps.Copy(out, submit)
	return out
}

// resolveContainer applies the container overrides and the parameters to
// the definition's container: command replaced, then Ref:: substituted;
// environment merged by name (override wins); resource requirements
// replaced per type; the deprecated vcpus/memory overrides apply only where
// the definition uses the deprecated fields.
func resolveContainer(p *batch.ContainerProperties, ov *batch.ContainerOverrides, params map[string]string) batch.ContainerDetail {
	c := batch.ContainerDetail{
		Image:                        p.Image,
		Vcpus:                        p.Vcpus,
		Memory:                       p.Memory,
		Command:                      p.Command,
		JobRoleArn:                   p.JobRoleArn,
		ExecutionRoleArn:             p.ExecutionRoleArn,
		Environment:                  slices.Clone(p.Environment),
		ReadonlyRootFilesystem:       p.ReadonlyRootFilesystem,
		Privileged:                   p.Privileged,
		User:                         p.User,
		ResourceRequirements:         slices.Clone(p.ResourceRequirements),
		Volumes:                      p.Volumes,
		MountPoints:                  p.MountPoints,
		Ulimits:                      p.Ulimits,
		LinuxParameters:              p.LinuxParameters,
		LogConfiguration:             p.LogConfiguration,
		Secrets:                      p.Secrets,
		NetworkConfiguration:         p.NetworkConfiguration,
		FargatePlatformConfiguration: p.FargatePlatformConfiguration,
		EphemeralStorage:             p.EphemeralStorage,
		RuntimePlatform:              p.RuntimePlatform,
		RepositoryCredentials:        p.RepositoryCredentials,
	}
	if ov != nil {
		if ov.Image != "" {
			c.Image = ov.Image
		}
		if ov.Command != nil {
			c.Command = ov.Command
		}
		c.Environment = mergeEnvironment(c.Environment, ov.Environment)
		c.ResourceRequirements = mergeResources(c.ResourceRequirements, ov.ResourceRequirements)
		if ov.Vcpus > 0 && !hasResource(p.ResourceRequirements, batch.ResourceVCPU) {
			c.Vcpus = ov.Vcpus
		}
		if ov.Memory > 0 && !hasResource(p.ResourceRequirements, batch.ResourceMemory) {
			c.Memory = ov.Memory
		}
	}
	c.Command = substituteRefs(c.Command, params)
	return c
}

// mergeEnvironment overrides base variables by name and appends new ones.
func mergeEnvironment(base, over []batch.KeyValuePair) []batch.KeyValuePair {
	return mergeBy(base, over, func(kv batch.KeyValuePair) string { return kv.Name })
}

// mergeResources replaces base requirements per type and appends new types.
func mergeResources(base, over []batch.ResourceRequirement) []batch.ResourceRequirement {
	return mergeBy(base, over, func(r batch.ResourceRequirement) string { return r.Type })
}

// mergeBy replaces the elements of base that share a key with an element of
// over, in place, and appends the rest of over.
func mergeBy[T any](base, over []T, key func(T) string) []T {
	out := slices.Clone(base)
	for _, o := range over {
		if i := slices.IndexFunc(out, func(b T) bool { return key(b) == key(o) }); i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

func hasResource(reqs []batch.ResourceRequirement, typ string) bool {
	return slices.ContainsFunc(reqs, func(r batch.ResourceRequirement) bool { return r.Type == typ })
}

// completeResources adds VCPU and MEMORY entries, from the deprecated
// fields, when resourceRequirements lacks them, so that the record states
// both explicitly.
func completeResources(reqs []batch.ResourceRequirement, res batch.Resources) []batch.ResourceRequirement {
	if !hasResource(reqs, batch.ResourceVCPU) {
		reqs = append(reqs, batch.ResourceRequirement{Type: batch.ResourceVCPU, Value: strconv.FormatFloat(res.VCPUs, 'f', -1, 64)})
	}
	if !hasResource(reqs, batch.ResourceMemory) {
		reqs = append(reqs, batch.ResourceRequirement{Type: batch.ResourceMemory, Value: strconv.FormatInt(res.MemoryMiB, 10)})
	}
	return reqs
}

// substituteRefs replaces Ref::<name> placeholders in each command element
// with the parameter's value. An element that is exactly "Ref::<name>" is
// replaced whatever characters the name has; inside a longer element the
// name is the longest run of letters, digits, '_' and '-' after "Ref::".
// Placeholders without a parameter are left as they are.
func substituteRefs(args []string, params map[string]string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = substituteRef(a, params)
	}
	return out
}

const refPrefix = "Ref::"

func substituteRef(s string, params map[string]string) string {
	if len(params) == 0 || !strings.Contains(s, refPrefix) {
		return s
	}
	if v, ok := params[strings.TrimPrefix(s, refPrefix)]; ok && strings.HasPrefix(s, refPrefix) {
		return v
	}
	var b strings.Builder
	for {
		i := strings.Index(s, refPrefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+len(refPrefix):]
		n := 0
		for n < len(rest) && isParamChar(rest[n]) {
			n++
		}
		if v, ok := params[rest[:n]]; ok && n > 0 {
			b.WriteString(v)
		} else {
			b.WriteString(refPrefix)
			b.WriteString(rest[:n])
		}
		s = rest[n:]
	}
}

func isParamChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
