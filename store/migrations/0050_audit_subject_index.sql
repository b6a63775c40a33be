-- The deployment page, PR comments and evidence read a request's audit
-- entries by subject. An index is not part of the log: verification reads
-- the table itself, and the append-only triggers (on UPDATE and DELETE of
-- audit_entries) are untouched; an index only ever grows with the rows.
CREATE INDEX audit_entries_subject ON audit_entries (subject);
