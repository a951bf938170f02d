package batch

import (
	"fmt"
	"strings"
)

// Region and Account appear in every ARN this system makes. They are fixed:
// one installation is one "account" in one "region".
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

const arnPrefix = "arn:aws:batch:" + Region + ":" + Account + ":"

// Resource kinds as they appear in ARNs.
const (
	KindJob                = "job"
	KindJobQueue           = "job-queue"
	KindJobDefinition      = "job-definition"
	KindComputeEnvironment = "compute-environment"
	KindSchedulingPolicy   = "scheduling-policy"
	KindConsumableResource = "consumable-resource"
)

// ARN builds the ARN of a resource.
func ARN(kind, name string) string { return arnPrefix + kind + "/" + name }

// JobDefinitionARN is the ARN of one revision.
func JobDefinitionARN(name string, revision int) string {
	return ARN(KindJobDefinition, fmt.Sprintf("%s:%d", name, revision))
}

// NameFromRef accepts a name or an ARN of the given kind and returns the
// name part (for job definitions: "name" or "name:rev"). Any ARN of this
// kind is accepted whatever its region and account, as AWS clients often
// build ARNs themselves.
func NameFromRef(kind, ref string) string {
	if !strings.HasPrefix(ref, "arn:") {
		return ref
	}
	if i := strings.Index(ref, ":"+kind+"/"); i >= 0 {
		return ref[i+len(kind)+2:]
	}
	return ref
}

// containerInstancePrefix starts the containerInstanceArn of an attempt:
// the ECS container instance of AWS is a launcher host here.
const containerInstancePrefix = "arn:aws:ecs:" + Region + ":" + Account + ":container-instance/batchd/"

// ContainerInstanceARN is the containerInstanceArn of an attempt that ran
// on a host ("" for none).
func ContainerInstanceARN(hostID string) string {
	if hostID == "" {
		return ""
	}
	return containerInstancePrefix + hostID
}

// HostOfContainerInstance returns the host id of a ContainerInstanceARN,
// "" when arn is not one.
func HostOfContainerInstance(arn string) string {
	host, ok := strings.CutPrefix(arn, containerInstancePrefix)
	if !ok {
		return ""
	}
	return host
}
