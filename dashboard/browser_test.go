package dashboard_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shoppulse/shoppulse/api"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/batchseed"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/workflows"
)

// chromium finds Debian's chromium. Without it the test skips, or fails
// when SHOPPULSE_REQUIRE_SERVICES=1 (CI installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SHOPPULSE_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is required (SHOPPULSE_REQUIRE_SERVICES=1) but not installed: apt-get install chromium")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// screenshotDir is where the test leaves its screenshots: $SHOPPULSE_SCREENSHOTS,
// else the repository's ignored .data/screenshots.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SHOPPULSE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", ".data", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// stepTimeout bounds one step in the browser. It is generous: a shared CI
// machine under load takes seconds to render a page, and a step that passes
// passes as soon as the page is ready.
const stepTimeout = 90 * time.Second

// page is one browser tab that records every console error and warning,
// uncaught exception and failed resource load.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string
}

func newPage(t *testing.T, browser context.Context, base string) *page {
	ctx, cancel := chromedp.NewContext(browser)
	p := &page{t: t, ctx: ctx, base: base}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return // the tab closed
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				p.mu.Lock()
				p.problems = append(p.problems, fmt.Sprintf("%s (%s)", m, m.URL))
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return p
}

// do runs actions in the tab, failing the test on error.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		p.t.Fatalf("%s: %v (console: %v)", what, err, p.console())
	}
}

// eval evaluates a JavaScript expression in the tab.
func eval[T any](p *page, what, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: %v (console: %v)", what, err, p.console())
	}
	return v
}

func (p *page) console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// noProblems fails on any console error or warning, exception or failed
// load, except those matching allowed.
func (p *page) noProblems(allowed ...*regexp.Regexp) {
	p.t.Helper()
	for _, m := range p.console() {
		ok := false
		for _, re := range allowed {
			ok = ok || re.MatchString(m)
		}
		if !ok {
			p.t.Errorf("browser console: %s", m)
		}
	}
}

func (p *page) screenshot(name string) {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(screenshotDir(p.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// login opens the dashboard and submits the key in the login form.
func (p *page) login(key string) {
	p.t.Helper()
	p.do("open the login form",
		chromedp.Navigate(p.base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.ID("api-key")),
		chromedp.SendKeys(chromedp.ID("api-key"), key),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
	)
}

// waitPanels waits until every shown panel has loaded, and checks that the
// wanted ones are among them.
func (p *page) waitPanels(want ...string) {
	p.t.Helper()
	p.do("panels load",
		chromedp.WaitVisible(chromedp.ID("panels")),
		chromedp.Poll[chromedp.Void](`(() => {
			const ps = [...document.querySelectorAll('#panels [data-panel]')];
			const failed = ps.filter(s => s.dataset.state === 'failed');
			if (failed.length) throw new Error(failed.map(s => s.dataset.panel + ': ' + s.querySelector('.state').textContent).join('; '));
			return ps.length > 0 && ps.every(s => s.dataset.state === 'ready');
		})()`, chromedp.WithPollingTimeout(stepTimeout)))
	shown := eval[[]string](p, "list panels", `[...document.querySelectorAll('#panels [data-panel]')].map(s => s.dataset.panel)`)
	for _, id := range want {
		if !slices.Contains(shown, id) {
			p.t.Errorf("panel %s not shown; shown: %v", id, shown)
		}
	}
}

// waitText waits until the element's text contains want.
func (p *page) waitText(sel, want string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout+5*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want),
		chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		got := eval[string](p, "read "+sel, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel))
		p.screenshot("failed-wait")
		p.t.Fatalf("%s: text %q, want it to contain %q (%v; console: %v)", sel, got, want, err, p.console())
	}
}

// chartState is what the chart of one panel holds and draws.
type chartState struct {
	Points int  `json:"points"`
	Drawn  bool `json:"drawn"`
}

const chartsJS = `(() => {
	const out = {};
	for (const s of document.querySelectorAll('#panels [data-panel]')) {
		const box = s.querySelector('.chart');
		if (!box) continue;
		const inst = echarts.getInstanceByDom(box);
		const opt = inst && inst.getOption();
		const points = opt ? opt.series.reduce((n, x) => n + (x.data ? x.data.filter(d => d !== null && (Array.isArray(d) ? d[1] : (d.value ?? d)) > 0).length : 0), 0) : -1;
		let drawn = false;
		const cv = box.querySelector('canvas');
		if (cv && cv.width > 0) {
			const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
			for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) { drawn = true; break; }
		}
		out[s.dataset.panel] = {points, drawn};
	}
	return out;
})()`

func TestDashboardInChromium(t *testing.T) {
	chrome := chromium(t)
	schema := testenv.DB(t)
	db := schema.DB
	ctx := testenv.Context(t, 10*time.Minute)
	s := seedShop(t, ctx, db)
	batch := batchseed.Seed(t, ctx, db)
	// A real replenishment workflow on the dev server holds an order for
	// approval; the API sends decisions to it through its Update.
	replen := batchseed.StartReplenisher(t, ctx, db)
	po := replen.AwaitApproval(t, ctx, "p-"+testenv.Name("kettle-order"))

	// The API needs no broker for reads: ingest is not used here.
	srv, err := api.New(api.Config{Brokers: []string{"127.0.0.1:1"}, DefaultReorderPoint: s.defaultReorderPoint, Temporal: replen.C}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	operator, operatorID := newKey(t, ctx, db, "operator", api.ScopeRead, api.ScopeOperate)
	reader, _ := newKey(t, ctx, db, "reader", api.ScopeRead)

	alloc, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1800),
		chromedp.Env("TZ=UTC"),
	)...)
	t.Cleanup(cancel)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium (%s): %v", chrome, err)
	}
	t.Logf("chromium %s, dashboard at %s/dashboard/", chrome, hs.URL)

	t.Run("a bad key is refused", func(t *testing.T) {
		p := newPage(t, browser, hs.URL)
		p.login("sp_0123456789abcdef_" + strings.Repeat("0", 64))
		p.waitText("#login-error", "refused")
		msg := eval[string](p, "message", `document.querySelector('#login-error').textContent`)
		panelsHidden := eval[bool](p, "panels hidden", `document.querySelector('#panels').hidden`)
		stored := eval[string](p, "stored key", `sessionStorage.getItem('shoppulse.apiKey') || ''`)
		if !strings.Contains(msg, "unknown API key") || !panelsHidden || stored != "" {
			t.Errorf("after a bad key: message %q, panels hidden %v, stored key %q", msg, panelsHidden, stored)
		}
		p.screenshot("login-refused")
		// The browser reports the refused request itself (which shows the
		// console is listened to); nothing else may go wrong.
		refused := regexp.MustCompile(`status of 401`)
		if !slices.ContainsFunc(p.console(), refused.MatchString) {
			t.Errorf("the console shows no refused request: %v", p.console())
		}
		p.noProblems(refused)
	})

	t.Run("panels render the seeded data and follow the hot path live", func(t *testing.T) {
		p := newPage(t, browser, hs.URL)
		p.login(operator)
		p.waitPanels("kpis", "hourly", "funnel", "top-products", "top-categories", "fraud", "stock", "anomalies",
			"forecasts", "replenishment", "pricing", "data-quality", "segments")
		charts := eval[map[string]chartState](p, "read the charts", chartsJS)
		for _, id := range []string{"kpis", "hourly", "funnel", "top-products", "top-categories", "anomalies", "forecasts", "segments"} {
			if c, ok := charts[id]; !ok || c.Points == 0 || !c.Drawn {
				t.Errorf("chart of %s: %+v (present %v)", id, c, ok)
			}
		}
		want0 := s.ordersToday(t, ctx)
		p.waitText(`#panel-kpis [data-kpi="Orders today"] .value`, fmt.Sprint(want0))
		if cur := eval[string](p, "currency", `document.querySelector('#currency').value`); cur != "GBP" {
			t.Errorf("currency %q, want GBP (the most revenue today)", cur)
		}
		fraudRows := eval[int](p, "fraud rows", `document.querySelectorAll('#panel-fraud tbody tr').length`)
		stockRows := eval[int](p, "stock rows", `document.querySelectorAll('#panel-stock tbody tr').length`)
		if fraudRows != len(s.fraudOrders) || stockRows == 0 {
			t.Errorf("fraud queue rows %d, want %d; stock rows %d", fraudRows, len(s.fraudOrders), stockRows)
		}
		// The batch side's panels show the seeded rows.
		rows := eval[map[string][]string](p, "batch panel rows", `Object.fromEntries(['forecasts', 'replenishment', 'pricing', 'data-quality', 'segments'].map(id =>
			[id, [...document.querySelectorAll('#panel-' + id + ' tbody tr')].map(r => r.dataset.key)]))`)
		want := map[string][]string{
			"forecasts":     batch.Products,
			"replenishment": {po.ID},
			"pricing":       {fmt.Sprint(batch.Pricing["p-kettle"]), fmt.Sprint(batch.Pricing["p-mug"])},
			"data-quality":  {"orders/hour/volume", "orders/hour/freshness", "sessions/hour/nulls"},
			"segments":      {"0", "1", "c-gone"}, // the clusters, then the customers at risk
		}
		for id, keys := range want {
			got := slices.Clone(rows[id])
			slices.Sort(got)
			keys = slices.Clone(keys)
			slices.Sort(keys)
			if !slices.Equal(got, keys) {
				t.Errorf("panel %s rows %v, want %v", id, rows[id], keys)
			}
		}
		if first := rows["data-quality"]; len(first) == 0 || first[0] != "orders/hour/"+batch.FailedCheck {
			t.Errorf("data quality: the failed check is not first: %v", first)
		}
		p.screenshot("dashboard")

		// A new batch on the hot path reaches the page over /v1/live.
		s.commitOrders(t, ctx, []events.OrderPlaced{
			s.order("c-live", s.today(2*time.Second), "GBP", 1, ""),
			s.order("c-live", s.today(time.Second), "GBP", 1, ""),
		})
		if got := s.ordersToday(t, ctx); got != want0+2 {
			t.Fatalf("orders today in Postgres %d, want %d", got, want0+2)
		}
		p.waitText(`#panel-kpis [data-kpi="Orders today"] .value`, fmt.Sprint(want0+2))
		p.noProblems()
	})

	t.Run("a fraud decision reaches Postgres", func(t *testing.T) {
		p := newPage(t, browser, hs.URL)
		p.login(operator)
		p.waitPanels("fraud")
		for _, label := range []string{"fraud", "legitimate"} {
			order := eval[string](p, "first order in the queue", `document.querySelector('#panel-fraud tbody tr').dataset.key`)
			// Clicked in one script turn: a live refresh may re-render the
			// table between a node lookup and a protocol click.
			p.do("decide "+label,
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const b = document.querySelector('#panel-fraud tr[data-key=%q] button[data-action=%q]'); if (b) b.click(); return !!b; })()`, order, label),
					chromedp.WithPollingTimeout(stepTimeout)),
				chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`#panel-fraud tr[data-key=%q]`, order))))
			var got, by string
			err := db.Pool.QueryRow(ctx, `SELECT label, decided_by FROM fraud_labels WHERE order_id = $1`, order).Scan(&got, &by)
			if err != nil || got != label || by != operatorID {
				t.Fatalf("order %s after clicking %s: label %q by %q (%v), want by %s", order, label, got, by, err, operatorID)
			}
			p.waitText("#notice", order)
		}
		p.screenshot("fraud-decided")
		p.noProblems()
	})

	t.Run("a read-only key cannot decide", func(t *testing.T) {
		p := newPage(t, browser, hs.URL)
		p.login(reader)
		p.waitPanels("fraud")
		order := eval[string](p, "first order in the queue", `document.querySelector('#panel-fraud tbody tr').dataset.key`)
		p.do("click fraud", chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const b = document.querySelector('#panel-fraud tr[data-key=%q] button[data-action="fraud"]'); if (b) b.click(); return !!b; })()`, order),
			chromedp.WithPollingTimeout(stepTimeout)))
		p.waitText("#notice", "refused, the key lacks the operate scope")
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM fraud_labels WHERE order_id = $1`, order).Scan(&n); err != nil || n != 0 {
			t.Fatalf("order %s labelled by a read-only key: %d rows (%v)", order, n, err)
		}
		p.noProblems(regexp.MustCompile(`status of 403`))
	})

	t.Run("a replenishment approval reaches the workflow", func(t *testing.T) {
		p := newPage(t, browser, hs.URL)
		p.login(operator)
		p.waitPanels("replenishment", "pricing")
		// Clicked in one script turn (see the fraud decisions).
		p.do("approve the order",
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const b = document.querySelector('#panel-replenishment tr[data-key=%q] button[data-action="approve"]'); if (b) b.click(); return !!b; })()`, po.ID),
				chromedp.WithPollingTimeout(stepTimeout)))
		p.waitText("#notice", "Approve: "+po.ID+": done")
		// The workflow applied its Update: it holds the approved order and
		// goes on to send it, which Postgres shows.
		replen.WaitFor(t, ctx, "the approved order sent by its workflow", func() bool {
			o, err := db.PurchaseOrder(ctx, po.ID)
			if err != nil {
				t.Fatal(err)
			}
			return o.Status == store.POSent
		})
		got, err := db.PurchaseOrder(ctx, po.ID)
		if err != nil || got.DecidedBy != operatorID || got.Quantity != po.Quantity {
			t.Fatalf("order after the click: %+v %v, want decided by %s", got, err, operatorID)
		}
		v, err := replen.C.QueryWorkflow(ctx, po.WorkflowID, "", workflows.QueryReplenishState)
		var st workflows.ReplenishState
		if err == nil {
			err = v.Get(&st)
		}
		if err != nil || st.Phase != workflows.PhaseAwaitingReceipt || st.PO == nil || st.PO.ID != po.ID || st.PO.DecidedBy != operatorID {
			t.Fatalf("workflow state after the click: %+v %v", st, err)
		}
		p.waitText(fmt.Sprintf(`#panel-replenishment tr[data-key=%q]`, po.ID), store.POSent)
		if n := eval[int](p, "buttons left", fmt.Sprintf(`document.querySelectorAll('#panel-replenishment tr[data-key=%q] button').length`, po.ID)); n != 0 {
			t.Errorf("%d buttons left on the sent order", n)
		}

		// A pricing recommendation is approved in Postgres.
		id := fmt.Sprint(batch.Pricing["p-kettle"])
		p.do("approve a price",
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const b = document.querySelector('#panel-pricing tr[data-key=%q] button[data-action="approve"]'); if (b) b.click(); return !!b; })()`, id),
				chromedp.WithPollingTimeout(stepTimeout)))
		p.waitText(fmt.Sprintf(`#panel-pricing tr[data-key=%q]`, id), store.PriceApproved)
		var status, by string
		if err := db.Pool.QueryRow(ctx, `SELECT status, decided_by FROM pricing_recommendations WHERE id = $1`, batch.Pricing["p-kettle"]).Scan(&status, &by); err != nil ||
			status != store.PriceApproved || by != operatorID {
			t.Fatalf("price after the click: %s by %s (%v)", status, by, err)
		}
		p.screenshot("replenishment-approved")
		p.noProblems()
	})
}

func newKey(t *testing.T, ctx context.Context, db *store.DB, name string, scopes ...string) (token, id string) {
	t.Helper()
	tok, k, err := api.NewAPIKey(name, scopes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	return tok, k.ID
}
