package main

import (
	"context"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/serving"
	"github.com/joule-dev/joule/web"
)

// consoleDeployments gives the console's deployment pages the serving
// manager. The manager does not record per-tick history yet, so History
// returns an empty series and the pages say that there is no history;
// once the manager has History(ctx, workspace, ref), wire the manager
// itself and delete this type.
type consoleDeployments struct {
	*serving.Manager
}

var _ web.DeploymentReader = consoleDeployments{}

// History returns no points (see the type's comment).
func (consoleDeployments) History(context.Context, string, string) ([]joule.DeploymentPoint, error) {
	return nil, nil
}
