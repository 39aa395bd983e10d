package analytics

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

func readCDNOW(t *testing.T) []RFT {
	t.Helper()
	f, err := os.Open("testdata/cdnow_summary.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []RFT
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		var v [3]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(fs[i], 64); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
		cs = append(cs, RFT{X: v[0], Tx: v[1], T: v[2]})
	}
	return cs
}

// The published BG/NBD fit of the CDNOW sample (Fader, Hardie and Lee
// 2005, table 1 and the accompanying note): r = 0.243, alpha = 4.414,
// a = 0.793, b = 2.426, log-likelihood -9582.4, on 2,357 customers of whom
// 946 made 2,457 repeat transactions.
func TestFitBGNBD_ReproducesTheCDNOWPublishedFit(t *testing.T) {
	cs := readCDNOW(t)
	repeaters, repeats := 0, 0.0
	for _, c := range cs {
		if c.X > 0 {
			repeaters++
		}
		repeats += c.X
	}
	if len(cs) != 2357 || repeaters != 946 || repeats != 2457 {
		t.Fatalf("data: %d customers, %d repeaters, %v repeat transactions; want 2357, 946, 2457", len(cs), repeaters, repeats)
	}
	m, fr, err := FitBGNBD(cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit %+v, log-likelihood %.2f", m, fr.LogLikelihood)
	near(t, "r", m.R, 0.243, 0.0005)
	near(t, "alpha", m.Alpha, 4.414, 0.005)
	near(t, "a", m.A, 0.793, 0.0005)
	near(t, "b", m.B, 2.426, 0.005)
	near(t, "log-likelihood", fr.LogLikelihood, -9582.4, 0.05)
	if !fr.Converged || fr.AtBoundary {
		t.Errorf("fit %+v", fr)
	}
}
