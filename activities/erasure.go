package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/store"
)

// Erasure carries out GDPR erasure requests.
type Erasure struct {
	DB *store.DB
}

// EraseInput is one request: ids only.
type EraseInput struct {
	RequestID, CustomerID string
	Requested, Deadline   time.Time
	WorkflowID, RunID     string
}

// EraseResult is what the erasure changed (counts and days, no identifiers
// but the pseudonym).
type EraseResult = store.ErasureResult

// EraseCustomer pseudonymises or clears the customer's personal data in every
// table of store.PersonalColumns and writes the audit row, in one
// transaction. Idempotent: a repeated request changes nothing.
func (a *Erasure) EraseCustomer(ctx context.Context, in EraseInput) (EraseResult, error) {
	res, err := a.DB.EraseCustomer(ctx, store.ErasureRequest{
		RequestID: in.RequestID, CustomerID: in.CustomerID, Requested: in.Requested, Deadline: in.Deadline,
		WorkflowID: in.WorkflowID, RunID: in.RunID,
	})
	if errors.Is(err, store.ErrInvalidErasure) {
		return res, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	return res, err
}

// FinishErasureInput records the end of a request.
type FinishErasureInput struct {
	RequestID string
	Days      []time.Time
	Overdue   bool
}

// FinishErasure records the recomputed days and whether the deadline passed.
func (a *Erasure) FinishErasure(ctx context.Context, in FinishErasureInput) error {
	return a.DB.FinishErasure(ctx, in.RequestID, in.Days, in.Overdue)
}
