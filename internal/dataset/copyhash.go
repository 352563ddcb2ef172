package dataset

/*
#include <stdlib.h>

void jouleSourceBind(void *);
void jouleSourceInit(void *);
void jouleSourceScan(void *, void *);
void jouleSourceDelete(void *);
typedef void (*jouleBindFn)(void *);
typedef void (*jouleInitFn)(void *);
typedef void (*jouleScanFn)(void *, void *);
typedef void (*jouleDeleteFn)(void *);
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/joule-dev/joule"
)

// copyHashed writes the rows of query, whose columns are cols (of their
// joule types' DuckDB types), to a Parquet file at path with the COPY
// options opts, and returns the row count and their version 2 content hash
// (hashParquet's definition) computed in the same pass, so that the file is
// not read back.
//
// Two DuckDBs share the work: the first runs query and streams its chunks
// to Go in row order (its scan is parallel; preserve_insertion_order keeps
// the order); Go hashes each chunk and hands it to the second, whose COPY
// reads them through a table function that references the chunk's vectors
// (no copy) and writes them in the same order. after, when not nil, runs on
// the first DuckDB once the rows are written (the CSV reader's rejects live
// there).
func copyHashed(ctx context.Context, cfg EngineConfig, query string, cols []joule.DatasetColumn, path, opts string, after func(e *engine) error) (int64, string, error) {
	// The COPY's one thread writes; the reading DuckDB gets the other
	// cores, and at least one thread. (Its streamed result is fetched by a
	// thread that busy-waits while only background threads have work, so
	// more threads than cores would only spin.)
	threads := cfg.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	rcfg := cfg
	rcfg.Threads = max(1, threads-1)
	read, err := openEngine(rcfg)
	if err != nil {
		return 0, "", err
	}
	defer read.close()
	wcfg := cfg
	wcfg.Threads = 1
	if cfg.TempDir != "" {
		// Two DuckDBs in one process must not share a spill directory.
		wcfg.TempDir = filepath.Join(cfg.TempDir, "write")
		if err := os.MkdirAll(wcfg.TempDir, 0o700); err != nil {
			return 0, "", fmt.Errorf("copy: %w", err)
		}
	}
	write, err := openEngine(wcfg)
	if err != nil {
		return 0, "", err
	}
	defer write.close()

	// The queues are deep (64 chunks, a few MB) so that the reader, the
	// hasher and the writer each work through a backlog instead of waking
	// one another for every chunk.
	const depth = 64
	src := &chunkSource{cols: cols, chunks: make(chan *sharedChunk, depth)}
	if err := src.register(write.conn); err != nil {
		return 0, "", err
	}
	var written int64
	var writeErr error
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		written, writeErr = write.exec(ctx, "COPY (SELECT * FROM "+sourceFunction+"()) TO "+lit(path)+" (FORMAT parquet"+opts+")")
	}()

	th := newTableHasher(cols)
	th.workers = 1 // the hasher runs beside the reader and the writer
	toHash := make(chan *sharedChunk, depth)
	hashDone := make(chan struct{})
	go func() {
		defer close(hashDone)
		for c := range toHash {
			th.add(c.chunk)
			c.release()
		}
	}()
	readErr := read.stream(ctx, query, func(chunk bindings.DataChunk) bool {
		c := &sharedChunk{chunk: chunk}
		c.refs.Store(2)
		toHash <- c
		select {
		case src.chunks <- c:
			return true
		case <-writeDone: // the COPY failed: stop reading
			c.release()
			return false
		}
	})
	close(src.chunks)
	close(toHash)
	<-writeDone
	<-hashDone
	// The COPY's failure comes first: reading stops when it fails.
	if writeErr != nil {
		return 0, "", writeErr
	}
	if readErr != nil {
		return 0, "", readErr
	}
	if written != th.rows {
		return 0, "", fmt.Errorf("copy: wrote %d rows but hashed %d", written, th.rows)
	}
	if after != nil {
		if err := after(read); err != nil {
			return 0, "", err
		}
	}
	return written, th.sum(), nil
}

// sourceFunction is the name of the table function that reads a
// chunkSource.
const sourceFunction = "joule_chunks"

// chunkSource hands chunks to a DuckDB table function, in order, for the
// one thread that scans it.
type chunkSource struct {
	cols   []joule.DatasetColumn
	chunks chan *sharedChunk
}

// sharedChunk is a chunk that two readers use; the last to release it
// destroys it.
type sharedChunk struct {
	chunk bindings.DataChunk
	refs  atomic.Int32
}

func (c *sharedChunk) release() {
	if c.refs.Add(-1) == 0 {
		bindings.DestroyDataChunk(&c.chunk)
	}
}

// register adds the table function sourceFunction, reading s, to conn's
// database.
func (s *chunkSource) register(conn bindings.Connection) error {
	f := bindings.CreateTableFunction()
	defer bindings.DestroyTableFunction(&f)
	bindings.TableFunctionSetName(f, sourceFunction)
	h := (*cgo.Handle)(C.malloc(C.size_t(unsafe.Sizeof(cgo.Handle(0)))))
	*h = cgo.NewHandle(s)
	bindings.TableFunctionSetExtraInfo(f, unsafe.Pointer(h), unsafe.Pointer(C.jouleDeleteFn(C.jouleSourceDelete)))
	bindings.TableFunctionSetBind(f, unsafe.Pointer(C.jouleBindFn(C.jouleSourceBind)))
	bindings.TableFunctionSetInit(f, unsafe.Pointer(C.jouleInitFn(C.jouleSourceInit)))
	bindings.TableFunctionSetFunction(f, unsafe.Pointer(C.jouleScanFn(C.jouleSourceScan)))
	if bindings.RegisterTableFunction(conn, f) == bindings.StateError {
		return errors.New("duckdb: register the chunk source")
	}
	return nil
}

func sourceOf(extra unsafe.Pointer) *chunkSource {
	return (*(*cgo.Handle)(extra)).Value().(*chunkSource)
}

// logicalType is the DuckDB type id of a joule column type (see duckType).
func logicalType(t string) bindings.Type {
	switch t {
	case joule.TypeInteger:
		return bindings.TypeBigInt
	case joule.TypeFloat:
		return bindings.TypeDouble
	case joule.TypeBoolean:
		return bindings.TypeBoolean
	case joule.TypeDate:
		return bindings.TypeDate
	case joule.TypeTimestamp:
		return bindings.TypeTimestamp
	}
	return bindings.TypeVarchar
}

//export jouleSourceBind
func jouleSourceBind(info unsafe.Pointer) {
	bi := bindings.BindInfo{Ptr: info}
	for _, c := range sourceOf(bindings.BindGetExtraInfo(bi)).cols {
		t := bindings.CreateLogicalType(logicalType(c.Type))
		bindings.BindAddResultColumn(bi, c.Name, t)
		bindings.DestroyLogicalType(&t)
	}
}

//export jouleSourceInit
func jouleSourceInit(info unsafe.Pointer) {
	// One thread scans, so the chunks keep their order.
	bindings.InitSetMaxThreads(bindings.InitInfo{Ptr: info}, 1)
}

//export jouleSourceScan
func jouleSourceScan(info, output unsafe.Pointer) {
	s := sourceOf(bindings.FunctionGetExtraInfo(bindings.FunctionInfo{Ptr: info}))
	out := bindings.DataChunk{Ptr: output}
	c, ok := <-s.chunks
	if !ok {
		bindings.DataChunkSetSize(out, 0)
		return
	}
	for j := range s.cols {
		bindings.VectorReferenceVector(bindings.DataChunkGetVector(out, bindings.IdxT(j)), bindings.DataChunkGetVector(c.chunk, bindings.IdxT(j)))
	}
	bindings.DataChunkSetSize(out, bindings.DataChunkGetSize(c.chunk))
	c.release()
}

//export jouleSourceDelete
func jouleSourceDelete(extra unsafe.Pointer) {
	h := (*cgo.Handle)(extra)
	h.Delete()
	C.free(extra)
}
