package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// schemaColumn is a column of a base table (not a partition) of the schema.
type schemaColumn struct{ Table, Column, Type string }

func schemaColumns(ctx context.Context, t *testing.T, db *store.DB, schema, where string, args ...any) []schemaColumn {
	t.Helper()
	rows, err := db.Pool.Query(ctx, `
		SELECT c.table_name, c.column_name, c.data_type
		  FROM information_schema.columns c
		  JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		 WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
		   AND NOT EXISTS (SELECT 1 FROM pg_class p JOIN pg_namespace n ON n.oid = p.relnamespace
		                    WHERE n.nspname = c.table_schema AND p.relname = c.table_name AND p.relispartition)
		   AND `+where+`
		 ORDER BY 1, 2`, append([]any{schema}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[schemaColumn])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// textTypes are the column types that can hold an identifier.
const textTypes = `c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'inet', 'cidr', 'ARRAY', 'USER-DEFINED')`

// Every column of the migrated schema whose name looks personal must be in
// the registry, so a new table with customer data cannot escape erasure.
func TestPersonalColumnsCoverTheSchema(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	cols := schemaColumns(ctx, t, s.DB, s.Name, textTypes+` AND c.column_name ~* $2`, store.PersonalColumnPattern)
	if len(cols) < 10 {
		t.Fatalf("only %d personal-looking columns found: the query is broken", len(cols))
	}
	for _, c := range cols {
		if !slices.ContainsFunc(store.PersonalColumns, func(p store.PersonalColumn) bool { return p.Table == c.Table && p.Column == c.Column }) {
			t.Errorf("column %s.%s (%s) looks personal but is not in store.PersonalColumns: add it with its treatment (or NotPersonal and why)", c.Table, c.Column, c.Type)
		}
	}
	for _, p := range store.PersonalColumns {
		if p.Treatment == store.NotPersonal && p.Why == "" {
			t.Errorf("%s.%s is marked not personal without a reason", p.Table, p.Column)
		}
	}
}

// seedCustomer stores a customer's data in every table that can hold it,
// with identifiers unique to the test.
func seedCustomer(ctx context.Context, t *testing.T, db *store.DB, id string, at time.Time) {
	t.Helper()
	ip, dev, card, sess := id+"-ip", id+"-dev", id+"-card", id+"-sess"
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orders (event_id, event_time, order_id, customer_id, country, currency, channel, total_minor, units, line_count, topic, partition, kafka_offset, ip, device_id, card_fingerprint, payment_method)
		  VALUES ($1 || '-o1', $2, $1 || '-O1', $1, 'DE', 'EUR', 'web', 2500, 1, 1, 't', 0, 1, $3, $4, $5, 'card'),
		         ($1 || '-o2', $2::timestamptz + interval '1 day', $1 || '-O2', $1, 'DE', 'EUR', 'web', 1500, 1, 1, 't', 0, 2, $3, $4, $5, 'card')`, []any{id, at, ip, dev, card}},
		{`INSERT INTO order_lines (event_id, event_time, line_no, order_id, product_id, category, quantity, unit_price_minor)
		  VALUES ($1 || '-o1', $2, 1, $1 || '-O1', 'P1', 'c', 1, 2500)`, []any{id, at}},
		{`INSERT INTO order_cancellations (event_id, event_time, order_id, customer_id, amount_minor, currency, topic, partition, kafka_offset)
		  VALUES ($1 || '-c1', $2, $1 || '-O2', $1, 1500, 'EUR', 't', 0, 3)`, []any{id, at}},
		{`INSERT INTO fraud_scores (event_id, event_time, order_id, customer_id, score, model_version, features)
		  VALUES ($1 || '-o1', $2, $1 || '-O1', $1, 0.9, 'rules-v1', '{"ip_orders_1h": 3}')`, []any{id, at}},
		{`INSERT INTO payments (event_id, event_time, payment_id, order_id, customer_id, status, method, amount_minor, currency, card_fingerprint, topic, partition, kafka_offset)
		  VALUES ($1 || '-p1', $2, $1 || '-P1', $1 || '-O1', $1, 'authorized', 'card', 2500, 'EUR', $3, 't', 0, 4)`, []any{id, at, card}},
		{`INSERT INTO refunds (event_id, event_time, refund_id, order_id, customer_id, amount_minor, currency, topic, partition, kafka_offset)
		  VALUES ($1 || '-r1', $2, $1 || '-R1', $1 || '-O1', $1, 500, 'EUR', 't', 0, 5)`, []any{id, at}},
		{`INSERT INTO chargebacks (event_id, event_time, chargeback_id, order_id, customer_id, amount_minor, currency, reason, topic, partition, kafka_offset)
		  VALUES ($1 || '-cb1', $2, $1 || '-CB1', $1 || '-O1', $1, 2500, 'EUR', 'fraud', 't', 0, 6)`, []any{id, at}},
		// The session's first event is anonymous: it names the session only.
		{`INSERT INTO clickstream_events (event_id, event_time, type, session_id, customer_id, device, page, topic, partition, kafka_offset)
		  VALUES ($1 || '-k1', $2::timestamptz - interval '5 minutes', 'page_view', $3, '', $4, '/', 't', 0, 7),
		         ($1 || '-k2', $2::timestamptz - interval '2 minutes', 'checkout_started', $3, $1, $4, '/checkout', 't', 0, 8)`, []any{id, at, sess, dev}},
		{`INSERT INTO click_sessions (session_key, session_id, customer_id, started_at, ended_at, timeout_at, events, pages, page_views, product_views,
		                              products_viewed, searches, cart_adds, cart_removes, checkout, device)
		  VALUES ($1 || '@2026-01-01T00:00:00.000000Z', $1, $2, $3::timestamptz - interval '5 minutes', $3, $3::timestamptz + interval '30 minutes', 2, 1, 1, 0, 0, 0, 0, 0, true, $4)`,
			[]any{sess, id, at, dev}},
		{`INSERT INTO session_purchases (event_id, event_time, session_id, order_id, customer_id, total_minor, currency)
		  VALUES ($1 || '-o1', $2, $3, $1 || '-O1', $1, 2500, 'EUR')`, []any{id, at, sess}},
		{`INSERT INTO alerts (type, entity, severity, dedup_key, opened_at, details)
		  VALUES ('fraud', 'order ' || $1 || '-O1', 'critical', 'fraud:order:' || $1 || '-O1', $2, jsonb_build_object('customer_id', $1::text, 'score', 0.9))`, []any{id, at}},
		{`INSERT INTO dead_letters (topic, partition, kafka_offset, reason, key, payload)
		  VALUES ('t', 0, hashtext($1), 'bad amount', convert_to($1, 'UTF8'), convert_to('{"type":"order_placed","data":{"customer_id":"' || $1 || '","ip":"' || $2 || '"}}', 'UTF8'))`, []any{id, ip}},
	}
	// Event, order and payment ids are not the customer's: they share only
	// the random suffix with the customer id.
	ev := "'E" + id[len(id)-10:] + "'"
	for _, s := range stmts {
		sql := strings.ReplaceAll(s.sql, "$1 || '-", ev+" || '-")
		sql = strings.ReplaceAll(sql, "'order ' || $1 || '-O1'", "'order ' || "+ev+" || '-O1'")
		sql = strings.ReplaceAll(sql, "'fraud:order:' || $1 || '-O1'", "'fraud:order:' || "+ev+" || '-O1'")
		args := s.args
		if !strings.Contains(sql, "$1") { // the id was only in the event ids: renumber
			args = args[1:]
			for n := 2; n <= len(s.args); n++ {
				sql = strings.ReplaceAll(sql, fmt.Sprintf("$%d", n), fmt.Sprintf("$%d", n-1))
			}
		}
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("seed %s: %v\n%s", id, err, sql)
		}
	}
}

// hits counts, per column of every table, the values that hold needle.
func hits(ctx context.Context, t *testing.T, db *store.DB, schema, needle string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, c := range schemaColumns(ctx, t, db, schema, textTypes) {
		expr := fmt.Sprintf(`strpos(%s::text, $1) > 0`, pgx.Identifier{c.Column}.Sanitize())
		if c.Type == "bytea" {
			expr = fmt.Sprintf(`position(convert_to($1, 'UTF8') IN %s) > 0`, pgx.Identifier{c.Column}.Sanitize())
		}
		var n int
		if err := db.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, pgx.Identifier{c.Table}.Sanitize(), expr), needle).Scan(&n); err != nil {
			t.Fatalf("scan %s.%s: %v", c.Table, c.Column, err)
		}
		if n > 0 {
			out[c.Table+"."+c.Column] = n
		}
	}
	return out
}

func TestEraseCustomer_LeavesNoIdentifierInAnyTable(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	at := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	erased, kept := testenv.Name("cust-erase"), testenv.Name("cust-keep")
	seedCustomer(ctx, t, s.DB, erased, at)
	seedCustomer(ctx, t, s.DB, kept, at)
	var before int64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT sum(total_minor) FROM orders`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if h := hits(ctx, t, s.DB, s.Name, erased); len(h) < 12 {
		t.Fatalf("the seed put the customer in only %v: the scan or the seed is broken", h)
	}

	req := store.ErasureRequest{RequestID: "req-1", CustomerID: erased, Requested: at, Deadline: at.Add(time.Hour), WorkflowID: "w", RunID: "r"}
	res, err := s.DB.EraseCustomer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{erased, erased + "-ip", erased + "-dev", erased + "-card", erased + "-sess"} {
		if h := hits(ctx, t, s.DB, s.Name, id); len(h) > 0 {
			t.Errorf("after erasure %q is still in %v", id, h)
		}
	}
	// The other customer is untouched, the amounts are kept, and the
	// erased customer's rows stay together under the pseudonym.
	if h := hits(ctx, t, s.DB, s.Name, kept+"-card"); h["orders.card_fingerprint"] != 2 || h["payments.card_fingerprint"] != 1 {
		t.Fatalf("the other customer's data changed: %v", h)
	}
	var after int64
	var pseudoOrders int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT sum(total_minor), count(*) FILTER (WHERE customer_id = $1) FROM orders`, res.Pseudonym).Scan(&after, &pseudoOrders); err != nil {
		t.Fatal(err)
	}
	if after != before || pseudoOrders != 2 {
		t.Fatalf("order totals %d -> %d, %d orders under the pseudonym (want 2)", before, after, pseudoOrders)
	}
	var sessions, clicks int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM sessions WHERE purchase AND session_id = $1), (SELECT count(*) FROM clickstream_events WHERE session_id = $1)`,
		res.Pseudonym+"-s1").Scan(&sessions, &clicks); err != nil || sessions != 1 || clicks != 2 {
		t.Fatalf("the erased session keeps %d purchase sessions and %d events (want 1 and 2): %v", sessions, clicks, err)
	}
	if len(res.Days) != 2 || res.Rows["orders"] != 2 || res.Rows["dead_letters"] == 0 || res.Rows["alerts"] != 1 {
		t.Fatalf("result %+v", res)
	}
	audit, err := s.DB.ErasureAuditOf(ctx, "req-1")
	if err != nil || audit.Pseudonym != res.Pseudonym || audit.Erased == nil || audit.Rows["clickstream_events"] != 2 {
		t.Fatalf("audit %+v (%v)", audit, err)
	}

	// Again: nothing changes, the audit says it was done.
	again, err := s.DB.EraseCustomer(ctx, req)
	if err != nil || !again.Already || again.Rows["orders"] != 2 {
		t.Fatalf("second erasure %+v (%v)", again, err)
	}
	if err := s.DB.FinishErasure(ctx, "req-1", res.Days, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.EraseCustomer(ctx, store.ErasureRequest{RequestID: "req-2"}); err == nil {
		t.Fatal("want an error without a customer id")
	}
}
