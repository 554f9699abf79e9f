"""Schema migrations (alembic) of the tables the log cannot rebuild: the write model,
chirp_meta and the archive (docs/migrations.md). Read models are not migrated: `chirp replay`
rebuilds them into a new generation, and their DDL stays with their stores.

- `schema_sets`: what is migrated, in two sets, each a linear chain of revisions with its
  version table inside it: `deployment/` and `archive/` hold each set's alembic environment
  (env.py) and revisions (versions/);
- `environment`: what both env.py run, on the connection `operations/migrate.py` opened;
- `alembic.ini`: for the alembic command line, to write a new revision.
"""
