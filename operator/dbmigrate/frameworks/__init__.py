"""Running migrations written for other frameworks (Alembic, Django, Rails, Flyway) inside dbmigrate's run."""
