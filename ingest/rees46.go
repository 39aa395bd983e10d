package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// Reasons a REES46 row is skipped, besides the shared ones.
const (
	SkipUnknownEventType SkipReason = "unknown_event_type"
	SkipInvalidEvent     SkipReason = "invalid_event"
)

// Corrections of the REES46 importer, for the replay report.
const (
	CorrectSessionFromUserDay = "session_from_user_day"
	CorrectMergedPurchase     = "purchase_rows_merged"
)

// rees46Namespace is the namespace of the REES46 replay's event ids: the
// version 5 UUID of the URL namespace and the data set's Kaggle page,
// 2eb1598b-ec44-5770-a69a-8b3b6b803179.
var rees46Namespace = [16]byte{
	0x2e, 0xb1, 0x59, 0x8b, 0xec, 0x44, 0x57, 0x70,
	0xa6, 0x9a, 0x8b, 0x3b, 0x6b, 0x80, 0x31, 0x79,
}

var rees46Header = [...]string{
	"event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id", "user_session",
}

const (
	r46Time = iota
	r46Type
	r46Product
	r46CategoryID
	r46CategoryCode
	r46Brand
	r46Price
	r46User
	r46Session
	r46Cols
)

// The REES46 replay's fixed fields; see above.
const (
	rees46Currency   = "USD"
	rees46Country    = "ZZ"
	rees46Channel    = "web"
	rees46TimeLayout = "2006-01-02 15:04:05 UTC"
)

// Rees46Row is one parsed, kept row of the REES46 data.
type Rees46Row struct {
	Time       time.Time
	Type       string // view, cart, remove_from_cart, purchase
	ProductID  string
	Category   string
	PriceMinor int64 // US cents
	UserID     string
	Session    string
	// SessionFromUser reports an empty user_session replaced by the user's
	// day.
	SessionFromUser bool
}

// ParseRees46Row applies the rules above to one record; a non-empty reason
// means the row is skipped, detail says why. It never panics.
func ParseRees46Row(rec []string) (row Rees46Row, reason SkipReason, detail string) {
	if len(rec) != r46Cols {
		return row, SkipMalformed, fmt.Sprintf("%d fields, want %d", len(rec), r46Cols)
	}
	ts := strings.TrimSpace(rec[r46Time])
	t, err := time.Parse(rees46TimeLayout, ts)
	if err != nil {
		return row, SkipMalformed, fmt.Sprintf("event_time %q is not of the form 2019-10-01 00:00:00 UTC", ts)
	}
	row.Time = t.UTC()
	row.ProductID = strings.TrimSpace(rec[r46Product])
	if row.ProductID == "" {
		return row, SkipMalformed, "empty product_id"
	}
	row.UserID = strings.TrimSpace(rec[r46User])
	if !isDigits(row.UserID) {
		return row, SkipMalformed, fmt.Sprintf("user_id %q is not a whole number", rec[r46User])
	}
	ps := strings.TrimSpace(rec[r46Price])
	price, subCent, err := parsePence(ps)
	if err != nil {
		return row, SkipMalformed, fmt.Sprintf("price %q is not a decimal number", ps)
	}
	row.Type = strings.TrimSpace(rec[r46Type])
	switch row.Type {
	case "view", "cart", "remove_from_cart", "purchase":
	default:
		return row, SkipUnknownEventType, fmt.Sprintf("event_type %q is not view, cart, remove_from_cart or purchase", row.Type)
	}
	switch {
	case price < 0:
		return row, SkipNegativePrice, fmt.Sprintf("price %s is negative", ps)
	case subCent:
		return row, SkipSubPenny, fmt.Sprintf("price %s has a fraction of a cent", ps)
	case price == 0:
		return row, SkipZeroPrice, "price 0 (a glitch of the data set)"
	}
	row.PriceMinor = price
	row.Category = strings.TrimSpace(rec[r46CategoryCode])
	row.Session = strings.TrimSpace(rec[r46Session])
	if row.Session == "" {
		row.Session = "u" + row.UserID + "-" + row.Time.Format("20060102")
		row.SessionFromUser = true
	}
	return row, "", ""
}

// Rees46Result is what ReadRees46 makes of one file.
type Rees46Result struct {
	// Events are product_view, add_to_cart, remove_from_cart and
	// order_placed events, sorted by event time, ties in file order.
	Events  []events.Event
	Skipped []Skipped // Invoice holds the session, StockCode the product
	Report  Report
}

// validating is an event that can check itself; every catalogue type is.
type validating interface {
	events.Event
	Validate(now time.Time) error
}

// ReadRees46 reads the REES46 clickstream CSV from r. See the package doc
// for the rules. The error is for input that is not this format at all: a
// wrong header or broken CSV quoting; it reports the line.
func ReadRees46(r io.Reader) (Rees46Result, error) {
	res := Rees46Result{Report: newReport()}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return res, fmt.Errorf("read rees46: header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	if !slices.Equal(header, rees46Header[:]) {
		return res, fmt.Errorf("read rees46: header: want %s, got %s",
			strings.Join(rees46Header[:], ","), strings.Join(header, ","))
	}

	type pending struct {
		ev   validating
		rows []Skipped
	}
	type purchase struct {
		row   Rees46Row
		lines []events.OrderLine
		rows  []Skipped
	}
	var (
		out       []*pending
		purchases = map[string]*purchase{}
		porder    []*purchase // in file order of their first row
		// slotOf keeps a purchase's place in out, for time ordering.
		slotOf = map[*purchase]int{}
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read rees46: %w", err)
		}
		res.Report.Rows++
		line, _ := cr.FieldPos(0)
		row, reason, detail := ParseRees46Row(rec)
		sk := Skipped{Line: line}
		if len(rec) == r46Cols {
			sk.Invoice, sk.StockCode = rec[r46Session], rec[r46Product]
		}
		if reason != "" {
			sk.Reason, sk.Detail = reason, detail
			res.Skipped = append(res.Skipped, sk)
			continue
		}
		if row.SessionFromUser {
			res.Report.Corrected[CorrectSessionFromUserDay]++
		}
		cs := events.Clickstream{SessionID: row.Session, CustomerID: row.UserID}
		hdr := func(typ string) events.Header {
			return events.Header{
				EventID:       nameUUID(rees46Namespace, fmt.Sprintf("row/%d/%s", line, strings.Join(rec, ","))),
				Type:          typ,
				SchemaVersion: 1,
				EventTime:     row.Time,
			}
		}
		var ev validating
		switch row.Type {
		case "view":
			ev = events.ProductView{Header: hdr(events.TypeProductView), Clickstream: cs, ProductID: row.ProductID,
				Category: row.Category, PriceMinor: row.PriceMinor, Currency: rees46Currency}
		case "cart", "remove_from_cart":
			typ := events.TypeAddToCart
			if row.Type == "remove_from_cart" {
				typ = events.TypeRemoveFromCart
			}
			ev = events.CartChange{Header: hdr(typ), Clickstream: cs, ProductID: row.ProductID,
				Quantity: 1, PriceMinor: row.PriceMinor, Currency: rees46Currency}
		case "purchase":
			key := fmt.Sprintf("%s-%d", row.Session, row.Time.Unix())
			p := purchases[key]
			if p == nil {
				p = &purchase{row: row}
				purchases[key] = p
				porder = append(porder, p)
				slotOf[p] = len(out)
				out = append(out, nil) // filled below
			}
			merged := false
			for i := range p.lines {
				if l := &p.lines[i]; l.ProductID == row.ProductID && l.UnitPriceMinor == row.PriceMinor && l.Quantity < events.MaxLineQuantity {
					l.Quantity++
					merged = true
					res.Report.Corrected[CorrectMergedPurchase]++
					break
				}
			}
			if !merged {
				p.lines = append(p.lines, events.OrderLine{ProductID: row.ProductID, Category: row.Category, Quantity: 1, UnitPriceMinor: row.PriceMinor})
			}
			p.rows = append(p.rows, sk)
			continue
		}
		out = append(out, &pending{ev: ev, rows: []Skipped{sk}})
	}

	// Orders: one pending per part, in the slot of the purchase's first row.
	orders := map[int][]*pending{}
	for _, p := range porder {
		id := fmt.Sprintf("%s-%d", p.row.Session, p.row.Time.Unix())
		parts := (len(p.lines) + events.MaxOrderLines - 1) / events.MaxOrderLines
		for part := range parts {
			lo := part * events.MaxOrderLines
			hi := min(lo+events.MaxOrderLines, len(p.lines))
			oid := id
			if parts > 1 {
				oid = fmt.Sprintf("%s-%d", id, part+1)
			}
			var total int64
			for _, l := range p.lines[lo:hi] {
				total += l.Quantity * l.UnitPriceMinor
			}
			o := events.OrderPlaced{
				Header:     events.Header{EventID: nameUUID(rees46Namespace, "order/"+oid), Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: p.row.Time},
				OrderID:    oid,
				CustomerID: p.row.UserID,
				Country:    rees46Country,
				Currency:   rees46Currency,
				Channel:    rees46Channel,
				Lines:      slices.Clip(p.lines[lo:hi]),
				TotalMinor: total,
			}
			// Rows of merged lines cannot be told apart: an invalid part
			// skips every row of the order's part by line count.
			rows := p.rows
			if parts > 1 {
				rows = nil // rows are attributed to the first part below
				if part == 0 {
					rows = p.rows
				}
			}
			orders[slotOf[p]] = append(orders[slotOf[p]], &pending{ev: o, rows: rows})
		}
	}

	type timed struct {
		ev events.Event
		at time.Time
	}
	var evs []timed
	for i, pd := range out {
		list := []*pending{pd}
		if pd == nil {
			list = orders[i]
		}
		for _, pd := range list {
			h := pd.ev.Head()
			if err := pd.ev.Validate(h.EventTime); err != nil {
				for _, sk := range pd.rows {
					sk.Reason, sk.Detail = SkipInvalidEvent, err.Error()
					res.Skipped = append(res.Skipped, sk)
				}
				continue
			}
			evs = append(evs, timed{pd.ev, h.EventTime})
		}
	}
	slices.SortStableFunc(evs, func(a, b timed) int { return a.at.Compare(b.at) })
	slices.SortStableFunc(res.Skipped, func(a, b Skipped) int { return a.Line - b.Line })
	res.Events = make([]events.Event, len(evs))
	for i, t := range evs {
		res.Events[i] = t.ev
		res.Report.Events[t.ev.Head().Type]++
	}
	for _, sk := range res.Skipped {
		res.Report.Skipped[sk.Reason]++
	}
	return res, nil
}
