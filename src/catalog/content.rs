//! A course's lessons as imported, kept in process per course and content hash: they change
//! only when the course is imported again, and then its `content_hash` changes. A page reads
//! the hash in its one query (with the session and the learner's progress) and takes the
//! lessons from here, so two processes agree as soon as either reads the new hash.

use std::sync::Arc;

use crate::{db::Db, with_db};

/// One live lesson of a course, as imported.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LessonContent {
    pub id: i64,
    pub key: String,
    #[sqlx(rename = "lesson_title")]
    pub title: String,
    pub minutes: i64,
    pub body_html: String,
    pub video: Option<String>,
}

/// A course's title and live lessons in order, at one content hash.
#[derive(Debug)]
pub struct CourseContent {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub hash: String,
    pub lessons: Vec<LessonContent>,
}

impl CourseContent {
    /// The lesson with this key (live lessons only).
    pub fn lesson(&self, key: &str) -> Option<&LessonContent> {
        self.lessons.iter().find(|l| l.key == key)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    slug: String,
    title: String,
    hash: String,
    #[sqlx(flatten)]
    lesson: LessonContent,
}

/// Courses' contents by `(course id, content hash)`; clones share one cache.
#[derive(Clone)]
pub struct Contents(Arc<quick_cache::sync::Cache<(i64, String), Arc<CourseContent>>>);

impl Default for Contents {
    fn default() -> Contents {
        Contents(Arc::new(quick_cache::sync::Cache::new(256)))
    }
}

impl Contents {
    /// The content of course `id` at `hash` (read from the database once per hash). `None` if
    /// the course has no live lesson.
    pub async fn get(
        &self,
        db: &Db,
        id: i64,
        hash: &str,
    ) -> Result<Option<Arc<CourseContent>>, sqlx::Error> {
        if let Some(c) = self.0.get(&(id, hash.to_string())) {
            return Ok(Some(c));
        }
        // The hash is read with the lessons, so what is kept is what that hash names even if
        // an import lands between the page's query and this one.
        let rows: Vec<Row> = with_db!(db, |p| sqlx::query_as(
            "SELECT c.slug, c.title, c.content_hash AS hash,
                    l.id, l.key, l.title AS lesson_title, l.minutes, l.body_html, l.video
             FROM courses c JOIN lessons l ON l.course_id = c.id AND NOT l.retired
             WHERE c.id = $1 ORDER BY l.position, l.id"
        )
        .bind(id)
        .fetch_all(p)
        .await)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let content = Arc::new(CourseContent {
            id,
            slug: first.slug.clone(),
            title: first.title.clone(),
            hash: first.hash.clone(),
            lessons: rows.into_iter().map(|r| r.lesson).collect(),
        });
        self.0.insert((id, content.hash.clone()), content.clone());
        Ok(Some(content))
    }
}
