package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/httpapi"
)

func (m *Main) datasetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dataset",
		Aliases: []string{"datasets", "ds"},
		Short:   "Ingest, profile, transform and export datasets",
		Long: `A dataset is a named table with immutable, numbered versions. Uploading a
file (CSV/TSV, JSON, JSON Lines or Parquet) makes a new version: rows that
cannot be read are set aside as rejects, each with its line number and
reason, and every version gets a content hash and a profile (types, nulls,
distinct values, quantiles, histograms, top values, correlations, target
balance). Recipes make new versions from old ones, recording the lineage.`,
	}
	cmd.AddCommand(m.datasetCreateCommand(), m.datasetUploadCommand(), m.datasetIngestCommand(), m.datasetListCommand(),
		m.datasetGetCommand(), m.datasetVersionsCommand(), m.datasetProfileCommand(), m.datasetPreviewCommand(),
		m.datasetRejectsCommand(), m.datasetExportCommand(), m.datasetDeleteCommand(), m.datasetRecipeCommand(),
		m.datasetSplitCommand(), m.datasetTransformCommand(), m.datasetRecipeRunCommand(), m.datasetImportCommand())
	return cmd
}

// parseRef reads NAME or NAME@VERSION.
func parseRef(ref string, version int) (string, int, error) {
	name, v, ok := strings.Cut(ref, "@")
	if !ok {
		return ref, version, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || n < 1 {
		return "", 0, joule.Errorf(joule.EINVALID, "%q: the version after @ must be a number such as credit@2", ref)
	}
	return name, n, nil
}

func (m *Main) datasetCreateCommand() *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an empty dataset (upload creates one too)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.CreateDataset(cmd.Context(), ws, httpapi.CreateDatasetRequest{Name: args[0], Description: description})
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) { row(tw, "Created dataset", d.Name, d.ID) })
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the dataset holds")
	return cmd
}

// ingestFlags are the options of upload and ingest.
type ingestFlags struct {
	format, delimiter, quote, header, encoding, target string
	types, roles                                       []string
	maxRejectRatio                                     float64
}

func (f *ingestFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "csv, tsv, json, jsonl or parquet (default: from the file name or its content)")
	fl.StringVar(&f.delimiter, "delimiter", "", `CSV delimiter: one character such as ";" or "\t", or "whitespace" for space-aligned files (default: sniffed)`)
	fl.StringVar(&f.quote, "quote", "", "CSV quote character (default: sniffed)")
	fl.StringVar(&f.header, "header", "", "whether the first line names the columns: true or false (default: sniffed)")
	fl.StringVar(&f.encoding, "encoding", "", "utf-8, utf-16 or latin-1 (default: sniffed)")
	fl.StringArrayVar(&f.types, "type", nil, "column type override COLUMN=TYPE (integer, float, string, boolean, date, timestamp; repeatable)")
	fl.StringArrayVar(&f.roles, "role", nil, "column role COLUMN=ROLE (feature, target, id, timestamp, ignore; repeatable)")
	fl.StringVar(&f.target, "target", "", "the target column (same as --role COLUMN=target)")
	fl.Float64Var(&f.maxRejectRatio, "max-reject-ratio", -1, "fail, writing nothing, when more than this fraction of rows is rejected (0 to 1; default no limit)")
}

func (f *ingestFlags) options(cmd *cobra.Command) (joule.IngestOptions, error) {
	delim := f.delimiter
	if delim == `\t` || delim == "tab" {
		delim = "\t"
	}
	opt := joule.IngestOptions{Format: f.format, CSV: joule.CSVOptions{Delimiter: delim, Quote: f.quote, Header: f.header, Encoding: f.encoding}}
	kv := func(flag string, vals []string) (map[string]string, error) {
		if len(vals) == 0 {
			return nil, nil
		}
		out := map[string]string{}
		for _, v := range vals {
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return nil, joule.Errorf(joule.EINVALID, "--%s %q: want COLUMN=VALUE", flag, v)
			}
			out[k] = val
		}
		return out, nil
	}
	var err error
	if opt.Types, err = kv("type", f.types); err != nil {
		return opt, err
	}
	if opt.Roles, err = kv("role", f.roles); err != nil {
		return opt, err
	}
	if f.target != "" {
		if opt.Roles == nil {
			opt.Roles = map[string]string{}
		}
		opt.Roles[f.target] = joule.RoleTarget
	}
	if cmd.Flags().Changed("max-reject-ratio") {
		r := f.maxRejectRatio
		opt.MaxRejectRatio = &r
	}
	return opt, opt.Validate()
}

func (m *Main) datasetUploadCommand() *cobra.Command {
	var f ingestFlags
	var quiet bool
	cmd := &cobra.Command{
		Use:   "upload NAME FILE",
		Short: "Upload a file as the next version of a dataset (created if needed)",
		Example: `  joule dataset upload credit examples/data/finance/UCI_Credit_Card.csv --target Y
  joule dataset upload german examples/data/finance/german.data --delimiter ' ' --header false
  joule dataset upload sales sales.csv --max-reject-ratio 0.01 -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options(cmd)
			if err != nil {
				return err
			}
			file, err := os.Open(args[1])
			if err != nil {
				return joule.Errorf(joule.EINVALID, "open %s: %v", args[1], err)
			}
			defer file.Close()
			fi, err := file.Stat()
			if err != nil || !fi.Mode().IsRegular() {
				return joule.Errorf(joule.EINVALID, "%s is not a regular file", args[1])
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			var body io.Reader = file
			var bar *progress
			if !quiet {
				bar = newProgress(m.Stderr, "Uploading "+filepath.Base(args[1]), fi.Size())
				body = io.TeeReader(file, bar)
			}
			v, err := c.UploadDataset(cmd.Context(), ws, args[0], filepath.Base(args[1]), body, fi.Size(), opt)
			if bar != nil {
				bar.done()
			}
			if err != nil {
				return err
			}
			return m.print(v, func(tw *tabwriter.Writer) { versionSummary(tw, v, "Uploaded") })
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func (m *Main) datasetIngestCommand() *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest NAME PATH",
		Short: "Ingest a file that is on the server's disk (workspace admins)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt, err := f.options(cmd)
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			v, err := c.IngestPath(cmd.Context(), ws, args[0], httpapi.IngestPathRequest{Path: args[1], Options: opt})
			if err != nil {
				return err
			}
			return m.print(v, func(tw *tabwriter.Writer) { versionSummary(tw, v, "Ingested") })
		},
	}
	f.register(cmd)
	return cmd
}

func columnWords(cols []joule.DatasetColumn) string {
	parts := make([]string, 0, len(cols))
	for i, c := range cols {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("… %d more", len(cols)-i))
			break
		}
		s := c.Name + " " + c.Type
		if c.Role != joule.RoleFeature {
			s += " (" + c.Role + ")"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%d: %s", len(cols), strings.Join(parts, ", "))
}

func versionSummary(tw *tabwriter.Writer, v httpapi.DatasetVersionView, verb string) {
	row(tw, verb, fmt.Sprintf("%s version %d (%s)", v.Name, v.Version, v.ID))
	row(tw, "  rows accepted:", v.Rows)
	row(tw, "  rows rejected:", v.RejectedRows)
	row(tw, "  columns:", columnWords(v.Columns))
	row(tw, "  hash:", v.Hash)
	row(tw, "  source:", v.Source)
	if v.ParentVersion > 0 {
		row(tw, "  parent:", fmt.Sprintf("version %d", v.ParentVersion))
	}
	for _, r := range v.FirstRejects {
		row(tw, fmt.Sprintf("  rejected line %d:", r.Line), r.Reason)
	}
	if v.RejectedRows > int64(len(v.FirstRejects)) && len(v.FirstRejects) > 0 {
		row(tw, "  …", fmt.Sprintf("see joule dataset rejects %s@%d", v.Name, v.Version))
	}
}

func (m *Main) datasetListCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List datasets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			ds, err := collect(limit, func(cursor string) (httpapi.Page[joule.Dataset], error) {
				return c.ListDatasets(cmd.Context(), ws, joule.ListOptions{Cursor: cursor, Limit: joule.MaxLimit})
			})
			if err != nil {
				return err
			}
			return m.print(nonNilList(ds), func(tw *tabwriter.Writer) {
				row(tw, "NAME", "VERSIONS", "CREATED", "ID")
				for _, d := range ds {
					row(tw, d.Name, d.LatestVersion, fmtTime(d.CreatedAt), d.ID)
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many (default all)")
	return cmd
}

func nonNilList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (m *Main) versionArgs(cmd *cobra.Command, ref string, version int) (*httpapi.Client, string, string, int, error) {
	name, n, err := parseRef(ref, version)
	if err != nil {
		return nil, "", "", 0, err
	}
	c, ws, err := m.clientAndWorkspace(cmd.Context())
	return c, ws, name, n, err
}

func (m *Main) datasetGetCommand() *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:     "get NAME[@VERSION]",
		Short:   "Show a dataset version: rows, rejects, schema, hash and lineage",
		Example: "  joule dataset get credit\n  joule dataset get credit@1 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, name, n, err := m.versionArgs(cmd, args[0], version)
			if err != nil {
				return err
			}
			v, err := c.GetDatasetVersion(cmd.Context(), ws, name, n)
			if err != nil {
				return err
			}
			return m.print(v, func(tw *tabwriter.Writer) {
				versionSummary(tw, v, "Dataset")
				row(tw, "  bytes:", v.Bytes)
				row(tw, "  created:", fmtTime(v.CreatedAt))
				if v.Split != nil {
					row(tw, "  split:", fmt.Sprintf("%s seed %d: %d train, %d test", v.Split.Method, v.Split.Seed, v.Split.Train, v.Split.Test))
				}
				row(tw, "")
				row(tw, "COLUMN", "TYPE", "ROLE")
				for _, col := range v.Columns {
					row(tw, col.Name, col.Type, col.Role)
				}
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "version number (default the latest)")
	return cmd
}

func (m *Main) datasetVersionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "versions NAME",
		Short: "List a dataset's versions with their lineage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			vs, err := collect(0, func(cursor string) (httpapi.Page[joule.DatasetVersion], error) {
				return c.ListDatasetVersions(cmd.Context(), ws, args[0], joule.ListOptions{Cursor: cursor, Limit: joule.MaxLimit})
			})
			if err != nil {
				return err
			}
			return m.print(nonNilList(vs), func(tw *tabwriter.Writer) {
				row(tw, "VERSION", "ROWS", "REJECTED", "PARENT", "SOURCE", "HASH", "CREATED")
				for _, v := range vs {
					parent := "-"
					if v.ParentVersion > 0 {
						parent = strconv.Itoa(v.ParentVersion)
					}
					row(tw, v.Version, v.Rows, v.RejectedRows, parent, v.Source, shortHash(v.Hash), fmtTime(v.CreatedAt))
				}
			})
		},
	}
	return cmd
}

func shortHash(h string) string {
	// "blake3:v3:…", "sha256:v2:…" or "sha256:…": the digest without the
	// algorithm and the version.
	h = h[strings.LastIndexByte(h, ':')+1:]
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func fmtNum(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'g', 6, 64)
}

func (m *Main) datasetProfileCommand() *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:   "profile NAME[@VERSION]",
		Short: "Show a version's profile: per-column statistics and the target's balance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, name, n, err := m.versionArgs(cmd, args[0], version)
			if err != nil {
				return err
			}
			v, err := c.GetDatasetVersion(cmd.Context(), ws, name, n)
			if err != nil {
				return err
			}
			p := v.Profile
			if p == nil {
				return joule.Errorf(joule.ENOTFOUND, "%s version %d has no profile", name, v.Version)
			}
			return m.print(p, func(tw *tabwriter.Writer) {
				row(tw, fmt.Sprintf("%s version %d: %d rows", name, v.Version, p.Rows))
				row(tw, "COLUMN", "TYPE", "NULLS", "DISTINCT", "MIN", "MEAN", "STD", "MAX", "TOP")
				for _, col := range p.Columns {
					lo, hi := fmtNum(col.Min), fmtNum(col.Max)
					if col.Min == nil && col.MinText != "" {
						lo, hi = col.MinText, col.MaxText
					}
					top := "-"
					if len(col.Top) > 0 {
						top = fmt.Sprintf("%s (%d)", col.Top[0].Value, col.Top[0].Count)
					}
					row(tw, col.Name, col.Type, col.Nulls, "~"+strconv.FormatInt(col.Distinct, 10), lo, fmtNum(col.Mean), fmtNum(col.Std), hi, top)
				}
				if p.Target != "" {
					row(tw, "")
					row(tw, "TARGET "+p.Target, "COUNT", "FRACTION")
					for _, b := range p.TargetBalance {
						row(tw, b.Value, b.Count, fmt.Sprintf("%.2f%%", 100*b.Fraction))
					}
				}
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "version number (default the latest)")
	return cmd
}

func (m *Main) datasetPreviewCommand() *cobra.Command {
	var version int
	var limit, offset int64
	cmd := &cobra.Command{
		Use:   "preview NAME[@VERSION]",
		Short: "Show rows of a version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, name, n, err := m.versionArgs(cmd, args[0], version)
			if err != nil {
				return err
			}
			t, err := c.PreviewDataset(cmd.Context(), ws, name, n, limit, offset)
			if err != nil {
				return err
			}
			return m.print(t, func(tw *tabwriter.Writer) {
				head := make([]any, len(t.Columns))
				for i, col := range t.Columns {
					head[i] = col.Name
				}
				row(tw, head...)
				for _, r := range t.Rows {
					cells := make([]any, len(r))
					for i, x := range r {
						if x == nil {
							x = "NULL"
						}
						cells[i] = x
					}
					row(tw, cells...)
				}
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "version number (default the latest)")
	cmd.Flags().Int64Var(&limit, "limit", 20, "rows to show (at most 10000)")
	cmd.Flags().Int64Var(&offset, "offset", 0, "rows to skip")
	return cmd
}

func (m *Main) datasetRejectsCommand() *cobra.Command {
	var version int
	var limit, offset int64
	cmd := &cobra.Command{
		Use:   "rejects NAME[@VERSION]",
		Short: "Show the rows an ingest could not read, with line numbers and reasons",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, name, n, err := m.versionArgs(cmd, args[0], version)
			if err != nil {
				return err
			}
			rs, err := c.DatasetRejects(cmd.Context(), ws, name, n, limit, offset)
			if err != nil {
				return err
			}
			return m.print(nonNilList(rs), func(tw *tabwriter.Writer) {
				row(tw, "LINE", "REASON", "ROW")
				for _, r := range rs {
					row(tw, r.Line, r.Reason, truncateText(r.Text, 61))
				}
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "version number (default the latest)")
	cmd.Flags().Int64Var(&limit, "limit", 100, "rejects to show (at most 10000)")
	cmd.Flags().Int64Var(&offset, "offset", 0, "rejects to skip")
	return cmd
}

func (m *Main) datasetExportCommand() *cobra.Command {
	var version int
	var format, out string
	cmd := &cobra.Command{
		Use:   "export NAME[@VERSION]",
		Short: "Download a version as CSV, JSON Lines or Parquet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, name, n, err := m.versionArgs(cmd, args[0], version)
			if err != nil {
				return err
			}
			w := m.Stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return joule.Errorf(joule.EINVALID, "out: %v", err)
				}
				defer f.Close()
				w = f
			}
			return c.ExportDataset(cmd.Context(), ws, name, n, format, w)
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "version number (default the latest)")
	cmd.Flags().StringVar(&format, "format", "csv", "csv, jsonl or parquet")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default standard output)")
	return cmd
}

func (m *Main) datasetDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a dataset, all its versions and their files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			d, err := c.DeleteDataset(cmd.Context(), ws, args[0])
			if err != nil {
				return err
			}
			return m.print(d, func(tw *tabwriter.Writer) { row(tw, "Deleted dataset", d.Name, d.ID) })
		},
	}
}

// progress draws a one-line progress bar on w as bytes pass through Write.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	total int64
	n     int64
	last  time.Time
	start time.Time
}

func newProgress(w io.Writer, label string, total int64) *progress {
	return &progress{w: w, label: label, total: total, start: time.Now()}
}

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(len(b))
	if time.Since(p.last) >= 200*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.n)/float64(p.total), 1)
	}
	filled := int(frac * width)
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 1e-3) / (1 << 20)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s/%s %.1f MiB/s", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		100*frac, fmtSize(p.n), fmtSize(p.total), rate)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w)
}

func fmtSize(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func (m *Main) datasetRecipeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipe",
		Short: "Apply recipes: declarative steps that make a new version",
	}
	var file string
	var version int
	var wait bool
	apply := &cobra.Command{
		Use:   "apply NAME[@VERSION] -f RECIPE",
		Short: "Check a recipe (YAML or JSON) and run it as a job of kind recipe; the result is the next version",
		Long: `apply checks the recipe against the version (unknown columns, wrong types and
casts that cannot hold fail at once, naming the step and the column), then
queues a job of kind recipe that applies it. Steps that learn from the data
(impute, clip, winsorize, normalize, standardize, onehot, ordinal) fit on the
train rows when a split step came first. The new version records its parent
and the fitted recipe. See docs/datasets.md for every step.`,
		Example: `  joule dataset recipe apply credit -f examples/recipes/credit.yaml --wait
  joule dataset recipe apply credit@1 -f clean.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return joule.Errorf(joule.EINVALID, "-f RECIPE is required")
			}
			data, err := readFileOrStdin(file, m.Stdin)
			if err != nil {
				return err
			}
			rec, err := dataset.ParseRecipe(data)
			if err != nil {
				return joule.Errorf(joule.EINVALID, "%s: %s", file, joule.ErrorMessage(err))
			}
			return m.submitRecipe(cmd, args[0], version, rec, wait)
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "recipe file, YAML or JSON (- for stdin)")
	apply.Flags().IntVar(&version, "version", 0, "version to apply it to (default the latest)")
	apply.Flags().BoolVar(&wait, "wait", false, "wait for the job and print the new version")
	cmd.AddCommand(apply)
	return cmd
}

// submitRecipe queues a recipe job and, with wait, follows it and prints the
// version it made.
func (m *Main) submitRecipe(cmd *cobra.Command, ref string, version int, rec dataset.Recipe, wait bool) error {
	c, ws, name, n, err := m.versionArgs(cmd, ref, version)
	if err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	j, err := c.ApplyRecipe(cmd.Context(), ws, name, httpapi.ApplyRecipeRequest{Version: n, Recipe: b})
	if err != nil {
		return err
	}
	if !wait {
		return m.print(j, func(tw *tabwriter.Writer) { row(tw, "Submitted recipe job", j.Spec.Name, j.ID, string(j.State)) })
	}
	if err := m.waitJob(cmd.Context(), c, ws, j); err != nil {
		return err
	}
	v, err := c.GetDatasetVersion(cmd.Context(), ws, name, 0)
	if err != nil {
		return err
	}
	return m.print(v, func(tw *tabwriter.Writer) {
		versionSummary(tw, v, "Made")
		if v.Split != nil {
			row(tw, "  split:", fmt.Sprintf("%s seed %d: %d train, %d test", v.Split.Method, v.Split.Seed, v.Split.Train, v.Split.Test))
		}
		row(tw, "  job:", v.JobID)
	})
}

func (m *Main) datasetSplitCommand() *cobra.Command {
	var sp dataset.SplitStep
	var version int
	var wait bool
	cmd := &cobra.Command{
		Use:   "split NAME[@VERSION]",
		Short: "Add a train/test split as a new version (a one-step recipe job)",
		Long: `split adds a "split" column of train or test. random is the SplitMix64
Fisher-Yates permutation of internal/ml, so a seed-42 80/20 split picks the
same rows as the scikit-learn reference; stratified does it within each class
of --by; chronological puts the last rows in --by order (file order without
--by) in test.`,
		Example: "  joule dataset split credit --seed 42 --test-size 0.2 --wait\n  joule dataset split etth1 --method chronological --by date",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec := dataset.Recipe{Steps: []dataset.Step{{Split: &sp}}}
			if err := rec.Validate(); err != nil {
				return err
			}
			return m.submitRecipe(cmd, args[0], version, rec, wait)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&sp.Method, "method", "random", "random, stratified or chronological")
	fl.Uint64Var(&sp.Seed, "seed", 42, "seed of the random permutation")
	fl.Float64Var(&sp.TestSize, "test-size", 0.2, "fraction of rows in test")
	fl.StringVar(&sp.By, "by", "", "class column (stratified) or order column (chronological)")
	fl.IntVar(&version, "version", 0, "version to split (default the latest)")
	fl.BoolVar(&wait, "wait", false, "wait for the job and print the new version")
	return cmd
}

func (m *Main) datasetTransformCommand() *cobra.Command {
	var version int
	var rowJSON string
	cmd := &cobra.Command{
		Use:     "transform NAME[@VERSION] --row JSON",
		Short:   "Apply the fitted recipe that made a version to one row, as serving does",
		Example: `  joule dataset transform enb@2 --row '{"X1": 0.98, "X2": 514.5}'`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ws, name, n, err := m.versionArgs(cmd, args[0], version)
			if err != nil {
				return err
			}
			out, err := c.TransformRow(cmd.Context(), ws, name, n, json.RawMessage(rowJSON))
			if err != nil {
				return err
			}
			return m.print(out, func(tw *tabwriter.Writer) {
				for _, k := range sortedKeys(out) {
					row(tw, k, out[k])
				}
			})
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "version (default the latest)")
	cmd.Flags().StringVar(&rowJSON, "row", "", "the row, a JSON object of the parent version's columns")
	return cmd
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// datasetRecipeRunCommand is the command of a recipe job. It runs in the
// job's process with the job's JOULE_SERVER and JOULE_TOKEN: it reads the
// parent version's file from the data directory, applies the recipe there
// (so the job's measured energy is the recipe's), and registers the new
// version through the API.
func (m *Main) datasetRecipeRunCommand() *cobra.Command {
	var dataDir, datasetID, recipe string
	var version int
	cmd := &cobra.Command{
		Use:    "recipe-run",
		Short:  "Run a recipe job (the server starts it; not for direct use)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, err := dataset.ParseRecipe([]byte(recipe))
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			ws := firstNonEmpty(m.workspace, m.getenv("JOULE_WORKSPACE_ID"))
			if ws == "" {
				return joule.Errorf(joule.EINVALID, "recipe-run: no workspace (JOULE_WORKSPACE_ID)")
			}
			parent, err := c.GetDatasetVersion(cmd.Context(), ws, datasetID, version)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "applying %d steps to %s version %d (%d rows)\n", len(rec.Steps), parent.Name, parent.Version, parent.Rows)
			start := time.Now()
			v, err := dataset.RunRecipe(cmd.Context(), dataDir, parent.DatasetID, parent.DatasetVersion, rec, m.getenv("JOULE_JOB_ID"))
			if err != nil {
				return err
			}
			v, err = c.RegisterDatasetVersion(cmd.Context(), ws, datasetID, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "made version %d: %d rows, %d columns, %s, in %s\n", v.Version, v.Rows, len(v.Columns), v.Hash, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", "", "the server's data directory")
	fl.StringVar(&datasetID, "dataset", "", "dataset ID")
	fl.IntVar(&version, "version", 0, "parent version")
	fl.StringVar(&recipe, "recipe", "", "the recipe, JSON")
	return cmd
}

func (m *Main) datasetImportCommand() *cobra.Command {
	var f ingestFlags
	var from, query string
	cmd := &cobra.Command{
		Use:   "import NAME --from URL [--query SQL]",
		Short: "Import the next version from a PostgreSQL/MySQL query or an http(s) URL (workspace admins)",
		Long: `import makes the server read the rows itself: from a database, the rows of
--query (types map onto joule's six, so the same table from PostgreSQL and
from MariaDB gives the same version and hash); from an http(s) URL, the file,
read like an upload. URLs whose host is loopback, link-local or private are
refused unless the server runs with --allow-private-urls. The password in a
database URL is never stored or shown.`,
		Example: `  joule dataset import sales --from postgres://analyst@db.internal:5432/shop --query "SELECT * FROM sales ORDER BY id"
  joule dataset import sales --from mysql://root@127.0.0.1:3306/test --query "SELECT * FROM sales ORDER BY id"
  joule dataset import iris --from https://example.org/iris.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return joule.Errorf(joule.EINVALID, "--from URL is required")
			}
			opt, err := f.options(cmd)
			if err != nil {
				return err
			}
			c, ws, err := m.clientAndWorkspace(cmd.Context())
			if err != nil {
				return err
			}
			v, err := c.ImportDataset(cmd.Context(), ws, args[0], httpapi.ImportRequest{From: from, Query: query, Options: opt})
			if err != nil {
				return err
			}
			return m.print(v, func(tw *tabwriter.Writer) { versionSummary(tw, v, "Imported") })
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "postgres://…, mysql://… or an http(s) URL")
	cmd.Flags().StringVar(&query, "query", "", "SQL that selects the rows (database sources)")
	return cmd
}
