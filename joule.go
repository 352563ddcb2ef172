// Package joule is the vocabulary of the joule platform: the domain types
// (workspaces, tokens, roles, nodes, events, audit entries), the error codes,
// and the interfaces that have more than one real implementation, such as
// [Store].
//
// It imports only the standard library. Everything that talks to a database,
// the network or the hardware lives under internal/ and speaks in these types.
//
// Units are fixed across the code base: energy in joules, power in watts,
// carbon in grams CO2e, carbon intensity in gCO2e/kWh, memory in bytes, CPU in
// millicores. Conversions happen only at the faces (CLI, API, console).
// Times are UTC.
package joule

// Version is the version of this build. Release builds set it with
// -ldflags "-X github.com/joule-dev/joule.Version=v1.2.3".
var Version = "v0.1.0-dev"

// DefaultWorkspace is the name of the workspace created on first start.
// Admins of this workspace administer the whole installation.
const DefaultWorkspace = "default"
