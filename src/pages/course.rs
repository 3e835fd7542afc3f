//! The course page: the course, its outline with this learner's progress, its quizzes and
//! the classes one can enrol in.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};

use crate::{
    assessment::attempts::{QuizRow, course_quizzes},
    catalog::queries::{self, ClassInfo, Competency, Course, OutlineLesson},
    enrolment::queries::{self as enrol, EnrolmentSummary},
    web::{
        auth::MaybeUser,
        error::{AppError, AppResult},
        layout::{Ctx, Page, render},
        state::AppState,
    },
};

/// A class on the course page, with this user's enrolment in it.
pub struct ClassRow {
    pub class: ClassInfo,
    pub mine: Option<EnrolmentSummary>,
}

impl ClassRow {
    /// Enrolled or waitlisted (not withdrawn): offers withdrawal instead of enrolment.
    pub fn is_enrolled(&self) -> bool {
        self.mine.as_ref().is_some_and(|e| !e.is_withdrawn())
    }
}

#[derive(Template)]
#[template(path = "pages/course.html")]
pub struct CoursePage {
    page: Page,
    course: Course,
    competencies: Vec<Competency>,
    lessons: Vec<OutlineLesson>,
    quizzes: Vec<QuizRow>,
    classes: Vec<ClassRow>,
    can_study: bool,
    done: usize,
    percent: i64,
}

impl CoursePage {
    /// The lesson the «Empezar»/«Seguir» button opens: the first one not done yet.
    pub fn next_lesson(&self) -> Option<&OutlineLesson> {
        self.lessons.iter().find(|l| !l.done)
    }
}

/// `GET /cursos/{slug}`
pub async fn course(
    State(state): State<AppState>,
    ctx: Ctx,
    MaybeUser(user): MaybeUser,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let course = queries::course_by_slug(&state.db, &slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let person_id = user.as_ref().map(|u| u.person_id).unwrap_or(0);
    let lessons = queries::outline(&state.db, course.id, person_id).await?;
    let mine = if person_id > 0 {
        let all = enrol::summaries(&state.db, person_id).await?;
        all.into_iter()
            .filter(|e| e.course_slug == course.slug)
            .collect()
    } else {
        vec![]
    };
    let can_study = mine.iter().any(|e| e.is_active());
    let classes = queries::current_classes(&state.db, course.id)
        .await?
        .into_iter()
        .map(|class| {
            let m = mine.iter().find(|e| e.class_id == class.id).cloned();
            ClassRow { class, mine: m }
        })
        .collect();
    let done = lessons.iter().filter(|l| l.done).count();
    let percent = queries::lessons_percent(done as i64, lessons.len() as i64);
    render(&CoursePage {
        page: ctx.page(course.title.clone()),
        competencies: queries::competencies(&state.db, course.id).await?,
        quizzes: course_quizzes(&state.db, course.id, None).await?,
        course,
        lessons,
        classes,
        can_study,
        done,
        percent,
    })
}
