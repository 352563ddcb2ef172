package joule

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Dataset is a named table of a workspace. Its content lives in immutable,
// numbered versions (1, 2, …): an ingest or a recipe makes a new one and
// never changes an old one.
type Dataset struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by,omitempty"`
	// LatestVersion is the number of the newest version; 0 when none.
	LatestVersion int `json:"latest_version"`
}

// Column types of a dataset version. Every source type maps to one of them,
// so that the same table read from different places has the same schema.
const (
	TypeInteger   = "integer"   // 64-bit signed
	TypeFloat     = "float"     // 64-bit IEEE 754
	TypeString    = "string"    // UTF-8
	TypeBoolean   = "boolean"   // true/false
	TypeDate      = "date"      // calendar date
	TypeTimestamp = "timestamp" // date and time, UTC, microseconds
)

// ColumnTypes lists the column types in the order inference tries them.
var ColumnTypes = []string{TypeBoolean, TypeInteger, TypeFloat, TypeDate, TypeTimestamp, TypeString}

// Column roles say how training and profiling treat a column.
const (
	RoleFeature   = "feature"
	RoleTarget    = "target"
	RoleID        = "id"
	RoleTimestamp = "timestamp"
	RoleIgnore    = "ignore"
)

// ColumnRoles lists the valid roles.
var ColumnRoles = []string{RoleFeature, RoleTarget, RoleID, RoleTimestamp, RoleIgnore}

// DatasetColumn is one column of a version's schema.
type DatasetColumn struct {
	Name string `json:"name"`
	Type string `json:"type"` // one of ColumnTypes
	Role string `json:"role"` // one of ColumnRoles
}

// DatasetVersion is one immutable version of a dataset: a Parquet file in
// the data directory and what is known about it.
type DatasetVersion struct {
	ID          string `json:"id"`
	DatasetID   string `json:"dataset_id"`
	WorkspaceID string `json:"workspace_id"`
	Version     int    `json:"version"` // 1, 2, … within the dataset; set by the store
	// Hash is "blake3:v3:" and the hex digest of the version's logical
	// content (column names and types, then every row in order), so the
	// same table from a CSV file, PostgreSQL or MariaDB hashes the same.
	// Versions made before hash version 3 keep their "sha256:v2:" hash, or
	// before version 2 their "sha256:" hash (docs/datasets.md, "Hash").
	Hash         string          `json:"hash"`
	Columns      []DatasetColumn `json:"columns"`
	Rows         int64           `json:"rows"`
	RejectedRows int64           `json:"rejected_rows"`
	Bytes        int64           `json:"bytes"`  // size of the Parquet file
	Format       string          `json:"format"` // what was read: csv, json, jsonl, parquet, postgres, mysql, recipe
	// Source says where the rows came from: a file name, a path, a URL or
	// a database (never with a password).
	Source string `json:"source"`
	// Path is where the Parquet file lives, relative to the data directory.
	Path string `json:"path"`
	// ParentID and ParentVersion name the version a recipe was applied to.
	ParentID      string `json:"parent_id,omitempty"`
	ParentVersion int    `json:"parent_version,omitempty"`
	// Recipe is the fitted recipe that made this version from its parent.
	Recipe json.RawMessage `json:"recipe,omitempty"`
	// JobID is the recipe job that made this version.
	JobID     string          `json:"job_id,omitempty"`
	Split     *DatasetSplit   `json:"split,omitempty"`
	Profile   *DatasetProfile `json:"profile,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by,omitempty"`
}

// DatasetSplit records how a version's rows are divided into train and test.
// The version has a "split" column holding "train" or "test".
type DatasetSplit struct {
	Method   string  `json:"method"` // random, stratified or chronological
	Seed     uint64  `json:"seed,omitempty"`
	TestSize float64 `json:"test_size"`    // fraction of rows in test
	By       string  `json:"by,omitempty"` // stratify or order column
	Train    int64   `json:"train"`
	Test     int64   `json:"test"`
	// FirstTest are the first (up to 10) test rows, by position in the
	// input, in the order the split drew them.
	FirstTest []int64 `json:"first_test,omitempty"`
}

// DatasetProfile describes the content of a version.
type DatasetProfile struct {
	Rows    int64           `json:"rows"`
	Columns []ColumnProfile `json:"columns"`
	// Correlations is the Pearson correlation matrix of the numeric columns.
	Correlations *Correlations `json:"correlations,omitempty"`
	// Target and TargetBalance count the classes of the target column, when
	// one has the target role.
	Target        string       `json:"target,omitempty"`
	TargetBalance []ValueCount `json:"target_balance,omitempty"`
}

// ColumnProfile describes one column. Numeric statistics are nil for other
// types and for columns without values; Std is the sample standard
// deviation (n−1), as pandas computes it.
type ColumnProfile struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Count    int64    `json:"count"` // non-null values
	Nulls    int64    `json:"nulls"`
	Distinct int64    `json:"distinct"` // approximate (HyperLogLog)
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Mean     *float64 `json:"mean,omitempty"`
	Std      *float64 `json:"std,omitempty"`
	// MinText and MaxText are the least and greatest values of string,
	// date and timestamp columns.
	MinText   string         `json:"min_text,omitempty"`
	MaxText   string         `json:"max_text,omitempty"`
	Quantiles []Quantile     `json:"quantiles,omitempty"`
	Histogram []HistogramBin `json:"histogram,omitempty"`
	Top       []ValueCount   `json:"top,omitempty"`
}

// Quantile is the value below which a fraction P of the values lie (linear
// interpolation, as pandas' quantile).
type Quantile struct {
	P     float64 `json:"p"`
	Value float64 `json:"value"`
}

// HistogramBin counts the values in [Lo, Hi) (the last bin includes Hi).
type HistogramBin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count int64   `json:"count"`
}

// ValueCount is how often a value occurs.
type ValueCount struct {
	Value    string  `json:"value"`
	Count    int64   `json:"count"`
	Fraction float64 `json:"fraction"`
}

// Correlations is a symmetric matrix over Columns; a nil entry has no
// defined correlation (a constant column).
type Correlations struct {
	Columns []string     `json:"columns"`
	Values  [][]*float64 `json:"values"`
}

// DatasetRows is a page of a version's rows, as a preview shows them.
type DatasetRows struct {
	Columns []DatasetColumn `json:"columns"`
	Rows    [][]any         `json:"rows"`
	Offset  int64           `json:"offset"`
	Total   int64           `json:"total"`
}

// Reject is one input row that could not be read into a version.
type Reject struct {
	Line   int64  `json:"line"`             // 1-based line in the file, header included
	Column string `json:"column,omitempty"` // the column at fault, when one is
	Reason string `json:"reason"`
	Text   string `json:"text"` // the row as read (invalid bytes replaced)
}

// DatasetStore keeps datasets and their versions' metadata; the data itself
// is in Parquet files in the data directory. Both stores implement it as
// part of Store.
type DatasetStore interface {
	// CreateDataset inserts d (ECONFLICT if its name is taken in the
	// workspace, ENOTFOUND if the workspace does not exist).
	CreateDataset(ctx context.Context, d Dataset) error
	// GetDataset returns a dataset of the workspace by ID or name
	// (ENOTFOUND).
	GetDataset(ctx context.Context, workspaceID, idOrName string) (Dataset, error)
	// ListDatasets lists a workspace's datasets by ID.
	ListDatasets(ctx context.Context, workspaceID string, opt ListOptions) ([]Dataset, string, error)
	// DeleteDataset deletes a dataset of the workspace and its versions
	// (ENOTFOUND).
	DeleteDataset(ctx context.Context, workspaceID, id string) error
	// CreateDatasetVersion inserts v as the dataset's next version, setting
	// Version to the latest plus one, and returns the stored version
	// (ENOTFOUND if the dataset does not exist; ECONFLICT if the ID is
	// taken).
	CreateDatasetVersion(ctx context.Context, v DatasetVersion) (DatasetVersion, error)
	// GetDatasetVersion returns version n of a dataset, or the latest when
	// n is 0 (ENOTFOUND).
	GetDatasetVersion(ctx context.Context, datasetID string, n int) (DatasetVersion, error)
	// ListDatasetVersions lists a dataset's versions, oldest first; the
	// cursor pages by version number.
	ListDatasetVersions(ctx context.Context, datasetID string, opt ListOptions) ([]DatasetVersion, string, error)
}

// CSVOptions says how to read a delimited text file. Zero fields are
// sniffed; set fields override the sniffer.
type CSVOptions struct {
	// Delimiter is one ASCII character (such as , ; \t | or a space), or
	// "whitespace": fields separated by runs of spaces and tabs, as in
	// space-aligned files.
	Delimiter string `json:"delimiter,omitempty"`
	Quote     string `json:"quote,omitempty"` // one character, usually "
	// Header is "true", "false" or "" (sniff).
	Header   string `json:"header,omitempty"`
	Encoding string `json:"encoding,omitempty"` // utf-8, utf-16 or latin-1
}

// Validate checks the overrides a caller set.
func (o CSVOptions) Validate() error {
	if o.Delimiter != "" && o.Delimiter != "whitespace" && (len(o.Delimiter) != 1 || o.Delimiter[0] >= utf8.RuneSelf || o.Delimiter == "\n" || o.Delimiter == "\r" || o.Delimiter == `"`) {
		return Errorf(EINVALID, "delimiter: %q must be one ASCII character other than a quote or a line break, or whitespace", o.Delimiter)
	}
	if o.Quote != "" && (len(o.Quote) != 1 || o.Quote[0] >= utf8.RuneSelf || o.Quote == o.Delimiter || o.Quote == "\n" || o.Quote == "\r") {
		return Errorf(EINVALID, "quote: %q must be one ASCII character that is not the delimiter", o.Quote)
	}
	switch o.Header {
	case "", "true", "false":
	default:
		return Errorf(EINVALID, "header: %q must be true or false", o.Header)
	}
	switch o.Encoding {
	case "", "utf-8", "utf-16", "latin-1":
	default:
		return Errorf(EINVALID, "encoding: %q is not one of utf-8, utf-16, latin-1", o.Encoding)
	}
	return nil
}

// IngestOptions are the caller's choices for one ingest. Zero fields are
// sniffed or defaulted.
type IngestOptions struct {
	Format string     `json:"format,omitempty"` // csv (also TSV), json, jsonl or parquet; "" sniffs
	CSV    CSVOptions `json:"csv,omitempty"`
	// Types overrides inferred column types: column name → joule type.
	Types map[string]string `json:"types,omitempty"`
	// Roles sets column roles (default feature): column name → role.
	Roles map[string]string `json:"roles,omitempty"`
	// MaxRejectRatio fails the ingest, writing nothing, when more than this
	// fraction of the rows is rejected. nil: no limit.
	MaxRejectRatio *float64 `json:"max_reject_ratio,omitempty"`
	// InferRows is how many rows type inference reads (default 20,480;
	// -1: all).
	InferRows int `json:"infer_rows,omitempty"`
}

// Validate checks the options that do not depend on the file.
func (o IngestOptions) Validate() error {
	switch o.Format {
	case "", "csv", "tsv", "json", "jsonl", "parquet":
	default:
		return Errorf(EINVALID, "format: %q is not one of csv, tsv, json, jsonl, parquet", o.Format)
	}
	if err := o.CSV.Validate(); err != nil {
		return err
	}
	for c, t := range o.Types {
		if !slices.Contains(ColumnTypes, t) {
			return Errorf(EINVALID, "types: column %q: %q is not one of %s", c, t, strings.Join(ColumnTypes, ", "))
		}
	}
	for c, r := range o.Roles {
		if !slices.Contains(ColumnRoles, r) {
			return Errorf(EINVALID, "roles: column %q: %q is not one of %s", c, r, strings.Join(ColumnRoles, ", "))
		}
	}
	if r := o.MaxRejectRatio; r != nil && (*r < 0 || *r > 1 || *r != *r) {
		return Errorf(EINVALID, "max_reject_ratio: %v is outside 0 to 1", *r)
	}
	return nil
}
