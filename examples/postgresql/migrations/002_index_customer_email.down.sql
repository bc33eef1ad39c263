-- dbmigrate:no-transaction
DROP INDEX CONCURRENTLY customers_email_key;
