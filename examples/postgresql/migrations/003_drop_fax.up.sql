-- Destructive once customers exists: the plan waits in AwaitingApproval until
--   kubectl dbmigrate approve orders
-- (or the annotation dbmigrate.io/approved-plan=<plan hash> is set). On a fresh database, where the same run
-- creates the column, nothing can be lost and nothing waits.
ALTER TABLE customers DROP COLUMN fax;
