-- contrail_reader: the query API's database role. It may read what the API serves (current flights and
-- their history) and nothing else: no writes, no DDL, no dead letters, no migration bookkeeping.
--
-- Roles are cluster-wide, so creation is guarded (another database of the cluster, or a concurrent
-- migration, may have made it). LOGIN without a password: on RDS it logs in with IAM tokens once the master
-- user has run `GRANT rds_iam TO contrail_reader`. A migrating user without CREATEROLE (the usual
-- application user on RDS) needs the role created beforehand by the master user; the error says so.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'contrail_reader') THEN
        BEGIN
            CREATE ROLE contrail_reader LOGIN;
        EXCEPTION
            -- A concurrent migration of another database created it first.
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role contrail_reader does not exist and % may not create it', current_user
                    USING HINT = 'As the master user, once: CREATE ROLE contrail_reader LOGIN; GRANT rds_iam TO contrail_reader;';
        END;
    END IF;
END
$$;

-- History is read through the partitioned parent: PostgreSQL checks privileges on the table named in the
-- query only, so partitions created later need no grant (and the reader cannot name one directly).
GRANT SELECT ON flights, flight_events TO contrail_reader;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO contrail_reader', current_schema());
END
$$;

-- The partition helpers are ingest's: nobody else needs to call them.
REVOKE EXECUTE ON FUNCTION contrail_ensure_event_partition(timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION contrail_drop_event_partitions_before(timestamptz) FROM PUBLIC;
