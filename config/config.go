// Package config owns ShopPulse's typed configuration: the structs, their
// defaults and their validation. It does not read files, flags or the
// environment: cmd/shoppulse does that with viper and hands the result here.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones of schedules validate on hosts without a zoneinfo database
)

// Config is the whole configuration of one shoppulse process.
type Config struct {
	Database  Database   `mapstructure:"database"`
	Kafka     Kafka      `mapstructure:"kafka"`
	Temporal  Temporal   `mapstructure:"temporal"`
	Stream    Stream     `mapstructure:"stream"`
	Metrics   Metrics    `mapstructure:"metrics"`
	API       API        `mapstructure:"api"`
	Generate  Generate   `mapstructure:"generate"`
	Alerts    Alerts     `mapstructure:"alerts"`
	Schedules []Schedule `mapstructure:"schedules"`
	Dev       Dev        `mapstructure:"dev"`
	Log       Log        `mapstructure:"log"`

	// Replenishment and Pricing tune the batch workflows of the same names.
	Replenishment Replenishment `mapstructure:"replenishment"`
	Pricing       Pricing       `mapstructure:"pricing"`
}

// Database is the PostgreSQL connection.
type Database struct {
	// URL is a libpq-style URL, postgres://user:pass@host:port/db?sslmode=...
	URL      string `mapstructure:"url"`
	MaxConns int32  `mapstructure:"max_conns"`
	// GrafanaPassword, when set, is given to the read-only role
	// shoppulse_grafana (Grafana's PostgreSQL datasource) after migrating.
	GrafanaPassword string `mapstructure:"grafana_password"`
}

// Kafka is the broker cluster and the topics ShopPulse owns.
type Kafka struct {
	Brokers []string `mapstructure:"brokers"`
	// OrdersTopic carries order events.
	OrdersTopic string `mapstructure:"orders_topic"`
	// InventoryTopic carries stock movements (stock levels and their alerts).
	InventoryTopic string `mapstructure:"inventory_topic"`
	// ClickstreamTopic carries clickstream events (traffic, sessions, funnel).
	ClickstreamTopic string `mapstructure:"clickstream_topic"`
	// PaymentsTopic carries payment events (authorizations, failures,
	// refunds, chargebacks: payment facts and payments per minute).
	PaymentsTopic string `mapstructure:"payments_topic"`
	// MarketTopic carries price changes and competitor prices.
	MarketTopic string `mapstructure:"market_topic"`
	// CustomersTopic carries account registrations, updates and erasure
	// requests.
	CustomersTopic string `mapstructure:"customers_topic"`
	// DLQTopic receives events that failed validation, with their reason.
	DLQTopic string `mapstructure:"dlq_topic"`
	// Partitions is the partition count used when ShopPulse creates a topic.
	Partitions int `mapstructure:"partitions"`
	// ReplicationFactor is used when ShopPulse creates a topic.
	ReplicationFactor int `mapstructure:"replication_factor"`
	// TLS is how every Kafka client connects (producers, consumers, admin).
	TLS TLS `mapstructure:"tls"`
}

// Temporal is the Temporal frontend and the task queue of the workers.
type Temporal struct {
	Address   string `mapstructure:"address"`
	Namespace string `mapstructure:"namespace"`
	TaskQueue string `mapstructure:"task_queue"`
	// TLS is how every Temporal client connects; with cert_file and
	// key_file it presents a client certificate (mTLS).
	TLS TLS `mapstructure:"tls"`
}

// Stream tunes the hot path.
type Stream struct {
	// Consumers is the number of long-running consumer activities the supervisor
	// spreads the partitions over.
	Consumers int `mapstructure:"consumers"`
	// BatchSize bounds a micro-batch by event count.
	BatchSize int `mapstructure:"batch_size"`
	// BatchWait bounds a micro-batch by time, so latency stays low at low rates.
	BatchWait time.Duration `mapstructure:"batch_wait"`
	// HeartbeatTimeout is how long Temporal waits for a consumer's heartbeat
	// before it gives the partitions to another worker.
	HeartbeatTimeout time.Duration `mapstructure:"heartbeat_timeout"`
	// MaxRun is how long one consumer activity runs before it returns and the
	// supervisor starts a fresh one (keeps histories short, picks up new config).
	MaxRun time.Duration `mapstructure:"max_run"`
	// DefaultReorderPoint is the reorder point of a product and warehouse
	// without a row in reorder_points: stock at or below it raises a
	// low-stock alert.
	DefaultReorderPoint int64 `mapstructure:"default_reorder_point"`
	// SessionGap ends a session: a session id's events more than this apart
	// in event time belong to different sessions.
	SessionGap time.Duration `mapstructure:"session_gap"`
	// FraudAlertThreshold raises a fraud alert for an order whose fraud
	// score (0 to 1) is at or above it.
	FraudAlertThreshold float64 `mapstructure:"fraud_alert_threshold"`
}

// Alerts is where the alert notifier delivers new alerts.
type Alerts struct {
	// Webhooks each receive every new alert as a signed JSON POST.
	Webhooks []Webhook `mapstructure:"webhooks"`
	// Timeout bounds one POST.
	Timeout time.Duration `mapstructure:"timeout"`
}

// Webhook is one alert receiver.
type Webhook struct {
	URL string `mapstructure:"url"`
	// Secret keys the HMAC-SHA256 signature of each body (header
	// X-ShopPulse-Signature: sha256=<hex>). Never logged.
	Secret string `mapstructure:"secret"`
}

// String names the webhook without its secret.
func (w Webhook) String() string { return redactURL(w.URL) }

// Metrics is the Prometheus endpoint of a process.
type Metrics struct {
	// Addr is host:port for /metrics; empty disables it.
	Addr string `mapstructure:"addr"`
}

// API is the HTTP API server (`shoppulse api`, and `shoppulse dev`).
type API struct {
	// Addr is host:port to listen on.
	Addr string `mapstructure:"addr"`
	// MaxBatchEvents and MaxBodyBytes limit one POST /v1/events (413 beyond).
	MaxBatchEvents int   `mapstructure:"max_batch_events"`
	MaxBodyBytes   int64 `mapstructure:"max_body_bytes"`
	// MaxInFlight bounds the ingest requests writing to Kafka at once; a
	// request that gets no slot within QueueWait is answered 503.
	MaxInFlight int           `mapstructure:"max_in_flight"`
	QueueWait   time.Duration `mapstructure:"queue_wait"`
	// ProduceTimeout bounds the write of one batch to Kafka (503 beyond).
	ProduceTimeout time.Duration `mapstructure:"produce_timeout"`
	// ProduceLinger is how long the Kafka writer waits to fill a batch.
	ProduceLinger time.Duration `mapstructure:"produce_linger"`
	// RetryAfter is the Retry-After of a 503.
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// KeyCacheTTL is how long a verified API key is trusted without asking
	// Postgres: a revocation takes effect within it.
	KeyCacheTTL time.Duration `mapstructure:"key_cache_ttl"`
	// EventIDRetention is how long accepted event ids are remembered to
	// answer a repeated id "duplicate".
	EventIDRetention time.Duration `mapstructure:"event_id_retention"`
	// ReadHeaderTimeout bounds reading a request's headers (slowloris).
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// ShutdownTimeout bounds the graceful shutdown on a signal.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// MetricsAddr is host:port of `shoppulse api`'s /metrics; empty disables
	// it. (`shoppulse dev` serves the API's metrics on metrics.addr.)
	MetricsAddr string `mapstructure:"metrics_addr"`
	// RedisURL is the read-through cache of the hot read queries
	// (redis://host:port/db); empty turns the cache off.
	RedisURL string `mapstructure:"redis_url"`
	// CacheTTL bounds a cache entry's life; every commit of the topics a
	// query reads invalidates it sooner.
	CacheTTL time.Duration `mapstructure:"cache_ttl"`
	// RateLimit is each API key's sustained requests per second and
	// RateBurst its burst (429 with Retry-After beyond); a negative
	// rate_limit turns the limit off.
	RateLimit float64 `mapstructure:"rate_limit"`
	RateBurst int     `mapstructure:"rate_burst"`
}

// Generate tunes the shop simulator.
type Generate struct {
	Rate  float64 `mapstructure:"rate"`
	Seed  int64   `mapstructure:"seed"`
	Count int     `mapstructure:"count"`
	// Customers and Products size the simulated shop.
	Customers int `mapstructure:"customers"`
	Products  int `mapstructure:"products"`
}

// Schedule is one Temporal Schedule that `shoppulse schedules apply` keeps in
// step with the config.
type Schedule struct {
	ID       string `mapstructure:"id"`
	Cron     string `mapstructure:"cron"`
	Workflow string `mapstructure:"workflow"`
	Paused   bool   `mapstructure:"paused"`
	Note     string `mapstructure:"note"`
	// TimeZone is the IANA zone the cron is read in; empty means UTC.
	TimeZone string `mapstructure:"time_zone"`
	// Jitter delays each action by a random time up to it (0: none), so
	// schedules on the same minute do not all start at once.
	Jitter time.Duration `mapstructure:"jitter"`
	// Overlap is what happens when an action is due while the previous run
	// still runs: skip (the default), buffer_one, buffer_all, cancel_other,
	// terminate_other or allow_all.
	Overlap string `mapstructure:"overlap"`
	// CatchupWindow is how late a missed action (server down) may still
	// run; 0 means one hour.
	CatchupWindow time.Duration `mapstructure:"catchup_window"`
	// Input is the workflow's input as a JSON object; empty means none.
	Input string `mapstructure:"input"`
}

// ScheduleOverlaps are the accepted values of Schedule.Overlap.
var ScheduleOverlaps = []string{"skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"}

// Replenishment is the replenishment policy (ReplenishmentScan and the
// per product and warehouse ReplenishProduct workflows); a run's input
// overrides it.
type Replenishment struct {
	// ServiceLevel is the chance of no stockout over a lead time: the
	// safety stock is z * sigma * sqrt(lead time), z its normal quantile.
	ServiceLevel float64 `mapstructure:"service_level"`
	// HistoryDays of daily sales give the demand mean and sigma.
	HistoryDays int `mapstructure:"history_days"`
	// CoverDays of mean demand an order adds beyond the reorder point.
	CoverDays float64 `mapstructure:"cover_days"`
	// DefaultLeadTimeDays applies without a receipt naming the supplier's.
	DefaultLeadTimeDays int `mapstructure:"default_lead_time_days"`
	// ApprovalThresholdMinor: orders worth more wait for approval.
	ApprovalThresholdMinor int64 `mapstructure:"approval_threshold_minor"`
	// MaxQuantity and MaxApprovalFactor bound the quantity an approver sets.
	MaxQuantity       int64   `mapstructure:"max_quantity"`
	MaxApprovalFactor float64 `mapstructure:"max_approval_factor"`
	// ApprovalTimeout expires an order awaiting approval.
	ApprovalTimeout time.Duration `mapstructure:"approval_timeout"`
	// ReceiptGrace past due makes an order late (supplier_late alert).
	ReceiptGrace time.Duration `mapstructure:"receipt_grace"`
	// GiveUpAfter past due the workflow stops waiting for a receipt.
	GiveUpAfter time.Duration `mapstructure:"give_up_after"`
	// PollInterval between looks for a receipt.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// ReviewInterval between reviews of each product and warehouse.
	ReviewInterval time.Duration `mapstructure:"review_interval"`
	// CyclesPerRun reviews before a workflow continues as new.
	CyclesPerRun int `mapstructure:"cycles_per_run"`
}

// Pricing is the pricing model's window and the price guardrails
// (PricingRecommendations); a run's input overrides it.
type Pricing struct {
	HistoryDays     int     `mapstructure:"history_days"`
	MinObservations int     `mapstructure:"min_observations"`
	PromoDepth      float64 `mapstructure:"promo_depth"`
	PromoWindowDays int     `mapstructure:"promo_window_days"`
	// CompetitorMaxAge: older competitor prices are ignored.
	CompetitorMaxAge time.Duration `mapstructure:"competitor_max_age"`
	// MinMargin is the smallest (price - cost) / price.
	MinMargin float64 `mapstructure:"min_margin"`
	// MaxStep is the largest relative change of one recommendation.
	MaxStep float64 `mapstructure:"max_step"`
	// MaxAboveCompetitor: never above the cheapest competitor by more.
	MaxAboveCompetitor float64 `mapstructure:"max_above_competitor"`
}

// Dev is where `shoppulse dev` and `make` keep local service state.
type Dev struct {
	// DataDir holds the throwaway Postgres cluster, Kafka log and Temporal database.
	DataDir string `mapstructure:"data_dir"`
	// CacheDir holds what is slow to fetch or build (Kafka jars, the temporal CLI).
	CacheDir string `mapstructure:"cache_dir"`
	// HistoryDays of simulated past that `shoppulse dev` produces before
	// triggering the training schedules (0: none), at HistoryRate mean
	// events/s of simulated time.
	HistoryDays int     `mapstructure:"history_days"`
	HistoryRate float64 `mapstructure:"history_rate"`
}

// Log sets the process logger.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Default returns the configuration that `make demo` and the tests run on.
func Default() Config {
	return Config{
		Database: Database{
			URL:      "postgres://postgres@127.0.0.1:55432/shoppulse?sslmode=disable",
			MaxConns: 10,
		},
		Kafka: Kafka{
			Brokers:           []string{"127.0.0.1:59092"},
			OrdersTopic:       "shop.orders.v1",
			InventoryTopic:    "shop.inventory.v1",
			ClickstreamTopic:  "shop.clickstream.v1",
			PaymentsTopic:     "shop.payments.v1",
			MarketTopic:       "shop.market.v1",
			CustomersTopic:    "shop.customers.v1",
			DLQTopic:          "shop.dlq.v1",
			Partitions:        6,
			ReplicationFactor: 1,
		},
		Temporal: Temporal{
			Address:   "127.0.0.1:7233",
			Namespace: "default",
			TaskQueue: "shoppulse",
		},
		Stream: Stream{
			Consumers:        2,
			BatchSize:        2000,
			BatchWait:        200 * time.Millisecond,
			HeartbeatTimeout: 20 * time.Second,
			MaxRun:           time.Hour,

			DefaultReorderPoint: 10,
			SessionGap:          30 * time.Minute,
			FraudAlertThreshold: 0.8,
		},
		Alerts:  Alerts{Timeout: 10 * time.Second},
		Metrics: Metrics{Addr: "127.0.0.1:9464"},
		API: API{
			Addr:              "127.0.0.1:8080",
			MaxBatchEvents:    1000,
			MaxBodyBytes:      5 << 20,
			MaxInFlight:       64,
			QueueWait:         500 * time.Millisecond,
			ProduceTimeout:    5 * time.Second,
			ProduceLinger:     time.Millisecond,
			RetryAfter:        5 * time.Second,
			KeyCacheTTL:       30 * time.Second,
			EventIDRetention:  7 * 24 * time.Hour,
			ReadHeaderTimeout: 5 * time.Second,
			ShutdownTimeout:   15 * time.Second,
			MetricsAddr:       "127.0.0.1:9465",
			CacheTTL:          5 * time.Minute,
			RateLimit:         100,
			RateBurst:         200,
		},
		Generate: Generate{Rate: 50, Seed: 1, Customers: 2000, Products: 300},
		Schedules: []Schedule{{
			ID:       "shoppulse-rollup-hourly",
			Cron:     "5 * * * *",
			Workflow: "RevenueRollupHourly",
			Note:     "hourly revenue rollup of the previous complete hour",
		}, {
			ID:       "shoppulse-partitions-daily",
			Cron:     "15 0 * * *",
			Workflow: "PartitionMaintenance",
			Note:     "create the fact tables' daily partitions a week ahead, drop those past retention",
			Input:    `{"retention_days": 730}`,
		}, {
			ID:       "shoppulse-alerts-notify",
			Cron:     "* * * * *",
			Workflow: "AlertNotifier",
			Note:     "deliver new alerts to the configured webhooks",
		}, {
			ID:       "shoppulse-anomalies-minute",
			Cron:     "* * * * *",
			Workflow: "AnomalyDetector",
			Note:     "score complete minutes against their seasonal baselines, alert on sustained anomalies",
		}, {
			ID:            "shoppulse-rollup-daily",
			Cron:          "20 0 * * *",
			Workflow:      "RollupDaily",
			Note:          "daily sales (with margin), traffic, funnel and payments rollup of the previous UTC day",
			CatchupWindow: 24 * time.Hour,
		}, {
			ID:       "shoppulse-dq-hourly",
			Cron:     "10 * * * *",
			Workflow: "DataQuality",
			Note:     "data quality of the previous hour: freshness, volume, nulls, duplicates, ranges, schema drift",
			Jitter:   30 * time.Second,
		}, {
			ID:            "shoppulse-dq-daily",
			Cron:          "40 0 * * *",
			Workflow:      "DataQuality",
			Note:          "data quality of the previous UTC day, volume against the same day of the last two weeks",
			Input:         `{"grain": "day"}`,
			CatchupWindow: 24 * time.Hour,
		}, {
			ID:       "shoppulse-customer-features-daily",
			Cron:     "30 2 * * *",
			Workflow: "CustomerFeatures",
			Note:     "RFM scores and segments and the k-means segmentation as of today, from the last 365 days",
		}, {
			ID:       "shoppulse-churn-ltv-daily",
			Cron:     "45 2 * * *",
			Workflow: "ChurnLTV",
			Note:     "BG/NBD and Gamma-Gamma refit: P(alive), expected purchases and lifetime value per customer",
		}, {
			ID:       "shoppulse-recommendations-daily",
			Cron:     "0 3 * * *",
			Workflow: "Recommendations",
			Note:     "item-to-item similarities and top-10 products per customer, evaluated against popularity",
		}, {
			ID:       "shoppulse-fraud-model-daily",
			Cron:     "30 2 * * *",
			Workflow: "FraudModelTraining",
			Note:     "retrain the fraud model on labelled orders; promote it only when it beats the active model on a time-based holdout",
		}, {
			ID:       "shoppulse-demand-forecast-daily",
			Cron:     "45 1 * * *",
			Workflow: "DemandForecast",
			Note:     "forecast each product's daily demand (Holt-Winters or Croston-SBA) with its MASE on a holdout",
		}, {
			ID:       "shoppulse-replenishment-scan",
			Cron:     "30 */6 * * *",
			Workflow: "ReplenishmentScan",
			Note:     "start or wake the replenishment workflow of every product and warehouse",
		}, {
			ID:       "shoppulse-pricing-daily",
			Cron:     "45 2 * * *",
			Workflow: "PricingRecommendations",
			Note:     "fit price elasticities, register the pricing model, propose prices within the guardrails",
		}},
		Replenishment: Replenishment{
			ServiceLevel: 0.95, HistoryDays: 56, CoverDays: 14, DefaultLeadTimeDays: 7,
			ApprovalThresholdMinor: 50000, MaxQuantity: 100000, MaxApprovalFactor: 3,
			ApprovalTimeout: 48 * time.Hour, ReceiptGrace: 24 * time.Hour, GiveUpAfter: 30 * 24 * time.Hour,
			PollInterval: time.Hour, ReviewInterval: 6 * time.Hour, CyclesPerRun: 20,
		},
		Pricing: Pricing{
			HistoryDays: 90, MinObservations: 21, PromoDepth: 0.1, PromoWindowDays: 7,
			CompetitorMaxAge: 7 * 24 * time.Hour, MinMargin: 0.15, MaxStep: 0.1, MaxAboveCompetitor: 0.05,
		},
		Dev: Dev{DataDir: ".data", CacheDir: "~/.cache/shoppulse", HistoryDays: 0, HistoryRate: 0.1},
		Log: Log{Level: "info", Format: "text"},
	}
}

// FieldError names the configuration key that is wrong and what was expected.
type FieldError struct {
	Key  string
	Want string
	Got  any
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config %s: want %s, got %v", e.Key, e.Want, e.Got)
}

// Validate checks every setting and reports all problems at once, each naming
// its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, want string, got any) { errs = append(errs, &FieldError{Key: key, Want: want, Got: got}) }

	if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		bad("database.url", "a postgres:// URL with a host", redactURL(c.Database.URL))
	}
	if c.Database.MaxConns < 2 {
		bad("database.max_conns", "at least 2", c.Database.MaxConns)
	}
	if len(c.Kafka.Brokers) == 0 {
		bad("kafka.brokers", "at least one host:port", c.Kafka.Brokers)
	}
	for i, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			bad(fmt.Sprintf("kafka.brokers[%d]", i), "host:port", b)
		}
	}
	if c.Kafka.OrdersTopic == "" {
		bad("kafka.orders_topic", "a topic name", `""`)
	}
	if c.Kafka.InventoryTopic == "" || c.Kafka.InventoryTopic == c.Kafka.OrdersTopic {
		bad("kafka.inventory_topic", "a topic name other than kafka.orders_topic", c.Kafka.InventoryTopic)
	}
	if t := c.Kafka.ClickstreamTopic; t == "" || t == c.Kafka.OrdersTopic || t == c.Kafka.InventoryTopic {
		bad("kafka.clickstream_topic", "a topic name other than kafka.orders_topic and kafka.inventory_topic", t)
	}
	if t := c.Kafka.PaymentsTopic; t == "" || t == c.Kafka.OrdersTopic || t == c.Kafka.InventoryTopic || t == c.Kafka.ClickstreamTopic {
		bad("kafka.payments_topic", "a topic name other than kafka.orders_topic, kafka.inventory_topic and kafka.clickstream_topic", t)
	}
	if c.Kafka.DLQTopic == "" {
		bad("kafka.dlq_topic", "a topic name", `""`)
	}
	topics := map[string]bool{c.Kafka.OrdersTopic: true, c.Kafka.InventoryTopic: true, c.Kafka.ClickstreamTopic: true, c.Kafka.PaymentsTopic: true}
	if t := c.Kafka.MarketTopic; t == "" || topics[t] {
		bad("kafka.market_topic", "a topic name other than the orders, inventory, clickstream and payments topics", t)
	}
	topics[c.Kafka.MarketTopic] = true
	if t := c.Kafka.CustomersTopic; t == "" || topics[t] {
		bad("kafka.customers_topic", "a topic name other than the orders, inventory, clickstream, payments and market topics", t)
	}
	if c.Kafka.Partitions < 1 || c.Kafka.Partitions > 1024 {
		bad("kafka.partitions", "1 to 1024", c.Kafka.Partitions)
	}
	if c.Kafka.ReplicationFactor < 1 {
		bad("kafka.replication_factor", "at least 1", c.Kafka.ReplicationFactor)
	}
	if !strings.Contains(c.Temporal.Address, ":") {
		bad("temporal.address", "host:port", c.Temporal.Address)
	}
	if c.Temporal.Namespace == "" {
		bad("temporal.namespace", "a namespace", `""`)
	}
	if c.Temporal.TaskQueue == "" {
		bad("temporal.task_queue", "a task queue name", `""`)
	}
	// Building the TLS configs reads their files: a missing file stops the
	// process at start, named, rather than at the first connection.
	if _, err := c.Kafka.TLS.ClientConfig("kafka.tls"); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Temporal.TLS.ClientConfig("temporal.tls"); err != nil {
		errs = append(errs, err)
	}
	if c.Stream.Consumers < 1 {
		bad("stream.consumers", "at least 1", c.Stream.Consumers)
	}
	if c.Stream.BatchSize < 1 || c.Stream.BatchSize > 100000 {
		bad("stream.batch_size", "1 to 100000", c.Stream.BatchSize)
	}
	if c.Stream.BatchWait <= 0 {
		bad("stream.batch_wait", "a positive duration such as 200ms", c.Stream.BatchWait)
	}
	if c.Stream.HeartbeatTimeout < time.Second {
		bad("stream.heartbeat_timeout", "a duration of at least 1s", c.Stream.HeartbeatTimeout)
	}
	if c.Stream.MaxRun < time.Minute {
		bad("stream.max_run", "a duration of at least 1m", c.Stream.MaxRun)
	}
	if c.Stream.DefaultReorderPoint < 0 {
		bad("stream.default_reorder_point", "0 or more units", c.Stream.DefaultReorderPoint)
	}
	if c.Stream.SessionGap < time.Second {
		bad("stream.session_gap", "a duration of at least 1s, such as 30m", c.Stream.SessionGap)
	}
	if !(c.Stream.FraudAlertThreshold > 0 && c.Stream.FraudAlertThreshold <= 1) {
		bad("stream.fraud_alert_threshold", "a score above 0 and at most 1, such as 0.8", c.Stream.FraudAlertThreshold)
	}
	for i, w := range c.Alerts.Webhooks {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(fmt.Sprintf("alerts.webhooks[%d].url", i), "an http:// or https:// URL", w.String())
		}
		if w.Secret == "" {
			bad(fmt.Sprintf("alerts.webhooks[%d].secret", i), "a secret to sign the bodies with", `""`)
		}
	}
	if c.Alerts.Timeout <= 0 {
		bad("alerts.timeout", "a positive duration", c.Alerts.Timeout)
	}
	if !strings.Contains(c.API.Addr, ":") {
		bad("api.addr", "host:port", c.API.Addr)
	}
	if c.API.MaxBatchEvents < 1 || c.API.MaxBatchEvents > 100000 {
		bad("api.max_batch_events", "1 to 100000", c.API.MaxBatchEvents)
	}
	if c.API.MaxBodyBytes < 1024 || c.API.MaxBodyBytes > 1<<30 {
		bad("api.max_body_bytes", "1024 to 1073741824 bytes", c.API.MaxBodyBytes)
	}
	if c.API.MaxInFlight < 1 {
		bad("api.max_in_flight", "at least 1", c.API.MaxInFlight)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"api.queue_wait", c.API.QueueWait}, {"api.produce_timeout", c.API.ProduceTimeout},
		{"api.produce_linger", c.API.ProduceLinger}, {"api.retry_after", c.API.RetryAfter},
		{"api.key_cache_ttl", c.API.KeyCacheTTL}, {"api.read_header_timeout", c.API.ReadHeaderTimeout},
		{"api.shutdown_timeout", c.API.ShutdownTimeout},
	} {
		if d.v <= 0 {
			bad(d.key, "a positive duration", d.v)
		}
	}
	if c.API.RetryAfter > 0 && c.API.RetryAfter < time.Second {
		bad("api.retry_after", "at least 1s (Retry-After is in whole seconds)", c.API.RetryAfter)
	}
	if c.API.CacheTTL <= 0 {
		bad("api.cache_ttl", "a positive duration", c.API.CacheTTL)
	}
	if c.API.RateLimit == 0 {
		bad("api.rate_limit", "requests per second per key, more than 0 (negative: no limit)", c.API.RateLimit)
	}
	if c.API.RateLimit > 0 && c.API.RateBurst < 1 {
		bad("api.rate_burst", "at least 1", c.API.RateBurst)
	}
	if c.API.RedisURL != "" && !strings.HasPrefix(c.API.RedisURL, "redis://") && !strings.HasPrefix(c.API.RedisURL, "rediss://") {
		bad("api.redis_url", "empty (no cache) or redis://host:port/db", c.API.RedisURL)
	}
	if c.API.EventIDRetention < time.Hour {
		bad("api.event_id_retention", "at least 1h", c.API.EventIDRetention)
	}
	if c.Dev.HistoryDays < 0 || c.Dev.HistoryDays > 3650 {
		bad("dev.history_days", "0 to 3650 days", c.Dev.HistoryDays)
	}
	if c.Dev.HistoryRate <= 0 {
		bad("dev.history_rate", "events per second of simulated time, more than 0", c.Dev.HistoryRate)
	}
	if c.Generate.Rate < 0 {
		bad("generate.rate", "events per second, 0 or more (0 means as fast as possible)", c.Generate.Rate)
	}
	if c.Generate.Count < 0 {
		bad("generate.count", "0 (no limit) or more", c.Generate.Count)
	}
	if c.Generate.Customers < 1 {
		bad("generate.customers", "at least 1", c.Generate.Customers)
	}
	if c.Generate.Products < 1 {
		bad("generate.products", "at least 1", c.Generate.Products)
	}
	seen := map[string]bool{}
	for i, s := range c.Schedules {
		key := fmt.Sprintf("schedules[%d]", i)
		if s.ID == "" {
			bad(key+".id", "a schedule id", `""`)
		} else if seen[s.ID] {
			bad(key+".id", "a unique schedule id", s.ID)
		}
		seen[s.ID] = true
		if s.Cron == "" {
			bad(key+".cron", "a cron expression", `""`)
		}
		if s.Workflow == "" {
			bad(key+".workflow", "a workflow type name", `""`)
		}
		if s.Overlap != "" && !slices.Contains(ScheduleOverlaps, s.Overlap) {
			bad(key+".overlap", strings.Join(ScheduleOverlaps, ", "), s.Overlap)
		}
		if s.Jitter < 0 {
			bad(key+".jitter", "0 or a positive duration", s.Jitter)
		}
		if s.CatchupWindow < 0 {
			bad(key+".catchup_window", "0 (one hour) or a positive duration", s.CatchupWindow)
		}
		if s.TimeZone != "" {
			if _, err := time.LoadLocation(s.TimeZone); err != nil {
				bad(key+".time_zone", "an IANA time zone such as Europe/Paris", s.TimeZone)
			}
		}
		if s.Input != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(s.Input), &obj); err != nil {
				bad(key+".input", "a JSON object", s.Input)
			}
		}
	}
	r := c.Replenishment
	if !(r.ServiceLevel >= 0.5 && r.ServiceLevel < 1) {
		bad("replenishment.service_level", "0.5 <= level < 1, such as 0.95", r.ServiceLevel)
	}
	if r.HistoryDays < 2 || r.HistoryDays > 3660 {
		bad("replenishment.history_days", "2 to 3660 days", r.HistoryDays)
	}
	if !(r.CoverDays >= 0 && r.CoverDays <= 365) {
		bad("replenishment.cover_days", "0 to 365 days", r.CoverDays)
	}
	if r.DefaultLeadTimeDays < 1 || r.DefaultLeadTimeDays > 365 {
		bad("replenishment.default_lead_time_days", "1 to 365 days", r.DefaultLeadTimeDays)
	}
	if r.ApprovalThresholdMinor < 1 {
		bad("replenishment.approval_threshold_minor", "at least 1 minor unit", r.ApprovalThresholdMinor)
	}
	if r.MaxQuantity < 1 {
		bad("replenishment.max_quantity", "at least 1 unit", r.MaxQuantity)
	}
	if !(r.MaxApprovalFactor >= 1) {
		bad("replenishment.max_approval_factor", "at least 1", r.MaxApprovalFactor)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"replenishment.approval_timeout", r.ApprovalTimeout}, {"replenishment.receipt_grace", r.ReceiptGrace},
		{"replenishment.give_up_after", r.GiveUpAfter}, {"replenishment.poll_interval", r.PollInterval},
		{"replenishment.review_interval", r.ReviewInterval},
	} {
		if d.v < time.Second {
			bad(d.key, "a duration of at least 1s", d.v)
		}
	}
	if r.CyclesPerRun < 1 {
		bad("replenishment.cycles_per_run", "at least 1", r.CyclesPerRun)
	}
	p := c.Pricing
	if p.HistoryDays < 7 || p.HistoryDays > 3660 {
		bad("pricing.history_days", "7 to 3660 days", p.HistoryDays)
	}
	if p.MinObservations < 5 {
		bad("pricing.min_observations", "at least 5 days", p.MinObservations)
	}
	if !(p.PromoDepth > 0 && p.PromoDepth < 1) {
		bad("pricing.promo_depth", "a fraction between 0 and 1, such as 0.1", p.PromoDepth)
	}
	if p.PromoWindowDays < 1 {
		bad("pricing.promo_window_days", "at least 1 day", p.PromoWindowDays)
	}
	if p.CompetitorMaxAge < time.Hour {
		bad("pricing.competitor_max_age", "a duration of at least 1h", p.CompetitorMaxAge)
	}
	if !(p.MinMargin > 0 && p.MinMargin < 1) {
		bad("pricing.min_margin", "a fraction between 0 and 1, such as 0.15", p.MinMargin)
	}
	if !(p.MaxStep > 0 && p.MaxStep < 1) {
		bad("pricing.max_step", "a fraction between 0 and 1, such as 0.1", p.MaxStep)
	}
	if !(p.MaxAboveCompetitor > 0 && p.MaxAboveCompetitor < 10) {
		bad("pricing.max_above_competitor", "a fraction above 0, such as 0.05", p.MaxAboveCompetitor)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// redactURL hides the password of a URL so it can appear in an error.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
