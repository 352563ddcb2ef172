package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/joule-dev/joule"
)

// monitorFlags are the monitor settings' flags, on deploy and on
// deployment monitor.
type monitorFlags struct {
	fs  *pflag.FlagSet
	set joule.DeploymentMonitor
	win time.Duration
	off bool
}

func addMonitorFlags(fs *pflag.FlagSet) *monitorFlags {
	f := &monitorFlags{fs: fs}
	fs.IntVar(&f.set.WindowRows, "window-rows", joule.DefaultMonitorWindowRows, fmt.Sprintf("drift: evaluate every this many predicted rows (at least %d)", joule.MinWindowRows))
	fs.DurationVar(&f.win, "window", 0, fmt.Sprintf("drift: also evaluate a window this old, once it holds %d rows (0: by rows only)", joule.MinWindowRows))
	fs.Float64Var(&f.set.PSIThreshold, "psi-threshold", joule.DefaultMonitorPSIThreshold, "drift: a feature drifts at this PSI or more")
	fs.Float64Var(&f.set.KSThreshold, "ks-threshold", joule.DefaultMonitorKSThreshold, "drift: a feature drifts at this KS statistic or more")
	fs.Float64Var(&f.set.MinAccuracy, "min-accuracy", 0, "feedback: alert when live accuracy falls below this (classifiers; 0: no check)")
	fs.Float64Var(&f.set.MaxRMSE, "max-rmse", 0, "feedback: alert when live RMSE rises above this (regressors; 0: no check)")
	fs.IntVar(&f.set.MinLabels, "min-labels", joule.DefaultMonitorMinLabels, "feedback: check the thresholds once this many labelled rows are in the window")
	fs.BoolVar(&f.off, "no-monitor", false, "turn drift and feedback monitoring off")
	return f
}

// apply copies the monitor flags that were set onto mon and reports
// whether any was.
func (f *monitorFlags) apply(mon *joule.DeploymentMonitor) bool {
	changed := false
	f.fs.Visit(func(fl *pflag.Flag) {
		if !monitorFlagNames[fl.Name] {
			return
		}
		changed = true
		switch fl.Name {
		case "window-rows":
			mon.WindowRows = f.set.WindowRows
		case "window":
			mon.Window = joule.Duration(f.win)
		case "psi-threshold":
			mon.PSIThreshold = f.set.PSIThreshold
		case "ks-threshold":
			mon.KSThreshold = f.set.KSThreshold
		case "min-accuracy":
			mon.MinAccuracy = f.set.MinAccuracy
		case "max-rmse":
			mon.MaxRMSE = f.set.MaxRMSE
		case "min-labels":
			mon.MinLabels = f.set.MinLabels
		case "no-monitor":
			mon.Disabled = f.off
		}
	})
	return changed
}

var monitorFlagNames = map[string]bool{"window-rows": true, "window": true, "psi-threshold": true, "ks-threshold": true, "min-accuracy": true, "max-rmse": true, "min-labels": true, "no-monitor": true}

// deployMonitor returns the monitor settings the deploy flags ask for (nil:
// none set, the defaults).
func (f *monitorFlags) deployMonitor() *joule.DeploymentMonitor {
	var mon joule.DeploymentMonitor
	if !f.apply(&mon) {
		return nil
	}
	return &mon
}

func (m *Main) deploymentMonitorCommand() *cobra.Command {
	var flags *monitorFlags
	var enable bool
	cmd := &cobra.Command{
		Use:   "monitor NAME [--psi-threshold 0.2] [--ks-threshold 0.1] [--window-rows 1000] [--min-accuracy A | --max-rmse R]",
		Short: "Change a deployment's drift and live-quality monitoring (audited)",
		Long: `monitor changes how a deployment is watched. Flags not given keep their
current value.

Drift: the model-input rows of successful predict calls collect into a window
of --window-rows rows (or, with --window, whatever arrived in that time, once
it holds at least 200 rows). Each full window is compared with the rows the
model version was trained on: a feature drifts when its PSI reaches
--psi-threshold or its KS statistic --ks-threshold, and a drifted window is a
"drift" event and an alert.

Live quality: labels sent with "joule deployment feedback" give accuracy and
macro F1 (classifiers) or RMSE and MAE (regressors); once the latest window of
labelled rows holds --min-labels, accuracy under --min-accuracy or RMSE over
--max-rmse raises an alert.

Alerts are "alert" events, and go to the server's --alert-webhook, signed.`,
		Example: `  joule deployment monitor credit --psi-threshold 0.25 --min-accuracy 0.7
  joule deployment monitor credit --window 1h --window-rows 5000
  joule deployment monitor credit --no-monitor`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.GetDeployment(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			mon := d.Monitor.WithDefaults()
			if !flags.apply(&mon) && !enable {
				return joule.Errorf(joule.EINVALID, "flags: nothing to change; give at least one of --window-rows, --window, --psi-threshold, --ks-threshold, --min-accuracy, --max-rmse, --min-labels, --no-monitor, --enable")
			}
			if enable {
				mon.Disabled = false
			}
			out, err := c.SetDeploymentMonitor(cmd.Context(), ws, args[0], mon)
			if err != nil {
				return err
			}
			return m.print(out, func(tw *tabwriter.Writer) {
				row(tw, "Deployment:", out.Name)
				monitorRows(tw, out.Monitor.WithDefaults())
			})
		},
	}
	flags = addMonitorFlags(cmd.Flags())
	cmd.Flags().BoolVar(&enable, "enable", false, "turn monitoring back on after --no-monitor")
	return cmd
}

func monitorRows(tw *tabwriter.Writer, s joule.DeploymentMonitor) {
	if s.Disabled {
		row(tw, "Monitor:", "off")
		return
	}
	win := fmt.Sprintf("%d rows", s.WindowRows)
	if s.Window > 0 {
		win += fmt.Sprintf(" or %s", time.Duration(s.Window))
	}
	row(tw, "Window:", win)
	row(tw, "Drift at:", fmt.Sprintf("PSI ≥ %g or KS ≥ %g", s.PSIThreshold, s.KSThreshold))
	q := "none"
	switch {
	case s.MinAccuracy > 0:
		q = fmt.Sprintf("accuracy < %g", s.MinAccuracy)
	case s.MaxRMSE > 0:
		q = fmt.Sprintf("RMSE > %g", s.MaxRMSE)
	}
	row(tw, "Quality alert:", fmt.Sprintf("%s (from %d labelled rows)", q, s.MinLabels))
}

// monitorStatusRows adds the latest drift window and the live quality to
// deployment get's table.
func monitorStatusRows(tw *tabwriter.Writer, st *joule.DeploymentStatus) {
	if r := st.Drift; r != nil {
		what := "no drift"
		switch {
		case r.Error != "":
			what = "not evaluated: " + r.Error
		case r.Drifted:
			names := r.DriftedFeatures
			if r.Prediction != nil && r.Prediction.Drifted {
				names = append(names, "prediction")
			}
			what = "DRIFTED: " + strings.Join(names, ", ")
		}
		row(tw, "Drift:", fmt.Sprintf("%s, window of %d rows at %s (joule deployment drift)", what, r.Rows, fmtTime(r.Time)))
	}
	if q := st.Live; q != nil {
		w := qualityText(q.Window)
		if q.Alerting {
			w += "  ALERTING"
		}
		row(tw, "Live quality:", fmt.Sprintf("%d of %d rows labelled; latest window %s", q.Labelled, q.Predictions, w))
	}
}

func (m *Main) deploymentDriftCommand() *cobra.Command {
	var history bool
	cmd := &cobra.Command{
		Use:   "drift NAME [--history]",
		Short: "Show a deployment's latest drift report per feature (PSI, KS, drifted) and its live quality",
		Long: `drift shows the latest evaluation window of the deployment's served version:
each feature's PSI against the training rows' bins, its KS statistic against
the training values, and whether it drifted; then the drift of the predictions
and the live quality from feedback. --history lists the recent windows.`,
		Example: `  joule deployment drift credit
  joule deployment drift credit --history
  joule deployment drift credit -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			st, err := c.DeploymentDrift(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			if history {
				return m.print(st.History, func(tw *tabwriter.Writer) {
					row(tw, "TIME", "VERSION", "ROWS", "DRIFTED", "FEATURES")
					for _, r := range st.History {
						what := strings.Join(r.DriftedFeatures, ", ")
						if r.Prediction != nil && r.Prediction.Drifted {
							what = strings.TrimPrefix(what+", prediction", ", ")
						}
						if r.Error != "" {
							what = "not evaluated: " + r.Error
						}
						row(tw, fmtTime(r.Time), r.ModelVersion, r.Rows, r.Drifted, what)
					}
				})
			}
			return m.print(st, func(tw *tabwriter.Writer) { driftTable(tw, st) })
		},
	}
	cmd.Flags().BoolVar(&history, "history", false, "list the recent windows instead")
	return cmd
}

func driftTable(tw *tabwriter.Writer, st joule.DeploymentMonitorState) {
	row(tw, "Deployment:", fmt.Sprintf("%s (version %d)", st.Deployment, st.ModelVersion))
	monitorRows(tw, st.Monitor)
	row(tw, "Pending:", fmt.Sprintf("%d rows in the current window", st.PendingRows))
	r := st.Latest
	switch {
	case r == nil:
		row(tw, "Latest:", "no window evaluated yet")
	case r.Error != "":
		row(tw, "Latest:", fmt.Sprintf("%s, %d rows: not evaluated: %s", fmtTime(r.Time), r.Rows, r.Error))
	default:
		verdict := "no drift"
		if r.Drifted {
			verdict = "DRIFTED"
		}
		row(tw, "Latest:", fmt.Sprintf("%s: %d rows from %s to %s against the %s (%d rows): %s", fmtTime(r.Time), r.Rows, fmtTime(r.WindowStart), fmtTime(r.WindowEnd), r.Reference, r.ReferenceRows, verdict))
		fmt.Fprintln(tw)
		row(tw, "FEATURE", "BINNING", "PSI", "KS", "KS P-VALUE", "DRIFTED")
		feats := r.Features
		if r.Prediction != nil {
			feats = append(feats, *r.Prediction)
		}
		for _, f := range feats {
			ks, p := "-", "-"
			if f.KS != nil {
				ks = fmt.Sprintf("%.4f", *f.KS)
			}
			if f.KSPValue != nil {
				p = fmt.Sprintf("%.3g", *f.KSPValue)
			}
			drifted := ""
			if f.Drifted {
				drifted = "yes"
			}
			row(tw, f.Name, f.Binning, fmt.Sprintf("%.4f", f.PSI), ks, p, drifted)
		}
	}
	for _, q := range st.Live {
		fmt.Fprintln(tw)
		row(tw, fmt.Sprintf("Live (version %d):", q.ModelVersion), fmt.Sprintf("%d predicted rows remembered, %d labelled", q.Predictions, q.Labelled))
		row(tw, "  overall:", qualityText(q.Overall))
		w := qualityText(q.Window)
		if q.Alerting {
			w += "  ALERTING"
		}
		row(tw, "  window:", w)
	}
}

func qualityText(q joule.QualityMetrics) string {
	var parts []string
	if q.Accuracy != nil {
		parts = append(parts, fmt.Sprintf("accuracy %.4f", *q.Accuracy))
	}
	if q.MacroF1 != nil {
		parts = append(parts, fmt.Sprintf("macro F1 %.4f", *q.MacroF1))
	}
	if q.RMSE != nil {
		parts = append(parts, fmt.Sprintf("RMSE %.4g", *q.RMSE))
	}
	if q.MAE != nil {
		parts = append(parts, fmt.Sprintf("MAE %.4g", *q.MAE))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d rows", q.Rows)
	}
	return fmt.Sprintf("%d rows: %s", q.Rows, strings.Join(parts, ", "))
}

func (m *Main) deploymentFeedbackCommand() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "feedback NAME -d JSON|@FILE|@-",
		Short: "Send true labels for predicted rows; prints the live quality (audited)",
		Long: `feedback sends the true labels of rows a deployment predicted. Each predict
response has an "id"; a row is named by that id and its index in the response
("row", 0 for the first). A classifier's label is one of its classes (a string,
or a number for numeric classes); a regressor's is a number.

  {"labels": [{"id": "prd_01J…", "row": 0, "label": "2"},
              {"id": "prd_01J…", "row": 1, "label": "1"}]}

The call is all or nothing: a bad item (unknown or forgotten id, row out of
range, a label of the wrong type or not a class, a row already labelled
otherwise) is refused naming it, and no label is kept. The server remembers
the latest 100,000 predicted rows per deployment, in memory: older ids, and
every id after a restart, are unknown.`,
		Example: `  joule predict credit -d @rows.json -o json | jq -r .id
  joule deployment feedback credit -d '{"labels": [{"id": "prd_01JDX…", "row": 0, "label": "2"}]}'
  joule deployment feedback credit -d @labels.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := m.jsonData(data)
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			res, err := c.SendFeedback(cmd.Context(), ws, args[0], json.RawMessage(b))
			if err != nil {
				return err
			}
			return m.print(res, func(tw *tabwriter.Writer) {
				row(tw, "Accepted:", fmt.Sprintf("%d labels (%d sent again, ignored)", res.Accepted, res.Duplicates))
				for _, q := range res.Live {
					row(tw, fmt.Sprintf("Version %d overall:", q.ModelVersion), qualityText(q.Overall))
					w := qualityText(q.Window)
					if q.Alerting {
						w += "  ALERTING"
					}
					row(tw, fmt.Sprintf("Version %d window:", q.ModelVersion), w)
				}
			})
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "the labels: JSON, @FILE, or @- for stdin")
	return cmd
}
