package batch

import "encoding/json"

// Notification rules are an addition to the AWS Batch API (the EventBridge
// rule + SNS subscription that AWS users wire by hand). The api stores them
// in events.BucketRules under their name; the notifier reads them.

// KindRule is the ARN kind of a notification rule:
// arn:aws:batch:<region>:<account>:notification-rule/<name>.
const KindRule = "notification-rule"

// Notification target types.
const (
	TargetWebhook = "WEBHOOK" // an HTTP(S) endpoint, SNS HTTP notification format
	TargetNATS    = "NATS"    // a NATS subject, the event JSON as the body
)

// Rule states.
const (
	RuleEnabled  = "ENABLED"
	RuleDisabled = "DISABLED"
)

// NotificationTarget is where the events a rule matches go.
type NotificationTarget struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Endpoint is the URL of a WEBHOOK target or the subject of a NATS
	// target.
	Endpoint string `json:"endpoint"`
	// Secret signs WEBHOOK deliveries (HMAC-SHA256 of the body). It is
	// never returned by DescribeNotificationRules.
	Secret string `json:"secret,omitempty"`
	// HasSecret is set in DescribeNotificationRules answers when the
	// target has a secret (which is not shown).
	HasSecret bool `json:"hasSecret,omitempty"`
}

// NotificationRule is a stored rule: an EventBridge event pattern and the
// targets of the events it matches.
type NotificationRule struct {
	RuleName     string               `json:"ruleName"`
	RuleArn      string               `json:"ruleArn"`
	EventPattern string               `json:"eventPattern"`
	State        string               `json:"state"`
	Description  string               `json:"description,omitempty"`
	Targets      []NotificationTarget `json:"targets"`
	// CreatedAt (epoch ms) also tells rules of the same name apart: a rule
	// applies to events stored after it was created.
	CreatedAt int64 `json:"createdAt"`
	UpdatedAt int64 `json:"updatedAt,omitempty"`
}

// Target returns the target with the id, if the rule has it.
func (r *NotificationRule) Target(id string) (NotificationTarget, bool) {
	for _, t := range r.Targets {
		if t.ID == id {
			return t, true
		}
	}
	return NotificationTarget{}, false
}

// CreateNotificationRuleInput is the CreateNotificationRule request.
type CreateNotificationRuleInput struct {
	RuleName     string               `json:"ruleName"`
	EventPattern string               `json:"eventPattern"`
	Targets      []NotificationTarget `json:"targets"`
	State        string               `json:"state,omitempty"`
	Description  string               `json:"description,omitempty"`
}

// NotificationRuleRef is the answer of CreateNotificationRule and
// UpdateNotificationRule.
type NotificationRuleRef struct {
	RuleName string `json:"ruleName"`
	RuleArn  string `json:"ruleArn"`
}

// UpdateNotificationRuleInput is the UpdateNotificationRule request: the
// fields given replace the rule's. Targets replace the whole list; a
// WEBHOOK target given without a secret keeps the secret of the target
// with the same id.
type UpdateNotificationRuleInput struct {
	RuleName     string               `json:"ruleName"`
	EventPattern *string              `json:"eventPattern,omitempty"`
	Targets      []NotificationTarget `json:"targets,omitempty"`
	State        string               `json:"state,omitempty"`
	Description  *string              `json:"description,omitempty"`
}

// DescribeNotificationRulesInput is the DescribeNotificationRules request;
// no names describes every rule.
type DescribeNotificationRulesInput struct {
	RuleNames  []string `json:"ruleNames,omitempty"`
	MaxResults int      `json:"maxResults,omitempty"`
	NextToken  string   `json:"nextToken,omitempty"`
}

// DescribeNotificationRulesOutput is the DescribeNotificationRules answer.
type DescribeNotificationRulesOutput struct {
	NotificationRules []NotificationRule `json:"notificationRules"`
	NextToken         string             `json:"nextToken,omitempty"`
}

// DeleteNotificationRuleInput is the DeleteNotificationRule request.
type DeleteNotificationRuleInput struct {
	RuleName string `json:"ruleName"`
}

// DeleteNotificationRuleOutput is the (empty) DeleteNotificationRule answer.
type DeleteNotificationRuleOutput struct{}

// DeadLetter is a notification that could not be delivered, as
// ListDeadLetters shows it.
type DeadLetter struct {
	// ID is the dead letter's sequence in the dead-letter stream; give it
	// to ReplayDeadLetters.
	ID         string `json:"id"`
	MessageID  string `json:"messageId"`
	RuleName   string `json:"ruleName"`
	TargetID   string `json:"targetId"`
	TargetType string `json:"targetType"`
	Endpoint   string `json:"endpoint"`
	Attempts   int    `json:"attempts"`
	LastError  string `json:"lastError"`
	FailedAt   int64  `json:"failedAt"`
	// Event is the event the notification carried.
	Event json.RawMessage `json:"event"`
}

// ListDeadLettersInput is the ListDeadLetters request; ruleName and
// targetId narrow the list.
type ListDeadLettersInput struct {
	RuleName   string `json:"ruleName,omitempty"`
	TargetID   string `json:"targetId,omitempty"`
	MaxResults int    `json:"maxResults,omitempty"`
	NextToken  string `json:"nextToken,omitempty"`
}

// ListDeadLettersOutput is the ListDeadLetters answer, oldest first.
type ListDeadLettersOutput struct {
	DeadLetters []DeadLetter `json:"deadLetters"`
	NextToken   string       `json:"nextToken,omitempty"`
}

// ReplayDeadLettersInput is the ReplayDeadLetters request: the dead
// letters named by ids, or with all set every dead letter (of ruleName and
// targetId when given).
type ReplayDeadLettersInput struct {
	IDs      []string `json:"ids,omitempty"`
	All      bool     `json:"all,omitempty"`
	RuleName string   `json:"ruleName,omitempty"`
	TargetID string   `json:"targetId,omitempty"`
}

// ReplayedDeadLetter is one dead letter sent again.
type ReplayedDeadLetter struct {
	ID        string `json:"id"`
	MessageID string `json:"messageId"`
}

// ReplayDeadLettersOutput is the ReplayDeadLetters answer.
type ReplayDeadLettersOutput struct {
	Replayed []ReplayedDeadLetter `json:"replayed"`
}
