package sustain

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Alert is what a webhook receives: an event about an indicator crossing
// its threshold or a target falling at risk or off track.
type Alert struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"` // "target.at_risk", "target.off_track", "indicator.threshold"
	Time        time.Time `json:"time"`
	WorkspaceID string    `json:"workspace_id,omitempty"`
	Subject     string    `json:"subject"` // target or indicator
	Message     string    `json:"message"`
	// Target or Indicator carries the figures behind the alert.
	Target    *joule.Target         `json:"target,omitempty"`
	Indicator *joule.IndicatorValue `json:"indicator,omitempty"`
}

// Signature headers. The signature is "sha256=" and the hex HMAC-SHA256,
// keyed with the webhook's secret, of the timestamp header's value, a dot,
// and the body; receivers check it with VerifySignature and reject stale
// timestamps.
const (
	SignatureHeader = "X-Joule-Signature"
	TimestampHeader = "X-Joule-Timestamp"
	EventHeader     = "X-Joule-Event"
	DeliveryHeader  = "X-Joule-Delivery"
)

// Sign returns the signature header value of body sent at timestamp ts
// (Unix seconds, as text).
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a received signature in constant time.
func VerifySignature(secret []byte, ts string, body []byte, sig string) error {
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errors.New("webhook signature does not match")
	}
	return nil
}

// Webhook posts alerts as JSON, signed, retrying failed deliveries (network
// errors, 429 and 5xx answers) with exponential backoff.
type Webhook struct {
	URL    string
	Secret []byte
	// Client defaults to one with a 10-second timeout.
	Client *http.Client
	// Attempts is the most deliveries tried (default 5); Backoff the wait
	// before the first retry (default 1 s), doubling each time.
	Attempts int
	Backoff  time.Duration
	// Sleep waits between attempts (default: a timer honouring ctx);
	// tests replace it.
	Sleep  func(ctx context.Context, d time.Duration) error
	Now    func() time.Time
	Logger *slog.Logger
}

// Validate checks the configuration (EINVALID naming the field).
func (w *Webhook) Validate() error {
	if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
		return joule.Errorf(joule.EINVALID, "alert webhook url %q: want http:// or https://", w.URL)
	}
	if len(w.Secret) < 16 {
		return joule.Errorf(joule.EINVALID, "alert webhook secret: want at least 16 bytes")
	}
	return nil
}

// Send delivers a, retrying as configured, and returns the last error when
// every attempt failed.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts := w.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	backoff := w.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	sleep := w.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	now := w.Now
	if now == nil {
		now = time.Now
	}
	logger := w.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var last error
	for i := range attempts {
		if i > 0 {
			if err := sleep(ctx, backoff<<(i-1)); err != nil {
				return err
			}
		}
		retry, err := w.post(ctx, client, a, body, strconv.FormatInt(now().Unix(), 10))
		if err == nil {
			return nil
		}
		last = err
		logger.WarnContext(ctx, "alert webhook delivery failed", "attempt", i+1, "alert", a.ID, "err", err)
		if !retry {
			break
		}
	}
	return fmt.Errorf("alert %s to %s: %w", a.ID, w.URL, last)
}

func (w *Webhook) post(ctx context.Context, client *http.Client, a Alert, body []byte, ts string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "joule-alerts")
	req.Header.Set(EventHeader, a.Kind)
	req.Header.Set(DeliveryHeader, a.ID)
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(w.Secret, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, fmt.Errorf("receiver answered %s", resp.Status)
}

// Threshold is an alert rule on an indicator: it fires when the indicator
// over the Window before now is above (Op ">") or below ("<") Value.
type Threshold struct {
	Indicator string        `json:"indicator"`
	Slice     joule.Slice   `json:"slice,omitempty"`
	Op        string        `json:"op"`
	Value     float64       `json:"value"`
	Window    time.Duration `json:"window"`
}

// ParseThreshold reads "INDICATOR>VALUE[@WINDOW][#SLICE]", for example
// "emissions_kg>50@24h" or "pue>1.6@168h#node:gpu-1" (EINVALID naming the
// problem). The window defaults to 24h.
func ParseThreshold(s string) (Threshold, error) {
	bad := func(why string) (Threshold, error) {
		return Threshold{}, joule.Errorf(joule.EINVALID, "alert threshold %q: %s (want INDICATOR>VALUE[@WINDOW][#SLICE])", s, why)
	}
	rest, slice, _ := strings.Cut(s, "#")
	rest, win, hasWin := strings.Cut(rest, "@")
	t := Threshold{Slice: joule.Slice(slice), Window: 24 * time.Hour}
	if hasWin {
		d, err := time.ParseDuration(win)
		if err != nil || d < time.Hour {
			return bad("window must be a duration of at least 1h")
		}
		t.Window = d
	}
	i := strings.IndexAny(rest, "<>")
	if i <= 0 {
		return bad("no < or >")
	}
	t.Indicator, t.Op = rest[:i], rest[i:i+1]
	v, err := strconv.ParseFloat(rest[i+1:], 64)
	if err != nil {
		return bad("value is not a number")
	}
	t.Value = v
	if _, _, _, err := ParseSlice(slice); err != nil {
		return bad(joule.ErrorMessage(err))
	}
	return t, nil
}

// Crossed reports whether v crosses the threshold.
func (t Threshold) Crossed(v joule.IndicatorValue) bool {
	if !v.Available {
		return false
	}
	if t.Op == ">" {
		return v.Value > t.Value
	}
	return v.Value < t.Value
}

// String renders the rule as ParseThreshold reads it.
func (t Threshold) String() string {
	s := fmt.Sprintf("%s%s%g@%s", t.Indicator, t.Op, t.Value, t.Window)
	if t.Slice != "" {
		s += "#" + string(t.Slice)
	}
	return s
}
