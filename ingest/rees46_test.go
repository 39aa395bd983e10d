package ingest

import (
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

func readRees46File(t *testing.T, name string) Rees46Result {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ReadRees46(f)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestReadRees46_FixtureEveryRowAccountedFor(t *testing.T) {
	res := readRees46File(t, "rees46-sample.csv")
	r := res.Report
	if r.Rows != 25 {
		t.Errorf("rows read: got %d, want 25", r.Rows)
	}
	wantEvents := map[string]int{
		events.TypeProductView: 8, events.TypeAddToCart: 2, events.TypeRemoveFromCart: 1, events.TypeOrderPlaced: 3,
	}
	wantSkipped := map[SkipReason]int{
		SkipMalformed: 5, SkipZeroPrice: 1, SkipNegativePrice: 1, SkipSubPenny: 1, SkipUnknownEventType: 1,
	}
	wantCorrected := map[string]int{CorrectSessionFromUserDay: 2, CorrectMergedPurchase: 1}
	for k, v := range wantEvents {
		if r.Events[k] != v {
			t.Errorf("events %s: got %d, want %d", k, r.Events[k], v)
		}
	}
	for k, v := range wantSkipped {
		if r.Skipped[k] != v {
			t.Errorf("skipped %s: got %d, want %d (%v)", k, r.Skipped[k], v, res.Skipped)
		}
	}
	for k, v := range wantCorrected {
		if r.Corrected[k] != v {
			t.Errorf("corrected %s: got %d, want %d", k, r.Corrected[k], v)
		}
	}
	if len(res.Events) != r.TotalEvents() || len(res.Skipped) != r.TotalSkipped() {
		t.Errorf("report totals %d/%d disagree with %d events, %d skipped", r.TotalEvents(), r.TotalSkipped(), len(res.Events), len(res.Skipped))
	}
	if !slices.IsSortedFunc(res.Events, func(a, b events.Event) int { return a.Head().EventTime.Compare(b.Head().EventTime) }) {
		t.Error("events are not in event-time order")
	}
	now := time.Now()
	for _, ev := range res.Events {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := events.Decode(b, now); err != nil {
			t.Errorf("%s %s does not decode: %v", ev.Head().Type, ev.Head().EventID, err)
		}
	}
}

func TestReadRees46_PurchasesGroupBySessionAndSecond(t *testing.T) {
	res := readRees46File(t, "rees46-sample.csv")
	orders := map[string]events.OrderPlaced{}
	for _, ev := range res.Events {
		if o, ok := ev.(events.OrderPlaced); ok {
			orders[o.OrderID] = o
		}
	}
	sess := "c6bd7419-2748-4c56-95b4-8cec9ff8b80d"
	tests := []struct {
		name  string
		id    string
		lines []events.OrderLine
		total int64
	}{
		{"three rows at one second, a duplicate merged", sess + "-1569888012", []events.OrderLine{
			{ProductID: "1004237", Category: "electronics.smartphone", Quantity: 1, UnitPriceMinor: 108198},
			{ProductID: "1004833", Category: "electronics.smartphone", Quantity: 2, UnitPriceMinor: 17476},
		}, 143150},
		{"same session a minute later is another order", sess + "-1569888090", []events.OrderLine{
			{ProductID: "4804056", Category: "electronics.audio.headphone", Quantity: 1, UnitPriceMinor: 16057},
		}, 16057},
		{"empty session becomes the user's day", "u523239174-20191001-1569888101", []events.OrderLine{
			{ProductID: "3701309", Category: "appliances.environment.vacuum", Quantity: 1, UnitPriceMinor: 8999},
		}, 8999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, ok := orders[tt.id]
			if !ok {
				t.Fatalf("no order %s among %v", tt.id, slices.Collect(func(yield func(string) bool) {
					for k := range orders {
						if !yield(k) {
							return
						}
					}
				}))
			}
			if !slices.Equal(o.Lines, tt.lines) || o.TotalMinor != tt.total || o.Currency != "USD" || o.Country != "ZZ" {
				t.Errorf("order %+v; want lines %+v total %d USD ZZ", o, tt.lines, tt.total)
			}
		})
	}
}

func TestParseRees46Row(t *testing.T) {
	const ok = ""
	tests := []struct {
		name   string
		row    string
		reason SkipReason
		check  func(t *testing.T, r Rees46Row)
	}{
		{"view with everything", `2019-10-01 00:00:04 UTC,view,1004237,2053013555631882655,electronics.smartphone,apple,1081.98,535871217,c6bd7419`, ok,
			func(t *testing.T, r Rees46Row) {
				want := Rees46Row{Time: time.Date(2019, 10, 1, 0, 0, 4, 0, time.UTC), Type: "view", ProductID: "1004237",
					Category: "electronics.smartphone", PriceMinor: 108198, UserID: "535871217", Session: "c6bd7419"}
				if r != want {
					t.Errorf("got %+v, want %+v", r, want)
				}
			}},
		{"empty category code and brand", `2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,,35.79,541312140,s1`, ok,
			func(t *testing.T, r Rees46Row) {
				if r.Category != "" || r.PriceMinor != 3579 {
					t.Errorf("got %+v", r)
				}
			}},
		{"integer price", `2019-10-01 00:00:00 UTC,cart,5100816,1,,xiaomi,29,541312140,s1`, ok,
			func(t *testing.T, r Rees46Row) {
				if r.PriceMinor != 2900 {
					t.Errorf("price %d, want 2900", r.PriceMinor)
				}
			}},
		{"one decimal price", `2019-10-01 00:00:00 UTC,cart,5100816,1,,xiaomi,7.5,541312140,s1`, ok,
			func(t *testing.T, r Rees46Row) {
				if r.PriceMinor != 750 {
					t.Errorf("price %d, want 750", r.PriceMinor)
				}
			}},
		{"empty session becomes the user's day", `2019-10-31 23:59:59 UTC,view,1,1,,,1.00,42,`, ok,
			func(t *testing.T, r Rees46Row) {
				if r.Session != "u42-20191031" || !r.SessionFromUser {
					t.Errorf("got %+v", r)
				}
			}},
		{"zero price", `2019-10-01 00:00:00 UTC,view,1,1,,,0.00,42,s`, SkipZeroPrice, nil},
		{"negative price", `2019-10-01 00:00:00 UTC,view,1,1,,,-1.00,42,s`, SkipNegativePrice, nil},
		{"fraction of a cent", `2019-10-01 00:00:00 UTC,view,1,1,,,1.005,42,s`, SkipSubPenny, nil},
		{"price not a number", `2019-10-01 00:00:00 UTC,view,1,1,,,1e3,42,s`, SkipMalformed, nil},
		{"time without zone", `2019-10-01 00:00:00,view,1,1,,,1.00,42,s`, SkipMalformed, nil},
		{"time in another zone", `2019-10-01 00:00:00 MSK,view,1,1,,,1.00,42,s`, SkipMalformed, nil},
		{"unknown event type", `2019-10-01 00:00:00 UTC,wishlist,1,1,,,1.00,42,s`, SkipUnknownEventType, nil},
		{"empty product", `2019-10-01 00:00:00 UTC,view,,1,,,1.00,42,s`, SkipMalformed, nil},
		{"user id not a number", `2019-10-01 00:00:00 UTC,view,1,1,,,1.00,4.2,s`, SkipMalformed, nil},
		{"too few fields", `2019-10-01 00:00:00 UTC,view,1,1,,,1.00,42`, SkipMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := csv.NewReader(strings.NewReader(tt.row)).Read()
			if err != nil {
				t.Fatal(err)
			}
			rec = slices.DeleteFunc(rec, func(string) bool { return false })
			row, reason, detail := ParseRees46Row(rec)
			if reason != tt.reason {
				t.Fatalf("reason %q (%s), want %q", reason, detail, tt.reason)
			}
			if reason != "" && detail == "" {
				t.Error("a skip without detail")
			}
			if tt.check != nil {
				tt.check(t, row)
			}
		})
	}
}

func TestReadRees46_BadInput(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"online retail header", "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"},
		{"broken quoting", strings.Join(rees46Header[:], ",") + "\n2019-10-01 00:00:00 UTC,view,1,1,\"open,,1.00,42,s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadRees46(strings.NewReader(tt.in)); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestReadRees46_EventIDsAreStable(t *testing.T) {
	a, b := readRees46File(t, "rees46-sample.csv"), readRees46File(t, "rees46-sample.csv")
	seen := map[string]bool{}
	for i := range a.Events {
		id := a.Events[i].Head().EventID
		if id != b.Events[i].Head().EventID {
			t.Fatalf("event %d: id %s then %s", i, id, b.Events[i].Head().EventID)
		}
		if seen[id] {
			t.Errorf("id %s repeated", id)
		}
		seen[id] = true
	}
}

func FuzzParseRees46(f *testing.F) {
	data, err := os.ReadFile("testdata/rees46-sample.csv")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n")[1:] {
		f.Add(l)
	}
	f.Add(`2019-10-01 00:00:00 UTC,purchase,1,1,,,99999999999999999999.99,1,s`)
	f.Add(`2019-10-01 00:00:00 UTC,purchase,1,1,,,-,1,s`)
	f.Add("\x00,\"\"\"\n")
	header := strings.Join(rees46Header[:], ",") + "\n"
	f.Fuzz(func(t *testing.T, s string) {
		if rec, err := csv.NewReader(strings.NewReader(s)).Read(); err == nil {
			row, reason, _ := ParseRees46Row(rec)
			if reason == "" && (row.PriceMinor <= 0 || row.Session == "" || row.UserID == "") {
				t.Errorf("kept row %+v from %q", row, s)
			}
		}
		res, err := ReadRees46(strings.NewReader(header + s))
		if err != nil {
			return
		}
		kept := 0
		for _, ev := range res.Events {
			if ev.Head().EventTime.IsZero() {
				t.Errorf("event without time: %+v", ev)
			}
			kept++
		}
		if res.Report.Rows < res.Report.TotalSkipped() {
			t.Errorf("skipped %d of %d rows", res.Report.TotalSkipped(), res.Report.Rows)
		}
	})
}
