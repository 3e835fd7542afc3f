-- Course completion rule on live classes: the share of a class's held live sessions a learner
-- must attend (`[completion] min_attendance_percent` in course.toml; NULL = no such rule).
ALTER TABLE courses ADD COLUMN min_attendance_percent BIGINT
    CHECK (min_attendance_percent BETWEEN 1 AND 100);
