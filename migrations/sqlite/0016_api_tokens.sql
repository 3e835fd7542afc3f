-- The API for SIPE: named bearer tokens, stored only as the SHA-256 of their secret (shown
-- once at creation), with their scopes, last use and revocation.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    token_hash TEXT NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
    -- The secret's first characters, so an admin can tell tokens apart (never enough to use).
    hint TEXT NOT NULL,
    scopes TEXT NOT NULL CHECK (scopes IN ('lectura', 'personas:escritura', 'lectura personas:escritura')),
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);

-- Who last wrote a person's contact details and when, so SIPE's update never overwrites
-- what the person changed themselves more recently (docs/api-sipe.md, precedence).
ALTER TABLE persons ADD COLUMN contact_self_at TEXT;
-- When SIPE last created or updated this person through the API.
ALTER TABLE persons ADD COLUMN sipe_updated_at TEXT;
-- People with an account typed their contact details themselves when they registered.
UPDATE persons SET contact_self_at = (SELECT u.created_at FROM users u WHERE u.person_id = persons.id);

-- The operator's search at 350,000 people: a DNI prefix is a range on this index, and the
-- list sorted by name within a territory (department) walks this one.
CREATE INDEX persons_dni_prefix_idx ON persons(dni COLLATE NOCASE);
CREATE INDEX persons_department_name_idx ON persons(department_id, last_name, first_name, id);
