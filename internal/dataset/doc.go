// Package dataset is joule's data layer on DuckDB (duckdb/duckdb-go): it
// turns files and database queries into immutable dataset versions stored as
// Parquet in the data directory, and describes and transforms them.
//
//   - Ingest reads CSV/TSV (the sniffer in sniff.go guesses the delimiter,
//     quoting, header and encoding; each can be overridden), JSON, JSON Lines
//     and Parquet, infers column types (or takes overrides) and roles, and
//     writes the rows that can be read to data.parquet. Rows that cannot be
//     read (ragged rows, unparsable values, invalid UTF-8) go to the
//     version's rejects table, rejects.parquet, each with its line number and
//     reason. A reject ratio over the caller's limit fails the ingest and
//     writes nothing.
//   - Every version gets a content hash of its logical content (schema, then
//     rows in order) and a profile: per column count, nulls, approximate
//     distinct count, min, max, mean, standard deviation, quantiles,
//     histogram and top values; correlations between numeric columns; and
//     the balance of the target column.
//   - Recipes (recipe.go) are declarative YAML or JSON steps — select, drop,
//     rename, cast, filter, dedupe, impute, clip, winsorise, scale, encode,
//     bucketise, log, date parts, lags and rolling windows, raw SQL and
//     splits — validated against the schema before they run. Applying one
//     fits what it needs (means, standard deviations, categories) on the
//     training rows only, writes a new version whose parent is the input,
//     and stores the fitted recipe with it. A fitted recipe transforms one
//     JSON row at serving time with the same numbers as the batch path.
//   - Splits are seeded random (the SplitMix64 permutation of internal/ml,
//     so indices match the scikit-learn reference), stratified or
//     chronological; the split is recorded on the version.
//
// [Service] ties these to a joule.Store (metadata) and the data directory
// (files); the API and the recipe job runner call it.
package dataset
