from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

from fleetcore.store.migration_ops import RunPostgresSQL

HOUR_MS = 3_600_000
NULL_HOUR = -9223372036854775808
"""The hour row counting the tasks without a value (PostgreSQL sorts them last, or first
descending)."""
MARK_SPLIT = 2000
"""A run of task ids holding more tasks than this is split, its first 1,000 kept."""


# Counting triggers: each statement writing task_state counts what it changed, from its
# transition tables, in one upsert of the hours and one of the runs (a row trigger's
# update of the same counter row for each task made long version chains: 1 ms a task).
# One transaction at a time counts (an advisory lock), so a run is never split under
# another writer's count; a run grown past MARK_SPLIT is split at once, when every row
# the statement wrote is both visible and counted.
FUNCTIONS = f"""
CREATE TYPE task_order_change AS (
  id text, start_time bigint, finish_time bigint, request_time bigint, delta bigint
);
CREATE FUNCTION task_order_hour_of(t bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN t IS NULL THEN {NULL_HOUR} ELSE floor(t::numeric / {HOUR_MS})::bigint END
$$;
CREATE FUNCTION task_order_count(changes task_order_change[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  run record;
  run_from text;
  counted bigint;
  middle text;
BEGIN
  IF cardinality(changes) = 0 THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('task_order_marks'));
  INSERT INTO task_order_hour AS h (sort_column, hour, tasks)
    SELECT sort_column, hour, sum(delta) FROM (
      SELECT 'unix_millis_start_time' AS sort_column,
        task_order_hour_of(c.start_time) AS hour, c.delta FROM unnest(changes) c
      UNION ALL
      SELECT 'unix_millis_finish_time', task_order_hour_of(c.finish_time), c.delta
        FROM unnest(changes) c
      UNION ALL
      SELECT 'unix_millis_request_time', task_order_hour_of(c.request_time), c.delta
        FROM unnest(changes) c
    ) hours
    GROUP BY sort_column, hour HAVING sum(delta) <> 0
  ON CONFLICT (sort_column, hour) DO UPDATE SET tasks = h.tasks + EXCLUDED.tasks;
  INSERT INTO task_id_mark AS m (id_from, tasks)
    SELECT run_of, sum(delta) FROM (
      SELECT coalesce((SELECT r.id_from FROM task_id_mark r WHERE r.id_from <= c.id
        ORDER BY r.id_from DESC LIMIT 1), '') AS run_of, c.delta FROM unnest(changes) c
    ) runs
    GROUP BY run_of HAVING sum(delta) <> 0
  ON CONFLICT (id_from) DO UPDATE SET tasks = m.tasks + EXCLUDED.tasks;
  FOR run IN SELECT r.id_from, r.tasks FROM task_id_mark r WHERE r.tasks > {MARK_SPLIT} LOOP
    run_from := run.id_from;
    counted := run.tasks;
    WHILE counted > {MARK_SPLIT} LOOP
      SELECT id INTO middle FROM task_state WHERE id >= run_from
        ORDER BY id OFFSET {MARK_SPLIT // 2} LIMIT 1;
      UPDATE task_id_mark SET tasks = {MARK_SPLIT // 2} WHERE id_from = run_from;
      INSERT INTO task_id_mark (id_from, tasks) VALUES (middle, counted - {MARK_SPLIT // 2});
      run_from := middle;
      counted := counted - {MARK_SPLIT // 2};
    END LOOP;
  END LOOP;
END
$$;
CREATE FUNCTION task_order_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM task_order_count(ARRAY(
    SELECT ROW(id, unix_millis_start_time, unix_millis_finish_time,
      unix_millis_request_time, TG_ARGV[0]::bigint)::task_order_change FROM changed));
  RETURN NULL;
END
$$;
CREATE FUNCTION task_order_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM task_order_count(ARRAY(
    SELECT ROW(o.id, o.unix_millis_start_time, o.unix_millis_finish_time,
      o.unix_millis_request_time, -1)::task_order_change FROM removed o
    WHERE NOT EXISTS (SELECT 1 FROM written n WHERE n.id = o.id
      AND n.unix_millis_start_time IS NOT DISTINCT FROM o.unix_millis_start_time
      AND n.unix_millis_finish_time IS NOT DISTINCT FROM o.unix_millis_finish_time
      AND n.unix_millis_request_time IS NOT DISTINCT FROM o.unix_millis_request_time)
    UNION ALL
    SELECT ROW(n.id, n.unix_millis_start_time, n.unix_millis_finish_time,
      n.unix_millis_request_time, 1)::task_order_change FROM written n
    WHERE NOT EXISTS (SELECT 1 FROM removed o WHERE o.id = n.id
      AND o.unix_millis_start_time IS NOT DISTINCT FROM n.unix_millis_start_time
      AND o.unix_millis_finish_time IS NOT DISTINCT FROM n.unix_millis_finish_time
      AND o.unix_millis_request_time IS NOT DISTINCT FROM n.unix_millis_request_time)));
  RETURN NULL;
END
$$;
CREATE FUNCTION task_order_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM task_order_hour;
  DELETE FROM task_id_mark;
  RETURN NULL;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER task_order_inserted AFTER INSERT ON task_state
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION task_order_added('1');
CREATE TRIGGER task_order_updated AFTER UPDATE ON task_state
  REFERENCING OLD TABLE AS removed NEW TABLE AS written
  FOR EACH STATEMENT EXECUTE FUNCTION task_order_updated();
CREATE TRIGGER task_order_deleted AFTER DELETE ON task_state
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION task_order_added('-1');
CREATE TRIGGER task_order_truncated AFTER TRUNCATE ON task_state
  FOR EACH STATEMENT EXECUTE FUNCTION task_order_truncated();
"""

# The tasks already stored, counted under a lock that holds writers off until the
# triggers count them.
BACKFILL = f"""
LOCK TABLE task_state IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO task_order_hour (sort_column, hour, tasks)
  SELECT 'unix_millis_start_time', task_order_hour_of(unix_millis_start_time), count(*)
  FROM task_state GROUP BY 2
  UNION ALL
  SELECT 'unix_millis_finish_time', task_order_hour_of(unix_millis_finish_time), count(*)
  FROM task_state GROUP BY 2
  UNION ALL
  SELECT 'unix_millis_request_time', task_order_hour_of(unix_millis_request_time), count(*)
  FROM task_state GROUP BY 2;
INSERT INTO task_id_mark (id_from, tasks)
  SELECT CASE WHEN run = 0 THEN '' ELSE min(id) END, count(*)
  FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / {MARK_SPLIT // 2} AS run
        FROM task_state) numbered
  GROUP BY run;
"""


class Migration(migrations.Migration):
    dependencies = [('fleethub', '0014_task_label_request_time')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TaskOrderHour',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sort_column', fields.CharField(max_length=32)),
                ('hour', fields.BigIntField()),
                ('tasks', fields.BigIntField()),
            ],
            options={'table': 'task_order_hour', 'app': 'fleethub', 'unique_together': (('sort_column', 'hour'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TaskIdMark',
            fields=[
                ('id_from', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
                ('tasks', fields.BigIntField()),
            ],
            options={'table': 'task_id_mark', 'app': 'fleethub', 'pk_attr': 'id_from'},
            bases=['Model'],
        ),
        RunPostgresSQL([FUNCTIONS, TRIGGERS, BACKFILL]),
    ]
