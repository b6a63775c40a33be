-- Webhook payloads are stored as they came (about 20 KB of JSON for a
-- GitHub delivery). On PostgreSQL the server compresses them with lz4
-- (postgres/0180_inbox_payload_compression.sql); SQLite stores them
-- uncompressed as before, so this step changes nothing here.
SELECT 1;
