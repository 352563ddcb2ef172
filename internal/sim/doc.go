// Package sim replays a carbon-intensity series and a job trace through the
// time-shifting policies of package scheduler and reports what they save
// against a carbon-agnostic baseline and against the oracle, the same policy
// with a perfect forecast.
//
// The method is that of Let's Wait Awhile (Wiesner et al., Middleware '21),
// re-implemented from its published description: time is cut into equal
// steps (30 minutes by default); a job arriving at step a with length L and
// a deadline rule that gives it F spare steps may run in the window
// [a, a+L+F+1) (the "+1" look-ahead of the original, which lets even the
// baseline start one step late when that is greener; Config.StrictWindow
// turns it off); policies decide on a forecast and emissions are counted on
// the true series. docs/scheduling.md has the details and the reproduction
// table.
//
// Randomness comes only from the forecast-error model, seeded by
// Config.Error.Seeds, so every run is reproducible.
package sim
