"""PostgreSQL guards for the ledger (no-op on other databases).

- Zero sum, in linear time: a statement-level trigger on posting INSERT checks that every entry
  the statement touched sums to zero once the statement is done (postings of an entry are written
  in one statement), and a deferred constraint trigger on journal entry INSERT checks at commit
  that each new entry has at least two postings summing to zero (it cannot be left empty or
  half-written). A per-posting trigger that re-sums the entry each time was quadratic: 93 ms
  for one 1,000-posting mirror entry.
- Postings and journal entries are append-only: UPDATE and DELETE are refused (corrections are
  reversal entries). TRUNCATE is not row-level and stays available to test teardown.
"""

from django.db import migrations

FORWARD = """

CREATE OR REPLACE FUNCTION ledger_postings_balanced() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT p.entry_id, SUM(p.amount) AS total INTO bad
    FROM ledger_posting p
    WHERE p.entry_id IN (SELECT DISTINCT entry_id FROM new_postings)
    GROUP BY p.entry_id
    HAVING SUM(p.amount) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: journal entry % is unbalanced (postings sum to %)',
            bad.entry_id, bad.total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_posting_statement_balanced
    AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_balanced();

CREATE OR REPLACE FUNCTION ledger_entry_complete() RETURNS trigger AS $$
DECLARE
    total numeric;
    legs integer;
BEGIN
    SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, legs
    FROM ledger_posting WHERE entry_id = NEW.id;
    IF total <> 0 OR legs < 2 THEN
        RAISE EXCEPTION 'ledger: journal entry % is unbalanced (% postings summing to %)',
            NEW.id, legs, total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced_at_commit
    AFTER INSERT ON ledger_journalentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_complete();

CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % rows are append-only (% refused); post a reversal instead',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_posting_append_only
    BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE TRIGGER ledger_journalentry_append_only
    BEFORE UPDATE OR DELETE ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS ledger_journalentry_append_only ON ledger_journalentry;
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_append_only();
DROP TRIGGER IF EXISTS ledger_entry_balanced_at_commit ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_entry_complete();
DROP TRIGGER IF EXISTS ledger_posting_statement_balanced ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_postings_balanced();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD), elidable=False),
    ]
