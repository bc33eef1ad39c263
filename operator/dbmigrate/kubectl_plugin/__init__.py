"""``kubectl dbmigrate``: read and act on DatabaseMigration resources the way the CLI reads and acts on a database.

Layering: it reads what the operator writes (``status``) and writes only what a person decides (the approval,
rejection and retry annotations); it never imports the operator. ``resources`` talks to the API server,
``render`` turns a status into the CLI's report, ``commands`` holds one function per action, ``main`` parses.
"""
