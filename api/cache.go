package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// cache is the read-through cache of the hot queries (series and top
// lists) in Redis. An entry is keyed by the query's name, its validated
// parameters and the stream generation of the topics it reads (the sum of
// their committed offsets and the time of the last commit, see
// store.StreamGeneration): when the hot path commits a batch of one of those
// topics the generation changes, so the next request misses and reads
// Postgres. Entries also expire after TTL, which bounds Redis' memory.
//
// Redis is optional: without it (nil *cache) every request reads Postgres,
// and a Redis that fails is bypassed (counted as "error"), never an error
// for the client.
type cache struct {
	rdb     *redis.Client
	ttl     time.Duration
	prefix  string
	lookups *prometheus.CounterVec
}

// Cache results, the result label of shoppulse_api_cache_lookups_total.
const (
	cacheHit    = "hit"
	cacheMiss   = "miss"
	cacheError  = "error"
	cacheBypass = "bypass" // no Redis configured
)

func newCache(cfg Config, reg prometheus.Registerer) (*cache, error) {
	c := &cache{ttl: cfg.CacheTTL, prefix: cfg.CacheKeyPrefix,
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoppulse_api_cache_lookups_total",
			Help: "Read-through cache lookups of the API's hot queries by query and result (hit, miss, error, bypass).",
		}, []string{"query", "result"})}
	if err := reg.Register(c.lookups); err != nil {
		return nil, fmt.Errorf("register cache metrics: %w", err)
	}
	if cfg.RedisURL == "" {
		return c, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("api redis url: %w", err)
	}
	// A slow cache must not slow the API down: fail fast and read Postgres.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	opt.MaxRetries = 0
	c.rdb = redis.NewClient(opt)
	return c, nil
}

func (c *cache) close() error {
	if c.rdb == nil {
		return nil
	}
	return c.rdb.Close()
}

// key is the entry's key: the query, its resolved parameters (the store
// query, with defaults such as "to = the end of this minute" filled in) and
// the generation.
func (c *cache) key(query string, params any, gen string) (string, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return "", fmt.Errorf("cache key of %s: %w", query, err)
	}
	sum := sha256.Sum256(b)
	return c.prefix + query + ":" + hex.EncodeToString(sum[:16]) + ":" + gen, nil
}

// cached answers r with the JSON of compute, through the cache. The query's
// parameters must have been validated and resolved into params (the key is
// built from them, and only successful answers are stored). topics are the catalogue topics whose
// commits change the answer.
//
// An answer is stored under the generation read before it was computed,
// and only when the generation has not moved meanwhile: an answer computed
// across a commit is served but not cached, so the cache never holds an
// answer older than its key says.
func (s *Server) cached(w http.ResponseWriter, r *http.Request, query string, params any, topics []string, compute func() (any, error)) {
	c := s.cache
	ctx := r.Context()
	var gen, key string
	serve := func(result string) {
		v, err := compute()
		if err != nil {
			s.internal(w, r, err)
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		w.Header().Set("X-Cache", result)
		writeRawJSON(w, b)
		if result != cacheMiss {
			return
		}
		if after, err := s.generation(ctx, topics); err != nil || after != gen {
			return
		}
		if err := c.rdb.Set(ctx, key, b, c.ttl).Err(); err != nil {
			s.log.WarnContext(ctx, "api cache write failed", "err", err)
		}
	}
	if c.rdb == nil {
		c.lookups.WithLabelValues(query, cacheBypass).Inc()
		serve(cacheBypass)
		return
	}
	var err error
	gen, err = s.generation(ctx, topics)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	key, err = c.key(query, params, gen)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	b, err := c.rdb.Get(ctx, key).Bytes()
	switch {
	case err == nil:
		c.lookups.WithLabelValues(query, cacheHit).Inc()
		w.Header().Set("X-Cache", cacheHit)
		writeRawJSON(w, b)
	case errors.Is(err, redis.Nil):
		c.lookups.WithLabelValues(query, cacheMiss).Inc()
		serve(cacheMiss)
	default:
		c.lookups.WithLabelValues(query, cacheError).Inc()
		s.log.WarnContext(ctx, "api cache unavailable, reading postgres", "err", err)
		serve(cacheError)
	}
}

// generation is the stream generation of the catalogue topics (renamed as
// configured).
func (s *Server) generation(ctx context.Context, topics []string) (string, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t
		if n, ok := s.cfg.Topics[t]; ok {
			names[i] = n
		}
	}
	return s.db.StreamGeneration(ctx, names)
}

func writeRawJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
