-- PostgreSQL twin of ../0050_audit_subject_index.sql.
-- The deployment page, PR comments and evidence read a request's audit
-- entries by subject. An index is not part of the log: verification reads
-- the table itself, and the append-only triggers (on UPDATE and DELETE of
-- audit_entries) are untouched; an index only ever grows with the rows.
-- SQLite's index on (subject) holds each row's rowid, which is seq, so it
-- also gives a subject's entries in seq order; here seq is spelled out.
CREATE INDEX audit_entries_subject ON audit_entries (subject, seq);
