-- Certification: institutions' details, competency standards and their mapping to course
-- competencies, institutions' signing keys (sealed), certificates and the audit log.
-- A class's certifying institution is classes.institution_id (0001); its certifiers are
-- role_grants with role 'certifier' (0001).
ALTER TABLE institutions ADD COLUMN address TEXT;
ALTER TABLE institutions ADD COLUMN logo BLOB;

CREATE TABLE competency_standards (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    code TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 40),
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description TEXT NOT NULL DEFAULT '',
    units TEXT NOT NULL DEFAULT '',
    hours INTEGER CHECK (hours IS NULL OR hours > 0),
    created_at TEXT NOT NULL,
    CONSTRAINT competency_standards_code_key UNIQUE (institution_id, code)
);

-- A course competency (course.toml, by its code: re-importing a course keeps the link)
-- aligned to an institution's standard.
CREATE TABLE competency_standard_links (
    course_id INTEGER NOT NULL REFERENCES courses(id),
    competency_code TEXT NOT NULL,
    standard_id INTEGER NOT NULL REFERENCES competency_standards(id),
    PRIMARY KEY (course_id, competency_code, standard_id)
);
CREATE INDEX competency_standard_links_standard_idx ON competency_standard_links(standard_id);

-- Signing keys: the private half only sealed with the master key. Retired keys stay
-- published so the certificates they signed keep verifying; one current key per institution.
CREATE TABLE institution_keys (
    kid TEXT PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    public_jwk TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);
CREATE UNIQUE INDEX institution_keys_current_key ON institution_keys(institution_id) WHERE retired_at IS NULL;

CREATE TABLE certificates (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL CONSTRAINT certificates_code_key UNIQUE CHECK (length(code) = 11),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    -- The certified competencies' codes, sorted, comma-separated.
    competency_set TEXT NOT NULL,
    status_index INTEGER NOT NULL CHECK (status_index >= 0 AND status_index < 131072),
    kid TEXT NOT NULL REFERENCES institution_keys(kid),
    credential TEXT NOT NULL,
    vc_jwt TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    issued_by INTEGER NOT NULL REFERENCES users(id),
    revoked_at TEXT,
    revoked_by INTEGER REFERENCES users(id),
    revoke_reason TEXT,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL) AND (revoked_at IS NULL) = (revoke_reason IS NULL)),
    CONSTRAINT certificates_once_key UNIQUE (person_id, class_id, competency_set),
    CONSTRAINT certificates_status_index_key UNIQUE (institution_id, status_index)
);
CREATE INDEX certificates_person_idx ON certificates(person_id);
CREATE INDEX certificates_class_idx ON certificates(class_id);

-- Every certifier's decision, with the evidence as it was. Append-only: never updated or
-- deleted (the triggers refuse it).
CREATE TABLE certification_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES users(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    certificate_id INTEGER REFERENCES certificates(id),
    decision TEXT NOT NULL CHECK (decision IN ('emitido', 'rechazado', 'revocado')),
    reason TEXT,
    evidence TEXT NOT NULL
);
CREATE INDEX certification_audit_class_idx ON certification_audit(class_id, person_id);

CREATE TRIGGER certification_audit_no_update BEFORE UPDATE ON certification_audit
BEGIN
    SELECT RAISE(ABORT, 'certification_audit is append-only');
END;
CREATE TRIGGER certification_audit_no_delete BEFORE DELETE ON certification_audit
BEGIN
    SELECT RAISE(ABORT, 'certification_audit is append-only');
END;
