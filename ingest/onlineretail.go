package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// SkipReason says why a row of the Online Retail data is not an order line.
// The package doc explains each decision.
type SkipReason string

// Reasons a row is skipped.
const (
	SkipMalformed      SkipReason = "malformed"
	SkipCancellation   SkipReason = "cancellation"
	SkipNotSale        SkipReason = "not_a_sale"
	SkipAccounting     SkipReason = "accounting_entry"
	SkipUnknownCountry SkipReason = "unknown_country"
	SkipQuantity       SkipReason = "non_positive_quantity"
	SkipZeroPrice      SkipReason = "zero_price"
	SkipNegativePrice  SkipReason = "negative_price"
	SkipSubPenny       SkipReason = "sub_penny_price"
	SkipConflict       SkipReason = "conflicting_invoice"
	SkipInvalidOrder   SkipReason = "invalid_order"
)

// Skipped is one data row that did not become an order line.
type Skipped struct {
	// Line is the row's line in the file, counting the header as line 1 (a
	// quoted field with a newline makes this the row's first line).
	Line      int
	Invoice   string
	StockCode string
	Reason    SkipReason
	Detail    string
}

func (s Skipped) String() string {
	return fmt.Sprintf("line %d: invoice %s, stock code %s: %s: %s", s.Line, s.Invoice, s.StockCode, s.Reason, s.Detail)
}

// onlineRetailHeader is the header the importer accepts.
var onlineRetailHeader = [...]string{
	"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country",
}

// Column indexes.
const (
	colInvoice = iota
	colStockCode
	colDescription
	colQuantity
	colDate
	colPrice
	colCustomer
	colCountry
	numCols
)

// onlineRetailDateLayouts are the InvoiceDate forms accepted: the sample's
// and the original file's (month/day/year, hour without a leading zero).
var onlineRetailDateLayouts = [...]string{
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"1/2/2006 15:04",
	"1/2/2006 15:04:05",
}

// onlineRetailCountries maps the data set's country names to ISO 3166-1
// alpha-2. Names absent here (Channel Islands: Jersey or Guernsey?;
// European Community; Unspecified) have no single code and are skipped.
var onlineRetailCountries = map[string]string{
	"Australia":            "AU",
	"Austria":              "AT",
	"Bahrain":              "BH",
	"Belgium":              "BE",
	"Brazil":               "BR",
	"Canada":               "CA",
	"Cyprus":               "CY",
	"Czech Republic":       "CZ",
	"Denmark":              "DK",
	"EIRE":                 "IE",
	"Finland":              "FI",
	"France":               "FR",
	"Germany":              "DE",
	"Greece":               "GR",
	"Hong Kong":            "HK",
	"Iceland":              "IS",
	"Ireland":              "IE",
	"Israel":               "IL",
	"Italy":                "IT",
	"Japan":                "JP",
	"Korea":                "KR",
	"Lebanon":              "LB",
	"Lithuania":            "LT",
	"Malta":                "MT",
	"Netherlands":          "NL",
	"Nigeria":              "NG",
	"Norway":               "NO",
	"Poland":               "PL",
	"Portugal":             "PT",
	"RSA":                  "ZA",
	"Saudi Arabia":         "SA",
	"Singapore":            "SG",
	"Spain":                "ES",
	"Sweden":               "SE",
	"Switzerland":          "CH",
	"Thailand":             "TH",
	"United Arab Emirates": "AE",
	"United Kingdom":       "GB",
	"USA":                  "US",
}

// Categories given to the non-product stock codes the importer keeps.
const (
	CategoryPostage = "postage"
	CategoryManual  = "manual"
	CategoryFee     = "fee"
	CategoryOther   = "other"
)

// onlineRetailCodes classifies the non-product stock codes: a category to
// keep the line under, or "" to skip it as bookkeeping.
var onlineRetailCodes = map[string]string{
	"POST":         CategoryPostage,
	"DOT":          CategoryPostage,
	"C2":           CategoryPostage,
	"M":            CategoryManual,
	"m":            CategoryManual,
	"BANK CHARGES": CategoryFee,
	"D":            "",
	"S":            "",
	"B":            "",
	"AMAZONFEE":    "",
	"CRUK":         "",
}

// The replay's fixed order fields; see the package doc.
const (
	onlineRetailChannel      = "web"
	onlineRetailCurrency     = "GBP"
	onlineRetailRefundReason = "cancelled"
)

// invoice collects the kept rows of one invoice.
type invoice struct {
	no       string
	cancel   bool // a C invoice: becomes one refund
	customer string
	country  string
	time     time.Time
	lines    []events.OrderLine // quantities positive, also for a cancellation
	rows     []Skipped          // the kept rows, to skip them if the event is invalid
	times    []time.Time        // each kept row's own time
}

// Corrections the Online Retail importer makes to rows it keeps, for the
// replay report (a row may count under more than one).
const (
	CorrectCustomerFloat = "customer_id_float"     // 17850.0 read as 17850
	CorrectGuest         = "guest_customer"        // empty CustomerID: guest-<invoice>
	CorrectEarliestTime  = "invoice_earliest_time" // row time later than its invoice's
	CorrectSplitInvoice  = "invoice_split"         // row of an invoice split into parts
)

// OnlineRetailResult is what ReadOnlineRetailEvents makes of one file.
type OnlineRetailResult struct {
	// Events are the orders (events.OrderPlaced) and refunds (events.Refund),
	// sorted by event time, ties in file order.
	Events []events.Event
	// Skipped are the rows that became no event, in file order.
	Skipped []Skipped
	Report  Report
}

// ReadOnlineRetailEvents reads the UCI Online Retail CSV like
// ReadOnlineRetail, but turns cancellation invoices into refunds instead of
// skipping them (see the package doc). Every data row is either part of one
// returned event or one Skipped.
func ReadOnlineRetailEvents(r io.Reader, loc *time.Location) (OnlineRetailResult, error) {
	return readOnlineRetail(r, loc, true)
}

// ReadOnlineRetail reads the UCI Online Retail CSV from r and groups its rows
// into orders, one per invoice (split when an invoice has more than
// events.MaxOrderLines lines). InvoiceDate is read in loc (Europe/London for
// this retailer). Every data row is either a line of one returned order or
// one Skipped, in file order. The error is for input that is not this format
// at all: a wrong header or broken CSV quoting; it reports the line.
//
// Cancellation rows are skipped as SkipCancellation here; use
// ReadOnlineRetailEvents to get them as refunds.
func ReadOnlineRetail(r io.Reader, loc *time.Location) (orders []events.OrderPlaced, skipped []Skipped, err error) {
	res, err := readOnlineRetail(r, loc, false)
	if err != nil {
		return nil, nil, err
	}
	for _, ev := range res.Events {
		orders = append(orders, ev.(events.OrderPlaced))
	}
	return orders, res.Skipped, nil
}

// readOnlineRetail reads the file; refunds says whether cancellations become
// refunds or are skipped.
func readOnlineRetail(r io.Reader, loc *time.Location, refunds bool) (res OnlineRetailResult, err error) {
	res.Report = newReport()
	var skipped []Skipped
	if loc == nil {
		return res, errors.New("read online retail: nil location; the data has no zone (use Europe/London)")
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a short row is skipped, not fatal
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err != nil {
		return res, fmt.Errorf("read online retail: header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	if !slices.Equal(header, onlineRetailHeader[:]) {
		return res, fmt.Errorf("read online retail: header: want %s, got %s",
			strings.Join(onlineRetailHeader[:], ","), strings.Join(header, ","))
	}

	var (
		byNo  = map[string]*invoice{}
		order []*invoice // by first kept row
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read online retail: %w", err)
		}
		res.Report.Rows++
		line, _ := cr.FieldPos(0)
		skip := func(reason SkipReason, format string, args ...any) {
			s := Skipped{Line: line, Reason: reason, Detail: fmt.Sprintf(format, args...)}
			if len(rec) > colStockCode {
				s.Invoice, s.StockCode = rec[colInvoice], rec[colStockCode]
			}
			skipped = append(skipped, s)
		}
		row, reason, detail := parseOnlineRetailRow(rec, loc, refunds)
		if reason != "" {
			skip(reason, "%s", detail)
			continue
		}
		inv := byNo[row.invoice]
		if inv == nil {
			inv = &invoice{no: row.invoice, cancel: row.cancel, customer: row.customer, country: row.country, time: row.time}
			byNo[row.invoice] = inv
			order = append(order, inv)
		}
		switch {
		case row.customer != inv.customer:
			skip(SkipConflict, "customer %q, but invoice %s is for %q", row.customer, inv.no, inv.customer)
			continue
		case row.country != inv.country:
			skip(SkipConflict, "country %s, but invoice %s is from %s", row.country, inv.no, inv.country)
			continue
		}
		if row.time.Before(inv.time) {
			inv.time = row.time
		}
		inv.lines = append(inv.lines, row.line)
		inv.rows = append(inv.rows, Skipped{Line: line, Invoice: row.invoice, StockCode: rec[colStockCode]})
		inv.times = append(inv.times, row.time)
		if row.customerFloat {
			res.Report.Corrected[CorrectCustomerFloat]++
		}
		if row.guest {
			res.Report.Corrected[CorrectGuest]++
		}
	}

	type timed struct {
		ev events.Event
		at time.Time
	}
	var out []timed
	// invalid skips the rows of an event that failed validation.
	invalid := func(rows []Skipped, err error) {
		for _, sk := range rows {
			sk.Reason, sk.Detail = SkipInvalidOrder, err.Error()
			skipped = append(skipped, sk)
		}
	}
	for _, inv := range order {
		for _, t := range inv.times {
			if t.After(inv.time) {
				res.Report.Corrected[CorrectEarliestTime]++
			}
		}
		if inv.cancel {
			rf := inv.refund()
			if err := rf.Validate(rf.EventTime); err != nil {
				invalid(inv.rows, err)
				continue
			}
			out = append(out, timed{rf, rf.EventTime})
			continue
		}
		parts := (len(inv.lines) + events.MaxOrderLines - 1) / events.MaxOrderLines
		if parts > 1 {
			res.Report.Corrected[CorrectSplitInvoice] += len(inv.lines)
		}
		for part := range parts {
			lo := part * events.MaxOrderLines
			hi := min(lo+events.MaxOrderLines, len(inv.lines))
			o := inv.order(part, parts, inv.lines[lo:hi])
			// The event's own time is the clock: a historical event is
			// never too far in the future.
			if err := o.Validate(o.EventTime); err != nil {
				invalid(inv.rows[lo:hi], err)
				continue
			}
			out = append(out, timed{o, o.EventTime})
		}
	}
	slices.SortStableFunc(out, func(a, b timed) int { return a.at.Compare(b.at) })
	slices.SortStableFunc(skipped, func(a, b Skipped) int { return a.Line - b.Line })
	res.Events = make([]events.Event, len(out))
	for i, t := range out {
		res.Events[i] = t.ev
		res.Report.Events[t.ev.Head().Type]++
	}
	for _, sk := range skipped {
		res.Report.Skipped[sk.Reason]++
	}
	res.Skipped = skipped
	return res, nil
}

// refund builds the refund of a cancellation invoice. The data set does not
// say which invoice a C invoice cancels, so OrderID and RefundID are both
// the credit note's own number (C536379): no order_placed has that id.
func (inv *invoice) refund() events.Refund {
	var total int64
	for _, l := range inv.lines {
		total += l.Quantity * l.UnitPriceMinor
	}
	return events.Refund{
		Header:      events.Header{EventID: nameUUID(onlineRetailNamespace, "credit-note/"+inv.no), Type: events.TypeRefund, SchemaVersion: 1, EventTime: inv.time},
		RefundID:    inv.no,
		OrderID:     inv.no,
		CustomerID:  inv.customer,
		AmountMinor: total,
		Currency:    onlineRetailCurrency,
		Reason:      onlineRetailRefundReason,
	}
}

// order builds part (of parts) of the invoice's order.
func (inv *invoice) order(part, parts int, lines []events.OrderLine) events.OrderPlaced {
	id, name := inv.no, "invoice/"+inv.no
	if parts > 1 {
		id = fmt.Sprintf("%s-%d", inv.no, part+1)
		name = fmt.Sprintf("invoice/%s/part/%d", inv.no, part+1)
	}
	var total int64
	for _, l := range lines {
		total += l.Quantity * l.UnitPriceMinor
	}
	return events.OrderPlaced{
		Header:     events.Header{EventID: nameUUID(onlineRetailNamespace, name), Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: inv.time},
		OrderID:    id,
		CustomerID: inv.customer,
		Country:    inv.country,
		Currency:   onlineRetailCurrency,
		Channel:    onlineRetailChannel,
		Lines:      slices.Clip(lines),
		TotalMinor: total,
	}
}

// onlineRetailRow is one parsed, kept row.
type onlineRetailRow struct {
	invoice  string
	cancel   bool // a C invoice; line.Quantity is then the quantity returned
	customer string
	// customerFloat and guest record corrections, for the report.
	customerFloat, guest bool
	country              string
	time                 time.Time
	line                 events.OrderLine
}

// parseOnlineRetailRow applies the package doc's rules to one record in their
// order; a non-empty reason means the row is skipped.
// With refunds, a cancellation row is kept (with its quantity negated) under
// the same rules as a sale; without, it is skipped as SkipCancellation.
func parseOnlineRetailRow(rec []string, loc *time.Location, refunds bool) (row onlineRetailRow, reason SkipReason, detail string) {
	if len(rec) != numCols {
		return row, SkipMalformed, fmt.Sprintf("%d fields, want %d", len(rec), numCols)
	}
	no, code := strings.TrimSpace(rec[colInvoice]), strings.TrimSpace(rec[colStockCode])
	switch {
	case no == "":
		return row, SkipMalformed, "empty InvoiceNo"
	case code == "":
		return row, SkipMalformed, "empty StockCode"
	}
	qty, err := strconv.ParseInt(strings.TrimSpace(rec[colQuantity]), 10, 64)
	if err != nil {
		return row, SkipMalformed, fmt.Sprintf("Quantity %q is not an integer", rec[colQuantity])
	}
	t, err := parseOnlineRetailDate(strings.TrimSpace(rec[colDate]), loc)
	if err != nil {
		return row, SkipMalformed, err.Error()
	}
	price, subPenny, err := parsePence(strings.TrimSpace(rec[colPrice]))
	if err != nil {
		return row, SkipMalformed, err.Error()
	}
	customer, err := parseCustomerID(strings.TrimSpace(rec[colCustomer]), no)
	if err != nil {
		return row, SkipMalformed, err.Error()
	}
	cancel := len(no) > 0 && no[0] == 'C' && isDigits(no[1:])
	if cancel && !refunds {
		return row, SkipCancellation, "cancellation invoice (a refund, not an order)"
	}
	if !cancel && !isDigits(no) {
		return row, SkipNotSale, fmt.Sprintf("invoice number %q is not a sales invoice", no)
	}
	category := ""
	if !isProductCode(code) {
		c, known := onlineRetailCodes[code]
		switch {
		case known && c == "":
			return row, SkipAccounting, fmt.Sprintf("stock code %s (%s) is a bookkeeping entry", code, rec[colDescription])
		case known:
			category = c
		default:
			category = CategoryOther
		}
	}
	country := strings.TrimSpace(rec[colCountry])
	iso := onlineRetailCountries[country]
	if iso == "" {
		return row, SkipUnknownCountry, fmt.Sprintf("country %q has no ISO 3166-1 alpha-2 code in the importer's table", country)
	}
	switch {
	case cancel && qty >= 0:
		return row, SkipQuantity, fmt.Sprintf("quantity %d in a cancellation, want a negative one", qty)
	case !cancel && qty <= 0:
		return row, SkipQuantity, fmt.Sprintf("quantity %d outside a cancellation (a stock adjustment)", qty)
	case price < 0:
		return row, SkipNegativePrice, fmt.Sprintf("unit price %s is negative", rec[colPrice])
	case subPenny:
		return row, SkipSubPenny, fmt.Sprintf("unit price %s has a fraction of a penny", rec[colPrice])
	case price == 0:
		return row, SkipZeroPrice, "unit price 0 (a free item or a stock adjustment)"
	}
	if cancel {
		qty = -qty // the quantity returned
	}
	cust := strings.TrimSpace(rec[colCustomer])
	return onlineRetailRow{
		invoice:       no,
		cancel:        cancel,
		customerFloat: strings.Contains(cust, "."),
		guest:         cust == "",
		customer:      customer,
		country:       iso,
		time:          t,
		line:          events.OrderLine{ProductID: code, Category: category, Quantity: qty, UnitPriceMinor: price},
	}, "", ""
}

func parseOnlineRetailDate(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range onlineRetailDateLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("InvoiceDate %q is not in a known form such as 2010-12-01 08:26:00 or 12/1/2010 8:26", s)
}

// maxPoundsDigits bounds the integer part of a price so pence cannot
// overflow int64 (and far exceeds events.MaxAmountMinor).
const maxPoundsDigits = 15

// parsePence converts a decimal string such as "2.55", "18.0", "-11062.06"
// or "0.001" to pence with integer arithmetic. subPenny reports non-zero
// digits beyond the second decimal place; pence is then truncated.
func parsePence(s string) (pence int64, subPenny bool, err error) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(digits, ".")
	if whole == "" || !isDigits(whole) || (frac != "" && !isDigits(frac)) || strings.HasSuffix(digits, ".") {
		return 0, false, fmt.Errorf("UnitPrice %q is not a decimal number", s)
	}
	if len(strings.TrimLeft(whole, "0")) > maxPoundsDigits {
		return 0, false, fmt.Errorf("UnitPrice %q is out of range", s)
	}
	for _, c := range whole {
		pence = pence*10 + int64(c-'0')
	}
	for i := range 2 {
		pence *= 10
		if i < len(frac) {
			pence += int64(frac[i] - '0')
		}
	}
	if len(frac) > 2 {
		subPenny = strings.Trim(frac[2:], "0") != ""
	}
	if neg {
		pence = -pence
	}
	return pence, subPenny, nil
}

// parseCustomerID turns "17850.0" into "17850" and "" into a per-invoice
// guest id.
func parseCustomerID(s, invoiceNo string) (string, error) {
	if s == "" {
		return "guest-" + invoiceNo, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || !isDigits(whole) || strings.Trim(frac, "0") != "" {
		return "", fmt.Errorf("CustomerID %q is not a whole number", s)
	}
	return whole, nil
}

// isProductCode reports a catalogue stock code: five digits and up to three
// letters (85123A, 15056BL).
func isProductCode(s string) bool {
	if len(s) < 5 || len(s) > 8 || !isDigits(s[:5]) {
		return false
	}
	for _, c := range s[5:] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
