package store

import (
	"context"
	"fmt"
	"time"
)

// DataVersion says how far the stored data has moved: it changes whenever
// the hot path commits a batch (stream offsets move forward, never back), an
// alert opens, anomalies are scored, or a batch run records its lineage. It
// is cheap to read (a few index lookups and a sum over the offset rows), so a
// poller can ask every second; the live dashboard pushes an update whenever
// it changes.
type DataVersion struct {
	// Offsets is the sum of every partition's next offset.
	Offsets int64 `json:"offsets"`
	// LastCommit is the latest batch commit (zero before any).
	LastCommit time.Time `json:"last_commit"`
	// LastAlert is the newest alert's id.
	LastAlert int64 `json:"last_alert"`
	// LastAnomalyRun is the latest anomaly scoring (zero before any).
	LastAnomalyRun time.Time `json:"last_anomaly_run"`
	// LastRun is the latest batch step recorded in lineage (zero before any).
	LastRun time.Time `json:"last_run"`
}

// Equal says two versions describe the same data.
func (v DataVersion) Equal(o DataVersion) bool {
	return v.Offsets == o.Offsets && v.LastCommit.Equal(o.LastCommit) && v.LastAlert == o.LastAlert &&
		v.LastAnomalyRun.Equal(o.LastAnomalyRun) && v.LastRun.Equal(o.LastRun)
}

// DataVersion reads the current DataVersion.
func (db *DB) DataVersion(ctx context.Context) (DataVersion, error) {
	var v DataVersion
	var commit, anomaly, run *time.Time
	err := db.Pool.QueryRow(ctx, `
		SELECT (SELECT coalesce(sum(next_offset), 0)::bigint FROM stream_offsets),
		       (SELECT max(updated_at) FROM stream_offsets),
		       (SELECT coalesce(max(id), 0) FROM alerts),
		       (SELECT max(updated_at) FROM anomaly_state),
		       (SELECT max(finished_at) FROM lineage)`).Scan(&v.Offsets, &commit, &v.LastAlert, &anomaly, &run)
	if err != nil {
		return DataVersion{}, fmt.Errorf("read data version: %w", err)
	}
	for _, p := range []struct {
		src *time.Time
		dst *time.Time
	}{{commit, &v.LastCommit}, {anomaly, &v.LastAnomalyRun}, {run, &v.LastRun}} {
		if p.src != nil {
			*p.dst = p.src.UTC()
		}
	}
	return v, nil
}
