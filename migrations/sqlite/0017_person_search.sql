-- The operator's search at SIPE's size (350,000 people; issue 11, BENCHMARKS.md).
-- Keep in step with migrations/postgres/0017_person_search.sql.

-- (department_id) is the first column of persons_department_name_idx: the narrower index only
-- tempted the planner into sorting a whole territory by name.
DROP INDEX persons_department_idx;

-- The administrator's list of everyone, read in name order.
CREATE INDEX persons_name_idx ON persons(last_name, first_name, id);

-- Trigrams of search_name ("apellido nombre dni", folded), so `LIKE '%texto%'` finds the few
-- people who carry a rare name without reading the territory (PostgreSQL: pg_trgm, 0016).
-- External content: the table keeps only the index; triggers keep it in step with persons.
CREATE VIRTUAL TABLE persons_fts USING fts5(
    search_name, content = 'persons', content_rowid = 'id', tokenize = 'trigram', detail = 'none'
);
INSERT INTO persons_fts(persons_fts) VALUES ('rebuild');

CREATE TRIGGER persons_fts_insert AFTER INSERT ON persons BEGIN
    INSERT INTO persons_fts(rowid, search_name) VALUES (new.id, new.search_name);
END;
CREATE TRIGGER persons_fts_delete AFTER DELETE ON persons BEGIN
    INSERT INTO persons_fts(persons_fts, rowid, search_name) VALUES ('delete', old.id, old.search_name);
END;
CREATE TRIGGER persons_fts_update AFTER UPDATE OF search_name ON persons BEGIN
    INSERT INTO persons_fts(persons_fts, rowid, search_name) VALUES ('delete', old.id, old.search_name);
    INSERT INTO persons_fts(rowid, search_name) VALUES (new.id, new.search_name);
END;
