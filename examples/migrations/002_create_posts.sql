-- migrate:up
create table posts (
  id bigint generated always as identity primary key,
  author_id bigint not null references user_profiles (id) on delete cascade,
  title text not null,
  body text not null default '',
  published_at timestamptz
);
alter table posts enable row level security;
create policy "published posts are public" on posts for select using (published_at is not null);

-- migrate:down
drop table posts;
