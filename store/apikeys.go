package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// APIKey is a stored API key. The secret itself is never stored: SecretHash
// is its SHA-256, computed and compared by the api package.
type APIKey struct {
	ID         string
	Name       string
	SecretHash []byte
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// CreateAPIKey stores a new key. ID, Name, SecretHash and Scopes must be set;
// CreatedAt is set by the database and returned.
func (db *DB) CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	err := db.Pool.QueryRow(ctx,
		`INSERT INTO api_keys (id, name, secret_hash, scopes) VALUES ($1, $2, $3, $4) RETURNING created_at`,
		k.ID, k.Name, k.SecretHash, k.Scopes).Scan(&k.CreatedAt)
	if err != nil {
		return APIKey{}, fmt.Errorf("create api key %s: %w", k.Name, err)
	}
	return k, nil
}

const apiKeyColumns = `id, name, secret_hash, scopes, created_at, last_used_at, revoked_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.SecretHash, &k.Scopes, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	return k, err
}

// APIKey returns the key with the id, revoked or not, or ErrNotFound.
func (db *DB) APIKey(ctx context.Context, id string) (APIKey, error) {
	k, err := scanAPIKey(db.Pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, fmt.Errorf("api key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("api key %s: %w", id, err)
	}
	return k, nil
}

// APIKeys lists every key, oldest first.
func (db *DB) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey marks the key revoked at the database's clock. Revoking a
// revoked key keeps its first revocation time. It returns ErrNotFound for an
// unknown id.
func (db *DB) RevokeAPIKey(ctx context.Context, id string) (time.Time, error) {
	var at time.Time
	err := db.Pool.QueryRow(ctx,
		`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING revoked_at`, id).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("revoke api key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return at, nil
}

// TouchAPIKey records that the key was used at `at`, unless it was already
// recorded as used less than a minute before, so a busy key costs one write
// a minute at most.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := db.Pool.Exec(ctx,
		`UPDATE api_keys SET last_used_at = $2
		  WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`, id, at)
	if err != nil {
		return fmt.Errorf("touch api key %s: %w", id, err)
	}
	return nil
}
