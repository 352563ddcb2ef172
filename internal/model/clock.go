package model

import "time"

// timeNow is the clock of the job-side functions, which run in a job's
// process rather than a configured service.
func timeNow() time.Time { return time.Now().UTC() }
