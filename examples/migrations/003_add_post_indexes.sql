-- migrate:up
-- built without locking writes: Shipshape runs this statement outside the migration's transaction
create index concurrently if not exists posts_author_id on posts (author_id);

-- migrate:down
drop index concurrently if exists posts_author_id;
