"""The dbmigrate Kubernetes operator: DatabaseMigration resources reconciled through Jobs running the CLI.

Layers, importing downwards only: ``main`` (process, flags) → ``handlers`` (kopf wiring) → ``reconcile`` (the
phase state machine) → ``jobs`` / ``conditions`` / ``results`` / ``spec`` / ``backups`` / ``cluster``. The engine
and the CLI never import this package.
"""
