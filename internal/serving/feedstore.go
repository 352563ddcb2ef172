package serving

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/joule-dev/joule"
)

// predictionStore remembers a deployment's latest predicted rows for
// feedback, up to a number of rows, oldest forgotten first.
//
// It is two rings of fixed-size records that hold no pointers, so the
// garbage collector never scans them however many rows they keep (a map
// of records, as it was, made every GC cycle mark 100,000 entries on the
// predict path). A response's ID carries the store's epoch and the
// response's sequence number, so a lookup is an index into the ring, not
// a map probe: the record is at seq mod limit, and it is the one asked
// for only if its seq matches.
type predictionStore struct {
	limit   int    // rows; also the record ring's size, as every record has a row
	epoch   uint32 // random per store: IDs from before a restart are unknown
	nextSeq uint64 // the next response's sequence number, from 1
	nextRow uint64 // the next row's absolute index, from 0
	recs    []predRecord
	rows    []predRow
	classes map[int][]string // by version: class labels as predictions named them
}

// predRecord is one remembered predict response.
type predRecord struct {
	seq        uint64 // 0: never written
	rowStart   uint64 // absolute index of its first row
	n          uint32
	version    int32
	classifier bool
}

// predRow is one remembered row: its prediction and, once given, its
// label. A classifier's prediction and label are indexes into the store's
// class list for the version; a regressor's are the values.
type predRow struct {
	pred, truth float64
	labelled    bool
}

func newPredictionStore(limit int) predictionStore {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return predictionStore{limit: limit, epoch: binary.BigEndian.Uint32(b[:]), nextSeq: 1, classes: map[int][]string{}}
}

// remember names resp with a new prediction ID and keeps its rows,
// forgetting the oldest beyond the limit. A response with mixed kinds of
// prediction or more rows than the limit gets its ID and is not kept. The
// caller holds the deployment monitor's lock.
func (s *predictionStore) remember(resp *joule.PredictResponse, now time.Time) {
	seq := s.nextSeq
	s.nextSeq++
	resp.ID = predictionID(now, s.epoch, seq)
	n := len(resp.Predictions)
	if n == 0 || n > s.limit {
		return
	}
	_, classifier := resp.Predictions[0].(string)
	start := s.nextRow
	for i, p := range resp.Predictions {
		var r predRow
		switch v := p.(type) {
		case string:
			if !classifier {
				return
			}
			r.pred = float64(s.classIndex(resp.ModelVersion, v))
		case float64:
			if classifier {
				return
			}
			r.pred = v
		default:
			return
		}
		s.putRow(start+uint64(i), r)
	}
	s.nextRow += uint64(n)
	rec := predRecord{seq: seq, rowStart: start, n: uint32(n), version: int32(resp.ModelVersion), classifier: classifier}
	i := int(seq % uint64(s.limit))
	for len(s.recs) <= i {
		s.recs = append(s.recs, predRecord{})
	}
	s.recs[i] = rec
}

// putRow writes the row at absolute index abs; rows are written in order,
// so the ring grows by one until it is full.
func (s *predictionStore) putRow(abs uint64, r predRow) {
	i := int(abs % uint64(s.limit))
	if i == len(s.rows) {
		s.rows = append(s.rows, r)
		return
	}
	s.rows[i] = r
}

// classIndex returns label's index in version's class list, adding it.
func (s *predictionStore) classIndex(version int, label string) int {
	cl := s.classes[version]
	for i, c := range cl {
		if c == label {
			return i
		}
	}
	s.classes[version] = append(cl, label)
	return len(cl)
}

// class returns the label at index i of version's class list.
func (s *predictionStore) class(version int32, i float64) string {
	cl := s.classes[int(version)]
	if j := int(i); j >= 0 && j < len(cl) {
		return cl[j]
	}
	return ""
}

// lookup returns the remembered response with the ID, if it is still
// kept.
func (s *predictionStore) lookup(id string) (predRecord, bool) {
	epoch, seq, ok := parsePredictionID(id)
	if !ok || epoch != s.epoch || seq == 0 || s.limit <= 0 {
		return predRecord{}, false
	}
	i := int(seq % uint64(s.limit))
	if i >= len(s.recs) || s.recs[i].seq != seq {
		return predRecord{}, false
	}
	rec := s.recs[i]
	if s.nextRow > uint64(s.limit) && rec.rowStart < s.nextRow-uint64(s.limit) {
		return predRecord{}, false // its rows were written over
	}
	return rec, true
}

// row returns a pointer to the record's row r (0 ≤ r < rec.n) in the
// ring; it stays valid until the caller releases the monitor's lock.
func (s *predictionStore) row(rec predRecord, r int) *predRow {
	return &s.rows[int((rec.rowStart+uint64(r))%uint64(s.limit))]
}

// labelText is how an error names a row's label.
func (s *predictionStore) labelText(rec predRecord, v float64) string {
	if rec.classifier {
		return s.class(rec.version, v)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// predictionID returns a prediction ID in joule.NewID's layout whose 80
// bits after the timestamp are the store's epoch (32) and the sequence
// number (48).
func predictionID(now time.Time, epoch uint32, seq uint64) string {
	var rest [10]byte
	binary.BigEndian.PutUint32(rest[:4], epoch)
	binary.BigEndian.PutUint16(rest[4:6], uint16(seq>>32))
	binary.BigEndian.PutUint32(rest[6:], uint32(seq))
	return joule.FormatID("prd", now, rest)
}

// parsePredictionID is predictionID's inverse; ok is false for anything
// predictionID does not make.
func parsePredictionID(id string) (epoch uint32, seq uint64, ok bool) {
	rest, ok := joule.ParseID("prd", id)
	if !ok {
		return 0, 0, false
	}
	seq = uint64(binary.BigEndian.Uint16(rest[4:6]))<<32 | uint64(binary.BigEndian.Uint32(rest[6:]))
	return binary.BigEndian.Uint32(rest[:4]), seq, true
}
