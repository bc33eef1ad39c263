-- migrate:up
ALTER TABLE users ADD COLUMN display_name VARCHAR(100);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    expires_at TIMESTAMP NOT NULL
);

-- migrate:down
DROP TABLE sessions;
ALTER TABLE users DROP COLUMN display_name;
