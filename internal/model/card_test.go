package model

import (
	"strings"
	"testing"
)

// TestMarkdownBody checks the console's card fragment: every text escaped,
// no script or style, and the standalone page wraps the same body.
func TestMarkdownBody(t *testing.T) {
	md := "# Model card: <x>, version 1\n\n## Data\n\n- Dataset: a&b `col<1>`\n\n| Metric | Value |\n|---|---|\n| f1 | 0.5000 |\n\n<script>alert(1)</script>\n"
	got := markdownBody(md)
	for _, want := range []string{"<h1>Model card: &lt;x&gt;, version 1</h1>", "<li>Dataset: a&amp;b <code>col&lt;1&gt;</code></li>", "<tr><th>Metric</th><th>Value</th></tr>", "<tr><td>f1</td><td>0.5000</td></tr>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"} {
		if !strings.Contains(got, want) {
			t.Errorf("fragment lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"<script", "<style", "<html", "<body"} {
		if strings.Contains(got, bad) {
			t.Errorf("fragment contains %q", bad)
		}
	}
	page := markdownHTML("t", md)
	if !strings.Contains(page, "<style>") || !strings.Contains(page, got) || !strings.HasSuffix(page, "</body></html>\n") {
		t.Errorf("standalone page does not wrap the fragment:\n%s", page)
	}
}
