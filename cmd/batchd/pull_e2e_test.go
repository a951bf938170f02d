package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	pb "github.com/batchd/batchd/pkg/batch"
	"golang.org/x/crypto/bcrypt"
)

// registry is a private registry (Debian's docker-registry) on 127.0.0.1
// with htpasswd authentication, started for one test.
type registry struct {
	addr string // 127.0.0.1:<port>
	log  string // its log file
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func startRegistry(t *testing.T, user, password string) *registry {
	t.Helper()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &registry{addr: freePort(t), log: filepath.Join(dir, "registry.log")}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
auth:
  htpasswd:
    realm: batchd-test
    path: %s
`, filepath.Join(dir, "data"), r.addr, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry (scripts/setup.sh installs it): %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(r.log)
			t.Fatalf("the registry did not answer on %s: %v\n%s", r.addr, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// push copies the sample image into the registry as repo:latest, without
// keeping a local copy under that name.
func (r *registry) push(t *testing.T, repo, creds string) string {
	t.Helper()
	ref := r.addr + "/" + repo + ":latest"
	if out, err := exec.Command("podman", "push", "--tls-verify=false", "--creds", creds, sampleImage, ref).CombinedOutput(); err != nil {
		t.Fatalf("podman push %s: %v\n%s", ref, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("podman", "rmi", "--ignore", ref).Run() })
	if exec.Command("podman", "image", "exists", ref).Run() == nil {
		if out, err := exec.Command("podman", "rmi", ref).CombinedOutput(); err != nil {
			t.Fatalf("podman rmi %s: %v\n%s", ref, err, out)
		}
	}
	return ref
}

// manifestGets counts the registry's answers to GETs of repo's manifests.
func (r *registry) manifestGets(t *testing.T, repo string) int {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `msg="response completed"`) && strings.Contains(line, "http.request.method=GET") &&
			strings.Contains(line, "http.request.uri=/v2/"+repo+"/manifests/") {
			n++
		}
	}
	return n
}

// Images missing on the host are pulled from a private registry with the
// credentials of repositoryCredentials (a Podman secret named by a Secrets
// Manager ARN): concurrent jobs of one image pull it once, a later job does
// not pull it again, the pull shows on the attempt; wrong credentials and
// a missing secret fail the job with CannotPullContainerError.
func TestImagePullFromPrivateRegistry(t *testing.T) {
	reg := startRegistry(t, "batch", "s3cret")
	good, other := randomName("batchd-pull-"), randomName("batchd-pull-")
	goodRef := reg.push(t, good, "batch:s3cret")
	otherRef := reg.push(t, other, "batch:s3cret")
	secret, wrong := randomName("batchd-regcreds-"), randomName("batchd-badcreds-")
	podmanSecret(t, secret, `{"username": "batch", "password": "s3cret"}`)
	podmanSecret(t, wrong, `{"username": "batch", "password": "nope"}`)

	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096", "--insecure-registries", reg.addr)
	c := d.client()
	nc := d.nats(t)
	ctx := ctxT(t, time.Minute)
	setupQueue(t, c, "pull", 4, "1", "32", "true")
	def := func(name, image, param string) {
		t.Helper()
		if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name),
			Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String(image),
				Command:               []string{"sh", "-c", "echo pulled; sleep 1"},
				RepositoryCredentials: &types.RepositoryCredentials{CredentialsParameter: aws.String(param)},
				ResourceRequirements: []types.ResourceRequirement{
					{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("32")}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// The ARN's name carries the random suffix Secrets Manager adds: the
	// secret is found without it.
	def("pull-good", goodRef, "arn:aws:secretsmanager:us-east-1:123456789012:secret:"+secret+"-AbC123")
	def("pull-wrong", otherRef, wrong)
	def("pull-nosecret", otherRef, "arn:aws:secretsmanager:us-east-1:123456789012:secret:batchd-no-such-secret")
	sub := func(name, def string) string {
		return submit(t, c, &batch.SubmitJobInput{JobName: aws.String(name), JobQueue: aws.String("pull-queue"), JobDefinition: aws.String(def)})
	}
	first := []string{sub("good-1", "pull-good"), sub("good-2", "pull-good")}
	wrongID, noSecret := sub("wrong", "pull-wrong"), sub("nosecret", "pull-nosecret")
	jobs := waitFinal(t, c, 3*time.Minute, append(first, wrongID, noSecret)...)
	for _, id := range first {
		if j := jobs[id]; j.Status != types.JobStatusSucceeded {
			t.Fatalf("job %s with the right credentials: %s (%s)", id, j.Status, aws.ToString(j.StatusReason))
		}
		if got := jobLog(t, nc, id); len(got) != 1 || got[0] != "pulled" {
			t.Fatalf("job %s printed %q", id, got)
		}
	}
	// The pull shows on the attempt (a job that found the image already
	// pulled by the other shows none, or the wait for the shared pull).
	var out pb.DescribeJobsOutput
	d.call(t, "DescribeJobs", map[string]any{"jobs": first}, &out)
	pulls := 0
	for _, j := range out.Jobs {
		a := j.Attempts[0].Container
		if a.PullStartedAt != 0 {
			pulls++
			if a.PullStoppedAt < a.PullStartedAt || a.PullStoppedAt > j.Attempts[0].StartedAt {
				t.Fatalf("job %s: pull %d-%d, started %d", j.JobID, a.PullStartedAt, a.PullStoppedAt, j.Attempts[0].StartedAt)
			}
			t.Logf("job %s: image pulled in %d ms", j.JobID, a.PullStoppedAt-a.PullStartedAt)
		}
	}
	if pulls == 0 {
		t.Fatalf("no attempt shows the image pull: %+v", out.Jobs)
	}
	// Present now: a later job runs it without pulling again.
	later := sub("good-3", "pull-good")
	if j := waitFinal(t, c, time.Minute, later)[later]; j.Status != types.JobStatusSucceeded {
		t.Fatalf("job %s: %s (%s)", later, j.Status, aws.ToString(j.StatusReason))
	}
	if n := reg.manifestGets(t, good); n != 1 {
		t.Fatalf("the registry served %s's manifest %d times, want 1 (one pull for all three jobs)", good, n)
	}

	unauthorized := regexp.MustCompile(`^CannotPullContainerError: pull ` + regexp.QuoteMeta(otherRef) + `: .*unauthorized: authentication required$`)
	if j := jobs[wrongID]; j.Status != types.JobStatusFailed || !unauthorized.MatchString(aws.ToString(j.StatusReason)) {
		t.Fatalf("job with wrong credentials: %s %q, want FAILED with the registry's unauthorized", j.Status, aws.ToString(j.StatusReason))
	}
	want := `CannotPullContainerError: repositoryCredentials.credentialsParameter arn:aws:secretsmanager:us-east-1:123456789012:secret:batchd-no-such-secret: no Podman secret "batchd-no-such-secret" exists`
	if j := jobs[noSecret]; j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != want {
		t.Fatalf("job with a missing secret: %s %q, want FAILED %q", j.Status, aws.ToString(j.StatusReason), want)
	}
}
