package model

import (
	"context"
	"fmt"
	"html"
	"maps"
	"slices"
	"strings"

	"github.com/joule-dev/joule"
)

// Card renders version n (0: the latest) of a model as a model card in
// markdown, html (a standalone page) or fragment (the page's body alone:
// escaped HTML without script or style, for the console): intended use, data, metrics, and training energy and
// emissions (measured or estimated, and how), the energy disclosure that
// AI regulation asks model providers for.
func (s *Service) Card(ctx context.Context, workspaceID, ref string, n int, format string) (string, error) {
	m, v, err := s.Version(ctx, workspaceID, ref, n)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Model card: %s, version %d\n\n", m.Name, v.Version)
	p("## Model\n\n")
	p("- Algorithm: %s (%s)\n", v.Algorithm, v.Task)
	p("- Stage: %s\n", v.Stage)
	p("- Created: %s by %s\n", v.CreatedAt.Format("2006-01-02 15:04:05 UTC"), or(v.CreatedBy, "unknown"))
	p("- File: %s (%d bytes, %s)\n", v.Path, v.Bytes, v.Hash)
	if len(v.Params) > 0 {
		var ps []string
		for _, k := range slices.Sorted(maps.Keys(v.Params)) {
			ps = append(ps, k+"="+v.Params[k])
		}
		p("- Hyperparameters: %s\n", strings.Join(ps, ", "))
	}
	p("\n## Intended use\n\n")
	if m.Description != "" {
		p("%s\n\n", m.Description)
	}
	switch v.Task {
	case "classification":
		p("Predicts the class of column `%s` (%s) from %d numeric features. ", or(v.Target, "target"), strings.Join(v.Classes, ", "), len(v.Features))
	default:
		p("Predicts the value of column `%s` from %d numeric features. ", or(v.Target, "target"), len(v.Features))
	}
	p("It was evaluated only on the test rows described below; use on data from another population, time or source needs a new evaluation. It is not meant for decisions about people without human review.\n\n")
	p("Features, in order: %s.\n\n", featureList(v))
	p("## Data\n\n")
	if v.DatasetID != "" {
		p("- Dataset: %s, version %d (%s)\n", v.DatasetName, v.DatasetVersion, v.DatasetVersionID)
		if v.Split != nil {
			p("- Split: %s, test size %.2f, seed %d: %d training rows, %d test rows\n", v.Split.Method, v.Split.TestSize, v.Split.Seed, v.TrainRows, v.TestRows)
		} else {
			p("- Rows: %d training, %d test\n", v.TrainRows, v.TestRows)
		}
		if v.Recipe {
			p("- Preprocessing: a recipe fitted on the training rows, stored in the model file and replayed before prediction\n")
		}
		p("- Training job: %s\n", v.JobID)
	} else {
		p("- Imported (%s): the training data is not known to joule\n", v.Source)
	}
	p("\n## Metrics (test rows)\n\n")
	if len(v.Metrics) == 0 {
		p("No test metrics (an imported model).\n")
	} else {
		p("| Metric | Value |\n|---|---|\n")
		for _, k := range slices.Sorted(maps.Keys(v.Metrics)) {
			p("| %s | %s |\n", k, formatMetric(v.Metrics[k]))
		}
	}
	p("\n## Training energy and emissions\n\n")
	switch e := v.Energy; {
	case v.JobID == "":
		p("Not known: the model was imported, not trained by joule.\n")
	case e == nil:
		p("Not yet accounted: the training job %s has not ended or its energy is not yet attributed.\n", v.JobID)
	default:
		kind := "estimated"
		switch {
		case e.MeasuredJoules > 0 && e.EstimatedJoules > 0:
			kind = "partly measured, partly estimated"
		case e.MeasuredJoules > 0:
			kind = "measured"
		}
		p("- Energy: %.1f J (%.6f kWh), %s: %.1f J measured, %.1f J estimated\n", e.Joules, e.Joules/3.6e6, kind, e.MeasuredJoules, e.EstimatedJoules)
		p("- Method: %s\n", e.Method)
		p("- Emissions: %.4f g CO2e (location-based; grid intensity %.0f g/kWh from %s; PUE %.2f)\n", e.EmissionsG, e.IntensityGPerKWh, e.IntensitySource, e.PUE)
		if e.MarketEmissionsG != nil {
			p("- Market-based emissions: %.4f g CO2e\n", *e.MarketEmissionsG)
		}
		p("- Embodied emissions share: %.4f g CO2e\n", e.EmbodiedG)
		if e.Currency != "" {
			p("- Cost: %.6f %s\n", e.Cost, e.Currency)
		}
		p("\nThe figures are the training job's share of its node's power over its run time, attributed by CPU time; see docs/methodology.md.\n")
	}
	md := b.String()
	switch format {
	case "html":
		return markdownHTML(fmt.Sprintf("Model card: %s v%d", m.Name, v.Version), md), nil
	case "fragment":
		return markdownBody(md), nil
	}
	return md, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func featureList(v joule.ModelVersion) string {
	names := make([]string, len(v.Features))
	for i, f := range v.Features {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// markdownHTML renders the card's small markdown subset as a standalone,
// escaped HTML page.
func markdownHTML(title, md string) string {
	return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) + "</title>\n" +
		"<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}</style></head><body>\n" +
		markdownBody(md) + "</body></html>\n"
}

// markdownBody renders the card's small markdown subset (headings, lists,
// tables, paragraphs, `code`) as escaped HTML: all text is escaped, and the
// only tags are h1, h2, ul, li, table, tr, th, td, p and code.
func markdownBody(md string) string {
	var b strings.Builder
	inline := func(s string) string {
		s = html.EscapeString(s)
		parts := strings.Split(s, "`")
		for i := 1; i < len(parts); i += 2 {
			parts[i] = "<code>" + parts[i] + "</code>"
		}
		return strings.Join(parts, "")
	}
	inList, inTable := false, false
	closeBlocks := func() {
		if inList {
			b.WriteString("</ul>\n")
			inList = false
		}
		if inTable {
			b.WriteString("</table>\n")
			inTable = false
		}
	}
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			closeBlocks()
			b.WriteString("<h2>" + inline(line[3:]) + "</h2>\n")
		case strings.HasPrefix(line, "# "):
			closeBlocks()
			b.WriteString("<h1>" + inline(line[2:]) + "</h1>\n")
		case strings.HasPrefix(line, "- "):
			if !inList {
				closeBlocks()
				b.WriteString("<ul>\n")
				inList = true
			}
			b.WriteString("<li>" + inline(line[2:]) + "</li>\n")
		case strings.HasPrefix(line, "|---"):
		case strings.HasPrefix(line, "|"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			tag := "td"
			if !inTable {
				closeBlocks()
				b.WriteString("<table>\n")
				inTable, tag = true, "th"
			}
			b.WriteString("<tr>")
			for _, c := range cells {
				b.WriteString("<" + tag + ">" + inline(strings.TrimSpace(c)) + "</" + tag + ">")
			}
			b.WriteString("</tr>\n")
		case strings.TrimSpace(line) == "":
			closeBlocks()
		default:
			closeBlocks()
			b.WriteString("<p>" + inline(line) + "</p>\n")
		}
	}
	closeBlocks()
	return b.String()
}
