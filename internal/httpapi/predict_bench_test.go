package httpapi_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/auth"
	"github.com/joule-dev/joule/internal/httpapi"
	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/modelfile"
	"github.com/joule-dev/joule/internal/serving"
)

// creditForest is a 100-tree random forest fitted once per process on the
// first 24,000 rows of UCI_Credit_Card (X1…X23 → Y), as a model file,
// with the body of a one-row predict call.
var creditForest = sync.OnceValues(func() ([]byte, error) {
	f, err := os.Open("../../examples/data/finance/UCI_Credit_Card.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	var X [][]float64
	var y []float64
	for _, rec := range recs[1:24001] {
		row := make([]float64, 23)
		for j := range row {
			if row[j], err = strconv.ParseFloat(rec[j+1], 64); err != nil {
				return nil, err
			}
		}
		X = append(X, row)
		c, err := strconv.ParseFloat(rec[24], 64)
		if err != nil {
			return nil, err
		}
		y = append(y, c)
	}
	est, err := ml.New("random_forest", ml.Classification, map[string]string{"n_estimators": "100", "random_state": "42"})
	if err != nil {
		return nil, err
	}
	m, err := est.Fit(X, y)
	if err != nil {
		return nil, err
	}
	h := modelfile.Header{Classes: []string{"0", "1"}}
	for j := range 23 {
		h.Features = append(h.Features, modelfile.Feature{Name: fmt.Sprintf("X%d", j+1)})
	}
	var b strings.Builder
	if err := ml.Save(&b, m, h); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
})

// creditBody is UCI_Credit_Card's first row as a predict body.
const creditBody = `{"instances":[{"X1":20000,"X2":2,"X3":2,"X4":1,"X5":24,"X6":2,"X7":2,"X8":-1,"X9":-1,"X10":-2,"X11":-2,"X12":3913,"X13":3102,"X14":689,"X15":0,"X16":0,"X17":0,"X18":0,"X19":689,"X20":0,"X21":0,"X22":0,"X23":0}]}`

// newPredictEnv is the API with a serving manager and a public deployment
// "rf" of the credit forest at one replica.
func newPredictEnv(b testing.TB) *env {
	b.Helper()
	data, err := creditForest()
	if err != nil {
		b.Skipf("credit forest: %v", err)
	}
	store := mustOpenSQLite(b)
	ctx := context.Background()
	e := newEnv(b, store)
	def, err := store.GetWorkspace(ctx, joule.DefaultWorkspace)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rf.jm"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	mdl := joule.Model{ID: joule.NewID("mdl", now), WorkspaceID: def.ID, Name: "credit", CreatedAt: now}
	if err := store.CreateModel(ctx, mdl); err != nil {
		b.Fatal(err)
	}
	mv := joule.ModelVersion{ID: joule.NewID("mv", now), ModelID: mdl.ID, Algorithm: "random_forest", Task: "classification",
		Classes: []string{"0", "1"}, Source: "train", Path: "rf.jm", CreatedAt: now}
	for j := range 23 {
		mv.Features = append(mv.Features, joule.ModelFeature{Name: fmt.Sprintf("X%d", j+1), Type: joule.TypeFloat})
	}
	if _, err := store.CreateModelVersion(ctx, mv); err != nil {
		b.Fatal(err)
	}
	mgr := serving.NewManager(serving.Config{Store: store, DataDir: dir})
	b.Cleanup(mgr.Stop)
	if _, err := mgr.Create(ctx, def.ID, joule.Deployment{Name: "rf", Model: "credit", MinReplicas: 1, MaxReplicas: 1, Public: true}, "bench"); err != nil {
		b.Fatal(err)
	}
	mgr.Tick(ctx)
	authn := &auth.Authenticator{Store: store}
	e.api, err = httpapi.New(httpapi.Config{Store: store, Authenticate: authn.Authenticate, Deployments: mgr,
		Status: func(context.Context) (joule.ServerStatus, error) { return joule.ServerStatus{}, nil }})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkPredict is one single-row predict call on the credit forest
// through the whole handler chain (request ID, metrics, workspace lookup,
// deployment lookup, admission, replica worker, model, JSON), without the
// network: the server's cost per request, less net/http's own.
func BenchmarkPredict(b *testing.B) {
	e := newPredictEnv(b)
	path := "/v1/workspaces/default/deployments/rf/predict"
	for b.Loop() {
		req := httptest.NewRequest("POST", path, strings.NewReader(creditBody))
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("POST %s = %d %s", path, rec.Code, rec.Body)
		}
	}
}
