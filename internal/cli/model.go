package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
	"github.com/joule-dev/joule/internal/model"
)

// trainResult is what `joule train --wait` prints: the model's name, the
// version (its number under "version") and its test metrics.
type trainResult struct {
	Model string `json:"model"`
	joule.ModelVersion
}

// trainFile is a training spec file: TrainSpec's fields, and the recipe
// inline (YAML or JSON).
type trainFile struct {
	joule.TrainSpec `yaml:",inline"`
	Recipe          any `yaml:"recipe"`
}

func (m *Main) trainCommand() *cobra.Command {
	var file, dsName, target, algorithm, task, modelName, splitMethod, by string
	var features, params []string
	var seed uint64
	var testSize float64
	var dsVersion int
	var wait bool
	cmd := &cobra.Command{
		Use:   "train [-f spec.yaml] [--dataset NAME --target COL --algorithm ALG]",
		Short: "Train a model version as a job of kind train",
		Long: `train queues a training job: it splits a dataset version, fits the
algorithm (defaults match scikit-learn's), scores the test rows and registers
the model's next version with its metrics, lineage (dataset version and job)
and, once the job is accounted, its training energy and emissions.

Without --features every column but the target, the split column and id or
ignore columns is a feature. Without a split, a version's recorded split is
used, else a random one (seed 42, test size 0.2).`,
		Example: `  joule train --dataset german --target col_25 --algorithm logistic_regression --param C=0.5 --split-seed 42 --wait
  joule train -f examples/train/german.yaml --wait -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var spec joule.TrainSpec
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return joule.Errorf(joule.EINVALID, "-f: %v", err)
				}
				if spec, err = parseTrainSpec(b); err != nil {
					return err
				}
			}
			fl := cmd.Flags()
			set := func(name string, dst *string, v string) {
				if fl.Changed(name) {
					*dst = v
				}
			}
			set("dataset", &spec.Dataset, dsName)
			set("target", &spec.Target, target)
			set("algorithm", &spec.Algorithm, algorithm)
			set("task", &spec.Task, task)
			set("model", &spec.Model, modelName)
			if fl.Changed("dataset-version") {
				spec.DatasetVersion = dsVersion
			}
			if fl.Changed("features") {
				spec.Features = features
			}
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return joule.Errorf(joule.EINVALID, "--param %q: want NAME=VALUE", p)
				}
				if spec.Params == nil {
					spec.Params = map[string]string{}
				}
				spec.Params[k] = v
			}
			if fl.Changed("split-seed") || fl.Changed("split") || fl.Changed("test-size") || fl.Changed("split-by") {
				if spec.Split == nil {
					spec.Split = &joule.TrainSplit{}
				}
				set("split", &spec.Split.Method, splitMethod)
				set("split-by", &spec.Split.By, by)
				if fl.Changed("split-seed") {
					spec.Split.Seed = &seed
				}
				if fl.Changed("test-size") {
					spec.Split.TestSize = testSize
				}
			}
			if spec.Dataset == "" || spec.Algorithm == "" {
				return joule.Errorf(joule.EINVALID, "name a dataset and an algorithm: --dataset NAME --algorithm ALG, or -f spec.yaml")
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			j, err := c.Train(cmd.Context(), ws, spec)
			if err != nil {
				return err
			}
			if !wait {
				return m.print(j, func(tw *tabwriter.Writer) { row(tw, "Submitted training job", j.Spec.Name, j.ID, string(j.State)) })
			}
			if err := m.followJob(cmd.Context(), c, ws, j); err != nil {
				return err
			}
			name := j.Spec.Labels["model"]
			v, err := findVersionOfJob(cmd.Context(), c, ws, name, j.ID)
			if err != nil {
				return err
			}
			return m.print(trainResult{Model: name, ModelVersion: v}, func(tw *tabwriter.Writer) { modelVersionSummary(tw, name, v) })
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "", "training spec, YAML or JSON (flags override it)")
	fl.StringVar(&dsName, "dataset", "", "dataset name or ID")
	fl.IntVar(&dsVersion, "dataset-version", 0, "dataset version (default: the newest)")
	fl.StringVar(&target, "target", "", "target column (default: the column whose role is target)")
	fl.StringSliceVar(&features, "features", nil, "feature columns (default: all but the target, id and ignore columns)")
	fl.StringVar(&algorithm, "algorithm", "", "algorithm: logistic_regression, linear_regression, ridge, decision_tree, random_forest, gradient_boosting, knn, linear_svm, svm, naive_bayes")
	fl.StringArrayVar(&params, "param", nil, "hyperparameter NAME=VALUE (repeatable)")
	fl.StringVar(&task, "task", "", "classification or regression (default: from the algorithm and the target's type)")
	fl.StringVar(&modelName, "model", "", "model name (default: the dataset's)")
	fl.StringVar(&splitMethod, "split", "", "split method: random, stratified, chronological or existing")
	fl.Uint64Var(&seed, "split-seed", model.DefaultSeed, "split seed")
	fl.Float64Var(&testSize, "test-size", model.DefaultTestSize, "fraction of rows in the test split")
	fl.StringVar(&by, "split-by", "", "stratify or order column")
	fl.BoolVar(&wait, "wait", false, "wait for the job and print the version and its metrics")
	return cmd
}

func parseTrainSpec(b []byte) (joule.TrainSpec, error) {
	var f trainFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return joule.TrainSpec{}, joule.Errorf(joule.EINVALID, "spec: %v", err)
	}
	if f.Recipe != nil {
		r, err := json.Marshal(f.Recipe)
		if err != nil {
			return joule.TrainSpec{}, joule.Errorf(joule.EINVALID, "spec: recipe: %v", err)
		}
		f.TrainSpec.Recipe = r
	}
	return f.TrainSpec, nil
}

// followJob waits for a job to end, reporting its states on stderr, and
// fails unless it succeeded.
func (m *Main) followJob(ctx context.Context, c *httpapi.Client, ws string, j joule.Job) error {
	fmt.Fprintf(m.Stderr, "job %s (%s): %s\n", j.Spec.Name, j.ID, j.State)
	last := string(j.State)
	for !j.State.Terminal() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		d, err := c.GetJob(ctx, ws, j.ID)
		if err != nil {
			return err
		}
		j = d.Job
		if string(j.State) != last {
			last = string(j.State)
			fmt.Fprintf(m.Stderr, "job %s: %s\n", j.Spec.Name, j.State)
		}
	}
	if j.State != joule.JobSucceeded {
		return joule.Errorf(joule.EINVALID, "job %s %s: %s (see `joule job logs %s`)", j.ID, j.State, j.Reason, j.ID)
	}
	return nil
}

// findVersionOfJob returns the version of a model that job made.
func findVersionOfJob(ctx context.Context, c *httpapi.Client, ws, name, jobID string) (joule.ModelVersion, error) {
	cursor := ""
	for {
		p, err := c.ListModelVersions(ctx, ws, name, joule.ListOptions{Limit: 500, Cursor: cursor})
		if err != nil {
			return joule.ModelVersion{}, err
		}
		for _, v := range p.Items {
			if v.JobID == jobID {
				return v, nil
			}
		}
		if p.NextCursor == "" {
			return joule.ModelVersion{}, joule.Errorf(joule.ENOTFOUND, "job %s registered no version of model %s", jobID, name)
		}
		cursor = p.NextCursor
	}
}

func energyLine(e *joule.JobEnergy) string {
	if e == nil {
		return "not yet accounted"
	}
	kind := "estimated"
	if e.MeasuredJoules > 0 {
		kind = "measured"
		if e.EstimatedJoules > 0 {
			kind = "measured+estimated"
		}
	}
	return fmt.Sprintf("%.1f J (%s: %s), %.4f g CO2e", e.Joules, kind, e.Method, e.EmissionsG)
}

func metricsLine(ms map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ms)) {
		parts = append(parts, fmt.Sprintf("%s=%.4f", k, ms[k]))
	}
	return strings.Join(parts, " ")
}

func modelVersionSummary(tw *tabwriter.Writer, name string, v joule.ModelVersion) {
	row(tw, "Model", fmt.Sprintf("%s version %d", name, v.Version), v.ID)
	row(tw, "  algorithm:", fmt.Sprintf("%s (%s)", v.Algorithm, v.Task))
	row(tw, "  metrics:", metricsLine(v.Metrics))
	if v.DatasetID != "" {
		row(tw, "  data:", fmt.Sprintf("%s version %d (%s): %d train, %d test rows", v.DatasetName, v.DatasetVersion, v.DatasetVersionID, v.TrainRows, v.TestRows))
	} else {
		row(tw, "  source:", v.Source)
	}
	if v.JobID != "" {
		row(tw, "  job:", v.JobID)
		row(tw, "  energy:", energyLine(v.Energy))
	}
	row(tw, "  stage:", v.Stage)
}

func (m *Main) modelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Model registry: versions with metrics, lineage and training energy",
	}
	cmd.AddCommand(m.modelListCommand(), m.modelGetCommand(), m.modelVersionsCommand(), m.modelCompareCommand(), m.modelPromoteCommand(),
		m.modelCardCommand(), m.modelPredictCommand(), m.modelImportCommand(), m.modelTrainRunCommand(), m.modelPredictRunCommand())
	return cmd
}

// modelRef splits NAME[@VERSION].
func modelRef(arg string) (string, int, error) {
	name, ver, ok := strings.Cut(arg, "@")
	if !ok {
		return name, 0, nil
	}
	var n int
	if _, err := fmt.Sscanf(ver, "%d", &n); err != nil || n < 1 {
		return "", 0, joule.Errorf(joule.EINVALID, "%q: want NAME or NAME@VERSION", arg)
	}
	return name, n, nil
}

func (m *Main) modelListCommand() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List models", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			p, err := c.ListModels(cmd.Context(), ws, joule.ListOptions{Limit: 500})
			if err != nil {
				return err
			}
			return m.print(p, func(tw *tabwriter.Writer) {
				row(tw, "NAME", "LATEST", "CREATED", "ID")
				for _, x := range p.Items {
					row(tw, x.Name, x.LatestVersion, x.CreatedAt.Format(time.DateTime), x.ID)
				}
			})
		},
	}
}

func (m *Main) modelGetCommand() *cobra.Command {
	return &cobra.Command{
		Use: "get NAME[@VERSION]", Short: "Show a model version (default: the latest)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, err := modelRef(args[0])
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			v, err := c.GetModelVersion(cmd.Context(), ws, name, n)
			if err != nil {
				return err
			}
			return m.print(trainResult{Model: v.Name, ModelVersion: v.ModelVersion}, func(tw *tabwriter.Writer) { modelVersionSummary(tw, v.Name, v.ModelVersion) })
		},
	}
}

func (m *Main) modelVersionsCommand() *cobra.Command {
	return &cobra.Command{
		Use: "versions NAME", Short: "List a model's versions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			p, err := c.ListModelVersions(cmd.Context(), ws, args[0], joule.ListOptions{Limit: 500})
			if err != nil {
				return err
			}
			return m.print(p, func(tw *tabwriter.Writer) {
				row(tw, "VERSION", "STAGE", "ALGORITHM", "DATA", "METRICS", "ENERGY")
				for _, v := range p.Items {
					data := v.Source
					if v.DatasetID != "" {
						data = fmt.Sprintf("%s@%d", v.DatasetName, v.DatasetVersion)
					}
					row(tw, v.Version, v.Stage, v.Algorithm, data, metricsLine(v.Metrics), energyLine(v.Energy))
				}
			})
		},
	}
}

func (m *Main) modelCompareCommand() *cobra.Command {
	return &cobra.Command{
		Use: "compare NAME VERSION VERSION…", Short: "Compare versions side by side: metrics, params, data and training energy", Args: cobra.MinimumNArgs(3),
		Example: "  joule model compare german 1 2",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			var vs []joule.ModelVersion
			for _, a := range args[1:] {
				var n int
				if _, err := fmt.Sscanf(a, "%d", &n); err != nil || n < 1 {
					return joule.Errorf(joule.EINVALID, "version %q: want a number", a)
				}
				v, err := c.GetModelVersion(cmd.Context(), ws, args[0], n)
				if err != nil {
					return err
				}
				vs = append(vs, v.ModelVersion)
			}
			return m.print(vs, func(tw *tabwriter.Writer) {
				for _, r := range CompareRows(vs) {
					row(tw, r...)
				}
			})
		},
	}
}

// CompareRows is the comparison table of versions: one row per field and
// metric, one column per version.
func CompareRows(vs []joule.ModelVersion) [][]any {
	head := []any{""}
	for _, v := range vs {
		head = append(head, fmt.Sprintf("v%d", v.Version))
	}
	rows := [][]any{head}
	add := func(label string, f func(v joule.ModelVersion) string) {
		r := []any{label}
		for _, v := range vs {
			r = append(r, f(v))
		}
		rows = append(rows, r)
	}
	add("algorithm", func(v joule.ModelVersion) string { return v.Algorithm })
	add("stage", func(v joule.ModelVersion) string { return v.Stage })
	add("data", func(v joule.ModelVersion) string {
		if v.DatasetID == "" {
			return v.Source
		}
		return fmt.Sprintf("%s@%d", v.DatasetName, v.DatasetVersion)
	})
	keys := map[string]bool{}
	pkeys := map[string]bool{}
	for _, v := range vs {
		for k := range v.Metrics {
			keys[k] = true
		}
		for k := range v.Params {
			pkeys[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		add(k, func(v joule.ModelVersion) string {
			if x, ok := v.Metrics[k]; ok {
				return fmt.Sprintf("%.4f", x)
			}
			return "-"
		})
	}
	for _, k := range slices.Sorted(maps.Keys(pkeys)) {
		add("param "+k, func(v joule.ModelVersion) string { return cmpOr(v.Params[k], "-") })
	}
	add("energy", func(v joule.ModelVersion) string {
		if v.Energy == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f J", v.Energy.Joules)
	})
	add("emissions", func(v joule.ModelVersion) string {
		if v.Energy == nil {
			return "-"
		}
		return fmt.Sprintf("%.4f g", v.Energy.EmissionsG)
	})
	return rows
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (m *Main) modelPromoteCommand() *cobra.Command {
	var stage string
	cmd := &cobra.Command{
		Use: "promote NAME@VERSION [--stage production]", Short: "Move a version to a stage (audited); production archives the previous production version", Args: cobra.ExactArgs(1),
		Example: "  joule model promote german@1 --stage production",
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, err := modelRef(args[0])
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			res, err := c.SetModelStage(cmd.Context(), ws, name, n, stage)
			if err != nil {
				return err
			}
			return m.print(res, func(tw *tabwriter.Writer) {
				row(tw, "Moved", fmt.Sprintf("%s version %d", name, res.Version.Version), "to "+res.Version.Stage)
				if res.Demoted != nil {
					row(tw, "Archived", fmt.Sprintf("%s version %d", name, res.Demoted.Version))
				}
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", joule.StageProduction, "none, staging, production or archived")
	return cmd
}

func (m *Main) modelCardCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "card NAME[@VERSION] [--format markdown|html]", Short: "Print a version's model card: intended use, data, metrics, training energy and emissions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, err := modelRef(args[0])
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			card, err := c.ModelCard(cmd.Context(), ws, name, n, format)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(m.Stdout, card)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or html")
	return cmd
}

func (m *Main) modelPredictCommand() *cobra.Command {
	var dsName, output string
	var dsVersion int
	var wait bool
	cmd := &cobra.Command{
		Use: "predict NAME[@VERSION] --dataset NAME [--into NAME] [--wait]", Short: "Batch prediction as a job of kind predict: a dataset version through a model version makes a new dataset version", Args: cobra.ExactArgs(1),
		Example: "  joule model predict german@1 --dataset german --into german-scored --wait",
		RunE: func(cmd *cobra.Command, args []string) error {
			name, n, err := modelRef(args[0])
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			j, err := c.Predict(cmd.Context(), ws, joule.PredictSpec{Model: name, ModelVersion: n, Dataset: dsName, DatasetVersion: dsVersion, Output: output})
			if err != nil {
				return err
			}
			if !wait {
				return m.print(j, func(tw *tabwriter.Writer) { row(tw, "Submitted prediction job", j.Spec.Name, j.ID, string(j.State)) })
			}
			if err := m.followJob(cmd.Context(), c, ws, j); err != nil {
				return err
			}
			v, err := c.GetDatasetVersion(cmd.Context(), ws, j.Spec.Labels["output"], 0)
			if err != nil {
				return err
			}
			return m.print(v, func(tw *tabwriter.Writer) {
				versionSummary(tw, v, "Made")
				row(tw, "  source:", v.Source)
				row(tw, "  job:", v.JobID)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dsName, "dataset", "", "dataset name or ID")
	fl.IntVar(&dsVersion, "dataset-version", 0, "dataset version (default: the newest)")
	fl.StringVar(&output, "into", "", "dataset the predictions go to (default: DATASET-predictions)")
	fl.BoolVar(&wait, "wait", false, "wait for the job and print the new version")
	return cmd
}

func (m *Main) modelImportCommand() *cobra.Command {
	return &cobra.Command{
		Use: "import NAME FILE", Short: "Import an XGBoost JSON model as the model's next version", Args: cobra.ExactArgs(2),
		Example: "  joule model import churn-xgb model.json",
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[1])
			if err != nil {
				return joule.Errorf(joule.EINVALID, "%v", err)
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			v, err := c.ImportModel(cmd.Context(), ws, args[0], data)
			if err != nil {
				return err
			}
			return m.print(trainResult{Model: args[0], ModelVersion: v}, func(tw *tabwriter.Writer) { modelVersionSummary(tw, args[0], v) })
		},
	}
}

// jobWorkspace is the workspace of a job's own process.
func (m *Main) jobWorkspace(what string) (string, error) {
	ws := firstNonEmpty(m.workspace, m.getenv("JOULE_WORKSPACE_ID"))
	if ws == "" {
		return "", joule.Errorf(joule.EINVALID, "%s: no workspace (JOULE_WORKSPACE_ID)", what)
	}
	return ws, nil
}

// modelTrainRunCommand is the command of a training job. It runs in the
// job's process with the job's JOULE_SERVER and JOULE_TOKEN: it reads the
// dataset version's file from the data directory and trains there (so the
// job's measured energy is the training's), writes the model file, and
// registers the version through the API.
func (m *Main) modelTrainRunCommand() *cobra.Command {
	var dataDir, modelID, specJSON string
	cmd := &cobra.Command{
		Use: "train-run", Short: "Run a training job (the server starts it; not for direct use)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var spec joule.TrainSpec
			if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
				return joule.Errorf(joule.EINVALID, "train-run: --spec: %v", err)
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			ws, err := m.jobWorkspace("train-run")
			if err != nil {
				return err
			}
			dv, err := c.GetDatasetVersion(cmd.Context(), ws, spec.Dataset, spec.DatasetVersion)
			if err != nil {
				return err
			}
			d := joule.Dataset{ID: dv.DatasetID, Name: dv.Name}
			fmt.Fprintf(m.Stdout, "training %s on %s version %d (%d rows)\n", spec.Algorithm, dv.Name, dv.Version, dv.Rows)
			start := time.Now()
			v, err := model.Train(cmd.Context(), dataDir, modelID, d, dv.DatasetVersion, spec, m.getenv("JOULE_JOB_ID"))
			if err != nil {
				return err
			}
			v, err = c.RegisterModelVersion(cmd.Context(), ws, modelID, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "made version %d in %s: %s\n", v.Version, time.Since(start).Round(time.Millisecond), metricsLine(v.Metrics))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", "", "the server's data directory")
	fl.StringVar(&modelID, "model", "", "model ID")
	fl.StringVar(&specJSON, "spec", "", "the training spec, JSON")
	return cmd
}

// modelPredictRunCommand is the command of a predict job.
func (m *Main) modelPredictRunCommand() *cobra.Command {
	var dataDir, modelID, datasetID, outID string
	var mvn, dvn int
	cmd := &cobra.Command{
		Use: "predict-run", Short: "Run a prediction job (the server starts it; not for direct use)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			ws, err := m.jobWorkspace("predict-run")
			if err != nil {
				return err
			}
			mv, err := c.GetModelVersion(cmd.Context(), ws, modelID, mvn)
			if err != nil {
				return err
			}
			dv, err := c.GetDatasetVersion(cmd.Context(), ws, datasetID, dvn)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "predicting %d rows of %s version %d with %s version %d\n", dv.Rows, dv.Name, dv.Version, mv.Name, mv.Version)
			v, err := model.RunPredict(cmd.Context(), dataDir, mv.ModelVersion, mv.Name, dv.DatasetVersion, dv.Name, outID, m.getenv("JOULE_JOB_ID"))
			if err != nil {
				return err
			}
			v, err = c.RegisterDatasetVersion(cmd.Context(), ws, outID, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "made version %d of the output: %d rows, %s\n", v.Version, v.Rows, v.Hash)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", "", "the server's data directory")
	fl.StringVar(&modelID, "model", "", "model ID")
	fl.IntVar(&mvn, "model-version", 0, "model version")
	fl.StringVar(&datasetID, "dataset", "", "dataset ID")
	fl.IntVar(&dvn, "dataset-version", 0, "dataset version")
	fl.StringVar(&outID, "output", "", "output dataset ID")
	return cmd
}
