-- Security hardening (issue 8). Keep in step with migrations/postgres/0009_claim_codes_and_attempt_numbers.sql.

-- The one-time code with which a person registered by an employment office creates their own
-- account. Only its SHA-256 is stored; one live code per person (a new one replaces the old);
-- claiming the account deletes it in the same transaction.
CREATE TABLE claim_codes (
    person_id INTEGER PRIMARY KEY REFERENCES persons(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    issued_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    issued_at TEXT NOT NULL
);

-- Quiz attempts are allowed per person and quiz, across the classes of the course: attempts are
-- numbered per person and quiz. Attempts already made in several classes are renumbered in the
-- order they were started (first moved out of the way, so no intermediate number collides).
UPDATE attempts SET number = number + 1000000
WHERE EXISTS (SELECT 1 FROM attempts o
              WHERE o.quiz_id = attempts.quiz_id AND o.person_id = attempts.person_id
                AND o.class_id <> attempts.class_id);
UPDATE attempts SET number = r.n
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY quiz_id, person_id ORDER BY started_at, id) AS n
      FROM attempts) AS r
WHERE r.id = attempts.id AND attempts.number > 1000000;
CREATE UNIQUE INDEX attempts_person_number_key ON attempts (quiz_id, person_id, number);
