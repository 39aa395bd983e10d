package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoppulse/shoppulse/store"
)

// Scopes an API key may hold. A route needs exactly its scope: admin does not
// imply the others, so give a key every scope it needs.
const (
	ScopeIngest  = "ingest"
	ScopeRead    = "read"
	ScopeOperate = "operate"
	ScopeAdmin   = "admin"
)

// Scopes lists every scope.
var Scopes = []string{ScopeIngest, ScopeRead, ScopeOperate, ScopeAdmin}

// Key format: sp_<id>_<secret>, id 8 random bytes and secret 32 random bytes,
// both lowercase hex (hex never contains the separator).
const (
	keyPrefix    = "sp_"
	keyIDBytes   = 8
	keySecretLen = 32
)

// NewAPIKey makes a key with the name and scopes. It returns the token to
// show the user once, and the record to store (which holds only the
// SHA-256 of the secret: the secret has 256 random bits, so a slow hash
// would add nothing).
func NewAPIKey(name string, scopes []string) (string, store.APIKey, error) {
	if strings.TrimSpace(name) == "" {
		return "", store.APIKey{}, errors.New("new api key: a name is required")
	}
	if len(scopes) == 0 {
		return "", store.APIKey{}, fmt.Errorf("new api key: at least one scope of %s", strings.Join(Scopes, ", "))
	}
	var clean []string
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if !slices.Contains(Scopes, s) {
			return "", store.APIKey{}, fmt.Errorf("new api key: unknown scope %q, want one of %s", s, strings.Join(Scopes, ", "))
		}
		if !slices.Contains(clean, s) {
			clean = append(clean, s)
		}
	}
	b := make([]byte, keyIDBytes+keySecretLen)
	if _, err := rand.Read(b); err != nil {
		return "", store.APIKey{}, fmt.Errorf("new api key: %w", err)
	}
	id := hex.EncodeToString(b[:keyIDBytes])
	secret := hex.EncodeToString(b[keyIDBytes:])
	sum := sha256.Sum256([]byte(secret))
	return keyPrefix + id + "_" + secret, store.APIKey{ID: id, Name: name, SecretHash: sum[:], Scopes: clean}, nil
}

// parseToken splits a token into its id and secret.
func parseToken(tok string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(tok, keyPrefix)
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || len(id) != 2*keyIDBytes || len(secret) != 2*keySecretLen || !isHex(id) || !isHex(secret) {
		return "", "", false
	}
	return id, secret, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// principal is the verified caller of a request.
type principal struct {
	KeyID  string
	Name   string
	Scopes []string
}

// errUnauthenticated is a missing, malformed, unknown or revoked key; its
// message is safe to show the client.
type errUnauthenticated struct{ reason string }

func (e *errUnauthenticated) Error() string { return e.reason }

// cachedKey is a key as the store returned it, kept for keyCache.ttl.
type cachedKey struct {
	key       store.APIKey
	fetched   time.Time
	touchedAt time.Time
}

// keyCache verifies tokens against the store, keeping each key it found for
// ttl so that auth is not a database round trip per request. A revocation
// therefore takes effect within ttl. Unknown ids are not cached. The cache
// holds at most one entry per existing key.
type keyCache struct {
	db  *store.DB
	ttl time.Duration
	now func() time.Time
	log *slog.Logger

	mu   sync.Mutex
	keys map[string]*cachedKey
}

// verify returns the principal of a bearer token, an *errUnauthenticated, or
// another error when the store cannot be asked.
func (c *keyCache) verify(ctx context.Context, tok string) (principal, error) {
	id, secret, ok := parseToken(tok)
	if !ok {
		return principal{}, &errUnauthenticated{"malformed API key: want sp_<id>_<secret>"}
	}
	now := c.now()
	c.mu.Lock()
	ck := c.keys[id]
	if ck != nil && now.Sub(ck.fetched) >= c.ttl {
		ck = nil
	}
	c.mu.Unlock()
	if ck == nil {
		k, err := c.db.APIKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return principal{}, &errUnauthenticated{"unknown API key"}
		}
		if err != nil {
			return principal{}, fmt.Errorf("verify api key: %w", err)
		}
		c.mu.Lock()
		old := c.keys[id]
		ck = &cachedKey{key: k, fetched: now}
		if old != nil {
			ck.touchedAt = old.touchedAt
		}
		c.keys[id] = ck
		c.mu.Unlock()
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], ck.key.SecretHash) != 1 {
		return principal{}, &errUnauthenticated{"unknown API key"}
	}
	if ck.key.RevokedAt != nil {
		return principal{}, &errUnauthenticated{"API key revoked"}
	}
	c.touch(ctx, ck, now)
	return principal{KeyID: id, Name: ck.key.Name, Scopes: ck.key.Scopes}, nil
}

// touch records the key's use at most once a minute per process (the store
// also refuses more frequent updates across processes).
func (c *keyCache) touch(ctx context.Context, ck *cachedKey, now time.Time) {
	c.mu.Lock()
	due := now.Sub(ck.touchedAt) >= time.Minute
	if due {
		ck.touchedAt = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	if err := c.db.TouchAPIKey(ctx, ck.key.ID, now); err != nil {
		c.log.WarnContext(ctx, "record api key use", "key", ck.key.ID, "err", err)
	}
}

// requireScope wraps h so that it runs only for a caller whose key holds
// scope: 401 without a valid key, 403 without the scope.
func (s *Server) requireScope(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			s.unauthorized(w, r, "missing API key: send Authorization: Bearer sp_<id>_<secret>")
			return
		}
		p, err := s.keys.verify(r.Context(), tok)
		var ue *errUnauthenticated
		switch {
		case errors.As(err, &ue):
			s.unauthorized(w, r, ue.reason)
			return
		case err != nil:
			s.log.ErrorContext(r.Context(), "api key check failed", "err", err)
			writeProblem(w, r, unavailable("cannot check the API key now", s.cfg.RetryAfter))
			return
		}
		if !slices.Contains(p.Scopes, scope) {
			writeProblem(w, r, Problem{Type: ProblemForbidden, Title: "Forbidden", Status: http.StatusForbidden,
				Detail: fmt.Sprintf("API key %s lacks the %q scope", p.KeyID, scope)})
			return
		}
		if wait, ok := s.limits.allow(p.KeyID); !ok {
			s.rateLimited.Inc()
			pr := Problem{Type: ProblemRateLimited, Title: "Too many requests", Status: http.StatusTooManyRequests,
				Detail: fmt.Sprintf("API key %s is over its rate limit of %g requests/s (burst %d)", p.KeyID, s.cfg.RateLimit, s.cfg.RateBurst)}
			pr.RetryAfterSeconds = int((wait + time.Second - 1) / time.Second)
			if pr.RetryAfterSeconds < 1 {
				pr.RetryAfterSeconds = 1
			}
			writeProblem(w, r, pr)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

type principalKey struct{}

// callerOf is the verified caller of a request that passed requireScope.
func callerOf(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// forget drops a key from the cache, so its revocation through the API
// takes effect at once in this process.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	delete(c.keys, id)
	c.mu.Unlock()
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, detail string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="shoppulse"`)
	writeProblem(w, r, Problem{Type: ProblemUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
