"""`python -m dbmigrate` runs the CLI."""

from dbmigrate.cli.main import main

raise SystemExit(main())
