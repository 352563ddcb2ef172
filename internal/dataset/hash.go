package dataset

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"
	"github.com/zeebo/blake3"

	"github.com/joule-dev/joule"
)

// HashV3Prefix starts every content hash computed since hash version 3
// (docs/datasets.md, "Hash"). Older versions keep the hash they were stored
// with: "sha256:v2:" (version 2) or "sha256:" (version 1), then 64 hex
// digits.
const HashV3Prefix = "blake3:v3:"

// hashParquet returns the version 3 content hash of the Parquet file at
// path, whose columns are cols: "blake3:v3:" and the hex BLAKE3 of
//
//	"joule table hash v3\n"
//	for each column: name 0x1F type "\n"
//	"rows " decimal row count "\n"
//	for each column: its 32-byte values digest, then for a string column
//	                 its lengths digest, then its nulls digest
//
// where the digests are of the column's values in row order in a canonical
// binary form of its joule type (see columnHasher), so the hash is of the
// logical table: a CSV file, a PostgreSQL or a MariaDB copy of one table,
// and any Parquet encoding of it, hash alike. DuckDB reads the file as a
// stream of 2,048-row chunks (the columns cast to the joule types' DuckDB
// types) and Go hashes the columns in parallel (see tableHasher), in
// constant memory.
func hashParquet(ctx context.Context, d *duck, path string, cols []joule.DatasetColumn) (string, error) {
	h, _, err := hashParquetNaN(ctx, d, path, cols)
	return h, err
}

// hashParquetNaN is hashParquet, and also reports whether a float column
// held a NaN.
func hashParquetNaN(ctx context.Context, d *duck, path string, cols []joule.DatasetColumn) (hash string, nan bool, err error) {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "CAST(" + ident(c.Name) + " AS " + duckType(c.Type) + ")"
	}
	if len(cols) == 0 {
		sel = []string{"1"}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM read_parquet(" + lit(path) + ")"
	// DuckDB fetches the next chunks while the workers hash the last ones.
	th := newTableHasher(cols)
	err = streamChunks(ctx, d.cfg, q, th.add)
	th.close()
	if err != nil {
		return "", false, fmt.Errorf("hash: %w", err)
	}
	for _, c := range th.hs {
		nan = nan || c.nan
	}
	return th.sum(), nan, nil
}

// tableHasher computes the version 3 content hash (see hashParquet) of a
// table given as DuckDB chunks in row order, whose vectors are flat and of
// the columns' joule types' DuckDB types. Up to GOMAXPROCS workers hash
// the columns, each a fixed share of them (balanced by the width of their
// values), so that every column's values are digested in row order while
// the workers run through the chunks at their own pace.
type tableHasher struct {
	cols   []joule.DatasetColumn
	hs     []*columnHasher
	rows   int64
	queues []chan *sharedChunk
	wg     sync.WaitGroup
}

// sharedChunk is a chunk that the workers read, destroyed by the last one
// done with it.
type sharedChunk struct {
	chunk bindings.DataChunk
	n     int
	left  atomic.Int32
}

// hashQueue is how many chunks a worker may fall behind the reader.
const hashQueue = 16

func newTableHasher(cols []joule.DatasetColumn) *tableHasher {
	t := &tableHasher{cols: cols, hs: make([]*columnHasher, len(cols))}
	for i, c := range cols {
		t.hs[i] = newColumnHasher(c.Type)
	}
	workers := min(runtime.GOMAXPROCS(0), len(cols))
	if workers == 0 {
		return t
	}
	// Greedy: the widest columns first, each to the least loaded worker.
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return hashWeight(cols[b].Type) - hashWeight(cols[a].Type) })
	shares := make([][]int, workers)
	load := make([]int, workers)
	for _, j := range order {
		w := 0
		for k := range load {
			if load[k] < load[w] {
				w = k
			}
		}
		shares[w] = append(shares[w], j)
		load[w] += hashWeight(cols[j].Type)
	}
	for _, share := range shares {
		slices.Sort(share)
		q := make(chan *sharedChunk, hashQueue)
		t.queues = append(t.queues, q)
		t.wg.Go(func() {
			for c := range q {
				for _, j := range share {
					t.hs[j].chunk(bindings.DataChunkGetVector(c.chunk, bindings.IdxT(j)), c.n)
				}
				if c.left.Add(-1) == 0 {
					bindings.DestroyDataChunk(&c.chunk)
				}
			}
		})
	}
	return t
}

// hashWeight is a rough cost of hashing a column's value: its width, a
// string counted as a short one copied value by value.
func hashWeight(typ string) int {
	if w := valueWidth(typ); w > 0 {
		return w
	}
	return 32
}

// valueWidth is the bytes of a value of typ in the hash's values stream, 0
// for a string (of any length).
func valueWidth(typ string) int {
	switch typ {
	case joule.TypeInteger, joule.TypeFloat, joule.TypeTimestamp:
		return 8
	case joule.TypeDate:
		return 4
	case joule.TypeBoolean:
		return 1
	}
	return 0
}

// add hands the next chunk to the workers, which destroy it when done.
func (t *tableHasher) add(chunk bindings.DataChunk) {
	n := int(bindings.DataChunkGetSize(chunk))
	t.rows += int64(n)
	if len(t.queues) == 0 {
		bindings.DestroyDataChunk(&chunk)
		return
	}
	c := &sharedChunk{chunk: chunk, n: n}
	c.left.Store(int32(len(t.queues)))
	for _, q := range t.queues {
		q <- c
	}
}

// close waits for the workers to digest every chunk added.
func (t *tableHasher) close() {
	for _, q := range t.queues {
		close(q)
	}
	t.wg.Wait()
}

// sum returns the hash of the chunks added so far; call close first.
func (t *tableHasher) sum() string {
	h := blake3.New()
	h.WriteString("joule table hash v3\n")
	for _, c := range t.cols {
		fmt.Fprintf(h, "%s\x1f%s\n", c.Name, c.Type)
	}
	h.WriteString("rows " + strconv.FormatInt(t.rows, 10) + "\n")
	for _, c := range t.hs {
		h.Write(c.vals.Sum(nil))
		if c.lens != nil {
			h.Write(c.lens.Sum(nil))
		}
		h.Write(c.nulls.Sum(nil))
	}
	return HashV3Prefix + hex.EncodeToString(h.Sum(nil))
}

// columnHasher digests one column as up to three streams over its rows in
// order, each hashed with BLAKE3:
//
//	values   every row's value in the fixed-width form of its type, a NULL
//	         as zero bytes:
//	           integer    int64, little-endian
//	           float      the IEEE 754 float64 bits, little-endian; -0
//	                      written as 0 and every NaN as 0x7FF8000000000000
//	           boolean    one byte, 0 or 1
//	           date       int32 days since 1970-01-01, little-endian
//	           timestamp  int64 microseconds since 1970-01-01 00:00:00 UTC,
//	                      little-endian
//	         or, for a string column, the UTF-8 bytes of its values one
//	         after the other (nothing for a NULL)
//	lengths  string columns only: every row's byte length as a uint32,
//	         little-endian, 0 for a NULL
//	nulls    the 0-based row number of every NULL, uint64, little-endian
//
// DuckDB's vectors hold fixed-width values in exactly that form (joule
// builds for little-endian machines only, as DuckDB's Go bindings do), so
// a chunk without a NULL, a -0, a NaN or a boolean other than 0 or 1 is
// hashed where it lies, without a copy.
type columnHasher struct {
	typ                  string
	width                int // bytes per value; 0 for strings
	vals, lens, nulls    *blake3.Hasher
	row                  int64 // rows digested
	nan                  bool  // a NaN was digested
	buf, lenBuf, nullBuf []byte
}

func newColumnHasher(typ string) *columnHasher {
	c := &columnHasher{typ: typ, width: valueWidth(typ), vals: blake3.New(), nulls: blake3.New()}
	if c.width == 0 {
		c.lens = blake3.New()
	}
	return c
}

// bigString is the length from which a string value is hashed where it
// lies rather than copied into the chunk's buffer.
const bigString = 4 << 10

// chunk digests the first n values of a flat DuckDB vector.
func (c *columnHasher) chunk(vec bindings.Vector, n int) {
	data := bindings.VectorGetData(vec)
	var mask []uint64
	if p := bindings.VectorGetValidity(vec); p != nil {
		mask = unsafe.Slice((*uint64)(p), (n+63)/64)
		if allValid(mask, n) {
			mask = nil
		}
	}
	nulls := c.nullBuf[:0]
	if c.width == 0 {
		nulls = c.strings(data, mask, n, nulls)
	} else {
		nulls = c.fixed(data, mask, n, nulls)
	}
	if len(nulls) > 0 {
		c.nulls.Write(nulls)
	}
	c.nullBuf = nulls
	c.row += int64(n)
}

// allValid reports whether the validity mask marks the first n rows valid.
func allValid(mask []uint64, n int) bool {
	for _, w := range mask[:n/64] {
		if w != math.MaxUint64 {
			return false
		}
	}
	if r := n % 64; r != 0 {
		m := uint64(1)<<r - 1
		return mask[n/64]&m == m
	}
	return true
}

// fixed digests n fixed-width values, appending the row numbers of the
// NULLs (mask nil: none) to nulls.
func (c *columnHasher) fixed(data unsafe.Pointer, mask []uint64, n int, nulls []byte) []byte {
	w := c.width
	raw := unsafe.Slice((*byte)(data), n*w)
	if mask == nil {
		ok, nan := canonical(c.typ, raw)
		c.nan = c.nan || nan
		if ok {
			c.vals.Write(raw)
			return nulls
		}
	}
	b := append(c.buf[:0], raw...)
	for i := range n {
		v := b[i*w : (i+1)*w]
		if mask != nil && mask[i/64]>>(i%64)&1 == 0 {
			clear(v)
			nulls = binary.LittleEndian.AppendUint64(nulls, uint64(c.row+int64(i)))
			continue
		}
		switch c.typ {
		case joule.TypeFloat:
			f := canonicalFloat(binary.LittleEndian.Uint64(v))
			c.nan = c.nan || f == canonicalNaN
			binary.LittleEndian.PutUint64(v, f)
		case joule.TypeBoolean:
			v[0] = min(v[0], 1)
		}
	}
	c.vals.Write(b)
	c.buf = b
	return nulls
}

// canonical reports whether raw, values of typ, is already in the
// canonical form: no -0 among floats and no NaN but the canonical one, no
// boolean other than 0 or 1; and whether a float is a NaN.
func canonical(typ string, raw []byte) (ok, nan bool) {
	ok = true
	switch typ {
	case joule.TypeFloat:
		for _, v := range unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)/8) {
			if c := canonicalFloat(v); c != v || c == canonicalNaN {
				ok = ok && c == v
				nan = nan || c == canonicalNaN
			}
		}
	case joule.TypeBoolean:
		for _, v := range raw {
			if v > 1 {
				return false, false
			}
		}
	}
	return ok, nan
}

// canonicalFloat returns the canonical bits of the float64 bits v: 0 for
// -0, 0x7FF8000000000000 for every NaN, else v.
func canonicalFloat(v uint64) uint64 {
	switch {
	case v == 1<<63:
		return 0
	case v&0x7FF0000000000000 == 0x7FF0000000000000 && v&0x000FFFFFFFFFFFFF != 0:
		return canonicalNaN
	}
	return v
}

// canonicalNaN is the bits every NaN is hashed as.
const canonicalNaN = 0x7FF8000000000000

// strings digests n string values (DuckDB's 16-byte string_t), appending
// the row numbers of the NULLs to nulls.
func (c *columnHasher) strings(data unsafe.Pointer, mask []uint64, n int, nulls []byte) []byte {
	strs := unsafe.Slice((*[16]byte)(data), n)
	l, b := c.lenBuf[:0], c.buf[:0]
	for i := range strs {
		if mask != nil && mask[i/64]>>(i%64)&1 == 0 {
			l = append(l, 0, 0, 0, 0)
			nulls = binary.LittleEndian.AppendUint64(nulls, uint64(c.row+int64(i)))
			continue
		}
		s := &strs[i]
		l = append(l, s[:4]...)
		switch size := binary.LittleEndian.Uint32(s[:4]); {
		case size <= 12:
			b = append(b, s[4:4+size]...)
		case size < bigString:
			b = append(b, unsafe.Slice(*(**byte)(unsafe.Pointer(&s[8])), size)...)
		default:
			c.vals.Write(b)
			b = b[:0]
			c.vals.Write(unsafe.Slice(*(**byte)(unsafe.Pointer(&s[8])), size))
		}
	}
	c.lens.Write(l)
	c.vals.Write(b)
	c.lenBuf, c.buf = l, b
	return nulls
}

// engine is a DuckDB of its own, opened through the C API so that query
// results can be streamed as raw chunks, with one connection.
type engine struct {
	db   bindings.Database
	conn bindings.Connection
}

// openEngine opens an in-memory DuckDB with cfg's limits.
func openEngine(cfg EngineConfig) (*engine, error) {
	var config bindings.Config
	if bindings.CreateConfig(&config) == bindings.StateError {
		return nil, errors.New("duckdb: create config")
	}
	defer bindings.DestroyConfig(&config)
	for _, kv := range engineSettings(cfg) {
		if bindings.SetConfig(config, kv[0], kv[1]) == bindings.StateError {
			return nil, fmt.Errorf("duckdb: set %s = %s", kv[0], kv[1])
		}
	}
	e := &engine{}
	var msg string
	if bindings.OpenExt("", &e.db, config, &msg) == bindings.StateError {
		return nil, fmt.Errorf("open duckdb: %s", msg)
	}
	if bindings.Connect(e.db, &e.conn) == bindings.StateError {
		bindings.Close(&e.db)
		return nil, errors.New("duckdb: connect")
	}
	// A streamed result is produced in parallel only as far ahead as its
	// buffer allows: DuckDB's default (about 1 MB, a few chunks) keeps its
	// threads waiting on the reader.
	if err := e.exec(context.Background(), "SET streaming_buffer_size = '64MB'"); err != nil {
		e.close()
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return e, nil
}

func (e *engine) close() {
	bindings.Disconnect(&e.conn)
	bindings.Close(&e.db)
}

// exec runs query, a statement without a result (such as SET).
func (e *engine) exec(ctx context.Context, query string) error {
	stop := context.AfterFunc(ctx, func() { bindings.Interrupt(e.conn) })
	defer stop()
	var res bindings.Result
	state := bindings.Query(e.conn, query, &res)
	defer bindings.DestroyResult(&res)
	if err := ctx.Err(); err != nil {
		return err
	}
	if state == bindings.StateError {
		return errors.New(bindings.ResultError(&res))
	}
	return nil
}

// stream runs query and hands each result chunk to fn in order, as DuckDB
// streams them; fn owns the chunk and must destroy it
// (bindings.DestroyDataChunk). Its vectors are flat.
func (e *engine) stream(ctx context.Context, query string, fn func(chunk bindings.DataChunk)) error {
	stop := context.AfterFunc(ctx, func() { bindings.Interrupt(e.conn) })
	defer stop()

	var stmt bindings.PreparedStatement
	state := bindings.Prepare(e.conn, query, &stmt)
	defer bindings.DestroyPrepare(&stmt)
	if state == bindings.StateError {
		return errors.New(bindings.PrepareError(stmt))
	}
	var pending bindings.PendingResult
	state = bindings.PendingPreparedStreaming(stmt, &pending)
	defer bindings.DestroyPending(&pending)
	if state == bindings.StateError {
		return errors.New(bindings.PendingError(pending))
	}
	var res bindings.Result
	state = bindings.ExecutePending(pending, &res)
	defer bindings.DestroyResult(&res)
	if state == bindings.StateError {
		return errors.New(bindings.ResultError(&res))
	}
	for {
		chunk := bindings.FetchChunk(res)
		if chunk.Ptr == nil {
			break
		}
		fn(chunk)
		if ctx.Err() != nil {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if msg := bindings.ResultError(&res); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// streamChunks runs query on a DuckDB of its own with cfg's limits and
// hands each result chunk to fn in order (see engine.stream).
func streamChunks(ctx context.Context, cfg EngineConfig, query string, fn func(chunk bindings.DataChunk)) error {
	e, err := openEngine(cfg)
	if err != nil {
		return err
	}
	defer e.close()
	return e.stream(ctx, query, fn)
}
