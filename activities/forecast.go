package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// NameForecastDemand is the registered name of Forecasts.ForecastDemand.
const NameForecastDemand = "ForecastDemand"

// ForecastModelName is the demand forecasts' name in the registry.
const ForecastModelName = "forecast"

// Forecasts computes the daily demand forecasts per product.
type Forecasts struct {
	DB *store.DB
	// OrdersTopic is recorded in the lineage with its offsets and
	// watermarks.
	OrdersTopic string
}

// ForecastInput is one forecast run. AsOf is a UTC day: demand before it
// is the history, forecasts start on it.
type ForecastInput struct {
	AsOf        time.Time
	HistoryDays int
	Horizon     int
	Holdout     int
	Period      int
	Alpha       float64 // Croston's smoothing parameter
	RunID       string
	Workflow    string
}

// ForecastResult summarises a run.
type ForecastResult struct {
	Version      string
	AsOf         time.Time
	Products     int
	HoltWinters  int
	CrostonSBA   int
	Rows         int64
	WithMASE     int
	MedianMASE   float64
	MeanMASE     float64
	MedianSnaive float64
	// BeatSnaive counts products whose method's MASE is below the
	// seasonal naive's on the same holdout.
	BeatSnaive int
}

// ForecastVersion names the forecast model of an as-of day.
func ForecastVersion(asOf time.Time) string {
	return "forecast-" + asOf.UTC().Format(time.DateOnly)
}

// ForecastDemand reads the daily demand per product over the history
// window, forecasts each product with the method its demand class calls
// for, measures it on the holdout, and replaces the as-of day's forecasts,
// accuracy rows and forecast model version in one transaction, with
// lineage. Running it twice for the same day gives the same rows.
func (a *Forecasts) ForecastDemand(ctx context.Context, in ForecastInput) (ForecastResult, error) {
	if in.AsOf.IsZero() || in.HistoryDays < 1 || in.Horizon < 1 || in.Holdout < 1 || in.Period < 2 || in.Alpha <= 0 || in.Alpha > 1 {
		return ForecastResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("forecast demand: want as_of, history_days, horizon, holdout >= 1, period >= 2, 0 < alpha <= 1; got %+v", in),
			"InvalidInput", nil)
	}
	started := time.Now()
	asOf := in.AsOf.UTC().Truncate(24 * time.Hour)
	from := asOf.AddDate(0, 0, -in.HistoryDays)
	demand, err := a.DB.DailyDemand(ctx, from, asOf)
	if err != nil {
		return ForecastResult{}, err
	}
	cfg := analytics.DemandConfig{Period: in.Period, Horizon: in.Horizon, Holdout: in.Holdout, Alpha: in.Alpha}
	res := ForecastResult{Version: ForecastVersion(asOf), AsOf: asOf, Products: len(demand)}
	products := make([]store.ProductForecast, 0, len(demand))
	var mases, snaives []float64
	for i, d := range demand {
		if i%20 == 0 {
			activity.RecordHeartbeat(ctx, i)
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		f, err := analytics.ForecastDemand(d.Units, cfg)
		if err != nil {
			return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("product %s: %v", d.ProductID, err), "ForecastFailed", err)
		}
		hold := 0
		if f.HasMASE {
			hold = in.Holdout
			mases = append(mases, f.MASE)
			snaives = append(snaives, f.SeasonalNaiveMASE)
			if f.MASE < f.SeasonalNaiveMASE {
				res.BeatSnaive++
			}
		}
		switch f.Method {
		case analytics.MethodHoltWinters:
			res.HoltWinters++
		default:
			res.CrostonSBA++
		}
		products = append(products, store.ProductForecast{ProductID: d.ProductID, HistoryDays: len(d.Units), HoldoutDays: hold, Result: f})
	}
	res.WithMASE = len(mases)
	res.MedianMASE, res.MedianSnaive = median(mases), median(snaives)
	for _, m := range mases {
		res.MeanMASE += m / float64(len(mases))
	}
	params, _ := json.Marshal(map[string]any{
		"period": in.Period, "horizon": in.Horizon, "holdout": in.Holdout, "history_days": in.HistoryDays,
		"croston_alpha": in.Alpha, "adi_cutoff": analytics.ADICutoff, "cv2_cutoff": analytics.CV2Cutoff,
		"holt_winters": "additive, with trend, alpha/beta/gamma minimising SSE (R HoltWinters)",
		"croston":      "Croston with the SBA correction (1 - alpha/2)",
	})
	metrics, _ := json.Marshal(map[string]any{
		"products": res.Products, "holt_winters": res.HoltWinters, "croston_sba": res.CrostonSBA,
		"with_mase": res.WithMASE, "mase_median": res.MedianMASE, "mase_mean": res.MeanMASE,
		"snaive_mase_median": res.MedianSnaive, "beat_snaive": res.BeatSnaive,
	})
	by := in.Workflow + "/" + in.RunID
	res.Rows, err = a.DB.SaveDemandForecasts(ctx, store.DemandForecastRun{
		AsOf: asOf, RunID: in.RunID, Products: products, Topic: a.OrdersTopic, Promoter: by,
		Model: store.ModelVersion{Model: ForecastModelName, Version: res.Version,
			Algorithm: analytics.MethodHoltWinters + "+" + analytics.MethodCrostonSBA,
			TrainFrom: from, TrainTo: asOf, Params: params, Metrics: metrics, TrainedBy: by},
		Lineage: store.Lineage{RunID: in.RunID, Workflow: in.Workflow, Step: "forecast-demand", Started: started,
			Inputs: map[string]any{"tables": []string{"order_lines", "order_cancellations"}, "from": from, "to": asOf},
			Outputs: map[string]any{"tables": []string{"demand_forecasts", "demand_forecast_accuracy", "model_registry"},
				"products": res.Products, "model_version": res.Version}},
	})
	return res, err
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
