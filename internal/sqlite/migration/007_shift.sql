-- 007_shift: the carbon-aware time shift of a flexible job (joule.JobShift),
-- as TEXT JSON; NULL for other jobs.

ALTER TABLE jobs ADD COLUMN shift TEXT;
