package joule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEntry records one state-changing call: who, what, when, the request ID
// and the outcome. Entries form one hash chain across the installation: each
// entry's Hash covers its own fields and the previous entry's Hash, so editing
// or deleting any entry breaks the chain from that point on.
type AuditEntry struct {
	Seq         int64     `json:"seq"` // 1, 2, 3 … with no gaps; set by the store
	Time        time.Time `json:"time"`
	WorkspaceID string    `json:"workspace_id"`
	Principal   string    `json:"principal"` // token ID, or "system"
	Action      string    `json:"action"`    // e.g. "workspace.create"
	Resource    string    `json:"resource"`  // the ID or name acted on
	RequestID   string    `json:"request_id,omitempty"`
	Outcome     string    `json:"outcome"` // "success", or "error: <code>"
	Detail      string    `json:"detail,omitempty"`
	PrevHash    string    `json:"prev_hash"` // set by the store
	Hash        string    `json:"hash"`      // set by the store
}

// AuditGenesis is the PrevHash of the first entry.
const AuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// ComputeHash returns the chain hash of e given the previous entry's hash:
// hex SHA-256 over a canonical JSON encoding of the fields and prev. Times are
// hashed at microsecond precision in UTC, the precision both stores keep.
func (e AuditEntry) ComputeHash(prev string) string {
	canon := struct {
		Seq         int64  `json:"seq"`
		Time        string `json:"time"`
		WorkspaceID string `json:"workspace_id"`
		Principal   string `json:"principal"`
		Action      string `json:"action"`
		Resource    string `json:"resource"`
		RequestID   string `json:"request_id"`
		Outcome     string `json:"outcome"`
		Detail      string `json:"detail"`
		Prev        string `json:"prev"`
	}{e.Seq, e.Time.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), e.WorkspaceID, e.Principal,
		e.Action, e.Resource, e.RequestID, e.Outcome, e.Detail, prev}
	b, _ := json.Marshal(canon)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AuditChainError reports the first entry at which the chain is broken.
type AuditChainError struct {
	Seq    int64  // the first broken entry (or the first missing sequence number)
	Reason string // what is wrong with it
}

func (e *AuditChainError) Error() string {
	return fmt.Sprintf("audit chain broken at entry %d: %s", e.Seq, e.Reason)
}

// AuditVerifier checks a chain one entry at a time, in Seq order, so that
// stores can stream entries without holding them all.
type AuditVerifier struct {
	next int64
	prev string
}

// NewAuditVerifier starts a verification at the genesis entry.
func NewAuditVerifier() *AuditVerifier { return &AuditVerifier{next: 1, prev: AuditGenesis} }

// Add checks the next entry. It returns an *AuditChainError at the first
// entry that is missing, edited or out of place.
func (v *AuditVerifier) Add(e AuditEntry) error {
	switch {
	case e.Seq != v.next:
		return &AuditChainError{Seq: v.next, Reason: fmt.Sprintf("entry %d is missing (next entry found is %d)", v.next, e.Seq)}
	case e.PrevHash != v.prev:
		return &AuditChainError{Seq: e.Seq, Reason: "prev_hash does not match the previous entry (an entry before it was changed or removed)"}
	case e.ComputeHash(v.prev) != e.Hash:
		return &AuditChainError{Seq: e.Seq, Reason: "content does not match its hash (the entry was edited)"}
	}
	v.next++
	v.prev = e.Hash
	return nil
}

// Finish checks the end of the chain against the head the store recorded
// when it last appended (lastSeq and lastHash; 0 and "" for an empty log),
// which detects removal of the newest entries.
func (v *AuditVerifier) Finish(lastSeq int64, lastHash string) error {
	got := v.next - 1
	if got < lastSeq {
		return &AuditChainError{Seq: got + 1, Reason: fmt.Sprintf("entries %d to %d are missing", got+1, lastSeq)}
	}
	if got > lastSeq {
		return &AuditChainError{Seq: lastSeq + 1, Reason: "entry was added outside joule"}
	}
	if lastSeq > 0 && v.prev != lastHash {
		return &AuditChainError{Seq: got, Reason: "newest entry does not match the recorded head"}
	}
	return nil
}

// Count returns how many entries have been verified.
func (v *AuditVerifier) Count() int64 { return v.next - 1 }

// AuditFilter selects audit entries. Zero fields do not filter.
type AuditFilter struct {
	WorkspaceID string
	Since       time.Time // inclusive
	Until       time.Time // exclusive
	Principal   string
	Action      string // exact, or a prefix ending in '.' such as "token."
	ListOptions
}

// AuditReport is the result of verifying the whole chain.
type AuditReport struct {
	OK       bool   `json:"ok"`
	Entries  int64  `json:"entries"`
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}
