package activities

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
	"net/http"
	"net/url"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/store"
)

// SignatureHeader carries the HMAC-SHA256 of a webhook body, keyed by the
// webhook's secret: "sha256=" and the hex digest.
const SignatureHeader = "X-ShopPulse-Signature"

// AlertIDHeader carries the alert's id. Delivery is at least once (a crash
// between a webhook's 2xx and its record repeats the POST), so receivers
// deduplicate by it.
const AlertIDHeader = "X-ShopPulse-Alert-Id"

// Webhook is one alert receiver.
type Webhook struct {
	URL    string
	Secret string
}

// name is the webhook as recorded and logged: its URL without a password.
func (w Webhook) name() string {
	u, err := url.Parse(w.URL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Alerts delivers alerts to webhooks.
type Alerts struct {
	DB       *store.DB
	Webhooks []Webhook
	// Client posts to the webhooks; its Timeout bounds one POST.
	Client *http.Client
}

// PendingAlertsInput bounds how many alerts one notifier run handles.
type PendingAlertsInput struct {
	Limit int
}

// PendingAlertsResult lists the undelivered alerts, oldest first.
type PendingAlertsResult struct {
	AlertIDs []int64
}

// PendingAlerts returns the ids of alerts not yet delivered to every webhook.
// With no webhook configured there is nothing to deliver to and it returns
// none (the alerts wait in the table).
func (a *Alerts) PendingAlerts(ctx context.Context, in PendingAlertsInput) (PendingAlertsResult, error) {
	if len(a.Webhooks) == 0 {
		return PendingAlertsResult{}, nil
	}
	limit := in.Limit
	if limit <= 0 {
		limit = 100
	}
	alerts, err := a.DB.Alerts(ctx, store.AlertFilter{Undelivered: true, Limit: limit})
	if err != nil {
		return PendingAlertsResult{}, err
	}
	res := PendingAlertsResult{AlertIDs: make([]int64, len(alerts))}
	for i, al := range alerts {
		res.AlertIDs[i] = al.ID
	}
	return res, nil
}

// DeliverAlertInput names the alert to deliver.
type DeliverAlertInput struct {
	AlertID int64
}

// DeliverAlertResult says which webhooks this call delivered to.
type DeliverAlertResult struct {
	Delivered []string
	// AlreadyDelivered is true when an earlier call had delivered it.
	AlreadyDelivered bool
}

// alertPayload is the JSON body POSTed to the webhooks.
type alertPayload struct {
	ID         int64           `json:"id"`
	Type       string          `json:"type"`
	Entity     string          `json:"entity"`
	Severity   string          `json:"severity"`
	DedupKey   string          `json:"dedup_key"`
	OpenedAt   time.Time       `json:"opened_at"`
	ResolvedAt *time.Time      `json:"resolved_at"`
	Details    json.RawMessage `json:"details"`
}

// DeliverAlert POSTs the alert to every webhook that has not accepted it yet,
// records each attempt in alert_deliveries, and marks the alert delivered
// once all have accepted it (a 2xx). It fails, for Temporal to retry with
// backoff, while any webhook refuses; a repeated call posts only to those.
func (a *Alerts) DeliverAlert(ctx context.Context, in DeliverAlertInput) (DeliverAlertResult, error) {
	al, err := a.DB.AlertByID(ctx, in.AlertID)
	if errors.Is(err, store.ErrNotFound) {
		return DeliverAlertResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	if err != nil {
		return DeliverAlertResult{}, err
	}
	if !al.DeliveredAt.IsZero() {
		return DeliverAlertResult{AlreadyDelivered: true}, nil
	}
	past, err := a.DB.AlertDeliveries(ctx, al.ID)
	if err != nil {
		return DeliverAlertResult{}, err
	}
	done := map[string]bool{}
	for _, d := range past {
		if d.Delivered {
			done[d.Webhook] = true
		}
	}
	p := alertPayload{ID: al.ID, Type: al.Type, Entity: al.Entity, Severity: al.Severity,
		DedupKey: al.DedupKey, OpenedAt: al.OpenedAt, Details: al.Details}
	if !al.ResolvedAt.IsZero() {
		p.ResolvedAt = &al.ResolvedAt
	}
	body, err := json.Marshal(p)
	if err != nil {
		return DeliverAlertResult{}, fmt.Errorf("encode alert %d: %w", al.ID, err)
	}

	var res DeliverAlertResult
	var failed []error
	for _, w := range a.Webhooks {
		name := w.name()
		if done[name] {
			continue
		}
		status, postErr := a.post(ctx, w, al.ID, body)
		d := store.AlertDelivery{AlertID: al.ID, Webhook: name, StatusCode: status, Delivered: postErr == nil}
		if postErr != nil {
			d.Error = postErr.Error()
		}
		attempt, err := a.DB.RecordDelivery(context.WithoutCancel(ctx), d)
		if err != nil {
			return res, err
		}
		if postErr != nil {
			failed = append(failed, fmt.Errorf("webhook %s attempt %d: %w", name, attempt, postErr))
			continue
		}
		res.Delivered = append(res.Delivered, name)
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("deliver alert %d: %w", al.ID, errors.Join(failed...))
	}
	if err := a.DB.MarkAlertDelivered(ctx, al.ID); err != nil {
		return res, err
	}
	return res, nil
}

// post sends one signed POST and returns the status code (0 when none came
// back) and an error unless the webhook answered 2xx. Errors name the
// webhook without its secret or password.
func (a *Alerts) post(ctx context.Context, w Webhook, id int64, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "shoppulse-alerts")
	req.Header.Set(AlertIDHeader, fmt.Sprint(id))
	req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	client := a.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the url.Error repeats the URL, password and all
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
