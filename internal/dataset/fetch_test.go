package dataset

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sqlite"
)

func TestPublicOnly(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": false, "[::1]:443": false, "10.1.2.3:80": false, "172.16.0.9:80": false, "192.168.1.1:80": false,
		"169.254.169.254:80": false, "[fe80::1]:80": false, "0.0.0.0:80": false, "100.64.1.1:80": false, "[fd00::1]:80": false,
		"[::ffff:10.0.0.1]:80": false, "8.8.8.8:443": true, "[2001:4860:4860::8888]:443": true, "93.184.216.34:80": true,
	} {
		if err := publicOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("publicOnly(%s) = %v, want allowed %v", addr, err, ok)
		}
	}
}

// TestImportURL checks that a URL import refuses a loopback server unless an
// admin allows private addresses, and then ingests what it serves.
func TestImportURL(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("a,b\n1,x\n2,y\n3,z\n"))
	}))
	defer srv.Close()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ws := joule.Workspace{ID: joule.NewID("ws", time.Now()), Name: "data", CreatedAt: time.Now()}
	if err := store.CreateWorkspace(t.Context(), ws); err != nil {
		t.Fatal(err)
	}
	svc := &Service{Store: store, DataDir: t.TempDir()}
	_, _, err = svc.Import(t.Context(), ws.ID, "web", srv.URL+"/data.csv", "", IngestOptions{}, "tok_1")
	if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), "loopback, link-local or private") {
		t.Errorf("Import of a loopback URL = %v, want refused", err)
	}
	if _, err := store.GetDataset(t.Context(), ws.ID, "web"); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("a refused import left a dataset: %v", err)
	}
	svc.AllowPrivateURLs = true
	v, _, err := svc.Import(t.Context(), ws.ID, "web", srv.URL+"/data.csv", "", IngestOptions{}, "tok_1")
	if err != nil {
		t.Fatalf("Import with private URLs allowed: %v", err)
	}
	if v.Rows != 3 || v.Source != srv.URL+"/data.csv" {
		t.Errorf("Import = %d rows from %s, want 3 from %s", v.Rows, v.Source, srv.URL)
	}
	entries, _ := os.ReadDir(filepath.Join(svc.DataDir, "datasets", "tmp"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "fetch-") {
			t.Errorf("download %s left behind", e.Name())
		}
	}
}
