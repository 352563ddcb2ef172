package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/joule-dev/joule"
)

// HashV2Prefix starts every content hash computed since hash version 2
// (docs/datasets.md, "Hash"). Older versions keep the hash they were stored
// with: "sha256:" and 64 hex digits, the version 1 definition.
const HashV2Prefix = "sha256:v2:"

// hashParquet returns the version 2 content hash of the Parquet file at
// path, whose columns are cols: "sha256:v2:" and the hex SHA-256 of
//
//	"joule table hash v2\n"
//	for each column: name 0x1F type "\n"
//	"rows " decimal row count "\n"
//	for each column: the 32-byte SHA-256 of the column's values in row order
//
// where each value is written in a canonical binary form of its joule type
// (see columnHasher), so the hash is of the logical table: a CSV file, a
// PostgreSQL or a MariaDB copy of one table, and any Parquet encoding of
// it, hash alike. DuckDB reads the file as a stream of 2,048-row chunks (the
// columns cast to the joule types' DuckDB types) and Go hashes the columns
// in parallel (see tableHasher), in constant memory.
func hashParquet(ctx context.Context, d *duck, path string, cols []joule.DatasetColumn) (string, error) {
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
	err := streamChunks(ctx, d.cfg, q, th.add)
	th.close()
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	return th.sum(), nil
}

// tableHasher computes the version 2 content hash (see hashParquet) of a
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
		t.hs[i] = &columnHasher{typ: c.Type, h: sha256.New()}
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

// hashWeight is a rough cost of hashing a column's value: its encoded
// width, a string counted as a short one.
func hashWeight(typ string) int {
	switch typ {
	case joule.TypeBoolean:
		return 2
	case joule.TypeDate:
		return 5
	case joule.TypeInteger, joule.TypeFloat, joule.TypeTimestamp:
		return 9
	default:
		return 24
	}
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
	h := sha256.New()
	h.Write([]byte("joule table hash v2\n"))
	for _, c := range t.cols {
		fmt.Fprintf(h, "%s\x1f%s\n", c.Name, c.Type)
	}
	h.Write([]byte("rows " + strconv.FormatInt(t.rows, 10) + "\n"))
	for _, c := range t.hs {
		h.Write(c.h.Sum(nil))
	}
	return HashV2Prefix + hex.EncodeToString(h.Sum(nil))
}

// columnHasher digests one column's values in row order. Each value is one
// byte, 0 for NULL and 1 otherwise, then for a non-NULL value:
//
//	integer    int64, little-endian
//	float      the IEEE 754 float64 bits, little-endian; -0 written as 0 and
//	           every NaN as 0x7FF8000000000000
//	boolean    one byte, 0 or 1
//	date       int32 days since 1970-01-01, little-endian
//	timestamp  int64 microseconds since 1970-01-01 00:00:00 UTC, little-endian
//	string     uint32 byte length, little-endian, then the UTF-8 bytes
type columnHasher struct {
	typ string
	h   hash.Hash
	buf []byte
}

// chunk digests the first n values of a flat DuckDB vector.
func (c *columnHasher) chunk(vec bindings.Vector, n int) {
	data := bindings.VectorGetData(vec)
	var mask []uint64
	if p := bindings.VectorGetValidity(vec); p != nil {
		mask = unsafe.Slice((*uint64)(p), (n+63)/64)
	}
	valid := func(i int) bool { return mask == nil || mask[i/64]>>(i%64)&1 == 1 }
	b := c.buf[:0]
	switch c.typ {
	case joule.TypeInteger, joule.TypeTimestamp:
		for i, v := range unsafe.Slice((*int64)(data), n) {
			if !valid(i) {
				b = append(b, 0)
				continue
			}
			b = binary.LittleEndian.AppendUint64(append(b, 1), uint64(v))
		}
	case joule.TypeFloat:
		for i, v := range unsafe.Slice((*float64)(data), n) {
			if !valid(i) {
				b = append(b, 0)
				continue
			}
			bits := math.Float64bits(v)
			switch {
			case v == 0:
				bits = 0
			case v != v:
				bits = 0x7FF8000000000000
			}
			b = binary.LittleEndian.AppendUint64(append(b, 1), bits)
		}
	case joule.TypeBoolean:
		for i, v := range unsafe.Slice((*byte)(data), n) {
			if !valid(i) {
				b = append(b, 0)
				continue
			}
			b = append(b, 1, min(v, 1))
		}
	case joule.TypeDate:
		for i, v := range unsafe.Slice((*int32)(data), n) {
			if !valid(i) {
				b = append(b, 0)
				continue
			}
			b = binary.LittleEndian.AppendUint32(append(b, 1), uint32(v))
		}
	default: // string: DuckDB's 16-byte string_t
		strs := unsafe.Slice((*[16]byte)(data), n)
		for i := range strs {
			if !valid(i) {
				b = append(b, 0)
				continue
			}
			s := &strs[i]
			l := binary.LittleEndian.Uint32(s[:4])
			b = binary.LittleEndian.AppendUint32(append(b, 1), l)
			if l <= 12 {
				b = append(b, s[4:4+l]...)
			} else {
				p := *(**byte)(unsafe.Pointer(&s[8]))
				b = append(b, unsafe.Slice(p, l)...)
			}
		}
	}
	c.h.Write(b)
	c.buf = b
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
