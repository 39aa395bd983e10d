package activities

import (
	"context"
	"time"

	"github.com/shoppulse/shoppulse/store"
)

// Partitions keeps the fact tables' daily partitions ready.
type Partitions struct {
	DB *store.DB
}

// PartitionsInput is the first day and the number of days.
type PartitionsInput struct {
	From time.Time
	Days int
}

// PartitionsResult names the partitions that exist afterwards.
type PartitionsResult struct {
	From, To time.Time
}

// EnsurePartitions creates the missing daily partitions. Idempotent.
func (a *Partitions) EnsurePartitions(ctx context.Context, in PartitionsInput) (PartitionsResult, error) {
	if err := a.DB.EnsurePartitionsAhead(ctx, in.From, in.Days); err != nil {
		return PartitionsResult{}, err
	}
	return PartitionsResult{From: in.From, To: in.From.AddDate(0, 0, in.Days)}, nil
}

// DropPartitionsInput is the retention cutoff: partitions whose range ends at
// or before Before are detached and dropped.
type DropPartitionsInput struct {
	Before   time.Time
	RunID    string
	Workflow string
}

// DropPartitionsResult lists what was dropped.
type DropPartitionsResult struct {
	Dropped []store.DroppedPartition
}

// DropExpiredPartitions detaches and drops the fact tables' partitions past
// retention, one transaction each with its lineage. Idempotent: a second call
// finds nothing to drop.
func (a *Partitions) DropExpiredPartitions(ctx context.Context, in DropPartitionsInput) (DropPartitionsResult, error) {
	d, err := a.DB.DropPartitionsBefore(ctx, in.Before, in.RunID, in.Workflow)
	return DropPartitionsResult{Dropped: d}, err
}
