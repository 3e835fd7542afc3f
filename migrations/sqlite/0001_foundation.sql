-- Aula foundation schema (SQLite). Keep in step with migrations/postgres/0001_foundation.sql.
-- Times are UTC, stored as RFC 3339 text written by the application.

CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE localities (
    id INTEGER PRIMARY KEY,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    name TEXT NOT NULL,
    UNIQUE (department_id, name)
);

CREATE TABLE offices (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CONSTRAINT offices_name_key UNIQUE,
    address TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

CREATE TABLE office_departments (
    office_id INTEGER NOT NULL REFERENCES offices(id) ON DELETE CASCADE,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    PRIMARY KEY (office_id, department_id)
);

CREATE TABLE institutions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CONSTRAINT institutions_name_key UNIQUE,
    cuit TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    dni TEXT NOT NULL CONSTRAINT persons_dni_key UNIQUE CHECK (length(dni) BETWEEN 7 AND 8),
    cuil TEXT NOT NULL CONSTRAINT persons_cuil_key UNIQUE CHECK (length(cuil) = 11),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    department_id INTEGER NOT NULL REFERENCES departments(id),
    locality_id INTEGER REFERENCES localities(id),
    search_name TEXT NOT NULL,
    created_by INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX persons_department_idx ON persons(department_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL CONSTRAINT users_person_key UNIQUE REFERENCES persons(id),
    email TEXT CONSTRAINT users_email_key UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions(user_id);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    count INTEGER NOT NULL
);

CREATE TABLE courses (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL CONSTRAINT courses_slug_key UNIQUE,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    category TEXT NOT NULL,
    hours INTEGER NOT NULL CHECK (hours > 0),
    modality TEXT NOT NULL CHECK (modality IN ('virtual', 'presencial', 'semipresencial')),
    audience TEXT NOT NULL,
    description_html TEXT NOT NULL,
    cover TEXT,
    min_lessons_percent INTEGER NOT NULL CHECK (min_lessons_percent BETWEEN 1 AND 100),
    search_text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    imported_at TEXT NOT NULL
);

CREATE TABLE competencies (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    UNIQUE (course_id, code)
);

CREATE TABLE lessons (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES courses(id),
    key TEXT NOT NULL,
    title TEXT NOT NULL,
    position INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    body_html TEXT NOT NULL,
    video TEXT,
    retired BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (course_id, key)
);

CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES courses(id),
    name TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    enrol_opens_at TEXT NOT NULL,
    enrol_closes_at TEXT NOT NULL,
    seats INTEGER NOT NULL CHECK (seats >= 0),
    seats_taken INTEGER NOT NULL DEFAULT 0,
    department_id INTEGER REFERENCES departments(id),
    institution_id INTEGER REFERENCES institutions(id),
    created_at TEXT NOT NULL,
    CONSTRAINT classes_seats_taken_check CHECK (seats_taken >= 0 AND seats_taken <= seats),
    CONSTRAINT classes_dates_check CHECK (ends_on >= starts_on)
);
CREATE INDEX classes_course_idx ON classes(course_id);

CREATE TABLE role_grants (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'instructor', 'certifier')),
    office_id INTEGER REFERENCES offices(id) ON DELETE CASCADE,
    class_id INTEGER REFERENCES classes(id) ON DELETE CASCADE,
    institution_id INTEGER REFERENCES institutions(id) ON DELETE CASCADE,
    granted_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    CHECK (
        (role = 'admin' AND office_id IS NULL AND class_id IS NULL AND institution_id IS NULL)
        OR (role = 'operator' AND office_id IS NOT NULL AND class_id IS NULL AND institution_id IS NULL)
        OR (role = 'instructor' AND class_id IS NOT NULL AND office_id IS NULL AND institution_id IS NULL)
        OR (role = 'certifier' AND institution_id IS NOT NULL AND office_id IS NULL AND class_id IS NULL)
    )
);
CREATE UNIQUE INDEX role_grants_unique ON role_grants
    (user_id, role, COALESCE(office_id, 0), COALESCE(class_id, 0), COALESCE(institution_id, 0));

CREATE TABLE enrolments (
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'withdrawn', 'completed')),
    queued_at TEXT NOT NULL,
    enrolled_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_activity_at TEXT,
    CONSTRAINT enrolments_class_person_key UNIQUE (class_id, person_id)
);
CREATE INDEX enrolments_person_idx ON enrolments(person_id);
CREATE INDEX enrolments_queue_idx ON enrolments(class_id, status, queued_at, id);

CREATE TABLE lesson_progress (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    lesson_id INTEGER NOT NULL REFERENCES lessons(id),
    completed_at TEXT NOT NULL,
    PRIMARY KEY (person_id, lesson_id)
);
