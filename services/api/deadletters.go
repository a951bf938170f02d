package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxReplay bounds the dead letters one ReplayDeadLetters call sends again.
const maxReplay = 1000

// deadLetterFilter is the subject filter of the dead letters of a rule
// and target (either may be empty: all).
func deadLetterFilter(rule, target string) (string, error) {
	switch {
	case rule == "" && target != "":
		return "", clientErr("targetId needs ruleName: name the rule of the target")
	case rule == "":
		return events.SubjectDeadAll, nil
	}
	if err := checkRuleName("ruleName", rule); err != nil {
		return "", err
	}
	if target == "" {
		return events.DeadLetterSubject(rule, "*"), nil
	}
	if err := checkRuleName("targetId", target); err != nil {
		return "", err
	}
	return events.DeadLetterSubject(rule, target), nil
}

// storedDeadLetter is a dead letter read from the stream.
type storedDeadLetter struct {
	seq    uint64
	header nats.Header
	dl     events.DeadLetter
}

// nextDeadLetter reads the first dead letter at or after seq on filter;
// nil at the end of the stream.
func (s *Server) nextDeadLetter(ctx context.Context, seq uint64, filter string) (*storedDeadLetter, error) {
	m, err := s.dlq.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return decodeDeadLetter(m)
}

func decodeDeadLetter(m *jetstream.RawStreamMsg) (*storedDeadLetter, error) {
	sd := &storedDeadLetter{seq: m.Sequence, header: m.Header}
	if err := json.Unmarshal(m.Data, &sd.dl); err != nil {
		return nil, fmt.Errorf("decode dead letter %d: %w", m.Sequence, err)
	}
	return sd, nil
}

func (sd *storedDeadLetter) view() batch.DeadLetter {
	d := sd.dl
	return batch.DeadLetter{ID: strconv.FormatUint(sd.seq, 10), MessageID: d.MessageID, RuleName: d.RuleName,
		TargetID: d.TargetID, TargetType: d.TargetType, Endpoint: d.Endpoint, Attempts: d.Attempts,
		LastError: d.LastError, FailedAt: d.FailedAt, Event: d.Event}
}

// listDeadLetters is the ListDeadLetters operation: the notifications the
// notifier gave up on, oldest first.
func (s *Server) listDeadLetters(ctx context.Context, in *batch.ListDeadLettersInput) (*batch.ListDeadLettersOutput, error) {
	filter, err := deadLetterFilter(in.RuleName, in.TargetID)
	if err != nil {
		return nil, err
	}
	n, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	seq := uint64(1)
	if in.NextToken != "" {
		if seq, err = strconv.ParseUint(in.NextToken, 10, 64); err != nil || seq == 0 {
			return nil, clientErr("nextToken %q is invalid: pass the nextToken of the previous answer unchanged", in.NextToken)
		}
	}
	out := &batch.ListDeadLettersOutput{DeadLetters: []batch.DeadLetter{}}
	for len(out.DeadLetters) < n {
		sd, err := s.nextDeadLetter(ctx, seq, filter)
		if err != nil {
			return nil, err
		}
		if sd == nil {
			return out, nil
		}
		out.DeadLetters = append(out.DeadLetters, sd.view())
		seq = sd.seq + 1
	}
	if sd, err := s.nextDeadLetter(ctx, seq, filter); err != nil {
		return nil, err
	} else if sd != nil {
		out.NextToken = strconv.FormatUint(sd.seq, 10)
	}
	return out, nil
}

// replayDeadLetters is the ReplayDeadLetters operation: each dead letter
// goes back to its target's queue (same MessageId, so a receiver that got
// it after all drops it) and leaves the dead-letter stream. Every named
// dead letter and its rule target must exist, or nothing is replayed.
func (s *Server) replayDeadLetters(ctx context.Context, in *batch.ReplayDeadLettersInput) (*batch.ReplayDeadLettersOutput, error) {
	var todo []*storedDeadLetter
	switch {
	case len(in.IDs) > 0 && in.All:
		return nil, clientErr("give either ids or all, not both")
	case len(in.IDs) > 0:
		if len(in.IDs) > maxReplay {
			return nil, clientErr("ids lists %d dead letters: at most %d per call", len(in.IDs), maxReplay)
		}
		seen := map[uint64]bool{}
		for _, id := range in.IDs {
			seq, err := strconv.ParseUint(id, 10, 64)
			if err != nil || seq == 0 {
				return nil, clientErr("id %q is invalid: use the id ListDeadLetters shows", id)
			}
			if seen[seq] {
				continue
			}
			seen[seq] = true
			m, err := s.dlq.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return nil, clientErr("dead letter %s does not exist (replayed already?): list them with ListDeadLetters", id)
			}
			if err != nil {
				return nil, fmt.Errorf("read dead letter %s: %w", id, err)
			}
			sd, err := decodeDeadLetter(m)
			if err != nil {
				return nil, err
			}
			todo = append(todo, sd)
		}
	case in.All:
		filter, err := deadLetterFilter(in.RuleName, in.TargetID)
		if err != nil {
			return nil, err
		}
		for seq := uint64(1); len(todo) < maxReplay; {
			sd, err := s.nextDeadLetter(ctx, seq, filter)
			if err != nil {
				return nil, err
			}
			if sd == nil {
				break
			}
			todo = append(todo, sd)
			seq = sd.seq + 1
		}
	default:
		return nil, clientErr("give the ids of the dead letters to replay (see ListDeadLetters), or all (with ruleName and targetId to narrow it)")
	}
	created := make([]int64, len(todo))
	for i, sd := range todo {
		r, err := s.rules.load(ctx, sd.dl.RuleName)
		if errors.Is(err, errNotFound) {
			return nil, clientErr("dead letter %d: notification rule %s does not exist any more: nothing to deliver it to", sd.seq, sd.dl.RuleName)
		}
		if err != nil {
			return nil, err
		}
		if _, ok := r.Target(sd.dl.TargetID); !ok {
			return nil, clientErr("dead letter %d: rule %s has no target %s any more: nothing to deliver it to", sd.seq, sd.dl.RuleName, sd.dl.TargetID)
		}
		created[i] = r.CreatedAt
	}
	out := &batch.ReplayDeadLettersOutput{Replayed: []batch.ReplayedDeadLetter{}}
	for i, sd := range todo {
		note := sd.dl.Notification
		note.RuleCreatedAt = created[i]
		// The dead letter's trace context continues in the replay.
		tctx := bus.Extract(ctx, sd.header)
		note.ReplayOf = sd.seq
		if _, err := bus.Publish(tctx, s.js, note); err != nil {
			return nil, fmt.Errorf("replay dead letter %d: %w", sd.seq, err)
		}
		if err := s.dlq.DeleteMsg(ctx, sd.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("remove replayed dead letter %d: %w", sd.seq, err)
		}
		out.Replayed = append(out.Replayed, batch.ReplayedDeadLetter{ID: strconv.FormatUint(sd.seq, 10), MessageID: note.MessageID})
	}
	if len(out.Replayed) > 0 {
		s.log.Info("dead letters replayed", "count", len(out.Replayed))
	}
	return out, nil
}
