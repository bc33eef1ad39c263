-- Destructive: the plan waits in AwaitingApproval until
--   kubectl dbmigrate approve orders
-- (or the annotation dbmigrate.io/approved-plan=<plan hash> is set).
ALTER TABLE customers DROP COLUMN fax;
