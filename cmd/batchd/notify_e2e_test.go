package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	pb "github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// snsDelivery is one webhook request as a receiver sees it.
type snsDelivery struct {
	sig  string
	body []byte
	note struct {
		Type, MessageId, TopicArn, Subject, Message, Timestamp string
	}
	event events.JobStateChange
}

// receiver is a webhook endpoint that answers 500 while failing is set.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	failing bool
	got     chan snsDelivery
	tries   int
}

func newReceiver(t *testing.T, failing bool) *receiver {
	r := &receiver{failing: failing, got: make(chan snsDelivery, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.tries++
		failing := r.failing
		r.mu.Unlock()
		if failing {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		d := snsDelivery{sig: req.Header.Get("X-Batchd-Signature"), body: body}
		if err := json.Unmarshal(body, &d.note); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		if err := json.Unmarshal([]byte(d.note.Message), &d.event); err != nil {
			t.Errorf("webhook Message: %v", err)
		}
		r.got <- d
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) next(t *testing.T, timeout time.Duration) snsDelivery {
	t.Helper()
	select {
	case d := <-r.got:
		return d
	case <-time.After(timeout):
		t.Fatalf("no webhook delivery in %v", timeout)
	}
	return snsDelivery{}
}

// call posts a batchd operation (not in the AWS SDK) and decodes the answer.
func (d *daemon) call(t *testing.T, op string, in, out any) {
	t.Helper()
	body, _ := json.Marshal(in)
	resp, err := http.Post("http://"+d.httpAddr+"/v1/"+strings.ToLower(op), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", op, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s answer %s: %v", op, data, err)
		}
	}
}

// The notification journey with a real container: a job that fails sends
// a signed SNS-style webhook; an endpoint that is down gets its
// notification dead-lettered, listed and replayed; a job that can never
// run produces a "Batch Job Queue Blocked" event on a NATS target.
func TestNotificationJourney(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "4", "--host-memory", "4096", "--notify-attempts", "2",
		"--notify-backoff", "100ms", "--notify-backoff-max", "200ms", "--blocked-after", "2s", "--event-retention", "36h")
	c := d.client()
	nc := d.nats(t)
	// Every service ensured the streams with the configured retention.
	js, _ := jetstream.New(nc)
	for _, name := range []string{events.StreamEvents, events.StreamNotify} {
		st, err := js.Stream(ctxT(t, 10*time.Second), name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config.MaxAge; got != 36*time.Hour {
			t.Fatalf("%s keeps events %v, want 36h", name, got)
		}
	}
	blockedSub, err := nc.SubscribeSync("alerts.blocked")
	if err != nil {
		t.Fatal(err)
	}
	ok := newReceiver(t, false)
	down := newReceiver(t, true)
	d.call(t, "CreateNotificationRule", pb.CreateNotificationRuleInput{RuleName: "job-failed",
		EventPattern: `{"detail-type":["Batch Job State Change"],"source":["aws.batch"],"detail":{"status":["FAILED"],"jobQueue":[{"suffix":"/notify-queue"}]}}`,
		Targets: []pb.NotificationTarget{{ID: "ops", Type: pb.TargetWebhook, Endpoint: ok.URL, Secret: "e2e-secret"},
			{ID: "pager", Type: pb.TargetWebhook, Endpoint: down.URL, Secret: "other"}}}, nil)
	d.call(t, "CreateNotificationRule", pb.CreateNotificationRuleInput{RuleName: "blocked",
		EventPattern: `{"detail-type":["Batch Job Queue Blocked"]}`,
		Targets:      []pb.NotificationTarget{{ID: "bus", Type: pb.TargetNATS, Endpoint: "alerts.blocked"}}}, nil)

	setupQueue(t, c, "notify", 4, "1", "32", "sh", "-c", "echo failing; exit 7")
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("will-fail"), JobQueue: aws.String("notify-queue"), JobDefinition: aws.String("notify-def")})
	if j := waitFinal(t, c, 2*time.Minute, id)[id]; j.Status != types.JobStatusFailed {
		t.Fatalf("job %s: %s", id, j.Status)
	}

	got := ok.next(t, time.Minute)
	mac := hmac.New(sha256.New, []byte("e2e-secret"))
	mac.Write(got.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(got.sig), []byte(want)) {
		t.Fatalf("signature %q, want %q", got.sig, want)
	}
	ev := got.event
	if got.note.Type != "Notification" || got.note.MessageId == "" || ev.DetailType != "Batch Job State Change" ||
		ev.Detail.JobID != id || ev.Detail.Status != pb.StatusFailed || ev.Detail.Container == nil ||
		ev.Detail.Container.ExitCode == nil || *ev.Detail.Container.ExitCode != 7 {
		t.Fatalf("notification %+v event %+v", got.note, ev.Detail)
	}

	// The endpoint that is down: 2 attempts, then a dead letter.
	var dls pb.ListDeadLettersOutput
	deadline := time.Now().Add(time.Minute)
	for len(dls.DeadLetters) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter in 1 minute")
		}
		time.Sleep(100 * time.Millisecond)
		d.call(t, "ListDeadLetters", pb.ListDeadLettersInput{RuleName: "job-failed"}, &dls)
	}
	dl := dls.DeadLetters[0]
	if dl.TargetID != "pager" || dl.Attempts != 2 || !strings.Contains(dl.LastError, "500") || !strings.Contains(string(dl.Event), id) {
		t.Fatalf("dead letter %+v", dl)
	}
	down.mu.Lock()
	down.failing = false
	down.mu.Unlock()
	var rep pb.ReplayDeadLettersOutput
	d.call(t, "ReplayDeadLetters", pb.ReplayDeadLettersInput{IDs: []string{dl.ID}}, &rep)
	replayed := down.next(t, time.Minute)
	if replayed.note.MessageId != dl.MessageID || replayed.event.Detail.JobID != id {
		t.Fatalf("replayed %s for %s, want %s", replayed.note.MessageId, replayed.event.Detail.JobID, dl.MessageID)
	}
	d.call(t, "ListDeadLetters", pb.ListDeadLettersInput{}, &dls)
	if len(dls.DeadLetters) != 0 {
		t.Fatalf("dead letters left after the replay: %+v", dls.DeadLetters)
	}

	// A job that can never fit waits RUNNABLE: after --blocked-after it is
	// announced, with the scheduler's reason.
	huge := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("huge"), JobQueue: aws.String("notify-queue"), JobDefinition: aws.String("notify-def"),
		ContainerOverrides: &types.ContainerOverrides{ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("16")}}}})
	for {
		m, err := blockedSub.NextMsg(time.Minute)
		if err != nil {
			t.Fatalf("no blocked event for %s: %v", huge, err)
		}
		var bev events.JobQueueBlocked
		if err := json.Unmarshal(m.Data, &bev); err != nil {
			t.Fatal(err)
		}
		if bev.Detail.JobID != huge {
			continue
		}
		if bev.DetailType != "Batch Job Queue Blocked" || bev.Detail.Status != pb.StatusRunnable || bev.Detail.StatusReason == "" ||
			m.Header.Get(events.HeaderType) != events.TypeJobQueueBlocked {
			t.Fatalf("blocked event %+v", bev)
		}
		break
	}
}
