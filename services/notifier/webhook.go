package notifier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// Webhook headers.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the
	// exact request body, keyed with the target's secret.
	HeaderSignature = "X-Batchd-Signature"
	// HeaderAttempt is the attempt number of this delivery (1 for the
	// first).
	HeaderAttempt = "X-Batchd-Delivery-Attempt"
)

// SNSNotification is the body of a webhook delivery: the Amazon SNS HTTP
// notification format. Message is the event JSON (as a string). The body
// is the same on every attempt, so is its signature.
type SNSNotification struct {
	Type      string `json:"Type"`
	MessageID string `json:"MessageId"`
	TopicArn  string `json:"TopicArn"`
	Subject   string `json:"Subject,omitempty"`
	Message   string `json:"Message"`
	Timestamp string `json:"Timestamp"`
}

// Sign returns the signature header value of body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header value against body, in constant time.
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// snsBody builds the webhook body of a notification.
func snsBody(note events.Notification) ([]byte, error) {
	var head struct {
		DetailType string `json:"detail-type"`
		Detail     struct {
			JobName string `json:"jobName"`
			Status  string `json:"status"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(note.Event, &head)
	subject := head.DetailType
	if head.Detail.JobName != "" {
		subject += ": " + head.Detail.JobName
	}
	if head.Detail.Status != "" {
		subject += " " + head.Detail.Status
	}
	return json.Marshal(SNSNotification{
		Type: "Notification", MessageID: note.MessageID, TopicArn: batch.ARN(batch.KindRule, note.RuleName),
		Subject: truncate(subject, 100), Message: string(note.Event),
		Timestamp: time.UnixMilli(note.Time).UTC().Format("2006-01-02T15:04:05.000Z"),
	})
}

// truncate cuts s to at most n bytes on a character boundary (SNS subjects
// are at most 100 characters).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// sendWebhook POSTs the notification. 2xx is delivered; 408, 429, 5xx and
// connection failures are retried; any other answer is permanent.
func (n *notifier) sendWebhook(ctx context.Context, t batch.NotificationTarget, note events.Notification, attempt int) error {
	body, err := snsBody(note)
	if err != nil {
		return errPermanent{fmt.Errorf("encode notification: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Endpoint, bytes.NewReader(body))
	if err != nil {
		return errPermanent{fmt.Errorf("webhook request: %w", err)}
	}
	h := req.Header
	h.Set("Content-Type", "text/plain; charset=UTF-8") // as SNS sends it
	h.Set("User-Agent", "batchd-notifier/1")
	h.Set("x-amz-sns-message-type", "Notification")
	h.Set("x-amz-sns-message-id", note.MessageID)
	h.Set("x-amz-sns-topic-arn", batch.ARN(batch.KindRule, note.RuleName))
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	if t.Secret != "" {
		h.Set(HeaderSignature, Sign(t.Secret, body))
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
	resp, err := n.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", t.Endpoint, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("POST %s: %s %s", t.Endpoint, resp.Status, bytes.TrimSpace(snippet))
	default:
		return errPermanent{fmt.Errorf("POST %s: %s %s (not retried)", t.Endpoint, resp.Status, bytes.TrimSpace(snippet))}
	}
}

// noRedirects keeps a POST from being turned into a GET by a redirect: a
// 3xx answer is a failure the target's owner must fix.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
