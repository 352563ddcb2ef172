package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// DatasetService keeps datasets for the API (internal/dataset implements
// it; cmd/joule wires it).
type DatasetService interface {
	Create(ctx context.Context, workspaceID, name, description, by string) (joule.Dataset, error)
	// TempDir is where uploads are spooled before they are ingested.
	TempDir() (string, error)
	IngestFile(ctx context.Context, workspaceID, name, path, source string, opt joule.IngestOptions, by string) (joule.DatasetVersion, []joule.Reject, error)
	Version(ctx context.Context, workspaceID, ref string, n int) (joule.Dataset, joule.DatasetVersion, error)
	Delete(ctx context.Context, workspaceID, ref string) (joule.Dataset, error)
	Preview(ctx context.Context, v joule.DatasetVersion, limit, offset int64) (joule.DatasetRows, error)
	Rejects(ctx context.Context, v joule.DatasetVersion, limit, offset int64) ([]joule.Reject, error)
	Export(ctx context.Context, v joule.DatasetVersion, format string, w io.Writer) error
	// Import makes the next version from an http(s) URL or a database query.
	Import(ctx context.Context, workspaceID, name, from, query string, opt joule.IngestOptions, by string) (joule.DatasetVersion, []joule.Reject, error)
	// SubmitRecipe checks a recipe and queues the job of kind recipe that
	// applies it.
	SubmitRecipe(ctx context.Context, workspaceID, ref string, n int, recipe json.RawMessage, by string) (joule.Job, error)
	// RegisterVersion records a version a recipe job wrote.
	RegisterVersion(ctx context.Context, workspaceID, ref string, v joule.DatasetVersion, by string) (joule.DatasetVersion, error)
	// Transform applies the fitted recipe that made a version to one row.
	Transform(ctx context.Context, workspaceID, ref string, n int, row json.RawMessage) (map[string]any, error)
}

// ImportRequest is the body of POST …/datasets/{dataset}/import.
type ImportRequest struct {
	// From is an http(s) URL of a file, or a postgres:// or mysql:// URL.
	From string `json:"from"`
	// Query selects the rows of a database source.
	Query   string              `json:"query,omitempty"`
	Options joule.IngestOptions `json:"options"`
}

// ApplyRecipeRequest is the body of POST …/datasets/{dataset}/recipes.
type ApplyRecipeRequest struct {
	// Version is the version to apply the recipe to (0: the latest).
	Version int `json:"version,omitempty"`
	// Recipe is the recipe as a JSON object ({"steps": […]}).
	Recipe json.RawMessage `json:"recipe"`
}

// TransformRequest is the body of POST …/versions/{version}/transform.
type TransformRequest struct {
	Row json.RawMessage `json:"row"`
}

// TransformResponse is one row through a fitted recipe.
type TransformResponse struct {
	Row map[string]any `json:"row"`
}

// CreateDatasetRequest is the body of POST …/datasets.
type CreateDatasetRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// IngestPathRequest is the body of POST …/datasets/{dataset}/ingest: a file
// on the server, read with the given options.
type IngestPathRequest struct {
	Path    string              `json:"path"`
	Options joule.IngestOptions `json:"options"`
}

// DatasetVersionView is a version with its dataset's name: the body of
// uploads and of GET …/datasets/{dataset}.
type DatasetVersionView struct {
	Name string `json:"name"`
	joule.DatasetVersion
	// FirstRejects are the first rows rejected, on ingest responses.
	FirstRejects []joule.Reject `json:"first_rejects,omitempty"`
}

// MaxUploadBytes bounds a dataset upload.
const MaxUploadBytes = 64 << 30

func (s *Server) datasetRoutes() []Route {
	paging := []Param{{"limit", "page size, 1 to 500 (default 50)"}, {"cursor", "next_cursor of the previous page"}}
	ds := "/v1/workspaces/{workspace}/datasets"
	ver := ds + "/{dataset}/versions/{version}"
	rows := []Param{{"limit", "rows, 1 to 10000 (default 100)"}, {"offset", "rows to skip"}}
	upload := []Param{{"format", "csv, tsv, json, jsonl or parquet (default: sniffed)"}, {"filename", "the file's name, for the record and format detection"},
		{"delimiter", "CSV delimiter (default: sniffed)"}, {"quote", "CSV quote character"}, {"header", "true or false (default: sniffed)"},
		{"encoding", "utf-8, utf-16 or latin-1 (default: sniffed)"}, {"types", "type overrides: col:type,col:type"},
		{"roles", "column roles: col:target,col:id"}, {"target", "the target column (same as roles=col:target)"},
		{"max_reject_ratio", "fail, writing nothing, when more than this fraction of rows is rejected"}}
	return []Route{
		{Method: "POST", Path: ds, Summary: "Create an empty dataset.", Role: joule.RoleEditor, Workspace: true, Audit: "dataset.create", Request: CreateDatasetRequest{}, Response: joule.Dataset{}, Status: http.StatusCreated, handle: s.createDataset},
		{Method: "GET", Path: ds, Summary: "List datasets.", Role: joule.RoleViewer, Workspace: true, Query: paging, Response: Page[joule.Dataset]{}, handle: s.listDatasets},
		{Method: "GET", Path: ds + "/{dataset}", Summary: "Get a dataset's latest version: schema, counts, hash and profile.", Role: joule.RoleViewer, Workspace: true, Response: DatasetVersionView{}, handle: s.getDataset},
		{Method: "DELETE", Path: ds + "/{dataset}", Summary: "Delete a dataset, its versions and their files.", Role: joule.RoleEditor, Workspace: true, Audit: "dataset.delete", Response: joule.Dataset{}, handle: s.deleteDataset},
		{Method: "POST", Path: ds + "/{dataset}/upload", Summary: "Upload a file (the raw request body, streamed) as the dataset's next version; creates the dataset if needed.", Role: joule.RoleEditor, Workspace: true, Audit: "dataset.upload",
			Query: upload, Response: DatasetVersionView{}, Status: http.StatusCreated, MaxBody: MaxUploadBytes, handle: s.uploadDataset},
		{Method: "POST", Path: ds + "/{dataset}/ingest", Summary: "Ingest a file on the server's disk as the dataset's next version (workspace admins only).", Role: joule.RoleAdmin, Workspace: true, Audit: "dataset.ingest",
			Request: IngestPathRequest{}, Response: DatasetVersionView{}, Status: http.StatusCreated, handle: s.ingestPath},
		{Method: "POST", Path: ds + "/{dataset}/import", Summary: "Import the next version from an http(s) URL or a PostgreSQL/MySQL query (workspace admins; URLs to private addresses only where the server allows them).", Role: joule.RoleAdmin, Workspace: true, Audit: "dataset.import",
			Request: ImportRequest{}, Response: DatasetVersionView{}, Status: http.StatusCreated, handle: s.importDataset},
		{Method: "GET", Path: ds + "/{dataset}/versions", Summary: "List a dataset's versions, oldest first.", Role: joule.RoleViewer, Workspace: true, Query: paging, Response: Page[joule.DatasetVersion]{}, handle: s.listDatasetVersions},
		{Method: "GET", Path: ver, Summary: "Get one version (a number or latest) with its profile.", Role: joule.RoleViewer, Workspace: true, Response: DatasetVersionView{}, handle: s.getDatasetVersion},
		{Method: "GET", Path: ver + "/preview", Summary: "Rows of a version.", Role: joule.RoleViewer, Workspace: true, Query: rows, Response: joule.DatasetRows{}, handle: s.previewDataset},
		{Method: "GET", Path: ver + "/rejects", Summary: "Rows that could not be read, with line numbers and reasons.", Role: joule.RoleViewer, Workspace: true, Query: rows, Response: []joule.Reject{}, handle: s.datasetRejects},
		{Method: "POST", Path: ds + "/{dataset}/recipes", Summary: "Check a recipe against a version and queue a job of kind recipe that applies it, making the next version.", Role: joule.RoleEditor, Workspace: true, Audit: "dataset.recipe",
			Request: ApplyRecipeRequest{}, Response: joule.Job{}, Status: http.StatusCreated, handle: s.applyRecipe},
		{Method: "POST", Path: ds + "/{dataset}/versions", Summary: "Register a version a recipe job wrote (used by the job itself).", Role: joule.RoleEditor, Workspace: true, Audit: "dataset.version.create",
			Request: joule.DatasetVersion{}, Response: joule.DatasetVersion{}, Status: http.StatusCreated, MaxBody: 64 << 20, handle: s.registerVersion},
		{Method: "POST", Path: ver + "/transform", Summary: "Apply the fitted recipe that made this version to one JSON row of its parent's columns, as the batch path would.", Role: joule.RoleViewer, Workspace: true,
			Request: TransformRequest{}, Response: TransformResponse{}, handle: s.transformRow},
		{Method: "GET", Path: ver + "/export", Summary: "Download a version as csv, jsonl or parquet.", Role: joule.RoleViewer, Workspace: true, Query: []Param{{"format", "csv (default), jsonl or parquet"}}, Raw: true, handle: s.exportDataset},
	}
}

func (s *Server) datasets() (DatasetService, error) {
	if s.cfg.Datasets == nil {
		return nil, joule.Errorf(joule.EUNAVAILABLE, "this server runs no data layer")
	}
	return s.cfg.Datasets, nil
}

func (s *Server) createDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	var req CreateDatasetRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := svc.Create(r.Context(), c.workspace.ID, req.Name, req.Description, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, "name="+d.Name
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.ListDatasets(r.Context(), c.workspace.ID, opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Dataset]{Items: nonNil(items), NextCursor: next})
	return nil
}

// versionParam reads {version}: a number, or "latest" (0).
func versionParam(r *http.Request) (int, error) {
	v := r.PathValue("version")
	if v == "" || v == "latest" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || n < 1 {
		return 0, errField("version", "%q is not a version number or latest", v)
	}
	return n, nil
}

func (s *Server) version(r *http.Request, c *call) (DatasetService, joule.Dataset, joule.DatasetVersion, error) {
	svc, err := s.datasets()
	if err != nil {
		return nil, joule.Dataset{}, joule.DatasetVersion{}, err
	}
	n, err := versionParam(r)
	if err != nil {
		return nil, joule.Dataset{}, joule.DatasetVersion{}, err
	}
	d, v, err := svc.Version(r.Context(), c.workspace.ID, r.PathValue("dataset"), n)
	return svc, d, v, err
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	_, d, v, err := s.version(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, DatasetVersionView{Name: d.Name, DatasetVersion: v})
	return nil
}

func (s *Server) getDatasetVersion(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.getDataset(w, r, c)
}

func (s *Server) deleteDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	c.resource = r.PathValue("dataset")
	d, err := svc.Delete(r.Context(), c.workspace.ID, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	c.resource, c.detail = d.ID, "name="+d.Name
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) listDatasetVersions(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	d, err := s.store.GetDataset(r.Context(), c.workspace.ID, r.PathValue("dataset"))
	if err != nil {
		return err
	}
	items, next, err := s.store.ListDatasetVersions(r.Context(), d.ID, opt)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].Profile = nil // the list stays small; GET a version for its profile
	}
	writeJSON(w, http.StatusOK, Page[joule.DatasetVersion]{Items: nonNil(items), NextCursor: next})
	return nil
}

// ingestOptions reads upload options from the query string.
func ingestOptions(r *http.Request) (joule.IngestOptions, error) {
	q := r.URL.Query()
	opt := joule.IngestOptions{Format: q.Get("format"), CSV: joule.CSVOptions{
		Delimiter: q.Get("delimiter"), Quote: q.Get("quote"), Header: q.Get("header"), Encoding: q.Get("encoding")}}
	pairs := func(field, v string) (map[string]string, error) {
		if v == "" {
			return nil, nil
		}
		m := map[string]string{}
		for _, p := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(p, ":")
			if !ok || k == "" {
				return nil, errField(field, "%q is not column:value", p)
			}
			m[k] = val
		}
		return m, nil
	}
	var err error
	if opt.Types, err = pairs("types", q.Get("types")); err != nil {
		return opt, err
	}
	if opt.Roles, err = pairs("roles", q.Get("roles")); err != nil {
		return opt, err
	}
	if t := q.Get("target"); t != "" {
		if opt.Roles == nil {
			opt.Roles = map[string]string{}
		}
		opt.Roles[t] = joule.RoleTarget
	}
	if v := q.Get("max_reject_ratio"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return opt, errField("max_reject_ratio", "%q is not a number from 0 to 1", v)
		}
		opt.MaxRejectRatio = &f
	}
	return opt, opt.Validate()
}

func (s *Server) uploadDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	opt, err := ingestOptions(r)
	if err != nil {
		return err
	}
	name := r.PathValue("dataset")
	if err := joule.ValidateName("dataset", name); err != nil {
		return err
	}
	filename := filepath.Base(r.URL.Query().Get("filename"))
	if filename == "." || filename == "/" {
		filename = ""
	}
	dir, err := svc.TempDir()
	if err != nil {
		return err
	}
	// A large upload may take longer than the server's read timeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	// Keep the extension: it tells the format when none is given.
	f, err := os.CreateTemp(dir, "upload-*"+filepath.Ext(filename))
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, r.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return joule.Errorf(joule.ETOOLARGE, "upload: larger than %d bytes", int64(MaxUploadBytes))
		}
		return joule.Errorf(joule.EINVALID, "upload: the body ended early: %v", err)
	}
	source := "upload"
	if filename != "" {
		source = "upload:" + filename
	}
	v, rejects, err := svc.IngestFile(r.Context(), c.workspace.ID, name, f.Name(), source, opt, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = v.ID, fmt.Sprintf("dataset=%s version=%d rows=%d rejected=%d", name, v.Version, v.Rows, v.RejectedRows)
	writeJSON(w, http.StatusCreated, DatasetVersionView{Name: name, DatasetVersion: v, FirstRejects: rejects})
	return nil
}

func (s *Server) ingestPath(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	var req IngestPathRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Path == "" || !filepath.IsAbs(req.Path) {
		return errField("path", "%q must be an absolute path on the server", req.Path)
	}
	if fi, err := os.Stat(req.Path); err != nil || !fi.Mode().IsRegular() {
		return errField("path", "%q is not a readable file on the server", req.Path)
	}
	name := r.PathValue("dataset")
	v, rejects, err := svc.IngestFile(r.Context(), c.workspace.ID, name, req.Path, "path:"+req.Path, req.Options, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = v.ID, fmt.Sprintf("dataset=%s version=%d rows=%d rejected=%d", name, v.Version, v.Rows, v.RejectedRows)
	writeJSON(w, http.StatusCreated, DatasetVersionView{Name: name, DatasetVersion: v, FirstRejects: rejects})
	return nil
}

func rowsParams(r *http.Request) (limit, offset int64, err error) {
	q := r.URL.Query()
	limit = 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.ParseInt(v, 10, 64); err != nil || limit < 1 || limit > 10000 {
			return 0, 0, errField("limit", "%q must be a whole number from 1 to 10000", v)
		}
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
			return 0, 0, errField("offset", "%q must be a whole number, 0 or more", v)
		}
	}
	return limit, offset, nil
}

func (s *Server) previewDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, offset, err := rowsParams(r)
	if err != nil {
		return err
	}
	svc, _, v, err := s.version(r, c)
	if err != nil {
		return err
	}
	t, err := svc.Preview(r.Context(), v, limit, offset)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) datasetRejects(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, offset, err := rowsParams(r)
	if err != nil {
		return err
	}
	svc, _, v, err := s.version(r, c)
	if err != nil {
		return err
	}
	rej, err := svc.Rejects(r.Context(), v, limit, offset)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rej)
	return nil
}

func (s *Server) exportDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, d, v, err := s.version(r, c)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "", "csv":
		format = "csv"
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
	case "parquet":
		w.Header().Set("Content-Type", "application/vnd.apache.parquet")
	default:
		return errField("format", "%q is not one of csv, jsonl, parquet", format)
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-v%d.%s", d.Name, v.Version, format)))
	return svc.Export(r.Context(), v, format, w)
}

func (s *Server) applyRecipe(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	var req ApplyRecipeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.Recipe) == 0 {
		return errField("recipe", "required")
	}
	j, err := svc.SubmitRecipe(r.Context(), c.workspace.ID, r.PathValue("dataset"), req.Version, req.Recipe, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = j.ID, "dataset="+r.PathValue("dataset")
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) registerVersion(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	var v joule.DatasetVersion
	if err := decode(r, &v); err != nil {
		return err
	}
	v, err = svc.RegisterVersion(r.Context(), c.workspace.ID, r.PathValue("dataset"), v, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = v.ID, fmt.Sprintf("version=%d parent=%d job=%s", v.Version, v.ParentVersion, v.JobID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) transformRow(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	n, err := versionParam(r)
	if err != nil {
		return err
	}
	var req TransformRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	row, err := svc.Transform(r.Context(), c.workspace.ID, r.PathValue("dataset"), n, req.Row)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TransformResponse{Row: row})
	return nil
}

func (s *Server) importDataset(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.datasets()
	if err != nil {
		return err
	}
	var req ImportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.From == "" {
		return errField("from", "required")
	}
	name := r.PathValue("dataset")
	v, rejects, err := svc.Import(r.Context(), c.workspace.ID, name, req.From, req.Query, req.Options, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = v.ID, fmt.Sprintf("dataset=%s version=%d rows=%d source=%s", name, v.Version, v.Rows, v.Source)
	writeJSON(w, http.StatusCreated, DatasetVersionView{Name: name, DatasetVersion: v, FirstRejects: rejects})
	return nil
}
