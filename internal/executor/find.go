package executor

import (
	"bytes"
	"os"
	"strconv"
)

// FindGroup returns the process group of a live process that runs the given
// attempt of a job, found by the JOULE_JOB_ID and JOULE_ATTEMPT variables in
// its environment, or 0 when there is none. A restarted worker uses it for
// an attempt whose process group was never recorded (the worker died between
// starting the process and recording it), so that the attempt is adopted
// rather than run a second time beside it.
func (e *Executor) FindGroup(jobID string, attempt int) int {
	return findGroup(procRoot, jobID, attempt)
}

func findGroup(root, jobID string, attempt int) int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	wantID := []byte("JOULE_JOB_ID=" + jobID)
	wantAttempt := []byte("JOULE_ATTEMPT=" + strconv.Itoa(attempt))
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid <= 0 {
			continue
		}
		env, err := os.ReadFile(root + "/" + ent.Name() + "/environ")
		if err != nil {
			continue
		}
		var idOK, attemptOK bool
		for _, kv := range bytes.Split(env, []byte{0}) {
			idOK = idOK || bytes.Equal(kv, wantID)
			attemptOK = attemptOK || bytes.Equal(kv, wantAttempt)
		}
		if !idOK || !attemptOK {
			continue
		}
		st, err := readProcStat(root, pid)
		if err != nil || st.state == 'Z' || st.state == 'X' {
			continue
		}
		return st.pgrp
	}
	return 0
}
