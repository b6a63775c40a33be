-- On PostgreSQL an audit append can now skip the sequencer's separate
-- round trip when its process already knows the log's head
-- (postgres/0190_audit_guarded_append.sql). SQLite has no sequencer: its
-- write transaction holds the database's write lock, so this step changes
-- nothing here.
SELECT 1;
