package events

// Event is a message of the wire contract. Each one names the subject it is
// stored on, its type (sent in the Batch-Type header, and the name a
// consumer dispatches on) and its de-duplication id (sent as Nats-Msg-Id;
// "" for a message that is never de-duplicated). Type must not depend on the
// value: consumers call it on the zero value to register a handler.
//
// pkg/bus publishes events (bus.Publish) and consumes them (bus.Consume);
// no service builds a subject, a type or an id of its own.
type Event interface {
	Subject() string
	Type() string
	MsgID() string
}

// Keyed is an event about one job: Key is the job id. Consumers that apply
// events in parallel keep the order of the events of one key.
type Keyed interface {
	Event
	Key() string
}
