-- 007_shift: the carbon-aware time shift of a flexible job (joule.JobShift),
-- as JSONB; NULL for other jobs.

ALTER TABLE jobs ADD COLUMN shift JSONB;
