package dataset

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Service keeps datasets: metadata in the Store, rows as Parquet files under
// DataDir/datasets/<dataset ID>/<version ID>/.
type Service struct {
	Store   joule.Store
	DataDir string
	Engine  EngineConfig
	// Executable is the joule binary that recipe jobs run.
	Executable string
	// Submit queues a job (the compute layer's Submit). nil: recipes
	// cannot be queued.
	Submit func(ctx context.Context, workspaceID string, spec joule.JobSpec, by string) (joule.Job, error)
	// AllowPrivateURLs lets URL imports reach loopback, link-local and
	// private addresses (an admin's choice: joule up --allow-private-urls).
	AllowPrivateURLs bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (nil discards).
	Logger *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) engine() EngineConfig {
	e := s.Engine
	if e.TempDir == "" && s.DataDir != "" {
		e.TempDir = filepath.Join(s.DataDir, "datasets", "tmp")
		_ = os.MkdirAll(e.TempDir, 0o700)
	}
	return e
}

// TempDir is where uploads are spooled before they are ingested.
func (s *Service) TempDir() (string, error) {
	dir := filepath.Join(s.DataDir, "datasets", "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("dataset temp dir: %w", err)
	}
	return dir, nil
}

// Create creates an empty dataset (ECONFLICT if the name is taken).
func (s *Service) Create(ctx context.Context, workspaceID, name, description, by string) (joule.Dataset, error) {
	if err := joule.ValidateName("name", name); err != nil {
		return joule.Dataset{}, err
	}
	now := s.now()
	d := joule.Dataset{ID: joule.NewID("ds", now), WorkspaceID: workspaceID, Name: name, Description: description, CreatedAt: now, CreatedBy: by}
	if err := s.Store.CreateDataset(ctx, d); err != nil {
		return joule.Dataset{}, err
	}
	return s.Store.GetDataset(ctx, workspaceID, d.ID)
}

// getOrCreate returns the named dataset, creating it when it does not exist.
func (s *Service) getOrCreate(ctx context.Context, workspaceID, name, by string) (joule.Dataset, error) {
	d, err := s.Store.GetDataset(ctx, workspaceID, name)
	if joule.ErrorCode(err) == joule.ENOTFOUND {
		d, err = s.Create(ctx, workspaceID, name, "", by)
		if joule.ErrorCode(err) == joule.ECONFLICT { // created meanwhile
			return s.Store.GetDataset(ctx, workspaceID, name)
		}
	}
	return d, err
}

// IngestFile reads the file at path into a new version of the named dataset
// (created if needed). source says where the file came from, for the
// record. When the ingest fails nothing is kept, not even a new dataset.
// It returns the version and its first rejects.
func (s *Service) IngestFile(ctx context.Context, workspaceID, name, path, source string, opt IngestOptions, by string) (joule.DatasetVersion, []joule.Reject, error) {
	if err := joule.ValidateName("name", name); err != nil {
		return joule.DatasetVersion{}, nil, err
	}
	if err := opt.Validate(); err != nil {
		return joule.DatasetVersion{}, nil, err
	}
	_, existed := s.Store.GetDataset(ctx, workspaceID, name)
	d, err := s.getOrCreate(ctx, workspaceID, name, by)
	if err != nil {
		return joule.DatasetVersion{}, nil, err
	}
	now := s.now()
	vid := joule.NewID("dsv", now)
	rel := filepath.Join("datasets", d.ID, vid)
	res, err := Ingest(ctx, s.engine(), path, filepath.Join(s.DataDir, rel), opt)
	if err != nil {
		if existed != nil && d.LatestVersion == 0 {
			_ = s.Store.DeleteDataset(context.WithoutCancel(ctx), workspaceID, d.ID)
		}
		return joule.DatasetVersion{}, nil, err
	}
	v := joule.DatasetVersion{
		ID: vid, DatasetID: d.ID, Hash: res.Hash, Columns: res.Columns, Rows: res.Rows, RejectedRows: res.RejectedRows,
		Bytes: res.Bytes, Format: res.Format, Source: source, Path: filepath.Join(rel, DataFile),
		Profile: res.Profile, CreatedAt: now, CreatedBy: by,
	}
	v, err = s.Store.CreateDatasetVersion(ctx, v)
	if err != nil {
		os.RemoveAll(filepath.Join(s.DataDir, rel))
		return v, nil, err
	}
	return v, res.FirstRejects, nil
}

// Version returns a dataset of the workspace and its version n (0: latest).
func (s *Service) Version(ctx context.Context, workspaceID, ref string, n int) (joule.Dataset, joule.DatasetVersion, error) {
	d, err := s.Store.GetDataset(ctx, workspaceID, ref)
	if err != nil {
		return d, joule.DatasetVersion{}, err
	}
	v, err := s.Store.GetDatasetVersion(ctx, d.ID, n)
	if joule.ErrorCode(err) == joule.ENOTFOUND {
		if n == 0 {
			return d, v, joule.Errorf(joule.ENOTFOUND, "dataset %q has no versions yet: upload a file to it", d.Name)
		}
		return d, v, joule.Errorf(joule.ENOTFOUND, "dataset %q has no version %d (latest: %d)", d.Name, n, d.LatestVersion)
	}
	return d, v, err
}

// Delete deletes a dataset, its versions and their files.
func (s *Service) Delete(ctx context.Context, workspaceID, ref string) (joule.Dataset, error) {
	d, err := s.Store.GetDataset(ctx, workspaceID, ref)
	if err != nil {
		return d, err
	}
	if err := s.Store.DeleteDataset(ctx, workspaceID, d.ID); err != nil {
		return d, err
	}
	if err := os.RemoveAll(filepath.Join(s.DataDir, "datasets", d.ID)); err != nil {
		s.logger().WarnContext(ctx, "dataset files not removed", "dataset", d.ID, "err", err)
	}
	return d, nil
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Preview returns up to limit rows of a version from offset.
func (s *Service) Preview(ctx context.Context, v joule.DatasetVersion, limit, offset int64) (joule.DatasetRows, error) {
	d, err := openDuck(ctx, s.engine())
	if err != nil {
		return joule.DatasetRows{}, err
	}
	defer d.close()
	t := joule.DatasetRows{Columns: v.Columns, Rows: [][]any{}, Offset: offset, Total: v.Rows}
	rows, err := d.query(ctx, fmt.Sprintf("SELECT * FROM read_parquet(%s) LIMIT %d OFFSET %d", lit(s.path(v)), limit, offset))
	if err != nil {
		return t, fmt.Errorf("preview: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := scanAny(rows, len(v.Columns))
		if err != nil {
			return t, fmt.Errorf("preview: %w", err)
		}
		for i, x := range vals {
			if tm, ok := x.(time.Time); ok {
				if v.Columns[i].Type == joule.TypeDate {
					vals[i] = tm.Format(time.DateOnly)
				} else {
					vals[i] = tm.UTC().Format(time.RFC3339Nano)
				}
			}
		}
		t.Rows = append(t.Rows, vals)
	}
	return t, rows.Err()
}

func (s *Service) path(v joule.DatasetVersion) string { return filepath.Join(s.DataDir, v.Path) }

// Rejects returns up to limit rejects of a version from offset.
func (s *Service) Rejects(ctx context.Context, v joule.DatasetVersion, limit, offset int64) ([]joule.Reject, error) {
	if v.RejectedRows == 0 {
		return []joule.Reject{}, nil
	}
	return s.readRejects(ctx, filepath.Join(filepath.Dir(s.path(v)), RejectsFile), limit, offset)
}

func (s *Service) readRejects(ctx context.Context, path string, limit, offset int64) ([]joule.Reject, error) {
	d, err := openDuck(ctx, s.engine())
	if err != nil {
		return nil, err
	}
	defer d.close()
	rows, err := d.query(ctx, fmt.Sprintf(`SELECT line, "column", reason, text FROM read_parquet(%s) ORDER BY line LIMIT %d OFFSET %d`, lit(path), limit, offset))
	if err != nil {
		return nil, fmt.Errorf("rejects: %w", err)
	}
	defer rows.Close()
	out := []joule.Reject{}
	for rows.Next() {
		var r joule.Reject
		if err := rows.Scan(&r.Line, &r.Column, &r.Reason, &r.Text); err != nil {
			return nil, fmt.Errorf("rejects: %w", err)
		}
		r.Text = strings.ToValidUTF8(r.Text, "\uFFFD")
		out = append(out, r)
	}
	return out, rows.Err()
}

// Export writes a version to w as csv, jsonl or parquet.
func (s *Service) Export(ctx context.Context, v joule.DatasetVersion, format string, w io.Writer) error {
	var opts string
	switch format {
	case "", "csv":
		opts = "FORMAT csv, HEADER true"
	case "jsonl", "json":
		opts = "FORMAT json"
	case "parquet":
		f, err := os.Open(s.path(v))
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	default:
		return joule.Errorf(joule.EINVALID, "format: %q is not one of csv, jsonl, parquet", format)
	}
	tmp, err := s.TempDir()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(tmp, "export-*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	d, err := openDuck(ctx, s.engine())
	if err != nil {
		return err
	}
	defer d.close()
	if _, err := d.exec(ctx, "COPY (SELECT * FROM read_parquet("+lit(s.path(v))+")) TO "+lit(name)+" ("+opts+")"); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	f, err = os.Open(name)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// ApplyRecipe applies rec to version n (0: latest) of a dataset and stores
// the result as the dataset's next version, whose parent is the input and
// whose recipe is the fitted one. jobID names the recipe job, if any.
func (s *Service) ApplyRecipe(ctx context.Context, workspaceID, ref string, n int, rec Recipe, by, jobID string) (joule.DatasetVersion, error) {
	d, parent, err := s.Version(ctx, workspaceID, ref, n)
	if err != nil {
		return joule.DatasetVersion{}, err
	}
	now := s.now()
	vid := joule.NewID("dsv", now)
	rel := filepath.Join("datasets", d.ID, vid)
	res, err := Apply(ctx, s.engine(), s.path(parent), parent.Columns, rec, filepath.Join(s.DataDir, rel))
	if err != nil {
		return joule.DatasetVersion{}, err
	}
	fitted, err := json.Marshal(res.Fitted)
	if err != nil {
		return joule.DatasetVersion{}, fmt.Errorf("apply recipe: %w", err)
	}
	v := joule.DatasetVersion{
		ID: vid, DatasetID: d.ID, Hash: res.Hash, Columns: res.Columns, Rows: res.Rows, Bytes: res.Bytes,
		Format: "recipe", Source: fmt.Sprintf("recipe on %s@%d", d.Name, parent.Version), Path: filepath.Join(rel, DataFile),
		ParentID: parent.ID, ParentVersion: parent.Version, Recipe: fitted, JobID: jobID, Split: res.Split, Profile: res.Profile,
		CreatedAt: now, CreatedBy: by,
	}
	v, err = s.Store.CreateDatasetVersion(ctx, v)
	if err != nil {
		os.RemoveAll(filepath.Join(s.DataDir, rel))
		return v, err
	}
	return v, nil
}

// Transform applies the fitted recipe that made version n (0: latest) to one
// JSON row of its parent's columns.
func (s *Service) Transform(ctx context.Context, workspaceID, ref string, n int, row json.RawMessage) (map[string]any, error) {
	d, v, err := s.Version(ctx, workspaceID, ref, n)
	if err != nil {
		return nil, err
	}
	if len(v.Recipe) == 0 || v.ParentVersion == 0 {
		return nil, joule.Errorf(joule.EINVALID, "%s version %d was not made by a recipe", d.Name, v.Version)
	}
	parent, err := s.Store.GetDatasetVersion(ctx, d.ID, v.ParentVersion)
	if err != nil {
		return nil, err
	}
	var rec Recipe
	if err := json.Unmarshal(v.Recipe, &rec); err != nil {
		return nil, fmt.Errorf("transform: stored recipe: %w", err)
	}
	return TransformRow(ctx, s.engine(), parent.Columns, rec, row)
}

// SubmitRecipe checks a recipe against version n (0: latest) of a dataset
// and queues a job of kind recipe that applies it: the job runs
// `joule dataset recipe-run`, which does the work in its own process (so the
// job's energy is the recipe's) and registers the new version through the
// API. Errors in the recipe are EINVALID and name the step and the column.
func (s *Service) SubmitRecipe(ctx context.Context, workspaceID, ref string, n int, recipe json.RawMessage, by string) (joule.Job, error) {
	if s.Submit == nil || s.Executable == "" {
		return joule.Job{}, joule.Errorf(joule.EUNAVAILABLE, "this server cannot run recipe jobs")
	}
	rec, err := ParseRecipe(recipe)
	if err != nil {
		return joule.Job{}, err
	}
	d, v, err := s.Version(ctx, workspaceID, ref, n)
	if err != nil {
		return joule.Job{}, err
	}
	if err := Check(ctx, s.engine(), s.path(v), rec); err != nil {
		return joule.Job{}, err
	}
	compact, err := json.Marshal(rec)
	if err != nil {
		return joule.Job{}, fmt.Errorf("submit recipe: %w", err)
	}
	dataDir, err := filepath.Abs(s.DataDir)
	if err != nil {
		return joule.Job{}, fmt.Errorf("submit recipe: %w", err)
	}
	spec := joule.JobSpec{
		Name: "recipe-" + d.Name, Kind: joule.JobKindRecipe,
		Command: []string{s.Executable, "dataset", "recipe-run", "--data-dir", dataDir, "--dataset", d.ID,
			"--version", fmt.Sprint(v.Version), "--recipe", string(compact)},
		Labels:    map[string]string{"dataset": d.Name, "dataset_version": fmt.Sprint(v.Version)},
		Resources: joule.Resources{CPUMillis: 1000},
	}
	return s.Submit(ctx, workspaceID, spec, by)
}

// RegisterVersion records a version a recipe job wrote: its files must be in
// the dataset's directory, and its parent a version of the same dataset.
func (s *Service) RegisterVersion(ctx context.Context, workspaceID, ref string, v joule.DatasetVersion, by string) (joule.DatasetVersion, error) {
	d, err := s.Store.GetDataset(ctx, workspaceID, ref)
	if err != nil {
		return v, err
	}
	want := filepath.Join("datasets", d.ID, v.ID, DataFile)
	if v.ID == "" || !strings.HasPrefix(v.ID, "dsv_") || v.Path != want {
		return v, joule.Errorf(joule.EINVALID, "path: a version's file must be %s", want)
	}
	fi, err := os.Stat(filepath.Join(s.DataDir, want))
	if err != nil || !fi.Mode().IsRegular() {
		return v, joule.Errorf(joule.EINVALID, "path: %s does not exist", want)
	}
	if v.ParentVersion > 0 {
		p, err := s.Store.GetDatasetVersion(ctx, d.ID, v.ParentVersion)
		if err != nil {
			return v, joule.Errorf(joule.EINVALID, "parent_version: %d is not a version of %s", v.ParentVersion, d.Name)
		}
		v.ParentID = p.ID
	}
	v.DatasetID, v.Bytes, v.CreatedAt, v.CreatedBy = d.ID, fi.Size(), s.now(), by
	return s.Store.CreateDatasetVersion(ctx, v)
}

// RunRecipe is the work of a recipe job, in the job's own process: it
// applies rec to parent (a version of dataset datasetID whose files are under
// dataDir) and returns the new version, ready to register.
func RunRecipe(ctx context.Context, dataDir, datasetID string, parent joule.DatasetVersion, rec Recipe, jobID string) (joule.DatasetVersion, error) {
	vid := joule.NewID("dsv", time.Now())
	rel := filepath.Join("datasets", datasetID, vid)
	cfg := EngineConfig{TempDir: filepath.Join(dataDir, "datasets", "tmp")}
	_ = os.MkdirAll(cfg.TempDir, 0o700)
	res, err := Apply(ctx, cfg, filepath.Join(dataDir, parent.Path), parent.Columns, rec, filepath.Join(dataDir, rel))
	if err != nil {
		return joule.DatasetVersion{}, err
	}
	fitted, err := json.Marshal(res.Fitted)
	if err != nil {
		return joule.DatasetVersion{}, err
	}
	return joule.DatasetVersion{
		ID: vid, DatasetID: datasetID, Hash: res.Hash, Columns: res.Columns, Rows: res.Rows, Bytes: res.Bytes,
		Format: "recipe", Source: fmt.Sprintf("recipe on version %d", parent.Version), Path: filepath.Join(rel, DataFile),
		ParentID: parent.ID, ParentVersion: parent.Version, Recipe: fitted, JobID: jobID, Split: res.Split, Profile: res.Profile,
	}, nil
}

// Import makes the next version of the named dataset (created if needed)
// from a source URL: an http(s) file, read like an upload, or a PostgreSQL
// or MySQL/MariaDB database, where query selects the rows. The version's
// source is the URL without its password.
func (s *Service) Import(ctx context.Context, workspaceID, name, from, query string, opt IngestOptions, by string) (joule.DatasetVersion, []joule.Reject, error) {
	if err := joule.ValidateName("name", name); err != nil {
		return joule.DatasetVersion{}, nil, err
	}
	if err := opt.Validate(); err != nil {
		return joule.DatasetVersion{}, nil, err
	}
	u, err := url.Parse(from)
	if err != nil {
		return joule.DatasetVersion{}, nil, joule.Errorf(joule.EINVALID, "from: not a URL")
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		if query != "" {
			return joule.DatasetVersion{}, nil, joule.Errorf(joule.EINVALID, "query: only for database sources")
		}
		tmp, err := s.TempDir()
		if err != nil {
			return joule.DatasetVersion{}, nil, err
		}
		path, _, err := Fetch(ctx, from, tmp, s.AllowPrivateURLs)
		if err != nil {
			return joule.DatasetVersion{}, nil, err
		}
		defer os.Remove(path)
		return s.IngestFile(ctx, workspaceID, name, path, u.Redacted(), opt, by)
	}
	_, existed := s.Store.GetDataset(ctx, workspaceID, name)
	d, err := s.getOrCreate(ctx, workspaceID, name, by)
	if err != nil {
		return joule.DatasetVersion{}, nil, err
	}
	now := s.now()
	vid := joule.NewID("dsv", now)
	rel := filepath.Join("datasets", d.ID, vid)
	res, err := ImportQuery(ctx, s.engine(), from, query, filepath.Join(s.DataDir, rel), opt.Roles)
	if err != nil {
		if existed != nil && d.LatestVersion == 0 {
			_ = s.Store.DeleteDataset(context.WithoutCancel(ctx), workspaceID, d.ID)
		}
		return joule.DatasetVersion{}, nil, err
	}
	v := joule.DatasetVersion{
		ID: vid, DatasetID: d.ID, Hash: res.Hash, Columns: res.Columns, Rows: res.Rows, Bytes: res.Bytes, Format: res.Format,
		Source: Source(from), Path: filepath.Join(rel, DataFile), Profile: res.Profile, CreatedAt: now, CreatedBy: by,
	}
	v, err = s.Store.CreateDatasetVersion(ctx, v)
	if err != nil {
		os.RemoveAll(filepath.Join(s.DataDir, rel))
		return v, nil, err
	}
	return v, nil, nil
}
