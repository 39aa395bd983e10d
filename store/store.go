// Package store owns ShopPulse's access to PostgreSQL: the pgx pool, the
// migration runner, and every query. It knows nothing of Kafka or Temporal;
// callers hand it plain values. Writes that must be exactly-once take the
// offset fence of DESIGN.md invariant 1 in the same transaction.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/shoppulse/shoppulse/migrations"
)

// Config is how to reach the database.
type Config struct {
	URL      string
	MaxConns int32
	// Schema, when set, is created if missing and put first on the search
	// path of every connection. Tests use it for a fresh schema each.
	Schema string
	// Tracer, when set, sees every query and COPY of the pool (the bench
	// uses it to say where a batch's time goes).
	Tracer pgx.QueryTracer
}

// DB is the pool and what the store remembers between calls.
type DB struct {
	Pool   *pgxpool.Pool
	schema string

	// partitions remembers the daily partitions known to exist, so the hot
	// path asks Postgres only once per table and day.
	mu         sync.Mutex
	partitions map[string]bool
}

// Open connects to Postgres and checks the connection.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.Schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema + ",public"
	}
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "shoppulse"
	if cfg.Tracer != nil {
		pc.ConnConfig.Tracer = cfg.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if cfg.Schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{cfg.Schema}.Sanitize()); err != nil {
			pool.Close()
			return nil, fmt.Errorf("create schema %s: %w", cfg.Schema, err)
		}
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping postgres at %s: %w", pc.ConnConfig.Host, err)
	}
	return &DB{Pool: pool, schema: cfg.Schema, partitions: map[string]bool{}}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Migrate applies every pending migration and creates the daily partitions
// from yesterday to a week ahead. It returns the schema version reached.
func (db *DB) Migrate(ctx context.Context) (int64, error) {
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	// Serialise concurrent migrators (two workers starting at once).
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext('shoppulse-migrate'))"); err != nil {
		return 0, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('shoppulse-migrate'))") //nolint:errcheck // released with the session anyway

	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: version: %w", err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := db.EnsurePartitionsAhead(ctx, today.AddDate(0, 0, -1), 9); err != nil {
		return v, err
	}
	return v, nil
}

// partitionedTables are the fact tables partitioned by event day.
var partitionedTables = []string{"orders", "order_lines", "clickstream_events"}

// EnsurePartitionsAhead creates every fact table's daily partitions for n days
// from first.
func (db *DB) EnsurePartitionsAhead(ctx context.Context, first time.Time, n int) error {
	for _, t := range partitionedTables {
		if _, err := db.Pool.Exec(ctx, "SELECT ensure_day_partitions($1::regclass, $2::date, $3)", t, first.UTC().Format(time.DateOnly), n); err != nil {
			return fmt.Errorf("create partitions of %s: %w", t, err)
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, t := range partitionedTables {
		for i := 0; i < n; i++ {
			db.partitions[t+first.UTC().AddDate(0, 0, i).Format(time.DateOnly)] = true
		}
	}
	return nil
}

// ensureDays makes sure every fact table has a partition for each day of ts.
// Late or historical events (a replay of old data) get their day's partition
// when they first arrive.
func (db *DB) ensureDays(ctx context.Context, days map[string]bool) error {
	for day := range days {
		db.mu.Lock()
		known := true
		for _, t := range partitionedTables {
			known = known && db.partitions[t+day]
		}
		db.mu.Unlock()
		if known {
			continue
		}
		d, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return fmt.Errorf("partition day %q: %w", day, err)
		}
		if err := db.EnsurePartitionsAhead(ctx, d, 1); err != nil {
			return err
		}
	}
	return nil
}

// inTx runs f in a transaction, committing when f returns nil.
func (db *DB) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{}, f)
}

// ErrNotFound is returned when a row asked for does not exist.
var ErrNotFound = errors.New("not found")
