package inbox

import (
	"context"
	"errors"
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
	// LeaseToken is the fencing token of the latest claim: ClaimDue adds
	// one with every claim, so an older claim's token no longer matches.
	LeaseToken int64
}

// Lease is one claim of an inbox item, as ClaimDue handed it out: the
// item and the claim's fencing token. MarkDone, MarkRetry and MarkFailed
// take it and change the item only while no later claim exists.
type Lease struct {
	ID    int64
	Token int64
}

// ErrLeaseLost is returned (wrapped) by MarkDone, MarkRetry and MarkFailed
// when the lease is no longer the item's latest claim: it ran out, or its
// replica was taken for dead, and another worker claimed the item again.
// Nothing was changed; the outcome is the later claimer's.
var ErrLeaseLost = errors.New("inbox item was claimed again or already marked")

// Lease returns the claim ClaimDue made of it.
func (it Item) Lease() Lease { return Lease{ID: it.ID, Token: it.LeaseToken} }

// Intake stores a delivery durably before it is acknowledged. A delivery
// id already stored for the same source is a redelivery: duplicate is true
// and nothing changes.
type Intake interface {
	Enqueue(ctx context.Context, it Item) (duplicate bool, err error)
}
