package web_test

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
)

// axeScript is axe-core (testdata/axe, installed by
// scripts/setup-debian.sh from the npm registry at the version its
// package-lock.json pins).
var axeScript = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("testdata/axe/node_modules/axe-core/axe.min.js")
	return string(b), err
})

// axeAudit runs axe-core on the page as it is now and fails the test on
// any violation of its WCAG 2.1 A and AA rules (those RGAA follows),
// its best practices (landmarks, headings) and the experimental rule
// that a control's name contains its visible text (WCAG 2.5.3), naming
// each rule, its impact and the elements at fault.
func axeAudit(t testing.TB, b *browser, where string) {
	t.Helper()
	runAxe(t, where, func(js string) []byte { return evalJS[[]byte](t, b, js) })
}

// ffAxeAudit is axeAudit in Firefox.
func ffAxeAudit(t testing.TB, f *firefox, where string) {
	t.Helper()
	runAxe(t, where+" (Firefox)", func(js string) []byte { return ffEval[json.RawMessage](t, f, js) })
}

func runAxe(t testing.TB, where string, eval func(js string) []byte) {
	t.Helper()
	src, err := axeScript()
	if err != nil {
		t.Fatalf("axe-core is missing (run scripts/setup-debian.sh): %v", err)
	}
	eval(`(() => { if (!window.axe) { (0, eval)(` + jsString(src) + `); } return true; })()`)
	raw := eval(`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
			rules: {'label-content-name-mismatch': {enabled: true}}, resultTypes: ['violations']})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 300))})))`)
	var violations []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal(raw, &violations); err != nil {
		t.Fatalf("%s: axe-core's answer: %v %s", where, err, raw)
	}
	for _, v := range violations {
		t.Errorf("%s: accessibility (WCAG 2.1 AA) %s, %s: %s\n    %s", where, v.Impact, v.ID, v.Help, strings.Join(v.Nodes, "\n    "))
	}
}
