-- PostgreSQL twin of ../0180_inbox_payload_compression.sql. PostgreSQL
-- compresses a webhook payload (about 20 KB of JSON) as it stores it, with
-- pglz by default; lz4 costs the server a fraction of the CPU for a
-- similar size, and a burst of deliveries is stored sooner (BENCHMARKS.md,
-- "The storage half alone"). Rows already stored keep their compression. A
-- server built without lz4 (or older than PostgreSQL 14) keeps pglz: the
-- step is skipped there rather than refusing to start.
DO $$
BEGIN
	EXECUTE 'ALTER TABLE inbox ALTER COLUMN payload SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
	RAISE NOTICE 'inbox payloads keep pglz compression: %', SQLERRM;
END
$$;
