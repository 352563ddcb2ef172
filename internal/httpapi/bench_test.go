package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/postgres"
	"github.com/joule-dev/joule/internal/storetest"
)

// stores returns the stores to benchmark, by name: SQLite always, and
// PostgreSQL when JOULE_TEST_POSTGRES is set.
func benchStores(b *testing.B) map[string]func(b *testing.B) joule.Store {
	return map[string]func(b *testing.B) joule.Store{
		"sqlite": func(b *testing.B) joule.Store { return mustOpenSQLite(b) },
		"postgres": func(b *testing.B) joule.Store {
			dsn := storetest.PostgresDSN(b)
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				b.Fatalf("open postgres: %v", err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// serve runs one request through the whole handler chain (request ID,
// metrics, authentication, authorisation, handler) without the network.
func serve(b *testing.B, h http.Handler, path, token string) {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
	}
}

// BenchmarkAuthMiddleware measures an authenticated request that does no
// other work: GET /v1/whoami (token hash lookup, workspace lookup, role check).
func BenchmarkAuthMiddleware(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, benchStores(b)[name](b))
			for b.Loop() {
				serve(b, e.api, "/v1/whoami", e.viewer)
			}
		})
	}
}

// BenchmarkListTokens measures a list endpoint: one page of 50 tokens.
func BenchmarkListTokens(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, benchStores(b)[name](b))
			def, err := e.store.GetWorkspace(context.Background(), joule.DefaultWorkspace)
			if err != nil {
				b.Fatal(err)
			}
			for i := range 60 {
				tok, _, err := joule.NewToken(def.ID, fmt.Sprintf("bench-%d", i), joule.RoleViewer, 0, "bench", def.CreatedAt)
				if err != nil {
					b.Fatal(err)
				}
				if err := e.store.CreateToken(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				serve(b, e.api, "/v1/workspaces/default/tokens?limit=50", e.admin)
			}
		})
	}
}
