package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	bjob "github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestFaults runs the split deployment of deploy/local-cluster on random
// ports: a 3-node NATS cluster (nats-server built from the module batchd
// requires) with every stream and bucket on all three, two processes of
// each of api, scheduler, monitor and notifier, and two launchers (two
// host ids, 2 vCPUs each) on real Podman. Jobs run while the active
// scheduler, the NATS server leading the jobs stream and a monitor are
// killed with SIGKILL one after another; each is started again before
// the next fault. Every job must succeed, with one attempt that ran once
// (its output line appears once), and no host may ever run more than its
// vCPUs. The time from each kill to the deployment's next step is logged.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster of 13 processes")
	}
	c := startFaultCluster(t)
	api := c.api()
	// Short jobs; the launcher phase's first attempts run 40 s.
	setupQueue(t, api, "faults", 6, "1", "64", "sh", "-c",
		`echo "ran $AWS_BATCH_JOB_ID $AWS_BATCH_JOB_ATTEMPT"; if [ "$LONG" = 1 ] && [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then sleep 40; else sleep 2; fi`)
	js := c.js()
	lostJobs := map[string]bool{}

	var all []string
	submitN := func(name string, n int, long bool) []string {
		t.Helper()
		ids := make([]string, n)
		for i := range ids {
			in := &batch.SubmitJobInput{JobName: aws.String(fmt.Sprintf("%s-%d", name, i)),
				JobQueue: aws.String("faults-queue"), JobDefinition: aws.String("faults-def"),
				RetryStrategy: &types.RetryStrategy{Attempts: aws.Int32(2)}}
			if long {
				in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("LONG"), Value: aws.String("1")}}}
			}
			ids[i] = submit(t, api, in)
		}
		all = append(all, ids...)
		return ids
	}
	phase := func(name string, fault func() string) {
		t.Helper()
		// Faults strike while jobs run and others wait (6 slots).
		ids := submitN(name, 9, false)
		waitUntil(t, api, 2*time.Minute, ids, "two running", func(jobs map[string]types.JobDetail) bool {
			return countStatus(jobs, types.JobStatusRunning) >= 2
		})
		killed := time.Now()
		what := fault()
		after := killed.UnixMilli()
		waitUntil(t, api, 2*time.Minute, ids, "a step after the kill", func(jobs map[string]types.JobDetail) bool {
			for _, j := range jobs {
				if aws.ToInt64(j.StartedAt) > after || aws.ToInt64(j.StoppedAt) > after {
					return true
				}
			}
			return false
		})
		t.Logf("fault %s (%s): next container started or ended %.2f s after the kill", name, what, time.Since(killed).Seconds())
	}

	phase("scheduler", func() string {
		pid := leaseHolder(t, js)
		name := c.byPID(pid)
		if name == "" {
			t.Fatalf("the lease holder (pid %d) is none of the schedulers", pid)
		}
		c.kill(name)
		killed := time.Now()
		next := waitLeaseHolder(t, js, pid)
		took := time.Since(killed)
		holder := c.byPID(next)
		c.start(name) // the next standby
		return fmt.Sprintf("%s killed; %s holds the lease %.2f s later", name, holder, took.Seconds())
	})
	phase("nats", func() string {
		name := c.jobsStreamLeader(t, js)
		c.kill(name)
		defer c.start(name)
		return name + ", the leader of " + events.StreamJobs
	})
	phase("monitor", func() string {
		// Both monitors share the partitions; the one killed holds some.
		before := partitionHolders(t, js, 2)
		victim := c.procs["monitor-1"].cmd.Process.Pid
		if before[victim] == 0 {
			t.Fatalf("monitor-1 (pid %d) holds no partition: %v", victim, before)
		}
		c.kill("monitor-1")
		killed := time.Now()
		after := partitionHolders(t, js, 1)
		took := time.Since(killed)
		if after[victim] != 0 {
			t.Fatalf("the killed monitor still holds partitions: %v", after)
		}
		c.start("monitor-1")
		return fmt.Sprintf("monitor-1 killed, holding %d partitions; the other monitor holds all %d %.2f s later",
			before[victim], events.JobPartitions, took.Seconds())
	})

	// A launcher is lost: kill -9, one of its containers removed, the
	// other left running. Its jobs are retried on the other host; when it
	// comes back it stops and removes the leftover container without
	// reporting it.
	waitFinal(t, api, 3*time.Minute, all...) // both hosts free
	long := submitN("launcher", 4, true)     // 2 per host: each has 3 vCPUs
	waitUntil(t, api, 2*time.Minute, long, "four running", func(jobs map[string]types.JobDetail) bool {
		return countStatus(jobs, types.JobStatusRunning) == 4
	})
	lost := c.hostID("launcher-2")
	var onLost []string
	for id := range c.records(t, js, long) {
		if rec := c.record(t, js, id); rec.HostID == lost {
			onLost = append(onLost, id)
			lostJobs[id] = true
		}
	}
	if len(onLost) != 2 {
		t.Fatalf("%d of the long jobs on %s, want 2", len(onLost), lost)
	}
	killed := time.Now()
	c.kill("launcher-2")
	if out, err := exec.Command("podman", "rm", "-f", "batch-"+onLost[0]+"-1").CombinedOutput(); err != nil {
		t.Fatalf("remove the container of %s: %v\n%s", onLost[0], err, out)
	}
	var given time.Duration
	waitUntil(t, api, 2*time.Minute, onLost, "retries of the lost host's jobs elsewhere", func(jobs map[string]types.JobDetail) bool {
		for _, j := range jobs {
			if len(j.Attempts) == 0 {
				return false
			}
			if given == 0 {
				given = time.Since(killed)
			}
			if j.Status != types.JobStatusRunning && j.Status != types.JobStatusSucceeded {
				return false
			}
		}
		return true
	})
	t.Logf("fault launcher (%s killed, one container removed): its attempts given up %.2f s after the kill, both retried elsewhere %.2f s after it",
		lost, given.Seconds(), time.Since(killed).Seconds())
	c.start("launcher-2")
	returned := time.Now()
	waitContainersGone(t, lost, 2*time.Minute)
	t.Logf("host %s returned: its leftover container stopped and removed %.2f s later", lost, time.Since(returned).Seconds())

	jobs := waitFinal(t, api, 3*time.Minute, all...)
	nc := c.conn()
	for id, j := range jobs {
		if j.Status != types.JobStatusSucceeded {
			t.Errorf("job %s (%s) %s: %s", id, aws.ToString(j.JobName), j.Status, aws.ToString(j.StatusReason))
			continue
		}
		want := 1
		if lostJobs[id] {
			want = 2 // the lost host's attempt, then one elsewhere
		}
		if len(j.Attempts) != want {
			t.Errorf("job %s (%s) has %d attempts, want %d: %+v", id, aws.ToString(j.JobName), len(j.Attempts), want, j.Attempts)
			continue
		}
		ran := map[string]int{}
		for _, line := range jobLog(t, nc, id) {
			if a, ok := strings.CutPrefix(line, "ran "+id+" "); ok {
				ran[a]++
			}
		}
		for a, n := range ran {
			if n > 1 {
				t.Errorf("job %s (%s): attempt %s ran %d times", id, aws.ToString(j.JobName), a, n)
			}
		}
		if last := strconv.Itoa(len(j.Attempts)); ran[last] != 1 {
			t.Errorf("job %s (%s): its succeeded attempt %s ran %d times", id, aws.ToString(j.JobName), last, ran[last])
		}
		if lostJobs[id] {
			if r := aws.ToString(j.Attempts[0].StatusReason); r != "Host EC2 (instance "+lost+") terminated." {
				t.Errorf("job %s: first attempt ended with %q, want the host-lost reason", id, r)
			}
			if h := c.record(t, js, id).HostID; h == lost {
				t.Errorf("job %s was retried on the lost host %s", id, lost)
			}
		}
	}
	// The lost host's attempts were never reported by it.
	for id := range lostJobs {
		for _, f := range c.exits(t, js, id) {
			if f.Attempt == 1 && f.HostID == lost {
				t.Errorf("job %s: the lost host reported attempt 1 (%+v)", id, f)
			}
		}
	}
	checkCapacity(t, js, jobs, 3)
}

// checkCapacity checks from the job records that no host ever ran more
// 1-vCPU jobs at once than its vCPUs: the [startedAt, stoppedAt] intervals
// of the last attempts, on the record's host (the last attempt's).
func checkCapacity(t *testing.T, js jetstream.JetStream, jobs map[string]types.JobDetail, vcpus int) {
	t.Helper()
	kv, err := js.KeyValue(ctxT(t, 10*time.Second), events.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	type edge struct {
		at    int64
		delta int
	}
	perHost := map[string][]edge{}
	for id := range jobs {
		var rec bjob.JobDetail
		if _, err := bus.GetJSON(ctxT(t, 10*time.Second), kv, events.Token(id), &rec); err != nil {
			t.Fatalf("record of %s: %v", id, err)
		}
		if len(rec.Attempts) == 0 {
			continue
		}
		a := rec.Attempts[len(rec.Attempts)-1]
		if a.StartedAt == 0 || a.StoppedAt == 0 {
			t.Errorf("job %s: attempt without start or stop time: %+v", id, a)
			continue
		}
		perHost[rec.HostID] = append(perHost[rec.HostID], edge{a.StartedAt, 1}, edge{a.StoppedAt, -1})
	}
	for host, es := range perHost {
		sort.Slice(es, func(i, k int) bool {
			if es[i].at != es[k].at {
				return es[i].at < es[k].at
			}
			return es[i].delta < es[k].delta // an end before a start at the same instant
		})
		busy, peak := 0, 0
		for _, e := range es {
			busy += e.delta
			peak = max(peak, busy)
		}
		if peak > vcpus {
			t.Errorf("host %s ran %d 1-vCPU jobs at once, more than its %d vCPUs", host, peak, vcpus)
		}
		t.Logf("host %s: %d jobs, at most %d at once", host, len(es)/2, peak)
	}
}

func countStatus(jobs map[string]types.JobDetail, s types.JobStatus) int {
	n := 0
	for _, j := range jobs {
		if j.Status == s {
			n++
		}
	}
	return n
}

// waitUntil polls the jobs until cond holds.
func waitUntil(t *testing.T, c *batch.Client, timeout time.Duration, ids []string, what string, cond func(map[string]types.JobDetail) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		jobs := describe(t, c, ids...)
		if cond(jobs) {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for id, j := range jobs {
				fmt.Fprintf(&b, "%s %s %s\n", id, j.Status, aws.ToString(j.StatusReason))
			}
			t.Fatalf("no %s after %v:\n%s", what, timeout, b.String())
		}
		time.Sleep(100 * time.Millisecond) // polling the API
	}
}

// leaseHolder is the process id in the scheduler lease's holder name
// (host-pid-random).
func leaseHolder(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	return waitLeaseHolder(t, js, 0)
}

// waitLeaseHolder waits for a lease holder other than the process not.
func waitLeaseHolder(t *testing.T, js jetstream.JetStream, not int) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		kv, err := js.KeyValue(ctx, events.BucketScheduler)
		var e jetstream.KeyValueEntry
		if err == nil {
			e, err = kv.Get(ctx, events.KeySchedulerLease)
		}
		cancel()
		if err == nil {
			var l events.SchedulerLease
			if json.Unmarshal(e.Value(), &l) == nil {
				parts := strings.Split(l.Holder, "-")
				if len(parts) >= 3 {
					if pid, err := strconv.Atoi(parts[len(parts)-2]); err == nil && pid != not {
						return pid
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond) // polling the lease
	}
	t.Fatal("no scheduler took the lease in a minute")
	return 0
}

// faultReplicas are the processes of each service.
var faultReplicas = map[string]int{"monitor": 2, "scheduler": 2, "notifier": 2, "api": 2}

// partitionHolders waits until every partition of the job facts is held
// by exactly n monitor processes, and returns how many each (by pid) holds.
func partitionHolders(t *testing.T, js jetstream.JetStream, n int) map[int]int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var held map[int]int
	for time.Now().Before(deadline) {
		held = map[int]int{}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		kv, err := js.KeyValue(ctx, events.BucketMonitor)
		for p := 0; err == nil && p < events.JobPartitions; p++ {
			var e jetstream.KeyValueEntry
			if e, err = kv.Get(ctx, events.PartitionLeaseKey(p)); err != nil {
				break
			}
			var l events.PartitionLease
			if json.Unmarshal(e.Value(), &l) == nil {
				parts := strings.Split(l.Holder, "-")
				if pid, perr := strconv.Atoi(parts[max(len(parts)-2, 0)]); perr == nil {
					held[pid]++
				}
			}
		}
		cancel()
		total := 0
		for _, c := range held {
			total += c
		}
		if err == nil && len(held) == n && total == events.JobPartitions {
			return held
		}
		time.Sleep(50 * time.Millisecond) // polling the leases
	}
	t.Fatalf("the partitions are not held by %d monitors in a minute: %v", n, held)
	return nil
}

// faultCluster is the processes of the deployment.
type faultCluster struct {
	t       *testing.T
	dir     string
	natsBin string
	urls    string
	ports   map[string][3]int // nats-N: client, route, monitoring
	apiAddr map[string]string
	procs   map[string]*faultProc
	nc      *nats.Conn
}

type faultProc struct {
	bin  string
	args []string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func freePortNum(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startFaultCluster(t *testing.T) *faultCluster {
	t.Helper()
	c := &faultCluster{t: t, dir: t.TempDir(), ports: map[string][3]int{}, apiAddr: map[string]string{}, procs: map[string]*faultProc{}}
	c.natsBin = filepath.Join(c.dir, "nats-server")
	build := exec.Command("go", "build", "-o", c.natsBin, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	var urls, routes []string
	for n := 1; n <= 3; n++ {
		p := [3]int{freePortNum(t), freePortNum(t), freePortNum(t)}
		c.ports[fmt.Sprintf("nats-%d", n)] = p
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p[0]))
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p[1]))
	}
	c.urls = strings.Join(urls, ",")
	for n := 1; n <= 3; n++ {
		name := fmt.Sprintf("nats-%d", n)
		p := c.ports[name]
		conf := fmt.Sprintf("server_name: n%d\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\nmax_payload: 8MB\n"+
			"jetstream { store_dir: %q }\ncluster { name: faults, listen: 127.0.0.1:%d, routes: [%s] }\n",
			n, p[0], p[2], filepath.Join(c.dir, name), p[1], strings.Join(routes, ", "))
		path := filepath.Join(c.dir, name+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		c.procs[name] = &faultProc{bin: c.natsBin, args: []string{"-c", path}}
	}
	common := []string{"--nats-url", c.urls, "--stream-replicas", "3", "--defaults=false", "--log-level", "debug"}
	for _, svc := range []string{"monitor", "scheduler", "notifier", "api"} {
		for n := 1; n <= faultReplicas[svc]; n++ {
			name := fmt.Sprintf("%s-%d", svc, n)
			args := append(slices.Clone(common), "--services", svc, "--data", filepath.Join(c.dir, name))
			if svc == "scheduler" {
				args = append(args, "--host-lost-after", "15s")
			}
			if svc == "api" {
				c.apiAddr[name] = fmt.Sprintf("127.0.0.1:%d", freePortNum(t))
				args = append(args, "--http", c.apiAddr[name])
			}
			c.procs[name] = &faultProc{bin: os.Args[0], args: args, env: []string{"BATCHD_TEST_CHILD=1"}}
		}
	}
	for n := 1; n <= 2; n++ {
		name := fmt.Sprintf("launcher-%d", n)
		args := append(slices.Clone(common), "--services", "launcher", "--data", filepath.Join(c.dir, name),
			"--host-vcpus", "3", "--host-memory", "4096")
		c.procs[name] = &faultProc{bin: os.Args[0], args: args, env: []string{"BATCHD_TEST_CHILD=1"}}
	}
	t.Cleanup(c.stopAll)
	for n := 1; n <= 3; n++ {
		c.start(fmt.Sprintf("nats-%d", n))
	}
	for name := range c.procs {
		if !strings.HasPrefix(name, "nats-") {
			c.start(name)
		}
	}
	c.waitHTTP("http://" + c.apiAddr["api-1"] + "/healthz")
	c.waitHTTP("http://" + c.apiAddr["api-2"] + "/healthz")
	return c
}

func (c *faultCluster) start(name string) {
	c.t.Helper()
	p := c.procs[name]
	p.log = filepath.Join(c.dir, name+".log")
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); f.Close(); close(done) }(p.cmd, p.done)
	if strings.HasPrefix(name, "nats-") {
		c.waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/healthz?js-enabled-only=true", c.ports[name][2]))
	}
}

// kill ends a process with SIGKILL.
func (c *faultCluster) kill(name string) {
	c.t.Helper()
	p := c.procs[name]
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (c *faultCluster) stopAll() {
	for name, p := range c.procs {
		if p.cmd == nil || p.cmd.Process == nil {
			continue
		}
		select {
		case <-p.done:
			continue
		default:
		}
		if !strings.HasPrefix(name, "nats-") {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for name, p := range c.procs {
		if p.cmd == nil || strings.HasPrefix(name, "nats-") {
			continue
		}
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if c.nc != nil {
		c.nc.Close()
	}
	for name, p := range c.procs {
		if p.cmd != nil && strings.HasPrefix(name, "nats-") {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
		}
	}
	if c.t.Failed() {
		for name, p := range c.procs {
			b, _ := os.ReadFile(p.log)
			s := string(b)
			if len(s) > 6000 {
				s = s[len(s)-6000:]
			}
			c.t.Logf("==== %s log (end):\n%s", name, s)
		}
	}
	// Containers left by the launchers (none when all went well).
	for n := 1; n <= 2; n++ {
		if id, err := os.ReadFile(filepath.Join(c.dir, fmt.Sprintf("launcher-%d", n), "host-id")); err == nil {
			_ = exec.Command("podman", "rm", "-f", "--filter", "label=batch.host="+strings.TrimSpace(string(id))).Run()
		}
	}
}

func (c *faultCluster) waitHTTP(url string) {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond) // polling the endpoint
	}
	c.t.Fatalf("%s did not answer in 90 s", url)
}

func (c *faultCluster) api() *batch.Client {
	d := &daemon{httpAddr: c.apiAddr["api-1"]}
	return d.client()
}

func (c *faultCluster) conn() *nats.Conn {
	c.t.Helper()
	if c.nc == nil {
		nc, err := nats.Connect(c.urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			c.t.Fatal(err)
		}
		c.nc = nc
	}
	return c.nc
}

func (c *faultCluster) js() jetstream.JetStream {
	c.t.Helper()
	js, err := jetstream.New(c.conn())
	if err != nil {
		c.t.Fatal(err)
	}
	return js
}

// byPID names the process with this pid.
func (c *faultCluster) byPID(pid int) string {
	for name, p := range c.procs {
		if p.cmd != nil && p.cmd.Process != nil && p.cmd.Process.Pid == pid {
			return name
		}
	}
	return ""
}

// jobsStreamLeader names the NATS process leading the jobs stream.
func (c *faultCluster) jobsStreamLeader(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	cl := st.CachedInfo().Cluster
	if cl == nil || !strings.HasPrefix(cl.Leader, "n") {
		t.Fatalf("stream %s has no cluster leader: %+v", events.StreamJobs, cl)
	}
	return "nats-" + strings.TrimPrefix(cl.Leader, "n")
}

// hostID is the host id of a launcher process.
func (c *faultCluster) hostID(name string) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, name, "host-id"))
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (c *faultCluster) record(t *testing.T, js jetstream.JetStream, id string) bjob.JobDetail {
	t.Helper()
	kv, err := js.KeyValue(ctxT(t, 10*time.Second), events.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	var rec bjob.JobDetail
	if _, err := bus.GetJSON(ctxT(t, 10*time.Second), kv, events.Token(id), &rec); err != nil {
		t.Fatalf("record of %s: %v", id, err)
	}
	return rec
}

func (c *faultCluster) records(t *testing.T, js jetstream.JetStream, ids []string) map[string]bjob.JobDetail {
	t.Helper()
	out := map[string]bjob.JobDetail{}
	for _, id := range ids {
		out[id] = c.record(t, js, id)
	}
	return out
}

// exits are the exit reports stored for a job.
func (c *faultCluster) exits(t *testing.T, js jetstream.JetStream, id string) []events.JobExited {
	t.Helper()
	ctx := ctxT(t, 20*time.Second)
	cons, err := js.OrderedConsumer(ctx, events.StreamJobs, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.HostFactFilter("exited", "*")}})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.JobExited
	for {
		msgs, err := cons.Fetch(1000, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			var f events.JobExited
			if json.Unmarshal(m.Data(), &f) == nil && f.JobID == id {
				out = append(out, f)
			}
		}
		if n == 0 {
			return out
		}
	}
}

// waitContainersGone waits until Podman has no container of the host.
func waitContainersGone(t *testing.T, host string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := exec.Command("podman", "ps", "-a", "-q", "--filter", "label=batch.host="+host).Output()
		if err == nil && strings.TrimSpace(string(out)) == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers of host %s still there after %v: %s (%v)", host, timeout, out, err)
		}
		time.Sleep(200 * time.Millisecond) // polling Podman
	}
}
