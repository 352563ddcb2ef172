package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/joule-dev/joule"
)

// ModelService keeps the model registry for the API (internal/model
// implements it; cmd/joule wires it).
type ModelService interface {
	// SubmitTrain checks a training spec and queues the job of kind train.
	SubmitTrain(ctx context.Context, workspaceID string, spec joule.TrainSpec, by string) (joule.Job, error)
	// SubmitPredict checks a batch prediction and queues the job of kind
	// predict.
	SubmitPredict(ctx context.Context, workspaceID string, spec joule.PredictSpec, by string) (joule.Job, error)
	// RegisterVersion records a version a training job wrote.
	RegisterVersion(ctx context.Context, workspaceID, ref string, v joule.ModelVersion, by string) (joule.ModelVersion, error)
	Get(ctx context.Context, workspaceID, ref string) (joule.Model, error)
	Version(ctx context.Context, workspaceID, ref string, n int) (joule.Model, joule.ModelVersion, error)
	Versions(ctx context.Context, workspaceID, ref string, opt joule.ListOptions) ([]joule.ModelVersion, string, error)
	Promote(ctx context.Context, workspaceID, ref string, n int, stage string) (joule.ModelVersion, *joule.ModelVersion, error)
	Import(ctx context.Context, workspaceID, name string, data []byte, by string) (joule.ModelVersion, error)
	// Card renders a version's model card as markdown or html.
	Card(ctx context.Context, workspaceID, ref string, n int, format string) (string, error)
}

// ModelVersionView is a version with its model's name.
type ModelVersionView struct {
	Name string `json:"name"`
	joule.ModelVersion
}

// StageRequest is the body of POST …/versions/{version}/stage.
type StageRequest struct {
	Stage string `json:"stage"`
}

// StageResponse is the version moved, and the one it moved out of
// production.
type StageResponse struct {
	Version ModelVersionView    `json:"version"`
	Demoted *joule.ModelVersion `json:"demoted,omitempty"`
}

// MaxModelImportBytes bounds an imported model file.
const MaxModelImportBytes = 256 << 20

func (s *Server) modelRoutes() []Route {
	paging := []Param{{"limit", "page size, 1 to 500 (default 50)"}, {"cursor", "next_cursor of the previous page"}}
	ms := "/v1/workspaces/{workspace}/models"
	ver := ms + "/{model}/versions/{version}"
	return []Route{
		{Method: "GET", Path: ms, Summary: "List models.", Role: joule.RoleViewer, Workspace: true, Query: paging, Response: Page[joule.Model]{}, handle: s.listModels},
		{Method: "POST", Path: ms + "/train", Summary: "Check a training spec and queue a job of kind train that makes the model's next version.", Role: joule.RoleEditor, Workspace: true, Audit: "model.train",
			Request: joule.TrainSpec{}, Response: joule.Job{}, Status: http.StatusCreated, handle: s.trainModel},
		{Method: "POST", Path: ms + "/predict", Summary: "Check a batch prediction and queue a job of kind predict that writes the predictions as a dataset version.", Role: joule.RoleEditor, Workspace: true, Audit: "model.predict",
			Request: joule.PredictSpec{}, Response: joule.Job{}, Status: http.StatusCreated, handle: s.predictModel},
		{Method: "GET", Path: ms + "/{model}", Summary: "Get a model's latest version.", Role: joule.RoleViewer, Workspace: true, Response: ModelVersionView{}, handle: s.getModelVersion},
		{Method: "GET", Path: ms + "/{model}/versions", Summary: "List a model's versions, oldest first, with metrics, lineage and training energy.", Role: joule.RoleViewer, Workspace: true, Query: paging, Response: Page[joule.ModelVersion]{}, handle: s.listModelVersions},
		{Method: "POST", Path: ms + "/{model}/versions", Summary: "Register a version a training job wrote (used by the job itself).", Role: joule.RoleEditor, Workspace: true, Audit: "model.version.create",
			Request: joule.ModelVersion{}, Response: joule.ModelVersion{}, Status: http.StatusCreated, MaxBody: 16 << 20, handle: s.registerModelVersion},
		{Method: "GET", Path: ver, Summary: "Get one version (a number or latest).", Role: joule.RoleViewer, Workspace: true, Response: ModelVersionView{}, handle: s.getModelVersion},
		{Method: "POST", Path: ver + "/stage", Summary: "Move a version to a stage: none, staging, production or archived (production archives the previous production version).", Role: joule.RoleEditor, Workspace: true, Audit: "model.stage",
			Request: StageRequest{}, Response: StageResponse{}, handle: s.stageModel},
		{Method: "GET", Path: ver + "/card", Summary: "A version's model card: intended use, data, metrics, training energy and emissions.", Role: joule.RoleViewer, Workspace: true,
			Query: []Param{{"format", "markdown (default) or html"}}, Raw: true, handle: s.modelCard},
		{Method: "POST", Path: ms + "/{model}/import", Summary: "Import an XGBoost JSON model (the raw request body) as the model's next version; creates the model if needed.", Role: joule.RoleEditor, Workspace: true, Audit: "model.import",
			Response: joule.ModelVersion{}, Status: http.StatusCreated, MaxBody: MaxModelImportBytes, handle: s.importModel},
	}
}

func (s *Server) models() (ModelService, error) {
	if s.cfg.Models == nil {
		return nil, joule.Errorf(joule.EUNAVAILABLE, "this server runs no model registry")
	}
	return s.cfg.Models, nil
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request, c *call) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.ListModels(r.Context(), c.workspace.ID, opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.Model]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) trainModel(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	var spec joule.TrainSpec
	if err := decode(r, &spec); err != nil {
		return err
	}
	j, err := svc.SubmitTrain(r.Context(), c.workspace.ID, spec, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = j.ID, fmt.Sprintf("model=%s dataset=%s algorithm=%s", j.Spec.Labels["model"], spec.Dataset, spec.Algorithm)
	writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Server) predictModel(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	var spec joule.PredictSpec
	if err := decode(r, &spec); err != nil {
		return err
	}
	j, err := svc.SubmitPredict(r.Context(), c.workspace.ID, spec, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = j.ID, fmt.Sprintf("model=%s dataset=%s output=%s", spec.Model, spec.Dataset, j.Spec.Labels["output"])
	writeJSON(w, http.StatusCreated, j)
	return nil
}

// modelVersionParam reads {version}: a number, "latest" or absent (0).
func modelVersionParam(r *http.Request) (int, error) {
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

func (s *Server) getModelVersion(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	n, err := modelVersionParam(r)
	if err != nil {
		return err
	}
	m, v, err := svc.Version(r.Context(), c.workspace.ID, r.PathValue("model"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ModelVersionView{Name: m.Name, ModelVersion: v})
	return nil
}

func (s *Server) listModelVersions(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, next, err := svc.Versions(r.Context(), c.workspace.ID, r.PathValue("model"), opt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Page[joule.ModelVersion]{Items: nonNil(items), NextCursor: next})
	return nil
}

func (s *Server) registerModelVersion(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	var v joule.ModelVersion
	if err := decode(r, &v); err != nil {
		return err
	}
	v, err = svc.RegisterVersion(r.Context(), c.workspace.ID, r.PathValue("model"), v, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = v.ID, fmt.Sprintf("version=%d dataset=%s@%d job=%s", v.Version, v.DatasetName, v.DatasetVersion, v.JobID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) stageModel(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	n, err := modelVersionParam(r)
	if err != nil {
		return err
	}
	var req StageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Stage == "" {
		return errField("stage", "required (one of none, staging, production, archived)")
	}
	v, demoted, err := svc.Promote(r.Context(), c.workspace.ID, r.PathValue("model"), n, req.Stage)
	if err != nil {
		return err
	}
	c.resource, c.detail = v.ID, fmt.Sprintf("model=%s version=%d stage=%s", r.PathValue("model"), v.Version, v.Stage)
	if demoted != nil {
		c.detail += fmt.Sprintf(" archived=%d", demoted.Version)
	}
	writeJSON(w, http.StatusOK, StageResponse{Version: ModelVersionView{Name: r.PathValue("model"), ModelVersion: v}, Demoted: demoted})
	return nil
}

func (s *Server) modelCard(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	n, err := modelVersionParam(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "", "markdown", "md":
		format = "markdown"
	case "html":
	default:
		return errField("format", "%q is not markdown or html", format)
	}
	card, err := svc.Card(r.Context(), c.workspace.ID, r.PathValue("model"), n, format)
	if err != nil {
		return err
	}
	if format == "html" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	}
	_, err = io.WriteString(w, card)
	return err
}

func (s *Server) importModel(w http.ResponseWriter, r *http.Request, c *call) error {
	svc, err := s.models()
	if err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return errField("body", "cannot be read: %v", err)
	}
	if len(data) == 0 {
		return errField("body", "empty: send the XGBoost JSON model as the request body")
	}
	v, err := svc.Import(r.Context(), c.workspace.ID, r.PathValue("model"), data, c.principal.TokenID)
	if err != nil {
		return err
	}
	c.resource, c.detail = v.ID, fmt.Sprintf("model=%s version=%d source=%s", r.PathValue("model"), v.Version, v.Source)
	writeJSON(w, http.StatusCreated, v)
	return nil
}
