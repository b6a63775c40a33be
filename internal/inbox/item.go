package inbox

import (
	"context"
	"time"
)

// Item is one delivery (a GitHub webhook, a Slack command or click) kept
// until it has been processed. It is the inbox port: the transports write
// and read Items without knowing how they are stored (Item is
// this type).
type Item struct {
	ID            int64
	Source        string // "github" or "slack"
	DeliveryID    string // X-GitHub-Delivery, or Slack's id for the request
	EventType     string
	Payload       []byte
	ReceivedAt    time.Time
	State         string
	Attempts      int // how many times it has been claimed
	NextAttemptAt time.Time
	LastError     string
}

// Intake stores a delivery durably before it is acknowledged. A delivery
// id already stored for the same source is a redelivery: duplicate is true
// and nothing changes.
type Intake interface {
	Enqueue(ctx context.Context, it Item) (duplicate bool, err error)
}
