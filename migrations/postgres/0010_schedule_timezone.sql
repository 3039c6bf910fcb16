-- portableq migration 10: cron schedules in time zones (issue 15 §5).
-- compatible_with: 3
-- (A new column with a default: older binaries read and write schedules as before, and every
-- schedule they know is in UTC. A maintenance leader from before this migration would read a
-- zoned schedule's fields in UTC, so finish a rolling upgrade before adding one with --tz.)
ALTER TABLE schedules ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
