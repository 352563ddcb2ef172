// Package modelfile is joule's versioned model file format. A file is
//
//	magic    8 bytes  "JOULEML\n"
//	version  uint32   little endian; this package writes and reads 1
//	hlen     uint32   length of the header
//	header   hlen     JSON: algorithm, task, feature schema, classes,
//	                  params and the fitted preprocessing recipe
//	blen     uint64   length of the body
//	body     blen     the fitted model, in the primitives of Encoder
//	crc      uint32   CRC-32C of every byte before it
//
// The body is flat binary (lengths, then packed little-endian numbers), so
// a forest of a million nodes loads in milliseconds. Reading checks every
// length against the bytes left, so a corrupt or truncated file, or one of
// a newer version, gets an error and never a panic or a huge allocation.
package modelfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Version is the format version this package writes.
const Version = 1

const (
	magic     = "JOULEML\n"
	maxHeader = 1 << 20
)

// Errors a reader can branch on.
var (
	// ErrNotModel means the input does not start with the magic bytes.
	ErrNotModel = errors.New("not a joule model file")
	// ErrNewerVersion means the file was written by a newer joule.
	ErrNewerVersion = errors.New("model file version is newer than this joule reads")
	// ErrCorrupt means the file is truncated or damaged.
	ErrCorrupt = errors.New("model file is corrupt or truncated")
)

// Feature is one input column of the model, in order.
type Feature struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"` // e.g. float, int, category
}

// Header describes the model without decoding its body.
type Header struct {
	Algorithm string            `json:"algorithm"`
	Task      string            `json:"task"` // classification, regression, clustering, recommendation
	Features  []Feature         `json:"features"`
	Classes   []string          `json:"classes,omitempty"`
	Params    map[string]string `json:"params,omitempty"`
	// Recipe is the fitted preprocessing recipe, opaque to this package:
	// the training job stores it and applies it before predicting.
	Recipe json.RawMessage `json:"recipe,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Write writes a model file with header h and the body that body encodes.
func Write(w io.Writer, h *Header, body func(*Encoder)) error {
	hj, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("model file header: %w", err)
	}
	if len(hj) > maxHeader {
		return fmt.Errorf("model file header is %d bytes, over the %d limit", len(hj), maxHeader)
	}
	var e Encoder
	body(&e)
	var buf bytes.Buffer
	buf.WriteString(magic)
	buf.Write(binary.LittleEndian.AppendUint32(nil, Version))
	buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(hj))))
	buf.Write(hj)
	buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(e.b))))
	buf.Write(e.b)
	buf.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(buf.Bytes(), castagnoli)))
	_, err = w.Write(buf.Bytes())
	return err
}

// Read parses a whole model file and returns its header and a decoder of
// its body.
func Read(data []byte) (*Header, *Decoder, error) {
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return nil, nil, ErrNotModel
	}
	rest := data[len(magic):]
	if len(rest) < 8 {
		return nil, nil, fmt.Errorf("%w: %d bytes after the magic", ErrCorrupt, len(rest))
	}
	if v := binary.LittleEndian.Uint32(rest); v != Version {
		if v > Version {
			return nil, nil, fmt.Errorf("%w: file version %d, this joule reads %d", ErrNewerVersion, v, Version)
		}
		return nil, nil, fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	if len(data) < len(magic)+8+8+4 {
		return nil, nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(data))
	}
	sum := binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(data[:len(data)-4], castagnoli) != sum {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	rest = data[len(magic)+4 : len(data)-4]
	hlen := uint64(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if hlen > maxHeader || hlen+8 > uint64(len(rest)) {
		return nil, nil, fmt.Errorf("%w: header length %d", ErrCorrupt, hlen)
	}
	var h Header
	if err := json.Unmarshal(rest[:hlen], &h); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if h.Algorithm == "" {
		return nil, nil, fmt.Errorf("%w: header names no algorithm", ErrCorrupt)
	}
	rest = rest[hlen:]
	blen := binary.LittleEndian.Uint64(rest)
	rest = rest[8:]
	if blen != uint64(len(rest)) {
		return nil, nil, fmt.Errorf("%w: body length %d, %d bytes present", ErrCorrupt, blen, len(rest))
	}
	return &h, &Decoder{b: rest}, nil
}

// Encoder appends primitives to a body.
type Encoder struct{ b []byte }

// Uint writes v as a varint.
func (e *Encoder) Uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

// Int writes v as a zig-zag varint.
func (e *Encoder) Int(v int64) { e.b = binary.AppendVarint(e.b, v) }

// Float writes v as 8 bytes.
func (e *Encoder) Float(v float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v)) }

// String writes a length-prefixed string.
func (e *Encoder) String(s string) {
	e.Uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// Floats writes a length-prefixed slice of float64.
func (e *Encoder) Floats(v []float64) {
	e.Uint(uint64(len(v)))
	for _, x := range v {
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(x))
	}
}

// Int32s writes a length-prefixed slice of int32.
func (e *Encoder) Int32s(v []int32) {
	e.Uint(uint64(len(v)))
	for _, x := range v {
		e.b = binary.LittleEndian.AppendUint32(e.b, uint32(x))
	}
}

// Decoder reads primitives back. The first failure sticks: later reads
// return zero values, and Err reports it.
type Decoder struct {
	b   []byte
	err error
}

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

// Fail records err (wrapped as corruption) unless an error is already set.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

// Done reports an error unless the whole body was read.
func (d *Decoder) Done() error {
	if d.err == nil && len(d.b) != 0 {
		d.Fail("%d unread body bytes", len(d.b))
	}
	return d.err
}

// Uint reads a varint.
func (d *Decoder) Uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Int reads a zig-zag varint.
func (d *Decoder) Int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Count reads a non-negative int no larger than max.
func (d *Decoder) Count(what string, max int) int {
	v := d.Uint()
	if v > uint64(max) {
		d.Fail("%s %d exceeds %d", what, v, max)
		return 0
	}
	return int(v)
}

// Float reads 8 bytes as a float64.
func (d *Decoder) Float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.Fail("truncated number")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *Decoder) length(size int) int {
	n := d.Uint()
	if d.err == nil && n > uint64(len(d.b)/size) {
		d.Fail("length %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

// String reads a length-prefixed string.
func (d *Decoder) String() string {
	n := d.length(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Floats reads a length-prefixed slice of float64.
func (d *Decoder) Floats() []float64 {
	n := d.length(8)
	if d.err != nil {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(d.b[8*i:]))
	}
	d.b = d.b[8*n:]
	return v
}

// Int32s reads a length-prefixed slice of int32.
func (d *Decoder) Int32s() []int32 {
	n := d.length(4)
	if d.err != nil {
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(d.b[4*i:]))
	}
	d.b = d.b[4*n:]
	return v
}

// Raw appends bytes as they are (for tests and tools that rebuild a body).
func (e *Encoder) Raw(b []byte) { e.b = append(e.b, b...) }
