-- Assessments: question banks and quizzes imported from course files, attempts and grades.

-- A question of a course's banks, keyed "<bank>/<id>"; `body` is the question as JSON.
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES courses(id),
    key TEXT NOT NULL,
    category TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    retired BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (course_id, key)
);

CREATE TABLE quizzes (
    id INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES courses(id),
    key TEXT NOT NULL,
    title TEXT NOT NULL,
    intro_html TEXT NOT NULL,
    position INTEGER NOT NULL,
    opens_at TEXT,
    closes_at TEXT,
    time_limit_seconds INTEGER CHECK (time_limit_seconds > 0),
    attempts_allowed INTEGER NOT NULL CHECK (attempts_allowed >= 0),
    passing_percent INTEGER NOT NULL CHECK (passing_percent BETWEEN 0 AND 100),
    grading_method TEXT NOT NULL CHECK (grading_method IN ('highest', 'last', 'average')),
    shuffle_questions BOOLEAN NOT NULL,
    shuffle_options BOOLEAN NOT NULL,
    per_page INTEGER NOT NULL CHECK (per_page >= 1),
    review_answers TEXT NOT NULL CHECK (review_answers IN ('after_submit', 'after_close', 'never')),
    review_score TEXT NOT NULL CHECK (review_score IN ('after_submit', 'after_close', 'never')),
    slots TEXT NOT NULL,
    completion_percent INTEGER CHECK (completion_percent BETWEEN 0 AND 100),
    retired BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (course_id, key)
);

-- One attempt of a learner at a quiz, in the class through which they take the course.
-- state: in_progress -> (pending: essays wait for an instructor) -> graded.
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    quiz_id INTEGER NOT NULL REFERENCES quizzes(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    number INTEGER NOT NULL CHECK (number >= 1),
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'pending', 'graded')),
    started_at TEXT NOT NULL,
    deadline_at TEXT,
    last_saved_at TEXT,
    submitted_at TEXT,
    closed_by TEXT CHECK (closed_by IN ('learner', 'deadline')),
    max_points REAL NOT NULL CHECK (max_points > 0),
    points REAL,
    percent REAL,
    CONSTRAINT attempts_number_key UNIQUE (quiz_id, class_id, person_id, number),
    CHECK ((state = 'in_progress') = (submitted_at IS NULL))
);
-- At most one open attempt per learner and quiz: two tabs starting at once get the same one.
CREATE UNIQUE INDEX attempts_one_open ON attempts (quiz_id, class_id, person_id) WHERE state = 'in_progress';
CREATE INDEX attempts_deadline_idx ON attempts (deadline_at) WHERE state = 'in_progress';
CREATE INDEX attempts_class_idx ON attempts (class_id, quiz_id);

-- The questions drawn for an attempt, frozen (question snapshot and option order), with the
-- learner's response and its grade. `fraction` is NULL until graded.
CREATE TABLE attempt_answers (
    attempt_id INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
    slot INTEGER NOT NULL,
    page INTEGER NOT NULL,
    question_key TEXT NOT NULL,
    question TEXT NOT NULL,
    option_order TEXT NOT NULL,
    max_points REAL NOT NULL,
    response TEXT,
    saved_at TEXT,
    fraction REAL CHECK (fraction BETWEEN 0 AND 1),
    comment TEXT,
    graded_by INTEGER REFERENCES users(id),
    graded_at TEXT,
    PRIMARY KEY (attempt_id, slot)
);

-- The quiz grade of a learner in a class by the quiz's grading method, kept up to date when an
-- attempt is graded; read by the gradebook and the completion rules.
CREATE TABLE quiz_grades (
    quiz_id INTEGER NOT NULL REFERENCES quizzes(id),
    class_id INTEGER NOT NULL REFERENCES classes(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    percent REAL NOT NULL,
    passed BOOLEAN NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (quiz_id, class_id, person_id)
);

-- A class's own opening and closing times for a quiz, set by its instructor (the course file's
-- times serve every class otherwise). NULL means no limit on that side.
CREATE TABLE quiz_windows (
    quiz_id INTEGER NOT NULL REFERENCES quizzes(id),
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
    opens_at TEXT,
    closes_at TEXT,
    set_by INTEGER REFERENCES users(id),
    set_at TEXT NOT NULL,
    PRIMARY KEY (quiz_id, class_id),
    CHECK (opens_at IS NULL OR closes_at IS NULL OR closes_at > opens_at)
);
