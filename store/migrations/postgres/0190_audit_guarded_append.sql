-- PostgreSQL twin of ../0190_audit_guarded_append.sql.
--
-- audit_sequence_edge is audit_sequence (0001) returning the stored hashes
-- of the log's whole right edge rather than only those the next append
-- reads: the last entry of each perfect subtree of the tree of size n, one
-- per set bit of n. Every later append and checkpoint reads only hashes kept
-- with those entries or with entries it adds itself, so a process that
-- appended after asking for the edge can carry it forward and append again
-- without asking (store/audit, head_cache.go). It returns more rows, under
-- the lock, so the log asks for it only when it means to guess next.
CREATE FUNCTION audit_sequence_edge(lock_space bigint)
RETURNS TABLE (size bigint, entry_seq bigint, entry_leaf_hash bytea, entry_tree_hashes bytea)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n bigint;
	want bigint[];
BEGIN
	PERFORM pg_advisory_xact_lock((lock_space << 32) | 'audit_entries'::regclass::oid::bigint);
	SELECT coalesce(max(e.seq) + 1, 0) INTO n FROM audit_entries e;
	-- One statement, not a PL/pgSQL loop over 63 bits: each loop step is an
	-- expression evaluation of its own, and this runs under the lock. The
	-- perfect subtree of set bit k ends at entry ((n >> k) << k) - 1.
	want := ARRAY(SELECT ((n >> k) << k) - 1 FROM generate_series(0, 62) k WHERE (n >> k) & 1 = 1);
	RETURN QUERY SELECT n, e.seq, e.leaf_hash, e.tree_hashes FROM audit_entries e WHERE e.seq = ANY (want);
	IF NOT FOUND THEN
		RETURN QUERY SELECT n, NULL::bigint, NULL::bytea, NULL::bytea;
	END IF;
END
$$;

-- audit_sequence_is takes the same lock, held to the end of the
-- transaction, and reports whether, once it is granted, the log still has
-- `expected` entries and the last one's leaf hash is `last_leaf` (which
-- commits to its seq and content). An append from a process that knows the
-- head puts it in the WHERE of its INSERT: one round trip instead of two,
-- and no row at all when the log has moved on (another process appended,
-- a backup was restored); the append then asks audit_sequence, as before,
-- with the lock already held.
CREATE FUNCTION audit_sequence_is(lock_space bigint, expected bigint, last_leaf bytea)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM pg_advisory_xact_lock((lock_space << 32) | 'audit_entries'::regclass::oid::bigint);
	SELECT coalesce(max(e.seq) + 1, 0) INTO n FROM audit_entries e;
	IF n <> expected THEN
		RETURN false;
	END IF;
	RETURN n = 0 OR EXISTS (SELECT 1 FROM audit_entries e WHERE e.seq = n - 1 AND e.leaf_hash = last_leaf);
END
$$;
