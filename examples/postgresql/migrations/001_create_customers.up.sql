CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    fax TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
