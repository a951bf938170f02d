package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	pb "github.com/batchd/batchd/pkg/batch"
	"github.com/spf13/cobra"
)

// Operations batchd adds to the AWS Batch API (not in the AWS SDK): the
// notification rules and the dead letters of the notifier. They are called
// as POST /v1/<operation> with the request's JSON, signed like the SDK's.

// extOperation describes an added operation by its request type.
func extOperation[I any](name, api, short string) *operation {
	return &operation{name: name, api: api, short: short, input: reflect.TypeFor[I](), ext: true}
}

// extensionOperations lists the added operations, in the order of their
// help.
func extensionOperations() []*operation {
	return []*operation{
		extOperation[pb.CreateNotificationRuleInput]("create-notification-rule", "CreateNotificationRule",
			"Create a notification rule: an EventBridge event pattern and its webhook or NATS targets").
			requires("ruleName", "eventPattern", "targets"),
		extOperation[pb.DescribeNotificationRulesInput]("describe-notification-rules", "DescribeNotificationRules",
			"Describe notification rules (secrets are never shown)").args("ruleNames").pages("notificationRules"),
		extOperation[pb.UpdateNotificationRuleInput]("update-notification-rule", "UpdateNotificationRule",
			"Update a notification rule; a webhook target given without a secret keeps its secret").requires("ruleName"),
		extOperation[pb.DeleteNotificationRuleInput]("delete-notification-rule", "DeleteNotificationRule",
			"Delete a notification rule").requires("ruleName"),
		extOperation[pb.ListDeadLettersInput]("list-dead-letters", "ListDeadLetters",
			"List the notifications that could not be delivered (the dead-letter stream)").pages("deadLetters"),
		extOperation[pb.ReplayDeadLettersInput]("replay-dead-letters", "ReplayDeadLetters",
			"Send dead letters to their targets again (by id, or --all)").args("ids"),
	}
}

// dlqCommand is "batchctl dlq list|replay": short names for
// list-dead-letters and replay-dead-letters.
func (a *app) dlqCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "The notifier's dead letters: dlq list, dlq replay",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return usagef(cmd, "a subcommand is required: list or replay")
		},
	}
	for _, op := range extensionOperations() {
		switch op.api {
		case "ListDeadLetters":
			op.name = "list"
		case "ReplayDeadLetters":
			op.name = "replay"
		default:
			continue
		}
		cmd.AddCommand(a.operationCommand(op))
	}
	return cmd
}

// extCall makes one call of an added operation and returns the answer body.
func (a *app) extCall(ctx context.Context, op *operation, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", op.api, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint+"/v1/"+strings.ToLower(op.api), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", op.api, err)
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := a.credentials(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "batch", a.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign %s: %w", op.api, err)
	}
	if a.debug {
		fmt.Fprintf(a.env.Stderr, "POST %s\n%s\n", req.URL, body)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var netErr *net.OpError
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		if errors.As(err, &netErr) {
			return nil, fmt.Errorf("could not connect to the endpoint URL %q: %w", a.endpoint, netErr)
		}
		return nil, fmt.Errorf("call %s at %s: %w", op.api, a.endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the %s answer: %w", op.api, err)
	}
	if a.debug {
		fmt.Fprintf(a.env.Stderr, "%s\n%s\n", resp.Status, data)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	var e pb.ErrorBody
	_ = json.Unmarshal(data, &e)
	code := resp.Header.Get("X-Amzn-ErrorType")
	if code == "" {
		code = e.Type
	}
	if code == "" {
		code = resp.Status
	}
	msg := e.Message
	if msg == "" {
		msg = strings.TrimSpace(string(data))
	}
	return nil, &serviceError{op: op.api, code: code, message: msg}
}
