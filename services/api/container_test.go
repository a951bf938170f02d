package api

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// The container settings are checked at RegisterJobDefinition and again at
// SubmitJob (with the overrides applied), and kept as given.
func TestContainerSettingsChecked(t *testing.T) {
	a := startAPI(t, nil, Config{EFSVolumes: map[string]string{"fs-1": "/srv/efs1"}})
	c := a.client
	res := []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("64")}}
	def := func(name string, cp types.ContainerProperties) error {
		cp.Image, cp.ResourceRequirements = aws.String("busybox"), res
		_, err := c.RegisterJobDefinition(ctx(t), &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name),
			Type: types.JobDefinitionTypeContainer, ContainerProperties: &cp})
		return err
	}
	efs := func(id string) types.ContainerProperties {
		return types.ContainerProperties{
			Volumes:     []types.Volume{{Name: aws.String("e"), EfsVolumeConfiguration: &types.EFSVolumeConfiguration{FileSystemId: aws.String(id)}}},
			MountPoints: []types.MountPoint{{SourceVolume: aws.String("e"), ContainerPath: aws.String("/e")}},
		}
	}
	if err := def("mapped", efs("fs-1")); err != nil {
		t.Fatal(err)
	}
	clientException(t, def("unmapped", efs("fs-2")), "containerProperties: EFS file system fs-2 is not available here")
	clientException(t, def("ulimit", types.ContainerProperties{Ulimits: []types.Ulimit{{Name: aws.String("files"), SoftLimit: aws.Int32(1), HardLimit: aws.Int32(1)}}}),
		`containerProperties: ulimits[0].name "files" is invalid`)
	clientException(t, def("mount", types.ContainerProperties{MountPoints: []types.MountPoint{{SourceVolume: aws.String("x"), ContainerPath: aws.String("/x")}}}),
		`mountPoints[0].sourceVolume "x" names no volume`)

	// A variable that a containerOverride sets and a secret of the definition.
	if err := def("secret", types.ContainerProperties{Secrets: []types.Secret{{Name: aws.String("S"), ValueFrom: aws.String("s")}}}); err != nil {
		t.Fatal(err)
	}
	must(c.CreateComputeEnvironment(ctx(t), &awsbatch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String("ce"),
		Type: types.CETypeUnmanaged, UnmanagedvCpus: aws.Int32(4)}))
	must(c.CreateJobQueue(ctx(t), &awsbatch.CreateJobQueueInput{JobQueueName: aws.String("q"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("ce")}}}))
	_, err := c.SubmitJob(ctx(t), &awsbatch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("secret"),
		ContainerOverrides: &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("S"), Value: aws.String("plain")}}}})
	clientException(t, err, "secrets[0].name S is also in environment")

	// Kept as given.
	out := must(c.DescribeJobDefinitions(ctx(t), &awsbatch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("mapped")}))
	if cp := out.JobDefinitions[0].ContainerProperties; len(cp.Volumes) != 1 || aws.ToString(cp.Volumes[0].EfsVolumeConfiguration.FileSystemId) != "fs-1" ||
		aws.ToString(cp.MountPoints[0].ContainerPath) != "/e" {
		t.Fatalf("volumes not kept: %+v", cp)
	}
}

// Members the API model does not know are ignored, as AWS's restJson1
// services do; a known member of the wrong type is a ClientException.
func TestUnknownMembersIgnored(t *testing.T) {
	a := startAPI(t, nil, Config{})
	status, _, body := a.post(t, "/v1/registerjobdefinition", `{"jobDefinitionName":"u","type":"container","notAMember":{"x":1},
		"containerProperties":{"image":"busybox","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"64"}],"alsoNot":true,
		"linuxParameters":{"initProcessEnabled":true,"unknownToo":1}}}`)
	if status != 200 {
		t.Fatalf("unknown members: %d %s", status, body)
	}
	status, _, body = a.post(t, "/v1/registerjobdefinition", `{"jobDefinitionName":"u","type":"container",
		"containerProperties":{"image":"busybox","ulimits":[{"name":"nofile","softLimit":"many","hardLimit":1}]}}`)
	if status != 400 || !strings.Contains(string(body), "ulimits.softLimit must be a whole number") {
		t.Fatalf("wrong type: %d %s", status, body)
	}
}
