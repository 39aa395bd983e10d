package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Treatment is what a GDPR erasure does to a personal column of the erased
// customer's rows.
type Treatment string

// Treatments.
const (
	// Pseudonymise replaces a non-empty value with the request's pseudonym,
	// so the rows of one customer stay together (orders keep their amounts
	// and their customer count) without naming the person.
	Pseudonymise Treatment = "pseudonymise"
	// Nullify sets the value NULL (ip, device, card fingerprint).
	Nullify Treatment = "null"
	// Blank sets a NOT NULL text column to ''.
	Blank Treatment = "blank"
	// MapSession replaces a session id with one derived from the pseudonym
	// (the same new id in every table).
	MapSession Treatment = "session"
	// MapSessionKey rebuilds a session key (session_id '@' start) from the
	// mapped session id of the row's Ref column.
	MapSessionKey Treatment = "session_key"
	// ReplaceInJSON replaces every identifier of the customer found as a
	// JSON string inside a jsonb value with the pseudonym.
	ReplaceInJSON Treatment = "json"
	// RedactBytes replaces a whole bytea value that holds an identifier of
	// the customer (a dead letter's raw event) with an erasure notice (the
	// Ref column is set NULL).
	RedactBytes Treatment = "redact"
	// NotPersonal marks a column whose name looks personal but is not (Why
	// says why), so the registry test accepts it.
	NotPersonal Treatment = "not_personal"
)

// PersonalColumn is one entry of the registry of personal data.
type PersonalColumn struct {
	Table, Column string
	Treatment     Treatment
	// Ref is the session id column a MapSessionKey reads, or the column a
	// RedactBytes also clears.
	Ref string
	Why string
}

// PersonalColumns is the registry of every column that holds personal data,
// and what an erasure does to it. Erasure is driven by it: a table not
// listed here keeps the customer's data. TestPersonalColumnsCoverTheSchema
// fails when the migrated schema has a column whose name looks personal
// (customer_id, email, ip, device, card, session, name, address, phone, ...)
// that is not listed, so a new table cannot forget it.
var PersonalColumns = []PersonalColumn{
	{Table: "orders", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "orders", Column: "ip", Treatment: Nullify},
	{Table: "orders", Column: "device_id", Treatment: Nullify},
	{Table: "orders", Column: "card_fingerprint", Treatment: Nullify},
	{Table: "order_cancellations", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "fraud_scores", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "payments", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "payments", Column: "card_fingerprint", Treatment: Nullify},
	{Table: "refunds", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "chargebacks", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "session_purchases", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "session_purchases", Column: "session_id", Treatment: MapSession},
	{Table: "clickstream_events", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "clickstream_events", Column: "session_id", Treatment: MapSession},
	{Table: "clickstream_events", Column: "device", Treatment: Blank},
	{Table: "click_sessions", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "click_sessions", Column: "session_id", Treatment: MapSession},
	{Table: "click_sessions", Column: "session_key", Treatment: MapSessionKey, Ref: "session_id"},
	{Table: "click_sessions", Column: "device", Treatment: Blank},
	{Table: "customer_events", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "customers", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "customers", Column: "email", Treatment: Nullify},
	{Table: "customer_features", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "churn_scores", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "customer_recommendations", Column: "customer_id", Treatment: Pseudonymise},
	{Table: "alerts", Column: "details", Treatment: ReplaceInJSON},
	{Table: "dead_letters", Column: "payload", Treatment: RedactBytes, Ref: "key"},
	{Table: "api_keys", Column: "name", Treatment: NotPersonal, Why: "the label of an API key, not a person's name"},
	{Table: "dq_results", Column: "table_name", Treatment: NotPersonal, Why: "the name of a checked table or topic"},
	{Table: "dq_results", Column: "check_name", Treatment: NotPersonal, Why: "the name of a data quality check"},
	{Table: "dq_scores", Column: "table_name", Treatment: NotPersonal, Why: "the name of a checked table or topic"},
}

// PersonalColumnPattern matches the column names the registry test treats as
// personal (case-insensitive, in PostgreSQL's regex syntax).
const PersonalColumnPattern = `(customer|email|e_mail|(^|_)ip($|_)|ip_address|device|card|fingerprint|session|user_agent|useragent|(^|_)name$|first_name|last_name|full_name|address|phone|mobile|birth|postcode|postal|zip|street|(^|_)city$|ssn|passport|iban|person)`

// ErasureRequest is one customer to erase.
type ErasureRequest struct {
	RequestID  string
	CustomerID string
	Requested  time.Time
	Deadline   time.Time
	WorkflowID string
	RunID      string
}

// ErasureResult is what an erasure changed, per table, and the UTC days of
// the customer's facts (whose aggregates the caller recomputes).
type ErasureResult struct {
	Pseudonym string
	Rows      map[string]int64
	Days      []time.Time
	// Already is set when the request had been carried out before: nothing
	// was changed this time.
	Already bool
}

// ErrInvalidErasure marks a request without request or customer id.
var ErrInvalidErasure = errors.New("invalid erasure request")

// Pseudonym is the id an erased customer's rows carry: derived from the
// request id only, so a retried erasure uses the same one and the rows can
// be tied to the request (in erasure_audit) but not to the person.
func Pseudonym(requestID string) string {
	sum := sha256.Sum256([]byte("shoppulse-erasure:" + requestID))
	return "erased-" + hex.EncodeToString(sum[:10])
}

// EraseCustomer removes the customer's personal data from every table of
// PersonalColumns and writes the audit row, in one transaction. Amounts,
// counts and times stay: orders keep their amounts and lose the person. A
// second call for the same request finds the audit row and changes nothing.
func (db *DB) EraseCustomer(ctx context.Context, r ErasureRequest) (ErasureResult, error) {
	if strings.TrimSpace(r.RequestID) == "" || strings.TrimSpace(r.CustomerID) == "" {
		return ErasureResult{}, fmt.Errorf("%w: request_id and customer_id are required", ErrInvalidErasure)
	}
	res := ErasureResult{Pseudonym: Pseudonym(r.RequestID), Rows: map[string]int64{}}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// Serialise erasures of one request.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('erasure:' || $1))`, r.RequestID); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var erasedAt *time.Time
		err := tx.QueryRow(ctx, `SELECT erased_at FROM erasure_audit WHERE request_id = $1`, r.RequestID).Scan(&erasedAt)
		switch {
		case err == nil && erasedAt != nil:
			res.Already = true
			return tx.QueryRow(ctx, `SELECT rows FROM erasure_audit WHERE request_id = $1`, r.RequestID).Scan(&res.Rows)
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("read audit: %w", err)
		}
		if err := eraseTx(ctx, tx, r.CustomerID, res.Pseudonym, &res); err != nil {
			return err
		}
		rows, err := json.Marshal(res.Rows)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO erasure_audit (request_id, pseudonym, requested_at, deadline_at, erased_at, rows, workflow_id, run_id)
			VALUES ($1, $2, $3, $4, now(), $5, $6, $7)
			ON CONFLICT (request_id) DO UPDATE SET erased_at = now(), rows = excluded.rows, run_id = excluded.run_id`,
			r.RequestID, res.Pseudonym, r.Requested, r.Deadline, rows, r.WorkflowID, r.RunID)
		if err != nil {
			return fmt.Errorf("write audit: %w", err)
		}
		return nil
	})
	if err != nil {
		return ErasureResult{}, fmt.Errorf("erase customer for request %s: %w", r.RequestID, err)
	}
	return res, nil
}

// eraseTx applies the registry to the customer's rows.
func eraseTx(ctx context.Context, tx pgx.Tx, customer, pseudo string, res *ErasureResult) error {
	// The customer's sessions, from every table with a session id, mapped
	// to ids derived from the pseudonym in a stable order.
	sessionTables := tablesWith(MapSession)
	var src []string
	for _, t := range sessionTables {
		col, match := columnOf(t, MapSession), columnOf(t, Pseudonymise)
		if match == "" {
			return fmt.Errorf("registry: table %s has a session column but no customer column to pseudonymise", t)
		}
		src = append(src, fmt.Sprintf(`SELECT %s AS old, min(%s) AS first FROM %s WHERE %s = $1 GROUP BY 1`,
			pgx.Identifier{col}.Sanitize(), firstTimeColumn(t), pgx.Identifier{t}.Sanitize(), pgx.Identifier{match}.Sanitize()))
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE erase_sessions (old text PRIMARY KEY, new text NOT NULL) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("session map: %w", err)
	}
	if len(src) > 0 {
		_, err := tx.Exec(ctx, `
			INSERT INTO erase_sessions (old, new)
			SELECT old, $2 || '-s' || row_number() OVER (ORDER BY min(first), old)
			  FROM (`+strings.Join(src, " UNION ALL ")+`) s
			 WHERE old <> '' GROUP BY old`, customer, pseudo)
		if err != nil {
			return fmt.Errorf("session map: %w", err)
		}
	}
	// Identifiers to look for in free-form values: the customer id, the
	// sessions, and the ips, devices and cards of the customer's rows.
	idents := []string{customer}
	rows, err := tx.Query(ctx, `SELECT old FROM erase_sessions ORDER BY old`)
	if err != nil {
		return fmt.Errorf("read session map: %w", err)
	}
	sessions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read session map: %w", err)
	}
	idents = append(idents, sessions...)
	for _, c := range PersonalColumns {
		match := columnOf(c.Table, Pseudonymise)
		if c.Treatment != Nullify || match == "" {
			continue
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT DISTINCT %s FROM %s WHERE %s = $1 AND %s IS NOT NULL AND %s <> ''`,
			pgx.Identifier{c.Column}.Sanitize(), pgx.Identifier{c.Table}.Sanitize(), pgx.Identifier{match}.Sanitize(),
			pgx.Identifier{c.Column}.Sanitize(), pgx.Identifier{c.Column}.Sanitize()), customer)
		if err != nil {
			return fmt.Errorf("read %s.%s: %w", c.Table, c.Column, err)
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("read %s.%s: %w", c.Table, c.Column, err)
		}
		idents = append(idents, vals...)
	}
	slices.Sort(idents)
	idents = slices.Compact(idents)

	// The days of the customer's facts, for the caller to recompute.
	rows, err = tx.Query(ctx, `
		SELECT DISTINCT date_trunc('day', event_time) FROM (
			SELECT event_time FROM orders WHERE customer_id = $1
			UNION ALL SELECT event_time FROM clickstream_events WHERE session_id IN (SELECT old FROM erase_sessions)) d
		 ORDER BY 1`, customer)
	if err != nil {
		return fmt.Errorf("read days: %w", err)
	}
	if res.Days, err = pgx.CollectRows(rows, pgx.RowTo[time.Time]); err != nil {
		return fmt.Errorf("read days: %w", err)
	}

	for _, t := range registryTables() {
		var sets []string
		for _, c := range PersonalColumns {
			if c.Table != t {
				continue
			}
			col := pgx.Identifier{c.Column}.Sanitize()
			switch c.Treatment {
			case Pseudonymise:
				sets = append(sets, fmt.Sprintf(`%s = CASE WHEN %s IS NULL OR %s = '' THEN %s ELSE $2 END`, col, col, col, col))
			case Nullify:
				sets = append(sets, col+` = NULL`)
			case Blank:
				sets = append(sets, col+` = ''`)
			case MapSession:
				sets = append(sets, fmt.Sprintf(`%s = coalesce((SELECT new FROM erase_sessions WHERE old = %s), %s)`, col, col, col))
			case MapSessionKey:
				ref := pgx.Identifier{c.Ref}.Sanitize()
				sets = append(sets, fmt.Sprintf(`%s = coalesce((SELECT new FROM erase_sessions WHERE old = %s) || '@' || regexp_replace(%s, '^.*@', ''), %s)`, col, ref, col, col))
			}
		}
		if len(sets) > 0 {
			match := columnOf(t, Pseudonymise)
			if match == "" {
				return fmt.Errorf("registry: table %s has personal columns but no customer column to find the customer's rows by", t)
			}
			where := pgx.Identifier{match}.Sanitize() + ` = $1`
			if sc := columnOf(t, MapSession); sc != "" {
				where += fmt.Sprintf(` OR %s IN (SELECT old FROM erase_sessions)`, pgx.Identifier{sc}.Sanitize())
			}
			tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, pgx.Identifier{t}.Sanitize(), strings.Join(sets, ", "), where), customer, pseudo)
			if err != nil {
				return fmt.Errorf("erase %s: %w", t, err)
			}
			res.Rows[t] += tag.RowsAffected()
		}
		for _, c := range PersonalColumns {
			if c.Table != t {
				continue
			}
			col := pgx.Identifier{c.Column}.Sanitize()
			for _, id := range idents {
				quoted, _ := json.Marshal(id)
				var sql string
				switch c.Treatment {
				case ReplaceInJSON:
					sql = fmt.Sprintf(`UPDATE %s SET %s = replace(%s::text, $1, $2)::jsonb WHERE strpos(%s::text, $1) > 0`,
						pgx.Identifier{t}.Sanitize(), col, col, col)
					pq, _ := json.Marshal(pseudo)
					tag, err := tx.Exec(ctx, sql, string(quoted), string(pq))
					if err != nil {
						return fmt.Errorf("erase %s.%s: %w", t, c.Column, err)
					}
					res.Rows[t] += tag.RowsAffected()
				case RedactBytes:
					notice, _ := json.Marshal(map[string]string{"erased": pseudo})
					ref := pgx.Identifier{c.Ref}.Sanitize()
					sql = fmt.Sprintf(`UPDATE %s SET %s = $2, %s = NULL WHERE position($1::bytea IN %s) > 0 OR position($1::bytea IN coalesce(%s, ''::bytea)) > 0`,
						pgx.Identifier{t}.Sanitize(), col, ref, col, ref)
					// Raw events are JSON: look for the quoted identifier,
					// and in keys (raw ids) for the identifier itself.
					tag, err := tx.Exec(ctx, sql, quoted, notice)
					if err != nil {
						return fmt.Errorf("erase %s.%s: %w", t, c.Column, err)
					}
					res.Rows[t] += tag.RowsAffected()
					tag, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $2, %s = NULL WHERE %s = $1::bytea`,
						pgx.Identifier{t}.Sanitize(), col, ref, ref), []byte(id), notice)
					if err != nil {
						return fmt.Errorf("erase %s.%s: %w", t, c.Ref, err)
					}
					res.Rows[t] += tag.RowsAffected()
				}
			}
		}
	}
	return nil
}

// registryTables lists the registry's tables in registry order, once each.
func registryTables() []string {
	var out []string
	for _, c := range PersonalColumns {
		if c.Treatment != NotPersonal && !slices.Contains(out, c.Table) {
			out = append(out, c.Table)
		}
	}
	return out
}

// tablesWith lists the tables with a column of the treatment.
func tablesWith(t Treatment) []string {
	var out []string
	for _, c := range PersonalColumns {
		if c.Treatment == t && !slices.Contains(out, c.Table) {
			out = append(out, c.Table)
		}
	}
	return out
}

// columnOf is the table's column of the treatment, or "".
func columnOf(table string, t Treatment) string {
	for _, c := range PersonalColumns {
		if c.Table == table && c.Treatment == t {
			return c.Column
		}
	}
	return ""
}

// firstTimeColumn is the column that orders a table's sessions in time.
func firstTimeColumn(table string) string {
	if table == "click_sessions" {
		return "started_at"
	}
	return "event_time"
}

// FinishErasure records the end of an erasure: the days recomputed and
// whether it finished after its deadline.
func (db *DB) FinishErasure(ctx context.Context, requestID string, days []time.Time, overdue bool) error {
	b, err := json.Marshal(days)
	if err != nil {
		return err
	}
	tag, err := db.Pool.Exec(ctx, `
		UPDATE erasure_audit SET finished_at = coalesce(finished_at, now()), recomputed_days = $2, overdue = overdue OR $3
		 WHERE request_id = $1`, requestID, b, overdue)
	if err != nil {
		return fmt.Errorf("finish erasure %s: %w", requestID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("finish erasure %s: %w", requestID, ErrNotFound)
	}
	return nil
}

// ErasureAudit is one row of erasure_audit.
type ErasureAudit struct {
	RequestID, Pseudonym string
	Requested, Deadline  time.Time
	Erased, Finished     *time.Time
	Rows                 map[string]int64
	RecomputedDays       []time.Time
	Overdue              bool
	WorkflowID, RunID    string
}

// ErasureAuditOf returns the audit row of a request.
func (db *DB) ErasureAuditOf(ctx context.Context, requestID string) (ErasureAudit, error) {
	var a ErasureAudit
	err := db.Pool.QueryRow(ctx, `
		SELECT request_id, pseudonym, requested_at, deadline_at, erased_at, finished_at, rows, recomputed_days, overdue, workflow_id, run_id
		  FROM erasure_audit WHERE request_id = $1`, requestID).
		Scan(&a.RequestID, &a.Pseudonym, &a.Requested, &a.Deadline, &a.Erased, &a.Finished, &a.Rows, &a.RecomputedDays, &a.Overdue, &a.WorkflowID, &a.RunID)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("erasure %s: %w", requestID, ErrNotFound)
	}
	return a, err
}
