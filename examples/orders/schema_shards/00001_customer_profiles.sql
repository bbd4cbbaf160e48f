-- The orders service's sharded store: one profile per customer, on the shard
-- that owns the customer's bucket (shard.Router.For(shard.Int(customer_id))).
-- Applied identically to every shard, with its own version table
-- (orders_shard_migrations), so that it can sit next to the demo schema.
--
-- bucket is the logical bucket of customer_id, written by the application
-- (Router.Bucket): shard.Move copies and fences rows by it, and it needs the
-- primary key to match rows.

-- +goose Up
CREATE TABLE customer_profiles (
    customer_id  bigint      PRIMARY KEY,
    bucket       int         NOT NULL CHECK (bucket >= 0),
    display_name text        NOT NULL CHECK (display_name <> ''),
    tier         text        NOT NULL CHECK (tier IN ('standard', 'silver', 'gold')),
    locale       text        NOT NULL CHECK (locale <> ''),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- shard.Move selects a bucket's rows by this column.
CREATE INDEX customer_profiles_bucket_idx ON customer_profiles (bucket);

-- +goose Down
DROP TABLE customer_profiles;
