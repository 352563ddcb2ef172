package carbon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/joule-dev/joule"
)

// Defaults of HTTPOptions.
const (
	DefaultAttempts  = 3
	DefaultBaseDelay = time.Second
	DefaultMaxDelay  = time.Minute
	DefaultCacheTTL  = 5 * time.Minute
	maxBody          = 8 << 20
)

// Retry says how a live client retries answers 429 and 5xx and network
// errors: up to Attempts tries in all, waiting BaseDelay, then twice that,
// and so on, or longer when the answer's Retry-After header asks for more,
// but never more than MaxDelay at a time.
type Retry struct {
	Attempts  int           // DefaultAttempts when 0
	BaseDelay time.Duration // DefaultBaseDelay when 0
	MaxDelay  time.Duration // DefaultMaxDelay when 0
	// SleepFunc waits d or until ctx is done; a timer when nil. Tests
	// replace it so that they do not wait.
	SleepFunc func(ctx context.Context, d time.Duration) error
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultAttempts
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = DefaultBaseDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultMaxDelay
	}
	if r.SleepFunc == nil {
		r.SleepFunc = sleep
	}
	return r
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HTTPOptions are the settings every live client shares. The zero value
// uses the provider's public URL and the defaults above.
type HTTPOptions struct {
	BaseURL    string       // the provider's public API when empty
	HTTPClient *http.Client // a client with a 30 s timeout when nil
	Retry      Retry
	// CacheTTL is how long a fetched answer is reused: DefaultCacheTTL when
	// 0; negative disables the cache.
	CacheTTL time.Duration
	NowFunc  func() time.Time // time.Now when nil
}

var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

func (o *HTTPOptions) now() time.Time {
	if o.NowFunc != nil {
		return o.NowFunc()
	}
	return time.Now()
}

func (o *HTTPOptions) base(def string) string {
	if o.BaseURL != "" {
		return o.BaseURL
	}
	return def
}

func (o *HTTPOptions) ttl() time.Duration {
	if o.CacheTTL == 0 {
		return DefaultCacheTTL
	}
	return o.CacheTTL
}

// ProviderError is a failed call to a live provider.
type ProviderError struct {
	Provider string // "Electricity Maps", "WattTime", "UK Carbon Intensity"
	Status   int    // the last HTTP status; 0 for a network error
	Attempts int    // tries made
	Err      error  // the last cause, if any
}

// Reason says briefly what went wrong: "429 after 3 tries",
// "401 unauthorized: check the API token".
func (e *ProviderError) Reason() string {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return fmt.Sprintf("%d unauthorized: check the credentials", e.Status)
	case e.Status == 0 && e.Attempts > 1:
		return fmt.Sprintf("network error after %d tries: %v", e.Attempts, e.Err)
	case e.Status == 0:
		return fmt.Sprintf("network error: %v", e.Err)
	case e.Attempts > 1:
		return fmt.Sprintf("%d after %d tries", e.Status, e.Attempts)
	case e.Err != nil:
		return fmt.Sprintf("%d: %v", e.Status, e.Err)
	}
	return strconv.Itoa(e.Status)
}

// Error implements the error interface.
func (e *ProviderError) Error() string { return e.Provider + ": " + e.Reason() }

// Unwrap returns the cause.
func (e *ProviderError) Unwrap() error { return e.Err }

// code maps a provider failure to a joule error code.
func (e *ProviderError) code() string {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return joule.EUNAUTHORIZED
	case e.Status == http.StatusNotFound:
		return joule.ENOTFOUND
	case e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests:
		return joule.EINVALID
	}
	return joule.EUNAVAILABLE
}

func providerErr(pe *ProviderError) error {
	return &joule.Error{Code: pe.code(), Message: pe.Error(), Err: pe}
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// get fetches url with retries and returns the body of a 2xx answer.
// prepare sets headers on each request.
func (o *HTTPOptions) get(ctx context.Context, provider, url string, prepare func(*http.Request)) ([]byte, error) {
	r := o.Retry.withDefaults()
	client := o.HTTPClient
	if client == nil {
		client = defaultHTTPClient
	}
	pe := &ProviderError{Provider: provider}
	for attempt := 1; ; attempt++ {
		pe.Attempts = attempt
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, joule.Errorf(joule.EINVALID, "%s: bad request URL: %v", provider, err)
		}
		req.Header.Set("Accept", "application/json")
		if prepare != nil {
			prepare(req)
		}
		var wait time.Duration
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &joule.Error{Code: joule.EUNAVAILABLE, Message: provider + ": " + ctx.Err().Error(), Err: ctx.Err()}
			}
			pe.Status, pe.Err = 0, err
		} else {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			pe.Status, pe.Err = resp.StatusCode, nil
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				if rerr != nil {
					pe.Err = rerr
				} else {
					return body, nil
				}
			} else if !retryable(resp.StatusCode) {
				pe.Err = fmt.Errorf("%s", http.StatusText(resp.StatusCode))
				return nil, providerErr(pe)
			}
			wait = retryAfter(resp.Header.Get("Retry-After"), o.now())
		}
		if attempt >= r.Attempts {
			return nil, providerErr(pe)
		}
		backoff := r.BaseDelay << (attempt - 1)
		wait = min(max(wait, backoff), r.MaxDelay)
		if err := r.SleepFunc(ctx, wait); err != nil {
			return nil, &joule.Error{Code: joule.EUNAVAILABLE, Message: provider + ": " + err.Error(), Err: err}
		}
	}
}

// getJSON is get followed by decoding into v.
func (o *HTTPOptions) getJSON(ctx context.Context, provider, url string, prepare func(*http.Request), v any) error {
	body, err := o.get(ctx, provider, url, prepare)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &joule.Error{Code: joule.EUNAVAILABLE, Message: provider + ": unexpected answer: " + err.Error(), Err: err}
	}
	return nil
}

// cache keeps live answers for a TTL. The zero value is ready to use.
type cache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	v       any
	expires time.Time
}

// do returns the cached value for key, or calls fetch and caches its result
// for ttl. Errors are not cached. A negative ttl disables the cache.
func (c *cache) do(key string, now time.Time, ttl time.Duration, fetch func() (any, error)) (any, error) {
	if ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[key]
		c.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e.v, nil
		}
	}
	v, err := fetch()
	if err != nil || ttl <= 0 {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cacheEntry{}
	}
	for k, e := range c.m { // drop what has expired, so the map stays small
		if !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	c.m[key] = cacheEntry{v: v, expires: now.Add(ttl)}
	return v, nil
}

// cached is cache.do with a typed result.
func cached[T any](c *cache, o *HTTPOptions, key string, fetch func() (T, error)) (T, error) {
	v, err := c.do(key, o.now(), o.ttl(), func() (any, error) { return fetch() })
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// seriesOf sorts points, drops duplicates (the later one wins) and wraps
// them, checking each value. provider labels errors.
func seriesOf(provider string, ps []Point) (Series, error) {
	sortPoints(ps)
	out := ps[:0]
	for _, p := range ps {
		if err := checkValue(p.GramsPerKWh); err != nil {
			return Series{}, joule.Errorf(joule.EUNAVAILABLE, "%s: point at %s: %v", provider, p.Time.Format(time.RFC3339), err)
		}
		p.Time = p.Time.UTC()
		if n := len(out); n > 0 && out[n-1].Time.Equal(p.Time) {
			out[n-1] = p
			continue
		}
		out = append(out, p)
	}
	return newSeries(out), nil
}

func sortPoints(ps []Point) {
	slices.SortStableFunc(ps, func(a, b Point) int { return a.Time.Compare(b.Time) })
}

var errNoValue = errors.New("answer has no intensity value")

func (e *ProviderError) wrap() error { return providerErr(e) }
