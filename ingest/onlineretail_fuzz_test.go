package ingest

import (
	"bytes"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// FuzzReadOnlineRetailEvents feeds arbitrary CSV to the Online Retail reader:
// it never panics, and every event it returns passes the catalogue's
// validation, so a replay can only produce valid events.
func FuzzReadOnlineRetailEvents(f *testing.F) {
	const header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
	f.Add([]byte(header + "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"))
	f.Add([]byte(header + "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom\n"))
	f.Add([]byte(header + "536370,POST,POSTAGE,3,12/1/2010 8:45,18,12583.0,France\n"))
	f.Add([]byte(header + "536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom\n"))
	f.Add([]byte(header + "\"536365\",\"a,b\",\"x\"\"y\",1,2010-12-01 08:26:00,0.001,1.0,EIRE\n"))
	f.Add([]byte("not,a,header\n1,2,3\n"))
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		f.Skip(err)
	}
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ReadOnlineRetailEvents(bytes.NewReader(data), loc)
		if err != nil {
			return
		}
		for _, ev := range res.Events {
			b, err := events.Encode(ev)
			if err != nil {
				t.Fatalf("encode %T: %v", ev, err)
			}
			if _, err := events.Decode(b, far); err != nil {
				t.Fatalf("reader produced an invalid event %s: %v", b, err)
			}
		}
	})
}
