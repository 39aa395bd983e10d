package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ProblemRateLimited is a 429: the key is over its rate limit.
const ProblemRateLimited = problemBase + "rate-limited"

// keyLimits is one token bucket per API key (Config.RateLimit requests per
// second, bursts of Config.RateBurst). The buckets live in this process: a
// deployment with n API processes allows n times the rate per key.
type keyLimits struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newKeyLimits(perSecond float64, burst int, now func() time.Time) *keyLimits {
	l := rate.Limit(perSecond)
	if perSecond < 0 {
		l = rate.Inf
	}
	return &keyLimits{limit: l, burst: burst, now: now, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token of the key's bucket. When there is none it reports
// false and how long until there is one.
func (k *keyLimits) allow(keyID string) (time.Duration, bool) {
	if k.limit == rate.Inf {
		return 0, true
	}
	k.mu.Lock()
	b := k.buckets[keyID]
	if b == nil {
		b = rate.NewLimiter(k.limit, k.burst)
		k.buckets[keyID] = b
	}
	k.mu.Unlock()
	now := k.now()
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}
