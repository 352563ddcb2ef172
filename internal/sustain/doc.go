// Package sustain turns joule's stored energy accounting into the figures a
// sustainability programme runs on: indicators, baselines, targets with a
// projected status, alerts, reports and recommendations.
//
// The computations are pure functions over data read from the store: the
// hourly energy rollups of jobs and nodes (each row measured or estimated,
// with its method), imported facility meters, bills and certificates, and
// custom KPIs. A few functions read the store for their callers, so that the
// API, the console and the monitor get the same figures from the same code:
// Load, EvaluateTarget, AssembleReport, LoadRecommendations and
// LoadTargetState. The only other I/O is the webhook sender.
//
//   - Indicators: energy with its measured share, PUE (configured, or
//     measured from a facility meter), location- and market-based emissions
//     kept apart, cost, joules per job, SCI = ((E·I)+M)/R (ISO/IEC 21031),
//     embodied emissions, idle-energy share, utilisation and CFE share,
//     sliced by workspace, label and node.
//   - Baselines snapshot an indicator per functional unit; targets ("−P %
//     versus baseline B by date D") get a status (on track, at risk, off
//     track) from a least-squares trend with a 90 % prediction interval
//     (project.go), and every status change is kept.
//   - Meter import (meter.go) cleans CSV series: duplicates, gaps and
//     outliers reported, units (Wh/kWh/MWh, g/kg/t) and time zones
//     normalised, aligned to hours, with a quality report listing every fix.
//   - Alerts become events and HMAC-signed webhooks retried with backoff.
//   - Reports render HTML (with SVG charts), CSV and JSON from the same
//     indicators the API serves.
//   - Recommendations quantify the jobs that could have been shifted (a
//     replay of internal/sim on the actual history) and idle nodes, each
//     with its kWh, kg CO2e, money and method.
//
// docs/sustainability.md documents every formula and rule.
package sustain
