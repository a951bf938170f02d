package main

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
)

// Multi-container jobs (ecsProperties) run as one Podman pod.

func res(vcpus, memory string) []types.ResourceRequirement {
	var out []types.ResourceRequirement
	if vcpus != "" {
		out = append(out, types.ResourceRequirement{Type: types.ResourceTypeVcpu, Value: aws.String(vcpus)})
	}
	if memory != "" {
		out = append(out, types.ResourceRequirement{Type: types.ResourceTypeMemory, Value: aws.String(memory)})
	}
	return out
}

func registerTask(t *testing.T, c *batch.Client, name string, task types.EcsTaskProperties) {
	t.Helper()
	if _, err := c.RegisterJobDefinition(ctxT(t, 30*time.Second), &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeContainer,
		EcsProperties: &types.EcsProperties{TaskProperties: []types.EcsTaskProperties{task}}}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
}

// exitCodes returns each container's exit code ("-" for none) by name.
func exitCodes(cs []types.AttemptTaskContainerDetails) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		v := "-"
		if c.ExitCode != nil {
			v = fmt.Sprint(*c.ExitCode)
		}
		out[aws.ToString(c.Name)] = v
	}
	return out
}

// containerLog reads the stored lines of one job, as "container | line".
func containerLog(t *testing.T, nc *nats.Conn, jobID string) []string {
	t.Helper()
	var lines []string
	for _, m := range storedLog(t, nc, jobID) {
		lines = append(lines, m.Headers().Get(events.HeaderContainer)+" | "+string(m.Data()))
	}
	return lines
}

// An init container (SUCCESS), a sidecar (START) serving on the pod's
// loopback that the main container reaches, a volume of the attempt they
// share, the sidecar stopped when the essential container exits, the
// per-container exit codes and logs; a failed SUCCESS dependency; an
// essential non-zero exit; ecsPropertiesOverride. Also the time from
// SubmitJob to RUNNING next to a single-container job.
func TestMultiContainerJob(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "8", "--host-memory", "4096")
	c := d.client()
	setupQueue(t, c, "ecs", 8, "1", "32", "sh", "-c", "echo single")
	_, portStr, _ := net.SplitHostPort(freePort(t))
	volume := types.Volume{Name: aws.String("work"), Host: &types.Host{}}
	mount := []types.MountPoint{{SourceVolume: aws.String("work"), ContainerPath: aws.String("/work")}}
	registerTask(t, c, "ecs-pod", types.EcsTaskProperties{
		Volumes: []types.Volume{volume},
		Containers: []types.TaskContainerProperties{
			{Name: aws.String("init"), Image: aws.String(sampleImage), Essential: aws.Bool(false), MountPoints: mount,
				Command:              []string{"sh", "-c", `echo "init $AWS_BATCH_JOB_ID"; echo prepared > /work/flag`},
				ResourceRequirements: res("", "32")},
			{Name: aws.String("side"), Image: aws.String(sampleImage), Essential: aws.Bool(false), StopTimeout: aws.Int32(2),
				Command:              []string{"sh", "-c", `echo "side $AWS_BATCH_JOB_ID"; mkdir -p /tmp/www; echo hello-from-side > /tmp/www/index.html; exec httpd -f -p 127.0.0.1:` + portStr + ` -h /tmp/www`},
				ResourceRequirements: res("1", "32")},
			{Name: aws.String("main"), Image: aws.String(sampleImage), MountPoints: mount,
				DependsOn: []types.TaskContainerDependency{{ContainerName: aws.String("init"), Condition: aws.String("SUCCESS")},
					{ContainerName: aws.String("side"), Condition: aws.String("START")}},
				Command:              []string{"sh", "-c", `echo "main $AWS_BATCH_JOB_ID Ref::word"; cat /work/flag; for i in $(seq 600); do wget -q -O - http://127.0.0.1:` + portStr + `/ && exit 0; sleep 0.1; done; exit 1`},
				ResourceRequirements: res("1", "64")},
		},
	})
	registerTask(t, c, "ecs-badinit", types.EcsTaskProperties{Containers: []types.TaskContainerProperties{
		{Name: aws.String("init"), Image: aws.String(sampleImage), Essential: aws.Bool(false), Command: []string{"sh", "-c", "exit 3"}},
		{Name: aws.String("main"), Image: aws.String(sampleImage), Command: []string{"sh", "-c", "echo never"},
			DependsOn:            []types.TaskContainerDependency{{ContainerName: aws.String("init"), Condition: aws.String("SUCCESS")}},
			ResourceRequirements: res("1", "32")},
	}})
	registerTask(t, c, "ecs-fail", types.EcsTaskProperties{Containers: []types.TaskContainerProperties{
		{Name: aws.String("helper"), Image: aws.String(sampleImage), Essential: aws.Bool(false), Command: []string{"sh", "-c", "exit 4"}},
		{Name: aws.String("main"), Image: aws.String(sampleImage), Command: []string{"sh", "-c", "exit 0"},
			ResourceRequirements: res("1", "32")},
	}})

	queue := aws.String("ecs-queue")
	single := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("single"), JobQueue: queue, JobDefinition: aws.String("ecs-def")})
	sj := waitFinal(t, c, time.Minute, single)[single]
	pod := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("pod"), JobQueue: queue, JobDefinition: aws.String("ecs-pod"),
		Parameters: map[string]string{"word": "substituted"}})
	pj := waitFinal(t, c, time.Minute, pod)[pod]
	// createdAt is the SubmitJob time, startedAt the move to RUNNING.
	t.Logf("SubmitJob to RUNNING: single-container %d ms, 3-container pod %d ms",
		aws.ToInt64(sj.StartedAt)-aws.ToInt64(sj.CreatedAt), aws.ToInt64(pj.StartedAt)-aws.ToInt64(pj.CreatedAt))

	badinit := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("badinit"), JobQueue: queue, JobDefinition: aws.String("ecs-badinit")})
	fail := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("fail"), JobQueue: queue, JobDefinition: aws.String("ecs-fail"),
		EcsPropertiesOverride: &types.EcsPropertiesOverride{TaskProperties: []types.TaskPropertiesOverride{{Containers: []types.TaskContainerOverrides{
			{Name: aws.String("main"), Command: []string{"sh", "-c", "exit 7"}}}}}}})
	jobs := waitFinal(t, c, 2*time.Minute, pod, badinit, fail)

	j := jobs[pod]
	if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 || len(j.Attempts[0].TaskProperties) != 1 {
		t.Fatalf("pod job: %s (%s), attempts %+v", j.Status, aws.ToString(j.StatusReason), j.Attempts)
	}
	codes := exitCodes(j.Attempts[0].TaskProperties[0].Containers)
	if codes["init"] != "0" || codes["main"] != "0" || codes["side"] == "0" || codes["side"] == "-" {
		t.Fatalf("pod job exit codes %v: want init and main 0, the sidecar stopped (143 or 137)", codes)
	}
	if j.EcsProperties == nil || len(j.EcsProperties.TaskProperties) != 1 || len(j.EcsProperties.TaskProperties[0].Containers) != 3 {
		t.Fatalf("pod job ecsProperties = %+v", j.EcsProperties)
	}
	for _, tc := range j.EcsProperties.TaskProperties[0].Containers {
		if tc.ExitCode == nil || aws.ToString(tc.LogStreamName) == "" {
			t.Fatalf("DescribeJobs container %s: exitCode %v logStreamName %q", aws.ToString(tc.Name), tc.ExitCode, aws.ToString(tc.LogStreamName))
		}
	}
	lines := containerLog(t, d.nats(t), pod)
	for _, want := range []string{"init | init " + pod, "side | side " + pod, "main | main " + pod + " substituted", "main | prepared", "main | hello-from-side"} {
		if !slices.Contains(lines, want) {
			t.Fatalf("pod job log %q: missing %q", lines, want)
		}
	}

	j = jobs[badinit]
	reason := aws.ToString(j.StatusReason)
	if j.Status != types.JobStatusFailed || !strings.Contains(reason, "main") || !strings.Contains(reason, "init") {
		t.Fatalf("bad init job: %s %q, want FAILED naming main and init", j.Status, reason)
	}
	if codes := exitCodes(j.Attempts[0].TaskProperties[0].Containers); codes["init"] != "3" || codes["main"] != "-" {
		t.Fatalf("bad init job exit codes %v: want init 3 and main never started", codes)
	}

	j = jobs[fail]
	if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "Essential container in task exited" {
		t.Fatalf("failing job: %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	if codes := exitCodes(j.Attempts[0].TaskProperties[0].Containers); codes["helper"] != "4" || codes["main"] != "7" {
		t.Fatalf("failing job exit codes %v: want helper 4 (non-essential, ignored) and main 7 (the override)", codes)
	}
}

// kill -9 of batchd while a pod runs: the pod is re-adopted, its
// containers are not started again, and the job completes once.
func TestMultiContainerCrash(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096")
	c := d.client()
	setupQueue(t, c, "ecscrash", 4, "1", "32", "true")
	registerTask(t, c, "ecscrash-pod", types.EcsTaskProperties{Containers: []types.TaskContainerProperties{
		{Name: aws.String("side"), Image: aws.String(sampleImage), Essential: aws.Bool(false), StopTimeout: aws.Int32(2),
			Command: []string{"sh", "-c", "echo side-start; exec sleep 3600"}, ResourceRequirements: res("1", "32")},
		{Name: aws.String("main"), Image: aws.String(sampleImage),
			DependsOn: []types.TaskContainerDependency{{ContainerName: aws.String("side"), Condition: aws.String("START")}},
			Command:   []string{"sh", "-c", "echo main-start; sleep 6; echo main-end"}, ResourceRequirements: res("1", "32")},
	}})
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("crash"), JobQueue: aws.String("ecscrash-queue"),
		JobDefinition: aws.String("ecscrash-pod")})
	waitStatus(t, c, id, types.JobStatusRunning)
	d.stop(syscall.SIGKILL)
	// d.stop waits for the process to have exited: start again at once.
	d.start()
	c = d.client()
	j := waitFinal(t, c, 2*time.Minute, id)[id]
	if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 1 {
		t.Fatalf("job: %s with %d attempts (%s)", j.Status, len(j.Attempts), aws.ToString(j.StatusReason))
	}
	lines := containerLog(t, d.nats(t), id)
	count := func(s string) int {
		n := 0
		for _, l := range lines {
			if l == s {
				n++
			}
		}
		return n
	}
	if count("main | main-start") != 1 || count("side | side-start") != 1 || count("main | main-end") != 1 {
		t.Fatalf("log %q: want each container started once and main to finish", lines)
	}
	if codes := exitCodes(j.Attempts[0].TaskProperties[0].Containers); codes["main"] != "0" || codes["side"] == "-" {
		t.Fatalf("exit codes %v", codes)
	}
}
