package analytics

import (
	"math"
	"time"
)

// The anomaly model
//
// A series has one value per minute. Its baseline is seasonal: each of the
// 168 hours of the week (day-of-week and hour-of-day, UTC) keeps an EWMA of
// the values seen in that hour (the level) and an EWMA of the absolute error
// of those values against the level (the deviation, a robust scale). Until an
// hour of the week has seen WeekMinObs values (two weeks by default), the
// 24 hours of the day, kept the same way, stand in for it; until the hour of
// the day has seen DayMinObs values (one day), the minute is not scored at all,
// so a cold start is quiet.
//
// A scored minute's z is (actual - expected) / scale, where scale is
// 1.25 times the deviation (the mean absolute error of a normal variable is
// 0.8 of its standard deviation), but at least RelFloor of the expected value
// and at least MinScale, so a perfectly steady series does not turn a tiny
// change into a huge z. A minute is beyond when |z| >= Z. An anomaly is
// sustained, and an alert opens, when at least K of the last M minutes were
// beyond; it closes when M minutes in a row are not (minutes observed: a
// series with no value in a minute, like a rate without orders, skips it).
// A single spike therefore never alerts.
//
// The weights are small (0.02 a minute: an hour's level is, in effect, the
// mean of the same hour's last hour of values) and at least 1/n, so the first
// values are averaged. A beyond minute teaches the level its value clamped to
// expected ± 2·scale and does not teach the deviation, so an outage moves the
// baseline slowly rather than at once; a lasting level shift is still
// learned, over a few days, and its alert stays open until then.
//
// The state is a plain value (AnomalyState) that marshals to JSON; feeding
// the same minutes in the same order to the same state gives the same scores
// and state, so it can be persisted beside the scores or rebuilt from the
// series.

// AnomalyConfig tunes the detector. Zero fields take the defaults of
// DefaultAnomalyConfig.
type AnomalyConfig struct {
	// Alpha is the EWMA weight of a new value in its hour's level.
	Alpha float64 `json:"alpha"`
	// Beta is the EWMA weight of a new absolute error in its hour's deviation.
	Beta float64 `json:"beta"`
	// Z is the |z| at or above which a minute is beyond the baseline.
	Z float64 `json:"z"`
	// K of the last M minutes beyond make a sustained anomaly.
	K int `json:"k"`
	M int `json:"m"`
	// WeekMinObs values in an hour of the week before it is used.
	WeekMinObs int `json:"week_min_obs"`
	// DayMinObs values in an hour of the day before it stands in.
	DayMinObs int `json:"day_min_obs"`
	// RelFloor is the smallest scale as a fraction of the expected value.
	RelFloor float64 `json:"rel_floor"`
	// MinScale is the smallest scale in the series' units.
	MinScale float64 `json:"min_scale"`
}

// DefaultAnomalyConfig is the detector's default tuning: z 4, 3 of the last
// 5 minutes, the week profile after two weeks, the day profile after a day.
func DefaultAnomalyConfig() AnomalyConfig {
	return AnomalyConfig{
		Alpha: 0.02, Beta: 0.02, Z: 4, K: 3, M: 5,
		WeekMinObs: 120, DayMinObs: 60,
		RelFloor: 0.05, MinScale: 1,
	}
}

// withDefaults fills zero fields from DefaultAnomalyConfig.
func (c AnomalyConfig) withDefaults() AnomalyConfig {
	d := DefaultAnomalyConfig()
	if c.Alpha <= 0 || c.Alpha > 1 {
		c.Alpha = d.Alpha
	}
	if c.Beta <= 0 || c.Beta > 1 {
		c.Beta = d.Beta
	}
	if c.Z <= 0 {
		c.Z = d.Z
	}
	if c.M <= 0 {
		c.M = d.M
	}
	if c.K <= 0 {
		c.K = d.K
	}
	if c.K > c.M {
		c.K = c.M
	}
	if c.WeekMinObs <= 0 {
		c.WeekMinObs = d.WeekMinObs
	}
	if c.DayMinObs <= 0 {
		c.DayMinObs = d.DayMinObs
	}
	if c.RelFloor <= 0 {
		c.RelFloor = d.RelFloor
	}
	if c.MinScale <= 0 {
		c.MinScale = d.MinScale
	}
	return c
}

// SeasonSlot is the learned level and deviation of one hour.
type SeasonSlot struct {
	N     int     `json:"n"`
	Level float64 `json:"level"`
	Dev   float64 `json:"dev"`
}

// AnomalyState is everything the detector remembers. It marshals to JSON.
type AnomalyState struct {
	// Week is indexed by weekday*24 + hour (UTC, Sunday first).
	Week [168]SeasonSlot `json:"week"`
	// Day is indexed by hour (UTC).
	Day [24]SeasonSlot `json:"day"`
	// Recent holds whether each of the last M scored or unscored minutes was
	// beyond, oldest first.
	Recent []bool `json:"recent"`
	// Alerting is whether a sustained anomaly is open.
	Alerting bool `json:"alerting"`
	// Last is the last minute observed; zero before the first.
	Last time.Time `json:"last"`
}

// AnomalyScore is the verdict on one minute.
type AnomalyScore struct {
	Minute time.Time
	Actual float64
	// Scored is false during a cold start: Expected, Deviation and Z are zero.
	Scored    bool
	Expected  float64
	Deviation float64 // the scale z is measured in
	Z         float64
	// Beyond is |Z| >= the threshold.
	Beyond bool
	// Sustained is whether a sustained anomaly is open after this minute.
	Sustained bool
	// Opened and Closed mark the minutes where Sustained changed.
	Opened, Closed bool
}

// AnomalyDetector scores one series' minutes in order. It is not safe for
// concurrent use.
type AnomalyDetector struct {
	cfg AnomalyConfig
	st  AnomalyState
}

// NewAnomalyDetector returns a detector that continues from st (the zero
// state starts cold).
func NewAnomalyDetector(cfg AnomalyConfig, st AnomalyState) *AnomalyDetector {
	return &AnomalyDetector{cfg: cfg.withDefaults(), st: st}
}

// Config returns the tuning in effect, defaults filled in.
func (d *AnomalyDetector) Config() AnomalyConfig { return d.cfg }

// State returns the detector's state, to persist.
func (d *AnomalyDetector) State() AnomalyState {
	st := d.st
	st.Recent = append([]bool(nil), d.st.Recent...)
	return st
}

// dayWiden multiplies the scale while the day profile stands in for the
// week profile: it does not know weekends from weekdays.
const dayWiden = 2

// Expected returns the baseline for a minute (level, deviation and how much
// to widen the scale), and false if the hours it falls in have not been
// learned yet.
func (d *AnomalyDetector) Expected(minute time.Time) (level, dev, widen float64, ok bool) {
	t := minute.UTC()
	w := &d.st.Week[int(t.Weekday())*24+t.Hour()]
	if w.N >= d.cfg.WeekMinObs {
		return w.Level, w.Dev, 1, true
	}
	h := &d.st.Day[t.Hour()]
	if h.N >= d.cfg.DayMinObs {
		return h.Level, h.Dev, dayWiden, true
	}
	return 0, 0, 0, false
}

// Observe scores the value of one minute and learns from it. Minutes must
// come in increasing order; a minute at or before the last one observed is
// scored against the current baseline but not learned from, so replaying
// input cannot change the state.
func (d *AnomalyDetector) Observe(minute time.Time, v float64) AnomalyScore {
	minute = minute.UTC().Truncate(time.Minute)
	s := AnomalyScore{Minute: minute, Actual: v}
	exp, dev, widen, ok := d.Expected(minute)
	if ok {
		scale := widen * math.Max(1.25*dev, math.Max(d.cfg.RelFloor*math.Abs(exp), d.cfg.MinScale))
		s.Scored, s.Expected, s.Deviation = true, exp, scale
		s.Z = (v - exp) / scale
		s.Beyond = math.Abs(s.Z) >= d.cfg.Z
	}
	if !d.st.Last.IsZero() && !minute.After(d.st.Last) {
		s.Sustained = d.st.Alerting
		return s
	}
	d.st.Last = minute

	// Learn. A beyond value teaches the level only up to Huber·scale from
	// the expected value, and not the deviation at all.
	learn, learnDev := v, true
	if s.Beyond {
		learn, learnDev = s.Expected+math.Copysign(huber*s.Deviation, s.Z), false
	}
	d.update(&d.st.Week[int(minute.Weekday())*24+minute.Hour()], learn, learnDev)
	d.update(&d.st.Day[minute.Hour()], learn, learnDev)

	// The sustained rule.
	d.st.Recent = append(d.st.Recent, s.Beyond)
	if over := len(d.st.Recent) - d.cfg.M; over > 0 {
		d.st.Recent = append(d.st.Recent[:0], d.st.Recent[over:]...)
	}
	hits := 0
	for _, b := range d.st.Recent {
		if b {
			hits++
		}
	}
	switch {
	case !d.st.Alerting && hits >= d.cfg.K:
		d.st.Alerting, s.Opened = true, true
	case d.st.Alerting && hits == 0 && len(d.st.Recent) >= d.cfg.M:
		d.st.Alerting, s.Closed = false, true
	}
	s.Sustained = d.st.Alerting
	return s
}

// huber is where a beyond value is clamped, in scales from the expected
// value, before the level learns it.
const huber = 2

// update moves a slot's level and deviation towards v. The weights are at
// least 1/n, so the first values are averaged rather than the first one
// dominating.
func (d *AnomalyDetector) update(slot *SeasonSlot, v float64, learnDev bool) {
	slot.N++
	n := float64(slot.N)
	if slot.N == 1 {
		slot.Level, slot.Dev = v, 0
		return
	}
	if learnDev {
		slot.Dev += math.Max(d.cfg.Beta, 1/(n-1)) * (math.Abs(v-slot.Level) - slot.Dev)
	}
	slot.Level += math.Max(d.cfg.Alpha, 1/n) * (v - slot.Level)
}
