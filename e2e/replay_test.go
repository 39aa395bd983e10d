package e2e

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/streaming"
)

// onlineRetailDir finds the shared Online Retail sample: next to the repo
// (../../shared/data from this package), or where
// SHOPPULSE_ONLINE_RETAIL_DIR says.
func onlineRetailDir(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{os.Getenv("SHOPPULSE_ONLINE_RETAIL_DIR"), "../../shared/data/online-retail"} {
		if dir == "" {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "*.csv")); len(m) > 0 {
			slices.Sort(m)
			return dir
		}
	}
	t.Skip("the Online Retail sample is not at ../../shared/data/online-retail; set SHOPPULSE_ONLINE_RETAIL_DIR")
	return ""
}

// csvRevenueByDay computes revenue per UTC day straight from the CSV, with
// none of the importer's code: the sum of Quantity x UnitPrice in pence
// (exact rationals) over the rows the documented rules keep as sales lines.
// The sample is December, when London is on UTC, so the file's date is the
// UTC day.
func csvRevenueByDay(t *testing.T, path string) map[string]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	bookkeeping := map[string]bool{"D": true, "S": true, "B": true, "AMAZONFEE": true, "CRUK": true}
	noCode := map[string]bool{"Channel Islands": true, "European Community": true, "Unspecified": true}
	out := map[string]int64{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		invoice, code, qtyS, date, priceS, country := rec[0], rec[1], rec[3], rec[4], rec[5], rec[7]
		if strings.TrimLeft(invoice, "0123456789") != "" || bookkeeping[code] || noCode[country] {
			continue // cancellations (refunds, not sales), accounting entries, no country
		}
		qty, ok1 := new(big.Rat).SetString(qtyS)
		price, ok2 := new(big.Rat).SetString(priceS)
		if !ok1 || !ok2 {
			t.Fatalf("row %v: bad number", rec)
		}
		if qty.Sign() <= 0 || price.Sign() <= 0 {
			continue // stock adjustments, free items
		}
		pence := new(big.Rat).Mul(price, big.NewRat(100, 1))
		if !pence.IsInt() {
			continue // a fraction of a penny
		}
		line := new(big.Rat).Mul(qty, pence)
		out[date[:10]] += line.Num().Int64()
	}
	return out
}

func TestReplay_OnlineRetailRevenuePerDayMatchesTheCSV(t *testing.T) {
	dir := onlineRetailDir(t)
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 3*time.Minute)
	ordersTopic := testenv.Topic(t, brokers, partitions)
	paymentsTopic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)

	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	slices.Sort(files)
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	var all []events.Event
	for _, path := range files {
		for day, pence := range csvRevenueByDay(t, path) {
			want[day] += pence
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ingest.ReadOnlineRetailEvents(f, loc)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, res.Events...)
	}
	if len(want) != len(files) {
		t.Fatalf("want one day per file, got %v", want)
	}

	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, TopicMap: map[string]string{
		events.TopicOrders: ordersTopic, events.TopicPayments: paymentsTopic,
	}})
	defer p.Close()
	st, err := ingest.Run(ctx, ingest.NewEventReplay(all), p, ingest.RunConfig{Name: "replay"})
	if err != nil || st.Produced != len(all) {
		t.Fatalf("replay: %+v, %v", st, err)
	}
	payments, err := streaming.EndOffsets(ctx, brokers, paymentsTopic, 1)
	if err != nil || payments[0] == 0 {
		t.Fatalf("refunds on the payments topic: %v, %v", payments, err)
	}

	c, err := streaming.NewConsumer(streaming.Config{
		Brokers: brokers, Topic: ordersTopic, DLQTopic: dlq, Partitions: []int{0, 1, 2, 3},
		BatchSize: 200, BatchWait: 20 * time.Millisecond,
	}, s.DB, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	h := &harness{t: t, schema: s, brokers: brokers, topic: ordersTopic}
	h.waitForEnd(ctx)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("consumer: %v", err)
	}

	var dead int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&dead); err != nil || dead != 0 {
		t.Fatalf("dead letters: %d, %v", dead, err)
	}
	rows, err := s.DB.Pool.Query(ctx, `
		SELECT to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD'), sum(revenue_minor)::bigint
		FROM revenue_minute WHERE currency = 'GBP' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for rows.Next() {
		var day string
		var pence int64
		if err := rows.Scan(&day, &pence); err != nil {
			t.Fatal(err)
		}
		got[day] = pence
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for day, w := range want {
		if got[day] != w {
			t.Errorf("%s: revenue in Postgres %d pence, from the CSV %d pence", day, got[day], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("days in Postgres %v, want %v", got, want)
	}
	t.Logf("revenue per day (pence): %v", got)
}
