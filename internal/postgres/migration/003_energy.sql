-- 003_energy: the energy, emissions and cost of a job and of each attempt
-- (joule.JobEnergy), as JSONB; NULL when not known.

ALTER TABLE jobs ADD COLUMN energy JSONB;
ALTER TABLE job_attempts ADD COLUMN energy JSONB;
