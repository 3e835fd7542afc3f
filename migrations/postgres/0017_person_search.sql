-- The operator's search at SIPE's size (350,000 people; issue 11, BENCHMARKS.md).
-- Keep in step with migrations/sqlite/0017_person_search.sql (SQLite also gets a trigram
-- table there; here pg_trgm's persons_search_trgm_idx of 0016 serves names).

-- (department_id) is the first column of persons_department_name_idx: the narrower index only
-- tempted the planner into sorting a whole territory by name.
DROP INDEX persons_department_idx;

-- The administrator's list of everyone, read in name order.
CREATE INDEX persons_name_idx ON persons(last_name, first_name, id);
