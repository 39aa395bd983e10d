package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// onlineRetailDir holds the real sample, three days of the UCI data set.
const onlineRetailDir = "../../shared/data/online-retail"

func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatalf("load Europe/London: %v", err)
	}
	return loc
}

func readOnlineRetailFile(t testing.TB, name string) ([]events.OrderPlaced, []Skipped) {
	t.Helper()
	path := filepath.Join(onlineRetailDir, name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open the real sample: %v", err)
	}
	defer f.Close()
	orders, skipped, err := ReadOnlineRetail(f, london(t))
	if err != nil {
		t.Fatalf("ReadOnlineRetail(%s): %v", name, err)
	}
	return orders, skipped
}

func countDataRows(t testing.TB, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(onlineRetailDir, name))
	if err != nil {
		t.Fatal(err)
	}
	// The sample has no quoted newlines, so lines minus the header are rows.
	return strings.Count(strings.TrimRight(string(b), "\n"), "\n")
}

func TestReadOnlineRetail_RealDays(t *testing.T) {
	// The expected figures were computed independently (Python, Decimal)
	// with the rules of the package doc.
	tests := []struct {
		file         string
		orders       int
		lines        int
		revenuePence int64
		skips        map[SkipReason]int
	}{
		{"2010-12-01.csv", 129, 3072, 5896079, map[SkipReason]int{SkipCancellation: 26, SkipZeroPrice: 9, SkipQuantity: 1}},
		{"2010-12-02.csv", 142, 2063, 4774838, map[SkipReason]int{SkipCancellation: 44, SkipZeroPrice: 1, SkipQuantity: 1}},
		{"2010-12-03.csv", 69, 2155, 4694371, map[SkipReason]int{SkipCancellation: 14, SkipZeroPrice: 5, SkipQuantity: 28}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			orders, skipped := readOnlineRetailFile(t, tt.file)
			var lines int
			var revenue int64
			ids := map[string]bool{}
			for i, o := range orders {
				if err := o.Validate(o.EventTime); err != nil {
					t.Errorf("order %s: %v", o.OrderID, err)
				}
				if ids[o.EventID] || ids[o.OrderID] {
					t.Errorf("order %s: duplicate event or order id", o.OrderID)
				}
				ids[o.EventID], ids[o.OrderID] = true, true
				if i > 0 && o.EventTime.Before(orders[i-1].EventTime) {
					t.Errorf("order %s is out of event-time order", o.OrderID)
				}
				lines += len(o.Lines)
				revenue += o.TotalMinor
			}
			got := map[SkipReason]int{}
			for _, s := range skipped {
				got[s.Reason]++
				if s.Detail == "" || s.Line < 2 {
					t.Errorf("skip without detail or line: %+v", s)
				}
			}
			if len(orders) != tt.orders || lines != tt.lines || revenue != tt.revenuePence {
				t.Errorf("orders, lines, revenue = %d, %d, %d; want %d, %d, %d",
					len(orders), lines, revenue, tt.orders, tt.lines, tt.revenuePence)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.skips) {
				t.Errorf("skips = %v, want %v", got, tt.skips)
			}
			if rows := countDataRows(t, tt.file); lines+len(skipped) != rows {
				t.Errorf("lines %d + skipped %d != %d data rows: a row was lost or counted twice", lines, len(skipped), rows)
			}
		})
	}
}

func TestReadOnlineRetail_KnownInvoices(t *testing.T) {
	loc := london(t)
	byID := map[string]events.OrderPlaced{}
	for _, f := range []string{"2010-12-01.csv", "2010-12-03.csv"} {
		orders, _ := readOnlineRetailFile(t, f)
		for _, o := range orders {
			byID[o.OrderID] = o
		}
	}
	tests := []struct {
		name     string
		orderID  string
		customer string
		country  string
		time     time.Time
		lines    int
		total    int64
	}{
		{"first invoice of the file", "536365", "17850", "GB", time.Date(2010, 12, 1, 8, 26, 0, 0, loc), 7, 13912},
		{"export with postage line", "536370", "12583", "FR", time.Date(2010, 12, 1, 8, 45, 0, 0, loc), 20, 85586},
		{"rows straddle a minute: earliest time", "536591", "14606", "GB", time.Date(2010, 12, 1, 16, 57, 0, 0, loc), 40, 19832},
		{"guest over 500 lines, part 1", "536592-1", "guest-536592", "GB", time.Date(2010, 12, 1, 17, 6, 0, 0, loc), 500, -1},
		{"guest over 500 lines, part 2", "536592-2", "guest-536592", "GB", time.Date(2010, 12, 1, 17, 6, 0, 0, loc), 92, -1},
		{"guest, 527 lines, part 2", "536544-2", "guest-536544", "GB", time.Date(2010, 12, 1, 14, 32, 0, 0, loc), 27, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := byID[tt.orderID]
			if !ok {
				t.Fatalf("no order %s", tt.orderID)
			}
			if o.CustomerID != tt.customer || o.Country != tt.country || !o.EventTime.Equal(tt.time) ||
				len(o.Lines) != tt.lines || (tt.total >= 0 && o.TotalMinor != tt.total) {
				t.Errorf("got customer %s, country %s, time %s, %d lines, total %d; want %s, %s, %s, %d, %d",
					o.CustomerID, o.Country, o.EventTime, len(o.Lines), o.TotalMinor,
					tt.customer, tt.country, tt.time, tt.lines, tt.total)
			}
			if o.Currency != "GBP" || o.Channel != "web" || o.Seq != 0 {
				t.Errorf("currency %s, channel %s, seq %d; want GBP, web, 0", o.Currency, o.Channel, o.Seq)
			}
		})
	}
	// Split invoices keep their revenue: the parts add up to the invoice.
	for inv, want := range map[string]int64{"536544": 552114, "536592": 691565, "536876": 725708} {
		if got := byID[inv+"-1"].TotalMinor + byID[inv+"-2"].TotalMinor; got != want {
			t.Errorf("invoice %s parts total %d, want %d", inv, got, want)
		}
	}
	if p := byID["536370"].Lines[len(byID["536370"].Lines)-1]; p.ProductID != "POST" || p.Category != CategoryPostage {
		t.Errorf("536370 last line %+v, want POST in category %s", p, CategoryPostage)
	}
}

func TestReadOnlineRetail_EventIDsAreStable(t *testing.T) {
	a, _ := readOnlineRetailFile(t, "2010-12-02.csv")
	b, _ := readOnlineRetailFile(t, "2010-12-02.csv")
	for i := range a {
		if a[i].EventID != b[i].EventID {
			t.Fatalf("order %s: event id %s then %s", a[i].OrderID, a[i].EventID, b[i].EventID)
		}
	}
	// The name-based UUID of invoice/536365, checked with Python's uuid.uuid5.
	if got, want := nameUUID(onlineRetailNamespace, "invoice/536365"), "1c302df6-ce16-5e70-98b4-991bcb199255"; got != want {
		t.Errorf("event id of 536365 = %s, want %s", got, want)
	}
}

const quirksHeader = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"

func TestReadOnlineRetail_Quirks(t *testing.T) {
	tests := []struct {
		name   string
		row    string
		reason SkipReason // "" means kept
		check  func(t *testing.T, o events.OrderPlaced)
	}{
		{"product", `536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				l := o.Lines[0]
				if o.CustomerID != "17850" || l.ProductID != "85123A" || l.Category != "" || l.Quantity != 6 || l.UnitPriceMinor != 255 || o.TotalMinor != 1530 {
					t.Errorf("got %+v", o)
				}
			}},
		{"original file's date form", `536365,71053,LANTERN,1,12/1/2010 8:26,3.39,17850.0,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if want := time.Date(2010, 12, 1, 8, 26, 0, 0, london(t)); !o.EventTime.Equal(want) {
					t.Errorf("time %s, want %s", o.EventTime, want)
				}
			}},
		{"summer time", `550000,71053,LANTERN,1,2011-07-01 10:00:00,3.39,17850.0,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if want := time.Date(2011, 7, 1, 9, 0, 0, 0, time.UTC); !o.EventTime.Equal(want) {
					t.Errorf("time %s, want %s (BST is UTC+1)", o.EventTime, want)
				}
			}},
		{"guest checkout", `536544,21773,BOX,2,2010-12-01 14:32:00,2.51,,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if o.CustomerID != "guest-536544" {
					t.Errorf("customer %q", o.CustomerID)
				}
			}},
		{"quoted description with comma", `536520,22760,"TRAY, BREAKFAST IN BED",1,2010-12-01 12:43:00,12.75,14729.0,United Kingdom`, "", nil},
		{"postage", `536370,POST,POSTAGE,3,2010-12-01 08:45:00,18.0,12583.0,France`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if o.Lines[0].Category != CategoryPostage || o.TotalMinor != 5400 || o.Country != "FR" {
					t.Errorf("got %+v", o)
				}
			}},
		{"manual", `536569,M,Manual,1,2010-12-01 15:35:00,1.25,16274.0,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if o.Lines[0].Category != CategoryManual {
					t.Errorf("got %+v", o.Lines[0])
				}
			}},
		{"bank charges", `536779,BANK CHARGES,Bank Charges,1,2010-12-02 15:08:00,15.0,15823.0,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if o.Lines[0].Category != CategoryFee {
					t.Errorf("got %+v", o.Lines[0])
				}
			}},
		{"unknown code kept as other", `540000,DCGS0003,BOXED GLASS ASHTRAY,1,2011-01-04 10:00:00,2.51,,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if o.Lines[0].Category != CategoryOther {
					t.Errorf("got %+v", o.Lines[0])
				}
			}},
		{"EIRE", `536540,C2,CARRIAGE,1,2010-12-01 14:05:00,50.0,14911.0,EIRE`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if o.Country != "IE" {
					t.Errorf("country %s", o.Country)
				}
			}},
		{"price with trailing zeros", `536365,71053,LANTERN,1,2010-12-01 08:26:00,3.3900,17850.0,United Kingdom`, "",
			func(t *testing.T, o events.OrderPlaced) {
				if o.TotalMinor != 339 {
					t.Errorf("total %d", o.TotalMinor)
				}
			}},
		{"cancellation", `C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom`, SkipCancellation, nil},
		{"bad debt adjustment", `A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom`, SkipNotSale, nil},
		{"discount on a sale", `536400,D,Discount,1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom`, SkipAccounting, nil},
		{"amazon fee", `536401,AMAZONFEE,AMAZON FEE,1,2010-12-01 09:41:00,13541.33,,United Kingdom`, SkipAccounting, nil},
		{"stock adjustment", `536589,21777,,-10,2010-12-01 16:50:00,0.0,,United Kingdom`, SkipQuantity, nil},
		{"zero quantity", `536589,21777,,0,2010-12-01 16:50:00,1.0,,United Kingdom`, SkipQuantity, nil},
		{"free item", `536414,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom`, SkipZeroPrice, nil},
		{"negative price", `536415,22139,X,1,2010-12-01 11:52:00,-1.5,,United Kingdom`, SkipNegativePrice, nil},
		{"sub-penny price", `555000,PADS,PADS TO MATCH ALL CUSHIONS,1,2011-06-01 10:00:00,0.001,15618.0,United Kingdom`, SkipSubPenny, nil},
		{"no single country code", `536500,22139,X,1,2010-12-01 11:52:00,1.0,14936.0,Channel Islands`, SkipUnknownCountry, nil},
		{"unknown country", `536500,22139,X,1,2010-12-01 11:52:00,1.0,14936.0,Atlantis`, SkipUnknownCountry, nil},
		{"float quantity", `536500,22139,X,1.5,2010-12-01 11:52:00,1.0,14936.0,France`, SkipMalformed, nil},
		{"bad date", `536500,22139,X,1,yesterday,1.0,14936.0,France`, SkipMalformed, nil},
		{"bad price", `536500,22139,X,1,2010-12-01 11:52:00,1.2.3,14936.0,France`, SkipMalformed, nil},
		{"fractional customer", `536500,22139,X,1,2010-12-01 11:52:00,1.0,14936.5,France`, SkipMalformed, nil},
		{"short row", `536500,22139,X,1`, SkipMalformed, nil},
		{"empty invoice", `,22139,X,1,2010-12-01 11:52:00,1.0,14936.0,France`, SkipMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders, skipped, err := ReadOnlineRetail(strings.NewReader(quirksHeader+tt.row+"\n"), london(t))
			if err != nil {
				t.Fatal(err)
			}
			if tt.reason != "" {
				if len(orders) != 0 || len(skipped) != 1 || skipped[0].Reason != tt.reason || skipped[0].Line != 2 {
					t.Fatalf("got %d orders, skipped %v; want one skip for %s on line 2", len(orders), skipped, tt.reason)
				}
				return
			}
			if len(orders) != 1 || len(skipped) != 0 {
				t.Fatalf("got %d orders, skipped %v; want one order", len(orders), skipped)
			}
			if err := orders[0].Validate(orders[0].EventTime); err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, orders[0])
			}
		})
	}
}

func TestReadOnlineRetail_ConflictingRows(t *testing.T) {
	in := quirksHeader +
		"536500,22139,X,1,2010-12-01 11:52:00,1.0,14936.0,France\n" +
		"536500,22140,Y,1,2010-12-01 11:52:00,1.0,14937.0,France\n" +
		"536500,22141,Z,1,2010-12-01 11:52:00,1.0,14936.0,Germany\n" +
		"536500,22142,W,2,2010-12-01 11:52:00,1.0,14936.0,France\n"
	orders, skipped, err := ReadOnlineRetail(strings.NewReader(in), london(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || len(orders[0].Lines) != 2 || orders[0].TotalMinor != 300 {
		t.Fatalf("orders %+v", orders)
	}
	if len(skipped) != 2 || skipped[0].Line != 3 || skipped[1].Line != 4 ||
		skipped[0].Reason != SkipConflict || skipped[1].Reason != SkipConflict {
		t.Fatalf("skipped %v", skipped)
	}
}

func TestReadOnlineRetail_BadInput(t *testing.T) {
	tests := []struct {
		name string
		in   string
		loc  *time.Location
	}{
		{"empty", "", time.UTC},
		{"wrong header", "a,b,c\n1,2,3\n", time.UTC},
		{"broken quoting", quirksHeader + `536500,22139,"X,1,2010-12-01 11:52:00,1.0,14936.0,France` + "\n", time.UTC},
		{"nil location", quirksHeader, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ReadOnlineRetail(strings.NewReader(tt.in), tt.loc); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	// A byte-order mark before the header is tolerated.
	if _, _, err := ReadOnlineRetail(strings.NewReader("\ufeff"+quirksHeader), time.UTC); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

func TestParsePence(t *testing.T) {
	tests := []struct {
		in       string
		pence    int64
		subPenny bool
		bad      bool
	}{
		{"2.55", 255, false, false},
		{"18.0", 1800, false, false},
		{"18", 1800, false, false},
		{"0.85", 85, false, false},
		{"0.5", 50, false, false},
		{"569.77", 56977, false, false},
		{"-11062.06", -1106206, false, false},
		{"0.001", 0, true, false},
		{"1.2500", 125, false, false},
		{"1.255", 125, true, false},
		{"", 0, false, true},
		{".5", 0, false, true},
		{"5.", 0, false, true},
		{"1e3", 0, false, true},
		{"+1", 0, false, true},
		{"1,5", 0, false, true},
		{"9999999999999999", 0, false, true},
	}
	for _, tt := range tests {
		pence, sub, err := parsePence(tt.in)
		if (err != nil) != tt.bad || (err == nil && (pence != tt.pence || sub != tt.subPenny)) {
			t.Errorf("parsePence(%q) = %d, %v, %v; want %d, %v, bad=%v", tt.in, pence, sub, err, tt.pence, tt.subPenny, tt.bad)
		}
	}
}
