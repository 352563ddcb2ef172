package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/cli"
	"github.com/joule-dev/joule/internal/httpapi"
)

// worker runs this machine as a node of a joule installation: heartbeat,
// and the jobs placed on it, until ctx is done.
func worker(ctx context.Context, cfg cli.WorkerConfig, out, errOut io.Writer) error {
	logger := newLogger(cli.UpConfig{LogFormat: cfg.LogFormat, LogLevel: cfg.LogLevel}, errOut)
	// The token must be valid on the server: jobs are given its URL.
	p, err := httpapi.NewClient(cfg.Server, cfg.Token).Whoami(ctx)
	if err != nil {
		return fmt.Errorf("check --server and --token: %w", err)
	}
	if !p.PlatformAdmin() {
		return joule.Errorf(joule.EFORBIDDEN, "--token: a worker needs an admin token of the %q workspace", joule.DefaultWorkspace)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return joule.Errorf(joule.EINVALID, "data_dir: %v", err)
	}
	store, err := openStore(ctx, cli.UpConfig{Store: cfg.Store, DataDir: cfg.DataDir})
	if err != nil {
		return err
	}
	defer store.Close()
	local, err := startNode(ctx, store, nodeOptions{
		storeURL: cfg.Store, dataDir: cfg.DataDir, name: cfg.NodeName, serverURL: cfg.Server, labels: cfg.Labels, carbonZone: cfg.CarbonZone, energy: cfg.Energy,
		logger: logger,
	})
	if err != nil {
		return err
	}
	defer local.stop()
	fmt.Fprintf(out, "joule worker %s: node %s (%s) works for %s\n", joule.Version, local.node.Name, meterWords(local.node), cfg.Server)
	<-ctx.Done()
	return nil
}
