//! Assessment: quizzes and question banks.
//!
//! This is the pure domain core, with no I/O, database or HTTP: the question model and its
//! validation rules ([`question`]), automatic grading of learners' responses ([`grading`]) and the
//! import of question banks written in Moodle's GIFT format ([`gift`]), which is what our
//! instructors already have.
//!
//! Routes, storage (banks, quizzes, attempts) and the instructors' grading queue for essays come
//! later and build on these types; nothing here depends on the rest of the crate, so it can be
//! tested in isolation.
//!
//! Grading works with *fractions* in `0.0..=1.0` of a question's value; turning a fraction into
//! points is [`grading::score`]'s job, so the same question can be worth different points in
//! different quizzes.

pub mod gift;
pub mod grading;
pub mod question;
