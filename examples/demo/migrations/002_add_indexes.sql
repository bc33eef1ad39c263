-- migrate:up
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_at_idx ON users (created_at);

-- migrate:down
DROP INDEX users_created_at_idx;
DROP INDEX users_email_key;
