package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/batchd/batchd/pkg/events"
)

// End-to-end tests of the container settings of issue 10 (volumes, secrets,
// linuxParameters, ulimits) on real Podman.

// register registers a job definition of the sample image with 1 vCPU and
// 64 MiB, completed from cp.
func register(t *testing.T, c *batch.Client, name string, cp *types.ContainerProperties, extra ...func(*batch.RegisterJobDefinitionInput)) error {
	t.Helper()
	cp.Image = aws.String(sampleImage)
	cp.ResourceRequirements = []types.ResourceRequirement{
		{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("64")}}
	in := &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: cp}
	for _, f := range extra {
		f(in)
	}
	_, err := c.RegisterJobDefinition(ctxT(t, 30*time.Second), in)
	return err
}

// runJob submits one job of the definition to the queue and waits for its end.
func runJob(t *testing.T, c *batch.Client, queue, def string) types.JobDetail {
	t.Helper()
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String(def), JobQueue: aws.String(queue), JobDefinition: aws.String(def)})
	return waitFinal(t, c, 2*time.Minute, id)[id]
}

func wantClientException(t *testing.T, err error, fragment string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ClientException" || !strings.Contains(ae.ErrorMessage(), fragment) {
		t.Fatalf("err = %v, want a ClientException with %q", err, fragment)
	}
}

// A job reads a read-only host folder and writes its result into another
// (created, as Docker on ECS does, when missing), which keeps it after the
// job; an empty-host volume lives for the attempt only; an EFS file system
// mapped by --efs-volume mounts its folder (rootDirectory below it), and an
// unmapped one is refused.
func TestContainerVolumes(t *testing.T) {
	in, out, efs := t.TempDir(), filepath.Join(t.TempDir(), "created", "out"), t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "input.txt"), []byte("forty-two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--host-vcpus", "2", "--host-memory", "2048", "--efs-volume", "fs-0123456789abcdef0="+efs)
	c := d.client()
	nc := d.nats(t)
	setupQueue(t, c, "vol", 2, "1", "64", "true")
	err := register(t, c, "vol-job", &types.ContainerProperties{
		Command: []string{"sh", "-c", "" +
			"cat /in/input.txt > /out/result.txt; " +
			"if touch /in/written 2>/dev/null; then echo in-writable; else echo in-read-only; fi; " +
			"echo scratch > /scratch/f; ls /scratch; " +
			"echo shared > /efs/from-job"},
		Volumes: []types.Volume{
			{Name: aws.String("in"), Host: &types.Host{SourcePath: aws.String(in)}},
			{Name: aws.String("out"), Host: &types.Host{SourcePath: aws.String(out)}},
			{Name: aws.String("scratch"), Host: &types.Host{}},
			{Name: aws.String("efs"), EfsVolumeConfiguration: &types.EFSVolumeConfiguration{
				FileSystemId: aws.String("fs-0123456789abcdef0"), RootDirectory: aws.String("/projects/a")}},
		},
		MountPoints: []types.MountPoint{
			{SourceVolume: aws.String("in"), ContainerPath: aws.String("/in"), ReadOnly: aws.Bool(true)},
			{SourceVolume: aws.String("out"), ContainerPath: aws.String("/out")},
			{SourceVolume: aws.String("scratch"), ContainerPath: aws.String("/scratch")},
			{SourceVolume: aws.String("efs"), ContainerPath: aws.String("/efs")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	j := runJob(t, c, "vol-queue", "vol-job")
	if j.Status != types.JobStatusSucceeded {
		t.Fatalf("job %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	if got, want := jobLog(t, nc, aws.ToString(j.JobId)), []string{"in-read-only", "f"}; !slices.Equal(got, want) {
		t.Errorf("output %q, want %q", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(out, "result.txt")); err != nil || string(b) != "forty-two\n" {
		t.Errorf("result on the host: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(in, "written")); err == nil {
		t.Error("the read-only folder was written")
	}
	if b, err := os.ReadFile(filepath.Join(efs, "projects", "a", "from-job")); err != nil || string(b) != "shared\n" {
		t.Errorf("EFS file on the host: %q, %v", b, err)
	}
	// The attempt's volume is gone with its container.
	vol := fmt.Sprintf("batch-%s-1-scratch", events.Token(aws.ToString(j.JobId)))
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("podman", "volume", "exists", vol).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("volume %s still exists after the job", vol)
		}
		time.Sleep(100 * time.Millisecond)
	}

	err = register(t, c, "vol-unmapped", &types.ContainerProperties{
		Volumes:     []types.Volume{{Name: aws.String("e"), EfsVolumeConfiguration: &types.EFSVolumeConfiguration{FileSystemId: aws.String("fs-99")}}},
		MountPoints: []types.MountPoint{{SourceVolume: aws.String("e"), ContainerPath: aws.String("/e")}},
	})
	wantClientException(t, err, "EFS file system fs-99 is not available here")
}

// podmanSecret creates a Podman secret for the test and removes it after.
func podmanSecret(t *testing.T, name, value string) {
	t.Helper()
	cmd := exec.Command("podman", "secret", "create", name, "-")
	cmd.Stdin = strings.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podman secret create %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("podman", "secret", "rm", name).Run() })
}

// A job sees two secrets (a Secrets Manager ARN whose Podman secret is named
// without the random suffix, and an SSM parameter ARN) as environment
// variables; their values appear nowhere in the job record, the streams or
// batchd's logs. A job whose secret does not exist fails naming it.
func TestContainerSecrets(t *testing.T) {
	sfx := fmt.Sprintf("%d", time.Now().UnixNano())
	dbName, tokName := "e2e-db-"+sfx, "e2e.app.token-"+sfx
	dbValue, tokValue := "db-value-"+sfx, "token-value-"+sfx
	podmanSecret(t, dbName, dbValue)
	podmanSecret(t, tokName, tokValue)
	d := startDaemon(t, "--host-vcpus", "2", "--host-memory", "2048")
	c := d.client()
	nc := d.nats(t)
	setupQueue(t, c, "sec", 2, "1", "64", "true")
	err := register(t, c, "sec-job", &types.ContainerProperties{
		// The command must not hold the values (it is in the record):
		// the job prints a digest of what it sees.
		Command: []string{"sh", "-c", `printf '%s:%s' "$DB" "$TOKEN" | sha256sum | cut -d' ' -f1`},
		Secrets: []types.Secret{
			{Name: aws.String("DB"), ValueFrom: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:" + dbName + "-AbC123")},
			{Name: aws.String("TOKEN"), ValueFrom: aws.String("arn:aws:ssm:us-east-1:123456789012:parameter/e2e/app/token-" + sfx)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	j := runJob(t, c, "sec-queue", "sec-job")
	if j.Status != types.JobStatusSucceeded {
		t.Fatalf("job %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	if got, want := jobLog(t, nc, aws.ToString(j.JobId)), fmt.Sprintf("%x", sha256.Sum256([]byte(dbValue+":"+tokValue))); !slices.Equal(got, []string{want}) {
		t.Fatalf("output %q, want the digest of both secret values %s", got, want)
	}
	record, _ := json.Marshal(j)
	if !strings.Contains(string(record), dbName) {
		t.Errorf("DescribeJobs does not show the secrets as given: %s", record)
	}
	for _, where := range []struct{ name, text string }{
		{"DescribeJobs", string(record)}, {"batchd's logs", d.logs()},
		{"BATCH_JOBS", streamText(t, nc, events.StreamJobs)}, {"BATCH_EVENTS", streamText(t, nc, events.StreamEvents)},
	} {
		if strings.Contains(where.text, dbValue) || strings.Contains(where.text, tokValue) {
			t.Errorf("a secret value appears in %s", where.name)
		}
	}

	if err := register(t, c, "sec-missing", &types.ContainerProperties{Command: []string{"true"},
		Secrets: []types.Secret{{Name: aws.String("GONE"), ValueFrom: aws.String("e2e-missing-" + sfx)}}}); err != nil {
		t.Fatal(err)
	}
	j = runJob(t, c, "sec-queue", "sec-missing")
	reason := aws.ToString(j.StatusReason)
	if j.Status != types.JobStatusFailed || !strings.Contains(reason, "secret GONE") || !strings.Contains(reason, "e2e-missing-"+sfx) {
		t.Fatalf("job with a missing secret: %s %q; want FAILED naming the secret", j.Status, reason)
	}
}

// streamText is every message of a stream, concatenated.
func streamText(t *testing.T, nc *nats.Conn, stream string) string {
	t.Helper()
	js, _ := jetstream.New(nc)
	ctx := ctxT(t, 20*time.Second)
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for {
		msgs, err := cons.Fetch(1000, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			b.Write(m.Data())
			n++
		}
		if n == 0 {
			return b.String()
		}
	}
}

// linuxParameters are seen from inside the container: an init as PID 1,
// the size of /dev/shm, a tmpfs of its size, a device under another path,
// the swap limit and swappiness.
func TestContainerLinuxParameters(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "2", "--host-memory", "2048")
	c := d.client()
	nc := d.nats(t)
	setupQueue(t, c, "lp", 2, "1", "64", "true")
	err := register(t, c, "lp-job", &types.ContainerProperties{
		Command: []string{"sh", "-c", "" +
			"tr '\\0' ' ' < /proc/1/cmdline; echo; " +
			"df -m /dev/shm | tail -1 | awk '{print \"shm\", $2}'; " +
			"df -m /scratch | tail -1 | awk '{print \"tmpfs\", $2}'; " +
			"stat -c 'device %t:%T' /dev/mynull; echo x > /dev/mynull && echo device-writable; " +
			// cgroup v1: swappiness and memory+swap; v2: the swap alone.
			"cat /sys/fs/cgroup/memory/memory.swappiness 2>/dev/null || echo v2; " +
			"cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.swap.max 2>/dev/null || echo no-swap-accounting"},
		LinuxParameters: &types.LinuxParameters{
			InitProcessEnabled: aws.Bool(true),
			MaxSwap:            aws.Int32(32),
			Swappiness:         aws.Int32(10),
			SharedMemorySize:   aws.Int32(96),
			Tmpfs:              []types.Tmpfs{{ContainerPath: aws.String("/scratch"), Size: aws.Int32(32), MountOptions: []string{"noexec"}}},
			Devices: []types.Device{{HostPath: aws.String("/dev/null"), ContainerPath: aws.String("/dev/mynull"),
				Permissions: []types.DeviceCgroupPermission{types.DeviceCgroupPermissionRead, types.DeviceCgroupPermissionWrite}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	j := runJob(t, c, "lp-queue", "lp-job")
	if j.Status != types.JobStatusSucceeded {
		t.Fatalf("job %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	got := jobLog(t, nc, aws.ToString(j.JobId))
	if len(got) != 7 || !strings.Contains(got[0], "podman-init") || got[1] != "shm 96" || got[2] != "tmpfs 32" ||
		got[3] != "device 1:3" || got[4] != "device-writable" || (got[5] != "10" && got[5] != "v2") ||
		!slices.Contains([]string{fmt.Sprint((64 + 32) << 20), fmt.Sprint(32 << 20), "no-swap-accounting"}, got[6]) {
		t.Fatalf("inside the container: %q; want init as PID 1, shm 96, tmpfs 32, /dev/null (1:3) at /dev/mynull, writable, swappiness 10, 32 MiB of swap", got)
	}
	t.Logf("inside the container: %q", got)
}

// This sandbox refuses setrlimit in containers: a job that sets ulimits
// fails with a reason that says which limit the host refused.
func TestContainerUlimitRefused(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "2", "--host-memory", "2048")
	c := d.client()
	setupQueue(t, c, "ul", 2, "1", "64", "true")
	if err := register(t, c, "ul-job", &types.ContainerProperties{Command: []string{"sh", "-c", "ulimit -n"},
		Ulimits: []types.Ulimit{{Name: aws.String("nofile"), SoftLimit: aws.Int32(1024), HardLimit: aws.Int32(2048)}}}); err != nil {
		t.Fatal(err)
	}
	j := runJob(t, c, "ul-queue", "ul-job")
	reason := aws.ToString(j.StatusReason)
	if j.Status != types.JobStatusFailed || !strings.HasPrefix(reason, "CannotStartContainerError: the host refused to set ulimit ") ||
		!strings.Contains(reason, "nofile=1024:2048") {
		t.Fatalf("ulimit job: %s %q; want FAILED with the refused limit named", j.Status, reason)
	}
	t.Logf("reason: %s", reason)
}
