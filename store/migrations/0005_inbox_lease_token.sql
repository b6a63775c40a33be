-- The fencing token of an inbox item's lease: ClaimDue adds one with every
-- claim, and MarkDone/MarkRetry/MarkFailed change the item only while it
-- still holds the token they were handed, so a worker whose lease ran out
-- and was taken over (another goroutine, another process) changes nothing.
ALTER TABLE inbox ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
