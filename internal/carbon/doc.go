// Package carbon gives grid carbon intensity, in gCO2e/kWh, at a time and a
// place, and turns metered energy into emissions.
//
// Intensity comes from three kinds of source, each behind the [Source]
// interface:
//
//   - time-series files ([ParseCSV]): the formats of the Let's Wait Awhile
//     trace, Electricity Maps hourly exports, Electricity Maps API exports
//     and a canonical "timestamp,g_per_kwh" form;
//   - static annual tables ([Static]): per country, per cloud region, and a
//     world average, embedded in the binary with their source and year;
//   - live providers: [ElectricityMaps], [WattTime] and [UKCarbonIntensity],
//     plain net/http clients that retry 429 and 5xx answers with backoff and
//     cache what they fetch.
//
// A [Chain] asks the live provider first and falls back to the static table,
// and it says so in [Intensity.Note] and in a warning logged once per zone
// per hour. With no zone configured it uses the world average and says that.
//
// # Series and the step rule
//
// A [Series] is a sorted list of points. Each point's value holds from its
// own time up to the next point's time: the series is a step function, and
// [Series.At] returns the value of the interval that contains t. The last
// point holds for one more interval of the same length as the one before it
// (one hour when the series has a single point).
//
// # Emissions
//
// [Emissions] computes Σ E_i[kWh] × PUE × CI(t_i), where t_i is the start of
// energy interval i. Intervals are meter samples (a second to a minute),
// much shorter than intensity steps (15 to 60 minutes), so the start-point
// rule differs from a time-weighted average only for the one sample that
// straddles a step boundary, and it keeps each figure traceable to a single
// published intensity value.
//
// # Forecasts
//
// Providers that publish forecasts implement [Forecaster]. Where none does,
// [Persistence] (tomorrow equals today at the same time) and [WeeklyProfile]
// (the mean of the same time of week over the last weeks) build one from
// history. Both are pure functions of a Series.
//
// All times are UTC. Errors are *joule.Error values with the codes
// joule.EINVALID (bad input), joule.ENOTFOUND (unknown zone, no data for a
// time), joule.EUNAUTHORIZED (a provider refused the credentials) and
// joule.EUNAVAILABLE (a provider could not be reached or kept failing).
package carbon
