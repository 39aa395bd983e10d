package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

func readOnlineRetailEventsFile(t testing.TB, name string) OnlineRetailResult {
	t.Helper()
	f, err := os.Open(filepath.Join(onlineRetailDir, name))
	if err != nil {
		t.Fatalf("open the real sample: %v", err)
	}
	defer f.Close()
	res, err := ReadOnlineRetailEvents(f, london(t))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestReadOnlineRetailEvents_RealDaysCancellationsBecomeRefunds(t *testing.T) {
	// Refund figures computed independently (Python, Decimal): C invoices,
	// minus accounting codes, sum of -Quantity*UnitPrice in pence.
	tests := []struct {
		file          string
		orders        int
		revenuePence  int64
		refunds       int
		refundedPence int64
		skips         map[SkipReason]int
	}{
		{"2010-12-01.csv", 129, 5896079, 5, 29773, map[SkipReason]int{SkipZeroPrice: 9, SkipQuantity: 1, SkipAccounting: 1}},
		{"2010-12-02.csv", 142, 4774838, 23, 154110, map[SkipReason]int{SkipZeroPrice: 1, SkipQuantity: 1}},
		{"2010-12-03.csv", 69, 4694371, 7, 132325, map[SkipReason]int{SkipZeroPrice: 5, SkipQuantity: 28}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := readOnlineRetailEventsFile(t, tt.file)
			var orders, refunds int
			var revenue, refunded int64
			for i, ev := range res.Events {
				if i > 0 && ev.Head().EventTime.Before(res.Events[i-1].Head().EventTime) {
					t.Errorf("event %d out of event-time order", i)
				}
				switch e := ev.(type) {
				case events.OrderPlaced:
					orders++
					revenue += e.TotalMinor
				case events.Refund:
					refunds++
					refunded += e.AmountMinor
					if !strings.HasPrefix(e.OrderID, "C") || e.RefundID != e.OrderID || e.Currency != "GBP" || e.Reason != "cancelled" {
						t.Errorf("refund %+v", e)
					}
					if err := e.Validate(e.EventTime); err != nil {
						t.Errorf("refund %s: %v", e.RefundID, err)
					}
				default:
					t.Errorf("unexpected event %T", ev)
				}
			}
			if orders != tt.orders || revenue != tt.revenuePence || refunds != tt.refunds || refunded != tt.refundedPence {
				t.Errorf("orders %d revenue %d refunds %d refunded %d; want %d %d %d %d",
					orders, revenue, refunds, refunded, tt.orders, tt.revenuePence, tt.refunds, tt.refundedPence)
			}
			r := res.Report
			if r.Rows != countDataRows(t, tt.file) {
				t.Errorf("rows read %d, want %d", r.Rows, countDataRows(t, tt.file))
			}
			for k, v := range tt.skips {
				if r.Skipped[k] != v {
					t.Errorf("skipped %s: %d, want %d", k, r.Skipped[k], v)
				}
			}
			if r.TotalSkipped() != len(res.Skipped) || r.Events[events.TypeRefund] != refunds || r.Events[events.TypeOrderPlaced] != orders {
				t.Errorf("report %+v disagrees with the events", r)
			}
			if r.Corrected[CorrectCustomerFloat] == 0 || r.Corrected[CorrectGuest] == 0 {
				t.Errorf("corrections %v: want customer id floats and guests counted", r.Corrected)
			}
		})
	}
}

func TestReadOnlineRetailEvents_CancellationQuirks(t *testing.T) {
	const header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
	tests := []struct {
		name   string
		rows   string
		reason SkipReason // of the first row; "" means one refund
		check  func(t *testing.T, r events.Refund)
	}{
		{"two rows become one refund of their sum",
			"C536383,35004C,SET OF 3 COLOURED  FLYING DUCKS,-1,2010-12-01 09:49:00,4.65,15311.0,United Kingdom\n" +
				"C536383,22556,PLASTERS IN TIN CIRCUS PARADE,-12,2010-12-01 09:50:00,1.65,15311.0,United Kingdom\n", "",
			func(t *testing.T, r events.Refund) {
				if r.AmountMinor != 465+12*165 || r.CustomerID != "15311" || r.RefundID != "C536383" {
					t.Errorf("got %+v", r)
				}
				if want := time.Date(2010, 12, 1, 9, 49, 0, 0, time.UTC); !r.EventTime.Equal(want) {
					t.Errorf("time %s, want the earliest row's %s", r.EventTime, want)
				}
			}},
		{"guest cancellation", "C536391,22553,PLASTERS IN TIN SKULLS,-24,2010-12-01 10:24:00,1.65,,United Kingdom\n", "",
			func(t *testing.T, r events.Refund) {
				if r.CustomerID != "guest-C536391" {
					t.Errorf("customer %q", r.CustomerID)
				}
			}},
		{"discount in a cancellation is bookkeeping", "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom\n", SkipAccounting, nil},
		{"positive quantity in a cancellation", "C536379,22553,PLASTERS,3,2010-12-01 09:41:00,1.65,14527.0,United Kingdom\n", SkipQuantity, nil},
		{"zero price in a cancellation", "C536379,22553,PLASTERS,-3,2010-12-01 09:41:00,0,14527.0,United Kingdom\n", SkipZeroPrice, nil},
		{"unknown country in a cancellation", "C536379,22553,PLASTERS,-3,2010-12-01 09:41:00,1.65,14527.0,Unspecified\n", SkipUnknownCountry, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ReadOnlineRetailEvents(strings.NewReader(header+tt.rows), london(t))
			if err != nil {
				t.Fatal(err)
			}
			if tt.reason != "" {
				if len(res.Skipped) == 0 || res.Skipped[0].Reason != tt.reason || len(res.Events) != 0 {
					t.Fatalf("skipped %v, events %v; want %s", res.Skipped, res.Events, tt.reason)
				}
				return
			}
			if len(res.Events) != 1 || len(res.Skipped) != 0 {
				t.Fatalf("events %v, skipped %v; want one refund", res.Events, res.Skipped)
			}
			tt.check(t, res.Events[0].(events.Refund))
		})
	}
}

func TestReadOnlineRetail_OrdersOnlyStillSkipsCancellations(t *testing.T) {
	orders, skipped, err := ReadOnlineRetail(strings.NewReader(
		"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"+
			"C536383,35004C,SET OF 3 COLOURED  FLYING DUCKS,-1,2010-12-01 09:49:00,4.65,15311.0,United Kingdom\n"), london(t))
	if err != nil || len(orders) != 0 || len(skipped) != 1 || skipped[0].Reason != SkipCancellation {
		t.Fatalf("orders %v skipped %v err %v", orders, skipped, err)
	}
}
