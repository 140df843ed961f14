-- pgbench script: one job per pgbench transaction, claimed and completed with the SQL of
-- Copydesk's SqlJobQueue (src/jobs/store.rs), bare. `jobs-bench pgbench` runs it with
-- `pgbench -n -M prepared -c C -j C -t N/C` (prepared statements, like sqlx) against a
-- queue of N jobs enqueued by `copydesk::jobs::enqueue`.
--
-- Differences from Copydesk, all in pgbench's favour or neutral: one job per claim (LIMIT 1;
-- Copydesk claims as many as it has free slots), `now()` instead of a bound timestamp,
-- the pgbench client id as the lease owner, and no `SELECT MIN(run_at)` after each claim
-- (the runner's next_due). The claim is wrapped in a CTE that always returns one row (the
-- nil UUID when nothing was claimed) so that `\gset` never aborts a client; a claim that
-- found nothing then completes nothing, and `jobs-bench check` would report the shortfall.
WITH c AS (
  UPDATE jobs SET status = 'running', lease_owner = :client_id, lease_expires_at = now() + interval '30 seconds',
         attempts = attempts + 1, updated_at = now()
   WHERE id IN (SELECT id FROM jobs
                 WHERE (status = 'queued' AND run_at <= now())
                    OR (status = 'running' AND lease_expires_at < now())
                 ORDER BY priority DESC, run_at LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING id, kind, payload, attempts, max_attempts)
SELECT COALESCE((SELECT id FROM c), '00000000-0000-0000-0000-000000000000'::uuid) AS id
\gset
UPDATE jobs SET status = 'done', finished_at = now(), updated_at = now(), lease_owner = NULL,
       lease_expires_at = NULL, last_error = NULL
 WHERE id = :id AND lease_owner = :client_id AND status = 'running';
