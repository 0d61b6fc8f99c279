-- migrate:up
create table user_profiles (
  id bigint generated always as identity primary key,
  email text not null unique,
  display_name text,
  created_at timestamptz not null default now()
);
alter table user_profiles enable row level security;
create policy "profiles are readable by everyone" on user_profiles for select using (true);

-- migrate:down
drop table user_profiles;
