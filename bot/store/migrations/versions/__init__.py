"""One module per schema revision, oldest first: 0001 is the schema as teachbot created it before Alembic."""
