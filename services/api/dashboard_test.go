package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
)

// The dashboard's JSON and event streams over HTTP, on an embedded
// JetStream, with records written as the monitor writes them (the browser
// tests in cmd/batchd run it against real jobs).

// dashQueue creates an environment and a queue over the HTTP API.
func dashQueue(t *testing.T, a *testAPI, c *http.Client, name string, header map[string]string) {
	t.Helper()
	for _, call := range []struct{ op, body string }{
		{"createcomputeenvironment", `{"computeEnvironmentName":"` + name + `-ce","type":"MANAGED","computeResources":{"type":"EC2","maxvCpus":8}}`},
		{"createjobqueue", `{"jobQueueName":"` + name + `","priority":5,"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"` + name + `-ce"}]}`},
	} {
		if status, body := dashPost(t, c, a.http.URL+"/v1/"+call.op, call.body, header); status != 200 {
			t.Fatalf("%s: %d %s", call.op, status, body)
		}
	}
}

// dashPost posts JSON with the given extra headers.
func dashPost(t *testing.T, c *http.Client, url, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// dashGet reads a JSON answer into v (nil: ignored) and returns the status.
func dashGet(t *testing.T, c *http.Client, url string, v any) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, data)
		}
	}
	return resp.StatusCode
}

// sseReader reads the events of a stream.
type sseReader struct {
	t    *testing.T
	resp *http.Response
	ch   chan [2]string
}

func openSSE(t *testing.T, c *http.Client, url string) *sseReader {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := &sseReader{t: t, resp: resp, ch: make(chan [2]string, 100)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(r.ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				r.ch <- [2]string{event, line[len("data: "):]}
			}
		}
	}()
	return r
}

// next waits for an event of that name whose data satisfies ok.
func (r *sseReader) next(name string, ok func(data string) bool) string {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, open := <-r.ch:
			if !open {
				r.t.Fatalf("stream ended waiting for %s", name)
			}
			if ev[0] == name && (ok == nil || ok(ev[1])) {
				return ev[1]
			}
		case <-deadline:
			r.t.Fatalf("no %s event in 30 s", name)
		}
	}
}

// dashJob is a job record of a queue.
func dashJob(id, name, queue string, status batch.JobStatus, created int64) batch.JobDetail {
	return batch.JobDetail{JobArn: batch.ARN(batch.KindJob, id), JobID: id, JobName: name, JobQueue: batch.ARN(batch.KindJobQueue, queue),
		JobQueueName: queue, Status: status, CreatedAt: created, StatusChangedAt: created, JobDefinition: batch.JobDefinitionARN("d", 1),
		Attempts: []batch.AttemptDetail{}, DependsOn: []batch.JobDependency{}, PlatformCapabilities: []string{},
		Container: &batch.ContainerDetail{Image: "img", ResourceRequirements: []batch.ResourceRequirement{
			{Type: batch.ResourceVCPU, Value: "2"}, {Type: batch.ResourceMemory, Value: "512"}}}}
}

// publishChange announces a record as the monitor does.
func publishChange(t *testing.T, a *testAPI, j batch.JobDetail) {
	t.Helper()
	if _, err := bus.Publish(t.Context(), a.js, events.NewJobStateChange(j.JobID+"/"+string(j.Status), time.Now(), j)); err != nil {
		t.Fatal(err)
	}
}

func TestDashboardData(t *testing.T) {
	a := startAPI(t, nil, Config{})
	c := &http.Client{}
	dashQueue(t, a, c, "dq", nil)
	kv, err := a.js.KeyValue(t.Context(), events.BucketHosts)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := json.Marshal(events.Host{ID: "h1", Name: "host-one", VCPUs: 8, MemoryMiB: 4096, HeartbeatAt: time.Now().UnixMilli()})
	if _, err := kv.Put(t.Context(), "h1", host); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := range 120 {
		j := dashJob(fmt.Sprintf("00000000-0000-0000-0000-%012d", i), fmt.Sprintf("batch-%03d", i), "dq", batch.StatusSucceeded, base+int64(i)*1000)
		j.StoppedAt = time.Now().UnixMilli()
		a.putRecord(t, j)
	}
	running := dashJob("10000000-0000-0000-0000-000000000001", "runner", "dq", batch.StatusRunning, base+200_000)
	running.HostID, running.ComputeEnvironmentName = "h1", "dq-ce"
	a.putRecord(t, running)

	t.Run("the page", func(t *testing.T) {
		resp, err := c.Get(a.http.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "/ui/assets/app.js") {
			t.Fatalf("GET /: %d %.200s", resp.StatusCode, body)
		}
		if status, _, body := a.post(t, "/v2/submitjob", "{}"); status != 404 || !strings.Contains(string(body), "no such path") {
			t.Fatalf("unknown path: %d %s", status, body)
		}
	})

	t.Run("overview", func(t *testing.T) {
		var ov struct {
			Queues []struct {
				Name   string         `json:"name"`
				Counts map[string]int `json:"counts"`
				Envs   []string       `json:"computeEnvironments"`
			} `json:"queues"`
			Envs []struct {
				Name  string          `json:"name"`
				InUse batch.Resources `json:"inUse"`
				Free  batch.Resources `json:"free"`
				Hosts []string        `json:"hosts"`
			} `json:"computeEnvironments"`
			Hosts []struct {
				ID    string          `json:"id"`
				InUse batch.Resources `json:"inUse"`
				Free  batch.Resources `json:"free"`
			} `json:"hosts"`
		}
		eventually(t, "the overview counts the jobs", func() error {
			if status := dashGet(t, c, a.http.URL+"/ui/api/overview", &ov); status != 200 {
				return fmt.Errorf("status %d", status)
			}
			for _, q := range ov.Queues {
				if q.Name == "dq" && q.Counts["SUCCEEDED"] == 120 && q.Counts["RUNNING"] == 1 {
					return nil
				}
			}
			return fmt.Errorf("queues %+v", ov.Queues)
		})
		for _, e := range ov.Envs {
			if e.Name != "dq-ce" {
				continue
			}
			// 8 vCPUs of maxvCpus 8 and of the host, 2 held.
			if e.InUse != (batch.Resources{VCPUs: 2, MemoryMiB: 512}) || e.Free != (batch.Resources{VCPUs: 6, MemoryMiB: 3584}) || len(e.Hosts) != 1 {
				t.Fatalf("environment %+v", e)
			}
		}
		if len(ov.Hosts) != 1 || ov.Hosts[0].InUse.VCPUs != 2 || ov.Hosts[0].Free.MemoryMiB != 3584 {
			t.Fatalf("hosts %+v", ov.Hosts)
		}
	})

	t.Run("pages of a list", func(t *testing.T) {
		seen := map[string]bool{}
		next, pages := "", 0
		var last int64 = 1 << 62
		for {
			var page struct {
				Jobs  []batch.JobSummary `json:"jobs"`
				Next  string             `json:"next"`
				Total int                `json:"total"`
			}
			url := a.http.URL + "/ui/api/jobs?queue=dq&status=SUCCEEDED&limit=50&next=" + next
			if status := dashGet(t, c, url, &page); status != 200 {
				t.Fatalf("GET %s: %d", url, status)
			}
			pages++
			if page.Total != 120 {
				t.Fatalf("total %d", page.Total)
			}
			for _, j := range page.Jobs {
				if seen[j.JobID] || j.CreatedAt > last {
					t.Fatalf("job %s twice or out of order", j.JobID)
				}
				seen[j.JobID], last = true, j.CreatedAt
			}
			if page.Next == "" {
				break
			}
			next = page.Next
		}
		if len(seen) != 120 || pages != 3 {
			t.Fatalf("%d jobs in %d pages", len(seen), pages)
		}
		var filtered struct {
			Jobs  []batch.JobSummary `json:"jobs"`
			Total int                `json:"total"`
		}
		after := base + 99_500
		dashGet(t, c, fmt.Sprintf("%s/ui/api/jobs?queue=dq&name=BATCH-1&after=%d", a.http.URL, after), &filtered)
		// batch-100 .. batch-119 were created after base+99.5 s.
		if len(filtered.Jobs) != 20 || filtered.Total != -1 || filtered.Jobs[0].JobName != "batch-119" {
			t.Fatalf("filtered: %d jobs, total %d", len(filtered.Jobs), filtered.Total)
		}
		// A multi-node job's nodes.
		mnp := "50000000-0000-0000-0000-000000000001"
		for i := range 2 {
			a.putRecord(t, dashJob(batch.NodeID(mnp, i), "mnp", "dq", batch.StatusRunning, base))
		}
		eventually(t, "the nodes are listed", func() error {
			var nodes struct {
				Jobs []batch.JobSummary `json:"jobs"`
			}
			if status := dashGet(t, c, a.http.URL+"/ui/api/jobs?multinode="+mnp, &nodes); status != 200 || len(nodes.Jobs) != 2 {
				return fmt.Errorf("status %d, %d nodes", status, len(nodes.Jobs))
			}
			return nil
		})
		if status := dashGet(t, c, a.http.URL+"/ui/api/jobs?queue=dq&array=x", nil); status != 400 {
			t.Fatalf("queue and array: %d", status)
		}
		if status := dashGet(t, c, a.http.URL+"/ui/api/jobs?queue=dq&status=DONE", nil); status != 400 {
			t.Fatalf("bad status: %d", status)
		}
	})

	t.Run("a job's page", func(t *testing.T) {
		var v struct {
			Job         batch.JobDetail `json:"job"`
			Explanation string          `json:"explanation"`
			Can         map[string]bool `json:"can"`
			Timeline    []struct {
				Status string `json:"status"`
			} `json:"timeline"`
		}
		if status := dashGet(t, c, a.http.URL+"/ui/api/jobs/"+running.JobID, &v); status != 200 {
			t.Fatalf("status %d", status)
		}
		if v.Job.JobID != running.JobID || !strings.Contains(v.Explanation, "Running on host h1") || !v.Can["terminate"] || v.Can["resubmit"] {
			t.Fatalf("view: %+v", v)
		}
		if status := dashGet(t, c, a.http.URL+"/ui/api/jobs/20000000-0000-0000-0000-000000000001", nil); status != 404 {
			t.Fatalf("missing job: %d", status)
		}
	})

	t.Run("live overview and job stream", func(t *testing.T) {
		ov := openSSE(t, c, a.http.URL+"/ui/events/overview")
		ov.next("overview", nil)
		ov.next("history", nil)
		js := openSSE(t, c, a.http.URL+"/ui/events/jobs/"+running.JobID)
		js.next("job", func(d string) bool { return strings.Contains(d, `"status":"RUNNING"`) })
		// A line of output, then the job's end.
		msg := nats.NewMsg(events.LogSubject(running.JobID, 1))
		msg.Data = []byte("to stderr")
		msg.Header.Set(events.HeaderStream, "stderr")
		if _, err := a.js.PublishMsg(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
		js.next("logs", func(d string) bool {
			return strings.Contains(d, `"a":1,"s":"stderr"`) && strings.Contains(d, `"l":"to stderr"`)
		})
		done := running
		done.Status, done.StoppedAt, done.StatusChangedAt = batch.StatusSucceeded, time.Now().UnixMilli(), time.Now().UnixMilli()
		a.putRecord(t, done)
		publishChange(t, a, done)
		js.next("job", func(d string) bool { return strings.Contains(d, `"status":"SUCCEEDED"`) })
		ov.next("overview", func(d string) bool { return strings.Contains(d, `"SUCCEEDED":121`) })
		ov.next("history", func(d string) bool {
			return strings.Contains(d, `"succeeded":121`) || strings.Contains(d, `"succeeded":1,`)
		})
	})
}

func TestDashboardAuth(t *testing.T) {
	a := startAPI(t, nil, Config{Auth: testAuth(t, nil)})
	login := func(key, secret string) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		status, body := dashPost(t, c, a.http.URL+"/ui/api/login", `{"accessKeyId":"`+key+`","secretAccessKey":"`+secret+`"}`, nil)
		if status != 200 {
			t.Fatalf("login %s: %d %s", key, status, body)
		}
		return c
	}
	anon := &http.Client{}
	if status := dashGet(t, anon, a.http.URL+"/ui/api/overview", nil); status != 401 {
		t.Fatalf("overview without a session: %d", status)
	}
	var sess map[string]any
	dashGet(t, anon, a.http.URL+"/ui/api/session", &sess)
	if sess["auth"] != true || sess["loggedIn"] != false {
		t.Fatalf("session: %v", sess)
	}
	if status, _ := dashPost(t, anon, a.http.URL+"/ui/api/login", `{"accessKeyId":"ADMINKEY00000001","secretAccessKey":"wrong"}`, nil); status != 401 {
		t.Fatalf("wrong secret: %d", status)
	}
	admin := login("ADMINKEY00000001", "admin-secret-0000000001")
	// /v1 takes the session too, with its header.
	hdr := map[string]string{"X-Batchd-Session": "1"}
	dashQueue(t, a, admin, "aq", hdr)
	if status, body := dashPost(t, admin, a.http.URL+"/v1/registerjobdefinition",
		`{"jobDefinitionName":"d","type":"container","containerProperties":{"image":"img","resourceRequirements":[{"type":"VCPU","value":"1"},{"type":"MEMORY","value":"64"}]}}`, hdr); status != 200 {
		t.Fatalf("register: %d %s", status, body)
	}
	j := dashJob("30000000-0000-0000-0000-000000000001", "r", "aq", batch.StatusRunning, time.Now().UnixMilli())
	a.putRecord(t, j)

	dev := login("DEVELOPERKEY0001", "developer-secret-000001") // may read, not terminate
	user := login("ENDUSERKEY000001", "enduser-secret-0000001") // may terminate
	var v struct {
		Can map[string]bool `json:"can"`
	}
	eventually(t, "the developer reads the job", func() error {
		if status := dashGet(t, dev, a.http.URL+"/ui/api/jobs/"+j.JobID, &v); status != 200 {
			return fmt.Errorf("status %d", status)
		}
		return nil
	})
	if v.Can["terminate"] || v.Can["cancel"] {
		t.Fatalf("the developer is offered %v", v.Can)
	}
	if status, body := dashPost(t, dev, a.http.URL+"/ui/api/jobs/"+j.JobID+"/terminate", `{"reason":"no"}`, nil); status != 403 {
		t.Fatalf("developer terminate: %d %s", status, body)
	}
	if status := dashGet(t, user, a.http.URL+"/ui/api/jobs/"+j.JobID, &v); status != 200 || !v.Can["terminate"] {
		t.Fatalf("end user: %d %v", status, v.Can)
	}
	if status, body := dashPost(t, user, a.http.URL+"/ui/api/jobs/"+j.JobID+"/terminate", `{"reason":"yes"}`, nil); status != 200 {
		t.Fatalf("end user terminate: %d %s", status, body)
	}
	// Resubmit: the same definition, queue, parameters and overrides.
	done := dashJob("30000000-0000-0000-0000-000000000002", "again", "aq", batch.StatusSucceeded, time.Now().UnixMilli())
	done.Parameters = map[string]string{"p": "v"}
	done.ContainerOverrides = &batch.ContainerOverrides{Command: []string{"echo", "Ref::p"}, Environment: []batch.KeyValuePair{{Name: "E", Value: "1"}}}
	a.putRecord(t, done)
	var out batch.SubmitJobOutput
	eventually(t, "the end user resubmits", func() error {
		status, body := dashPost(t, user, a.http.URL+"/ui/api/jobs/"+done.JobID+"/resubmit", `{}`, nil)
		if status != 200 {
			return fmt.Errorf("%d %s", status, body)
		}
		return json.Unmarshal(body, &out)
	})
	again, err := a.srv.lookupJob(t.Context(), out.JobID)
	if err != nil || again == nil {
		t.Fatalf("the resubmitted job: %v", err)
	}
	if again.JobName != "again" || again.JobQueueName != "aq" || again.JobDefinition != batch.JobDefinitionARN("d", 1) ||
		again.Parameters["p"] != "v" || strings.Join(again.Container.Command, " ") != "echo v" || len(again.Container.Environment) != 1 {
		t.Fatalf("resubmitted as %+v (container %+v)", again, again.Container)
	}
	if status, _ := dashPost(t, dev, a.http.URL+"/ui/api/jobs/"+done.JobID+"/resubmit", `{}`, nil); status != 403 {
		t.Fatalf("developer resubmit: %d", status)
	}
	// A form post (another site's page) is refused.
	req, _ := http.NewRequest(http.MethodPost, a.http.URL+"/ui/api/jobs/"+j.JobID+"/terminate", strings.NewReader("reason=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := user.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %d", resp.StatusCode)
	}
	if status, _ := dashPost(t, user, a.http.URL+"/ui/api/logout", `{}`, nil); status != 200 {
		t.Fatalf("logout: %d", status)
	}
	if status := dashGet(t, user, a.http.URL+"/ui/api/overview", nil); status != 401 {
		t.Fatalf("overview after logout: %d", status)
	}
}

// A stream outlives the server's read timeout (which would otherwise end
// its request a minute after it began).
func TestDashboardStreamOutlivesReadTimeout(t *testing.T) {
	a := startAPI(t, nil, Config{})
	hs := httptest.NewUnstartedServer(a.srv.Handler())
	hs.Config.ReadTimeout = 500 * time.Millisecond
	hs.Start()
	t.Cleanup(hs.Close)
	c := &http.Client{}
	dashQueue(t, a, c, "rq", nil)
	j := dashJob("40000000-0000-0000-0000-000000000001", "r", "rq", batch.StatusRunnable, time.Now().UnixMilli())
	a.putRecord(t, j)
	s := openSSE(t, c, hs.URL+"/ui/events/jobs/"+j.JobID)
	s.next("job", nil)
	time.Sleep(1500 * time.Millisecond) // three read timeouts
	j.Status, j.StatusChangedAt = batch.StatusStarting, time.Now().UnixMilli()
	a.putRecord(t, j)
	publishChange(t, a, j)
	s.next("job", func(d string) bool { return strings.Contains(d, `"status":"STARTING"`) })
}
