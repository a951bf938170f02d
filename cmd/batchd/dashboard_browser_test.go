package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/pkg/events"
	"github.com/chromedp/chromedp"
)

// The dashboard in a real headless browser: Debian's chromium (installed by
// scripts/setup.sh) driven by chromedp, against a real batchd with real
// Podman. Run under the heavy lock:
//
//	flock /tmp/batchd-heavy.lock go test -count=1 -run TestDashboard ./cmd/batchd/
//
// BATCHD_SCREENSHOTS=DIR also saves screenshots of every page at 1400x900
// and 390x844 there.

// browser starts a headless chromium with a fresh profile, its window
// width x height.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required (scripts/setup.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true),
		// Without these Chromium reaches for the network, which is closed here.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(cancelCtx)
	// The first action starts the browser; it gets no deadline (the
	// deadline would end the browser).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// page is one browser tab on a batchd.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// do runs actions with a deadline.
func (p *page) do(what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\npage:\n%s", what, err, p.text())
	}
}

// waitJS waits until the JavaScript expression is true.
func (p *page) waitJS(what, expr string, d time.Duration) {
	p.t.Helper()
	p.do(what, d+5*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d))(ctx, tg)
		return err
	}))
}

// eval returns the value of a JavaScript expression.
func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is what the page shows, for failure messages.
func (p *page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if len(s) > 4000 {
		s = s[:4000]
	}
	return s
}

// shoot saves a full-page screenshot as DIR/name.png when BATCHD_SCREENSHOTS
// is set.
func (p *page) shoot(name string) {
	dir := os.Getenv("BATCHD_SCREENSHOTS")
	if dir == "" {
		return
	}
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// countIs is the expression "the overview shows n jobs of queue q in status st".
func countIs(q, st string, n int) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector('[data-queue="%s"] [data-status="%s"] .n'); return e !== null && e.textContent === '%d'; })()`,
		q, st, n)
}

func TestDashboardBrowser(t *testing.T) {
	d := startDaemon(t)
	c := d.client()
	name := fmt.Sprintf("dash%d", time.Now().UnixNano()%1_000_000)
	queue, env := name+"-queue", name+"-ce"
	setupQueue(t, c, name, 4, "1", "64", "sh", "-c", "echo started; sleep 2; echo done")
	p := &page{t: t, ctx: browser(t, 1400, 900), base: "http://" + d.httpAddr}

	t.Run("overview follows jobs without a reload", func(t *testing.T) {
		p.t = t
		p.do("open the overview", 60*time.Second, chromedp.Navigate(p.base+"/"),
			chromedp.WaitVisible(`[data-queue="`+queue+`"]`), chromedp.WaitVisible(`[data-env="`+env+`"]`))
		// A mark that a reload would wipe out.
		evalJS[bool](p, "window.__sameDocument = true")
		id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("live"), JobQueue: aws.String(queue), JobDefinition: aws.String(name + "-def")})
		p.waitJS("the overview shows the job running", countIs(queue, "RUNNING", 1)+" || "+countIs(queue, "STARTING", 1), 90*time.Second)
		p.waitJS("the environment shows the job's vCPU", `document.querySelector('[data-env="`+env+`"] [data-jobs="1"]') !== null`, 30*time.Second)
		p.waitJS("the overview shows the job succeeded", countIs(queue, "SUCCEEDED", 1), 90*time.Second)
		if !evalJS[bool](p, "window.__sameDocument === true") {
			t.Fatal("the page was reloaded")
		}
		waitFinal(t, c, 2*time.Minute, id)
		p.waitJS("the throughput plot counts it", `/[1-9]\d* in the last hour/.test(document.querySelector('#throughput-total').textContent)`, 30*time.Second)
		p.shoot("overview-1400")
	})

	t.Run("a finished job shows its exit code and log", func(t *testing.T) {
		p.t = t
		id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("finished"), JobQueue: aws.String(queue), JobDefinition: aws.String(name + "-def"),
			ContainerOverrides: &types.ContainerOverrides{Command: []string{"sh", "-c", "echo to-stdout-1; echo to-stderr-1 >&2; echo to-stdout-2; exit 3"}}})
		waitFinal(t, c, 90*time.Second, id)
		p.do("open the job's page", 60*time.Second, chromedp.Navigate(p.base+"/ui/jobs/"+id), chromedp.WaitVisible("#job-exit"))
		p.waitJS("the exit code", `document.querySelector('#job-exit').textContent === '3'`, 30*time.Second)
		p.waitJS("the stdout lines", `[...document.querySelectorAll('#log .line.out .tx')].map(e => e.textContent).join('|') === 'to-stdout-1|to-stdout-2'`, 30*time.Second)
		p.waitJS("the stderr line, told apart", `[...document.querySelectorAll('#log .line.err .tx')].map(e => e.textContent).join('|') === 'to-stderr-1'`, 30*time.Second)
		if got := evalJS[string](p, "document.querySelector('#job-status').textContent"); got != "FAILED" {
			t.Fatalf("status %q, want FAILED", got)
		}
		p.shoot("job-finished-1400")
		p.do("open the queue's list", 30*time.Second, chromedp.Navigate(p.base+"/ui/jobs?queue="+queue+"&status=FAILED"),
			chromedp.WaitVisible(`#jobs tr[data-job="`+id+`"]`))
		p.shoot("jobs-1400")
		// Pages left behind close their streams: a browser opens only six
		// connections to a server over HTTP/1.1, and each stream holds one.
		for i := range 8 {
			p.do("open the overview again", 20*time.Second, chromedp.Navigate(fmt.Sprintf("%s/?visit=%d", p.base, i)),
				chromedp.WaitVisible(`#overview[data-rendered]`))
		}
		p.do("open the list after them", 20*time.Second, chromedp.Navigate(p.base+"/ui/jobs?queue="+queue+"&visit=last"),
			chromedp.WaitVisible(`#jobs[data-loaded]`))
	})

	t.Run("a running job's page follows it and terminates it", func(t *testing.T) {
		p.t = t
		id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("runner"), JobQueue: aws.String(queue), JobDefinition: aws.String(name + "-def"),
			ContainerOverrides: &types.ContainerOverrides{Command: []string{"sh", "-c", "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo tick $i; sleep 0.2; done"}}})
		p.do("open the job's page", 60*time.Second, chromedp.Navigate(p.base+"/ui/jobs/"+id), chromedp.WaitVisible("#job-status"))
		p.waitJS("the page follows the job to RUNNING", `document.querySelector('#job-status').textContent === 'RUNNING'`, 90*time.Second)
		p.waitJS("new lines arrive", `[...document.querySelectorAll('#log .line.out .tx')].some(e => e.textContent === 'tick 5')`, 60*time.Second)
		p.waitJS("and more", `[...document.querySelectorAll('#log .line.out .tx')].some(e => e.textContent === 'tick 10')`, 60*time.Second)
		p.shoot("job-running-1400")
		p.do("terminate it", 30*time.Second, chromedp.Click("#terminate"), chromedp.WaitVisible("#action-reason"),
			chromedp.SetValue("#action-reason", "stopped by the browser test"), chromedp.Click("#confirm-action"))
		p.waitJS("the page shows it FAILED", `document.querySelector('#job-status').textContent === 'FAILED'`, 90*time.Second)
		j := describe(t, c, id)[id]
		if j.Status != types.JobStatusFailed || !strings.Contains(aws.ToString(j.StatusReason), "stopped by the browser test") {
			t.Fatalf("job after terminate: %s %q", j.Status, aws.ToString(j.StatusReason))
		}
		p.shoot("job-terminated-1400")
	})

	t.Run("phone-sized window", func(t *testing.T) {
		ph := &page{t: t, ctx: browser(t, 390, 844), base: p.base}
		ph.do("open the overview", 60*time.Second, chromedp.Navigate(ph.base+"/"), chromedp.WaitVisible(`[data-queue="`+queue+`"]`))
		// Nothing wider than the window: no sideways scrolling of the page.
		ph.waitJS("the overview fits the width", "document.documentElement.scrollWidth <= window.innerWidth + 1", 10*time.Second)
		ph.shoot("overview-390")
		ph.do("open the queue's list", 30*time.Second, chromedp.Navigate(ph.base+"/ui/jobs?queue="+queue), chromedp.WaitVisible(`#jobs[data-loaded]`))
		ph.waitJS("the list fits the width", "document.documentElement.scrollWidth <= window.innerWidth + 1", 10*time.Second)
		ph.shoot("jobs-390")
		href := evalJS[string](ph, `document.querySelector('#jobs td.name a').getAttribute('href')`)
		ph.do("open a job", 30*time.Second, chromedp.Navigate(ph.base+href), chromedp.WaitVisible("#job-status"), chromedp.WaitVisible("#log .line"))
		ph.waitJS("the job page fits the width", "document.documentElement.scrollWidth <= window.innerWidth + 1", 10*time.Second)
		ph.shoot("job-390")
	})
}

// TestDashboardFirstRender measures, with BATCHD_DASHBOARD_JOBS=N jobs
// queued (N=100000 for docs/benchmarks.md), the time from navigation to
// the overview's counts being rendered, and to a job list's first page. The
// jobs wait RUNNABLE behind a DISABLED compute environment. Without the
// variable it does not run (it takes minutes).
func TestDashboardFirstRender(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BATCHD_DASHBOARD_JOBS"))
	if n <= 0 {
		t.Skip("set BATCHD_DASHBOARD_JOBS=100000 to measure")
	}
	d := startDaemon(t)
	c := d.client()
	name := fmt.Sprintf("held%d", time.Now().UnixNano()%1_000_000)
	queue := name + "-queue"
	setupQueue(t, c, name, 4, "1", "64", "true")
	if _, err := c.UpdateComputeEnvironment(ctxT(t, 30*time.Second), &batch.UpdateComputeEnvironmentInput{
		ComputeEnvironment: aws.String(name + "-ce"), State: types.CEStateDisabled}); err != nil {
		t.Fatal(err)
	}
	nc := d.nats(t)
	body := []byte(`{"jobName":"held","jobQueue":"` + queue + `","jobDefinition":"` + name + `-def"}`)
	start := time.Now()
	sem := make(chan struct{}, 64)
	errs := make(chan error, 1)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			m, err := nc.Request(events.APISubject("SubmitJob"), body, 30*time.Second)
			if err == nil && strings.Contains(string(m.Data), "__type") {
				err = fmt.Errorf("submit: %s", m.Data)
			}
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	t.Logf("submitted %d jobs in %v", n, time.Since(start).Round(time.Millisecond))
	p := &page{t: t, ctx: browser(t, 1400, 900), base: "http://" + d.httpAddr}
	total := fmt.Sprintf(`[data-queue="%s"] [data-total="%d"]`, queue, n)
	p.do("the overview counts every job", 10*time.Minute, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(total))
	t.Logf("all %d jobs recorded after %v", n, time.Since(start).Round(time.Millisecond))
	for i := range 5 {
		t0 := time.Now()
		p.do("open the overview", time.Minute, chromedp.Navigate(p.base+"/?run="+strconv.Itoa(i)), chromedp.WaitVisible(total))
		wall := time.Since(t0)
		inPage := evalJS[float64](p, "Number(document.querySelector('#overview').dataset.rendered) - performance.timeOrigin")
		t.Logf("overview with %d jobs: first render %.0f ms after navigation start (browser clock), %v from Navigate (test clock)",
			n, inPage, wall.Round(time.Millisecond))
	}
	for i := range 3 {
		t0 := time.Now()
		p.do("open the queue's RUNNABLE jobs", time.Minute, chromedp.Navigate(p.base+"/ui/jobs?queue="+queue+"&status=RUNNABLE&run="+strconv.Itoa(i)),
			chromedp.WaitVisible("#jobs[data-loaded]"))
		wall := time.Since(t0)
		inPage := evalJS[float64](p, "Number(document.querySelector('#jobs').dataset.loaded) - performance.timeOrigin")
		t.Logf("job list (first page of %d RUNNABLE): %.0f ms after navigation start, %v from Navigate", n, inPage, wall.Round(time.Millisecond))
	}
	// Paging on: each page is a cursor step in the index.
	for i := range 3 {
		before := evalJS[string](p, "document.querySelector('#jobs').dataset.loaded")
		t0 := time.Now()
		p.do("the next page", time.Minute, chromedp.Click("#page-older"))
		p.waitJS("the next page is shown", "document.querySelector('#jobs').dataset.loaded !== '"+before+"'", time.Minute)
		t.Logf("job list page %d: %v from the click", i+2, time.Since(t0).Round(time.Millisecond))
	}
	p.shoot("overview-" + strconv.Itoa(n))
}

// TestDashboardLogin runs the dashboard of batchd --auth (simulated
// containers, the closed NATS of --auth): the browser logs in with an
// access key, sees the overview live, and a job page offers only what the
// key's policy allows.
func TestDashboardLogin(t *testing.T) {
	d := startAuthDaemon(t, authE2ECredentials, "--runtime", "sim", "--host-vcpus", "2", "--host-memory", "1024")
	admin := d.clientAs("ADMINKEY00000001", "admin-secret-0000000001")
	setupQueue(t, admin, "login", 2, "1", "64", "sh", "-c", "sleep 600")
	id := submit(t, admin, &batch.SubmitJobInput{JobName: aws.String("long"), JobQueue: aws.String("login-queue"), JobDefinition: aws.String("login-def")})

	p := &page{t: t, ctx: browser(t, 1400, 900), base: "http://" + d.httpAddr}
	login := func(key, secret string) {
		t.Helper()
		p.do("log in as "+key, 60*time.Second, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible("#login-key"),
			chromedp.SendKeys("#login-key", key), chromedp.SendKeys("#login-secret", secret), chromedp.Click("#login-submit"),
			chromedp.WaitVisible(`[data-queue="login-queue"]`))
	}
	// A wrong secret is refused on the form.
	p.do("a wrong secret", 60*time.Second, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible("#login-key"),
		chromedp.SendKeys("#login-key", "ENDUSERKEY000001"), chromedp.SendKeys("#login-secret", "not-the-secret"),
		chromedp.Click("#login-submit"), chromedp.WaitVisible(".login .notice.err"))

	// The end user may cancel and submit, not terminate.
	login("ENDUSERKEY000001", "enduser-secret-0000001")
	p.waitJS("the overview follows the job to RUNNING", countIs("login-queue", "RUNNING", 1), 90*time.Second)
	p.do("open the job", 30*time.Second, chromedp.Navigate(p.base+"/ui/jobs/"+id), chromedp.WaitVisible("#job-status"))
	p.waitJS("the job runs", `document.querySelector('#job-status').textContent === 'RUNNING'`, 60*time.Second)
	if evalJS[bool](p, "document.querySelector('#terminate') !== null") {
		t.Fatal("the end user is offered Terminate")
	}
	p.shoot("job-enduser-1400")

	// The administrator may terminate it.
	p.do("log out", 30*time.Second, chromedp.Click("#logout"), chromedp.WaitVisible("#login-key"))
	login("ADMINKEY00000001", "admin-secret-0000000001")
	p.do("open the job", 30*time.Second, chromedp.Navigate(p.base+"/ui/jobs/"+id), chromedp.WaitVisible("#terminate"),
		chromedp.Click("#terminate"), chromedp.WaitVisible("#action-reason"), chromedp.Click("#confirm-action"))
	p.waitJS("the job is terminated", `document.querySelector('#job-status').textContent === 'FAILED'`, 90*time.Second)
}
