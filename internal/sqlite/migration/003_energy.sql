-- 003_energy: the energy, emissions and cost of a job and of each attempt
-- (joule.JobEnergy), as TEXT JSON; NULL when not known.

ALTER TABLE jobs ADD COLUMN energy TEXT;
ALTER TABLE job_attempts ADD COLUMN energy TEXT;
