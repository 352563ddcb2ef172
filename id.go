package joule

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// crockford is Crockford's base32 alphabet: sortable, no I, L, O or U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a new identifier with the given prefix, such as "ws" or
// "tok": prefix_ then 26 characters that sort by creation time (a 48-bit
// millisecond timestamp followed by 80 random bits, ULID layout).
func NewID(prefix string, now time.Time) string {
	var rest [10]byte
	_, _ = rand.Read(rest[:])
	return FormatID(prefix, now, rest)
}

// FormatID returns prefix_ and the 26 characters of NewID's layout with
// rest as the 80 bits after the timestamp, for IDs whose bits carry
// meaning (ParseID reads them back).
func FormatID(prefix string, now time.Time, rest [10]byte) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	copy(b[6:], rest[:])
	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	// 128 bits as 26 base32 digits; the first digit carries 3 bits.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	sb.Write(out[:])
	return sb.String()
}

// ParseID returns the 80 bits after the timestamp of an ID in NewID's
// layout with the given prefix (digits in either case); ok is false for
// anything else.
func ParseID(prefix, id string) (rest [10]byte, ok bool) {
	digits, found := strings.CutPrefix(id, prefix+"_")
	if !found || len(digits) != 26 {
		return rest, false
	}
	var hi, lo uint64
	for i := range 26 {
		c := digits[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		d := strings.IndexByte(crockford, c)
		if d < 0 || (i == 0 && d > 7) {
			return rest, false
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(d)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	copy(rest[:], b[6:])
	return rest, true
}
