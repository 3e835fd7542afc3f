//! CSV downloads that open correctly in a spreadsheet: UTF-8 with a byte-order mark (so
//! accents show in Excel), served as an attachment that no cache keeps (they carry DNIs and
//! grades: a shared computer's browser or a proxy must not store them).

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::web::error::{AppError, AppResult};

/// A CSV attachment named `filename` with a header row and data rows.
pub fn csv_download<R, I>(filename: &str, header_row: &[String], rows: R) -> AppResult<Response>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = String>,
{
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let io = |e: csv::Error| AppError::Internal(e.into());
    w.write_record(header_row).map_err(io)?;
    for row in rows {
        w.write_record(row).map_err(io)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
                    .map_err(|e| AppError::Internal(e.into()))?,
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        body,
    )
        .into_response())
}
