package analytics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

var anomalyStart = time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC) // a Monday

// seasonal is a daily shape: a quiet night, a day plateau and an evening
// peak at 19:00-21:59, with weekends 30% lower.
func seasonal(t time.Time) float64 {
	base := 40.0
	switch h := t.Hour(); {
	case h < 7:
		base = 10
	case h >= 19 && h < 22:
		base = 120
	}
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		base *= 0.7
	}
	return base
}

// feed runs minutes [0, n) through a fresh detector with value f(i, t) and
// returns the scores.
func feed(cfg AnomalyConfig, n int, f func(i int, t time.Time) float64) ([]AnomalyScore, *AnomalyDetector) {
	d := NewAnomalyDetector(cfg, AnomalyState{})
	out := make([]AnomalyScore, n)
	for i := range n {
		t := anomalyStart.Add(time.Duration(i) * time.Minute)
		out[i] = d.Observe(t, f(i, t))
	}
	return out, d
}

func opened(scores []AnomalyScore) []int {
	var at []int
	for i, s := range scores {
		if s.Opened {
			at = append(at, i)
		}
	}
	return at
}

func TestAnomalyDetector(t *testing.T) {
	const day = 1440
	noise := func(seed uint64) func(float64) float64 {
		r := rand.New(rand.NewPCG(seed, 7))
		return func(mean float64) float64 { return math.Max(0, mean+r.NormFloat64()*math.Sqrt(mean)) }
	}
	n1, n2, n3, n4, n5 := noise(1), noise(2), noise(3), noise(4), noise(5)
	dropAt := 16*day + 20*60 // a Tuesday 20:00, in the evening peak, after two weeks
	tests := []struct {
		name string
		n    int
		f    func(int, time.Time) float64
		// wantOpened are the minutes where an alert opens.
		wantOpened []int
		// quietBefore: no minute before it may be beyond (cold start).
		check func(t *testing.T, s []AnomalyScore)
	}{
		{name: "steady series has no anomaly", n: 3 * day,
			f: func(int, time.Time) float64 { return 50 }},
		{name: "noisy seasonal series with an evening peak is not flagged once learned", n: 21 * day,
			f: func(_ int, t time.Time) float64 { return n1(seasonal(t)) }},
		{name: "a single spike does not alert", n: 16*day + 30,
			f: func(i int, t time.Time) float64 {
				if i == 16*day+10 {
					return 10 * seasonal(t)
				}
				return n2(seasonal(t))
			},
			check: func(t *testing.T, s []AnomalyScore) {
				if !s[16*day+10].Beyond {
					t.Fatalf("the spike should be beyond: %+v", s[16*day+10])
				}
			}},
		{name: "a sustained step drop alerts once, with the expected value", n: dropAt + 30,
			f: func(i int, t time.Time) float64 {
				if i >= dropAt {
					return n3(seasonal(t)) * 0.3
				}
				return n3(seasonal(t))
			},
			wantOpened: []int{dropAt + 2},
			check: func(t *testing.T, s []AnomalyScore) {
				o := s[dropAt+2]
				if math.Abs(o.Expected-120) > 15 || o.Z > -4 || !o.Sustained {
					t.Fatalf("at the opening: %+v", o)
				}
			}},
		{name: "two beyond minutes in five do not alert", n: 16*day + 30,
			f: func(i int, t time.Time) float64 {
				if i == 16*day+10 || i == 16*day+13 {
					return 0
				}
				return n4(seasonal(t))
			}},
		{name: "cold start with little history is quiet", n: day - 1,
			f: func(i int, t time.Time) float64 { return float64(i % 97) },
			check: func(t *testing.T, s []AnomalyScore) {
				for _, x := range s {
					if x.Scored {
						t.Fatalf("scored during the first day: %+v", x)
					}
				}
			}},
		{name: "the alert closes when the series returns to normal", n: dropAt + 60,
			f: func(i int, t time.Time) float64 {
				if i >= dropAt && i < dropAt+20 {
					return 0
				}
				return n5(seasonal(t))
			},
			wantOpened: []int{dropAt + 2},
			check: func(t *testing.T, s []AnomalyScore) {
				closed := -1
				for i, x := range s {
					if x.Closed {
						closed = i
					}
				}
				if closed != dropAt+24 || s[len(s)-1].Sustained {
					t.Fatalf("closed at %d, want %d; last %+v", closed, dropAt+24, s[len(s)-1])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := feed(AnomalyConfig{}, tt.n, tt.f)
			if got := opened(s); !reflect.DeepEqual(got, tt.wantOpened) {
				t.Fatalf("alerts opened at %v, want %v", got, tt.wantOpened)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestAnomalyDetector_StateRoundTripGivesTheSameScores(t *testing.T) {
	f := func(i int, t time.Time) float64 { return seasonal(t) + float64(i%7) }
	all, _ := feed(AnomalyConfig{}, 3*1440, f)

	d := NewAnomalyDetector(AnomalyConfig{}, AnomalyState{})
	var got []AnomalyScore
	for i := range 3 * 1440 {
		if i == 2000 {
			b, err := json.Marshal(d.State())
			if err != nil {
				t.Fatal(err)
			}
			var st AnomalyState
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			d = NewAnomalyDetector(AnomalyConfig{}, st)
		}
		tm := anomalyStart.Add(time.Duration(i) * time.Minute)
		got = append(got, d.Observe(tm, f(i, tm)))
	}
	if !reflect.DeepEqual(got, all) {
		t.Fatal("scores after a restart from the marshalled state differ")
	}
}

func TestAnomalyDetector_ReplayedMinuteDoesNotLearn(t *testing.T) {
	_, d := feed(AnomalyConfig{}, 1500, func(int, time.Time) float64 { return 50 })
	before := d.State()
	d.Observe(anomalyStart.Add(1000*time.Minute), 5000)
	if !reflect.DeepEqual(before, d.State()) {
		t.Fatal("a replayed minute changed the state")
	}
}
