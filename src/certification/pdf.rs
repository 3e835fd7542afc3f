//! The printable certificate: one A4 landscape page with the institution, the holder, the
//! competencies, the human code and a QR code of the verification page.
//!
//! Drawn by Aula itself with krilla (text with an embedded, subset DejaVu Serif, so accents
//! come out right and a certificate weighs a few tens of KB) and `qrcode` (modules drawn as
//! vector squares, sharp at any zoom and in print).

use chrono::{Datelike, NaiveDate};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use qrcode::{EcLevel, QrCode};

use super::code::CertCode;

const SERIF: &[u8] = include_bytes!("../../static/fonts/DejaVuSerif.ttf");
const SERIF_BOLD: &[u8] = include_bytes!("../../static/fonts/DejaVuSerif-Bold.ttf");

/// A4 landscape, in points.
const W: f32 = 841.89;
const H: f32 = 595.28;

const NAVY: (u8, u8, u8) = (0x1b, 0x36, 0x5d);
const GOLD: (u8, u8, u8) = (0xa8, 0x89, 0x4f);
const INK: (u8, u8, u8) = (0x22, 0x22, 0x22);
const GREY: (u8, u8, u8) = (0x55, 0x5b, 0x66);

/// What the printed certificate shows.
#[derive(Clone, Debug)]
pub struct CertificatePdf {
    pub institution: String,
    /// The institution's logo, PNG or JPEG (anything else is left out).
    pub logo: Option<Vec<u8>>,
    /// The holder's full name, as on their DNI.
    pub holder: String,
    /// The holder's DNI; only its last three digits are printed.
    pub dni: String,
    pub course: String,
    /// Competencies as "code", "title", hours.
    pub competencies: Vec<(String, String, Option<u32>)>,
    pub hours: u32,
    pub issued_on: NaiveDate,
    pub code: CertCode,
    /// The public verification page, encoded in the QR code.
    pub verify_url: String,
}

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("El logo tiene que ser una imagen PNG o JPEG")]
    UnsupportedLogo,
    #[error("No se pudo generar el PDF del certificado: {0}")]
    Render(String),
}

/// `**.***.678`: the DNI with all but its last three digits hidden, dots kept.
pub fn mask_dni(dni: &str) -> String {
    let digits: Vec<char> = dni.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    let mut out = String::new();
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(if i + 3 >= n { *d } else { '*' });
    }
    out
}

/// «2 de diciembre de 2026».
pub fn long_date(date: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    format!(
        "{} de {} de {}",
        date.day(),
        MONTHS[date.month0() as usize],
        date.year()
    )
}

/// Checks that a logo can go on the certificate (PNG or JPEG that decodes).
pub fn check_logo(bytes: &[u8]) -> Result<(), PdfError> {
    load_logo(bytes).map(|_| ())
}

fn load_logo(bytes: &[u8]) -> Result<Image, PdfError> {
    let data = bytes.to_vec().into();
    let image = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Image::from_png(data, true)
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Image::from_jpeg(data, true)
    } else {
        return Err(PdfError::UnsupportedLogo);
    };
    image.map_err(|_| PdfError::UnsupportedLogo)
}

/// A font with what is needed to measure text (krilla only shapes while drawing).
struct Face {
    font: Font,
    face: ttf_parser::Face<'static>,
}

impl Face {
    fn load(bytes: &'static [u8]) -> Result<Face, PdfError> {
        let bad = || PdfError::Render("fuente inválida".into());
        Ok(Face {
            font: Font::new(bytes.into(), 0).ok_or_else(bad)?,
            face: ttf_parser::Face::parse(bytes, 0).map_err(|_| bad())?,
        })
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text
            .chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .unwrap_or(0) as f32
            })
            .sum();
        units * size / f32::from(self.face.units_per_em())
    }

    /// Greedy word wrap to `max` points.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) > max && !line.is_empty() {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

fn fill(color: (u8, u8, u8)) -> Option<Fill> {
    Some(Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    })
}

fn stroke(color: (u8, u8, u8), width: f32) -> Option<Stroke> {
    Some(Stroke {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        width,
        ..Default::default()
    })
}

struct Painter<'s, 'p> {
    surface: &'s mut Surface<'p>,
    regular: Face,
    bold: Face,
}

impl Painter<'_, '_> {
    fn text(&mut self, bold: bool, size: f32, color: (u8, u8, u8), x: f32, y: f32, text: &str) {
        let face = if bold { &self.bold } else { &self.regular };
        self.surface.set_fill(fill(color));
        self.surface.draw_text(
            Point::from_xy(x, y),
            face.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    fn centered(&mut self, bold: bool, size: f32, color: (u8, u8, u8), y: f32, text: &str) {
        let face = if bold { &self.bold } else { &self.regular };
        let x = (W - face.width(text, size)) / 2.0;
        self.text(bold, size, color, x, y, text);
    }

    fn rect_outline(&mut self, inset: f32, color: (u8, u8, u8), width: f32) {
        let mut pb = PathBuilder::new();
        if let Some(r) = Rect::from_xywh(inset, inset, W - 2.0 * inset, H - 2.0 * inset) {
            pb.push_rect(r);
        }
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(stroke(color, width));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }

    fn hline(&mut self, x0: f32, x1: f32, y: f32, color: (u8, u8, u8), width: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(x0, y);
        pb.line_to(x1, y);
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(stroke(color, width));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }

    /// The QR code of `url` in a `size`-point square whose top-left corner is (x, y), quiet
    /// zone included; each run of dark modules in a row is one rectangle.
    fn qr(&mut self, url: &str, x: f32, y: f32, size: f32) -> Result<(), PdfError> {
        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
            .map_err(|e| PdfError::Render(format!("código QR: {e}")))?;
        let n = code.width();
        let quiet = 4;
        let module = size / (n + 2 * quiet) as f32;
        let colors = code.to_colors();
        let mut pb = PathBuilder::new();
        for row in 0..n {
            let mut col = 0;
            while col < n {
                if colors[row * n + col] == qrcode::Color::Dark {
                    let start = col;
                    while col < n && colors[row * n + col] == qrcode::Color::Dark {
                        col += 1;
                    }
                    if let Some(r) = Rect::from_xywh(
                        x + (quiet + start) as f32 * module,
                        y + (quiet + row) as f32 * module,
                        (col - start) as f32 * module,
                        module,
                    ) {
                        pb.push_rect(r);
                    }
                } else {
                    col += 1;
                }
            }
        }
        if let Some(path) = pb.finish() {
            self.surface.set_stroke(None);
            self.surface.set_fill(fill((0, 0, 0)));
            self.surface.draw_path(&path);
        }
        Ok(())
    }

    fn logo(&mut self, image: Image, x: f32, y: f32, max: f32) {
        let (w, h) = image.size();
        let scale = max / (w.max(h) as f32);
        let (dw, dh) = (w as f32 * scale, h as f32 * scale);
        if let Some(size) = Size::from_wh(dw, dh) {
            self.surface.push_transform(&Transform::from_translate(
                x + (max - dw) / 2.0,
                y + (max - dh) / 2.0,
            ));
            self.surface.draw_image(image, size);
            self.surface.pop();
        }
    }
}

/// The certificate as a one-page PDF.
pub fn render(cert: &CertificatePdf) -> Result<Vec<u8>, PdfError> {
    let logo = match cert.logo.as_deref().map(load_logo) {
        Some(Ok(image)) => Some(image),
        Some(Err(_)) => {
            tracing::warn!(institution = %cert.institution, "logo no admitido: el certificado sale sin logo");
            None
        }
        None => None,
    };
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("Certificado de {} — {}", cert.holder, cert.course))
            .authors(vec![cert.institution.clone()])
            .creator("Aula".into())
            .language("es-AR".into()),
    );
    let settings =
        PageSettings::from_wh(W, H).ok_or_else(|| PdfError::Render("tamaño de página".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    let mut p = Painter {
        surface: &mut surface,
        regular: Face::load(SERIF)?,
        bold: Face::load(SERIF_BOLD)?,
    };

    // Frame: a navy border and a fine gold line inside it.
    p.rect_outline(20.0, NAVY, 3.0);
    p.rect_outline(28.0, GOLD, 0.8);

    // Header: logo, institution.
    let header_y = 84.0;
    if let Some(image) = logo {
        p.logo(image, 56.0, 46.0, 64.0);
    }
    // A long name goes on two lines rather than in tiny type.
    let header_w = W - 2.0 * 150.0;
    let (header_size, header) = wrap_fit(
        &p.bold,
        &cert.institution,
        &[15.0, 13.5, 12.0, 10.5],
        header_w,
    );
    let header_y = header_y - 8.0 * (header.len() - 1) as f32;
    for (i, line) in header.iter().enumerate() {
        let size = fit(&p.bold, line, header_size, header_w);
        p.centered(true, size, NAVY, header_y + i as f32 * 16.0, line);
    }
    let header_y = header_y + 16.0 * (header.len() - 1) as f32;
    p.centered(
        false,
        9.5,
        GREY,
        header_y + 17.0,
        "Institución de Formación Profesional · Tucumán Capacita",
    );

    // Title.
    p.centered(true, 30.0, NAVY, 158.0, "Certificado de competencias");
    p.hline(W / 2.0 - 70.0, W / 2.0 + 70.0, 173.0, GOLD, 1.2);

    // Holder.
    p.centered(false, 13.0, INK, 204.0, "Se certifica que");
    let name_size = fit(&p.bold, &cert.holder, 28.0, W - 2.0 * 90.0);
    p.centered(true, name_size, INK, 244.0, &cert.holder);
    p.centered(
        false,
        11.5,
        GREY,
        266.0,
        &format!("DNI {}", mask_dni(&cert.dni)),
    );

    // What they did.
    let sentence = if cert.competencies.is_empty() {
        format!(
            "completó el curso «{}», de {} horas.",
            cert.course, cert.hours
        )
    } else {
        format!(
            "completó el curso «{}», de {} horas, y demostró {}:",
            cert.course,
            cert.hours,
            if cert.competencies.len() == 1 {
                "la siguiente competencia"
            } else {
                "las siguientes competencias"
            }
        )
    };
    let sentence = p.regular.wrap(&sentence, 13.0, W - 2.0 * 110.0);

    // Competencies: one centred column while they fit at a readable size, then two
    // left-aligned columns, then as many as fit and "y N más". The whole block sits a third of
    // the way down the free space between the holder and the footer.
    let (top, bottom) = (298.0, 452.0);
    let lines: Vec<String> = cert
        .competencies
        .iter()
        .map(|(code, title, hours)| match hours {
            Some(h) => format!("{code} · {title} ({h} h)"),
            None => format!("{code} · {title}"),
        })
        .collect();
    let available = bottom - top - sentence.len() as f32 * 18.0 - 4.0;
    let rows_fitting = |step: f32| (available / step).floor().max(1.0) as usize;
    let layout = [
        (12.0, 17.0, 1),
        (11.0, 15.0, 1),
        (11.0, 15.0, 2),
        (10.0, 13.5, 2),
    ]
    .into_iter()
    .find(|&(_, step, cols)| lines.len().div_ceil(cols) <= rows_fitting(step));
    let (size, step, columns, shown) = match layout {
        Some((size, step, cols)) => (size, step, cols, lines.len()),
        // Keep a row for "y N más".
        None => (10.0, 13.5, 2, (rows_fitting(13.5) - 1) * 2),
    };
    let rows = shown.div_ceil(columns) + usize::from(shown < lines.len());
    let used = sentence.len() as f32 * 18.0 + 4.0 + rows as f32 * step;
    let mut y = top + ((bottom - top - used) / 3.0).max(0.0);
    for line in &sentence {
        p.centered(false, 13.0, INK, y, line);
        y += 18.0;
    }
    y += 4.0;
    if columns == 1 {
        for line in &lines {
            let size = fit(&p.regular, line, size, W - 2.0 * 100.0);
            p.centered(false, size, INK, y, line);
            y += step;
        }
    } else {
        let (margin, gap) = (100.0, 24.0);
        let column_w = (W - 2.0 * margin - gap) / 2.0;
        let per_column = shown.div_ceil(2);
        for (i, line) in lines.iter().take(shown).enumerate() {
            let (col, row) = (i / per_column, i % per_column);
            let x = margin + col as f32 * (column_w + gap);
            let size = fit(&p.regular, line, size, column_w);
            p.text(false, size, INK, x, y + row as f32 * step, line);
        }
        y += per_column as f32 * step;
    }
    if shown < lines.len() {
        let more = format!(
            "y {} competencias más, detalladas en la verificación en línea",
            lines.len() - shown
        );
        p.centered(false, size, GREY, y, &more);
    }

    // Footer: date and code on the left, signature in the middle, QR on the right.
    let left = 62.0;
    p.text(
        false,
        11.0,
        INK,
        left,
        488.0,
        &format!("Tucumán, {}", long_date(cert.issued_on)),
    );
    p.text(false, 9.5, GREY, left, 512.0, "Código de verificación");
    p.text(true, 15.0, NAVY, left, 531.0, &cert.code.to_string());

    let sig_w = 220.0;
    p.hline(
        W / 2.0 - sig_w / 2.0,
        W / 2.0 + sig_w / 2.0,
        500.0,
        GREY,
        0.6,
    );
    p.centered(false, 9.5, GREY, 514.0, "Firmado digitalmente por");
    let (signer_size, signer) =
        wrap_fit(&p.bold, &cert.institution, &[10.0, 9.0, 8.0], sig_w + 100.0);
    for (i, line) in signer.iter().enumerate() {
        let size = fit(&p.bold, line, signer_size, sig_w + 100.0);
        p.centered(true, size, INK, 527.0 + i as f32 * 11.5, line);
    }

    let qr = 96.0;
    p.qr(&cert.verify_url, W - 40.0 - qr, 446.0, qr)?;

    let verify = format!("Verificá este certificado en {}", cert.verify_url);
    let verify_size = fit(&p.regular, &verify, 9.0, W - 2.0 * 160.0);
    p.centered(false, verify_size, GREY, 556.0, &verify);

    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| PdfError::Render(format!("{e:?}")))
}

/// `text` on one line at one of the first two sizes if it fits in `max` points, else on two
/// lines at the first size where two suffice; past the last size, two lines of the smallest
/// size with the rest cut at a word and marked with an ellipsis (never silently cut).
fn wrap_fit(face: &Face, text: &str, sizes: &[f32], max: f32) -> (f32, Vec<String>) {
    if let Some(&size) = sizes.iter().take(2).find(|&&s| face.width(text, s) <= max) {
        return (size, vec![text.to_string()]);
    }
    let smallest = sizes.last().copied().unwrap_or(10.0);
    for &size in sizes {
        let lines = face.wrap(text, size, max);
        if lines.len() <= 2 {
            return (size, lines);
        }
    }
    let mut lines = face.wrap(text, smallest, max);
    lines.truncate(2);
    if let Some(last) = lines.last_mut() {
        last.push('…');
    }
    (smallest, lines)
}

/// The largest size up to `size` at which `text` fits in `max` points (never below 7).
fn fit(face: &Face, text: &str, size: f32, max: f32) -> f32 {
    let w = face.width(text, size);
    if w <= max {
        size
    } else {
        (size * max / w).max(7.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dni_is_masked_but_for_its_last_three_digits() {
        assert_eq!(mask_dni("30123678"), "**.***.678");
        assert_eq!(mask_dni("30.123.678"), "**.***.678");
        assert_eq!(mask_dni("5123678"), "*.***.678");
        assert_eq!(mask_dni("678"), "678");
    }

    #[test]
    fn dates_are_written_out_in_spanish() {
        assert_eq!(
            long_date(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()),
            "2 de diciembre de 2026"
        );
        assert_eq!(
            long_date(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()),
            "31 de enero de 2027"
        );
    }

    #[test]
    fn only_png_and_jpeg_logos_are_accepted() {
        assert!(matches!(
            check_logo(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(PdfError::UnsupportedLogo)
        ));
        assert!(matches!(
            check_logo(b"\x89PNG\r\n\x1a\nbasura"),
            Err(PdfError::UnsupportedLogo)
        ));
    }

    #[test]
    fn text_is_wrapped_within_the_width() {
        let face = Face::load(SERIF).unwrap();
        let lines = face.wrap(
            "uno dos tres cuatro cinco seis siete ocho nueve diez",
            12.0,
            80.0,
        );
        assert!(lines.len() > 2);
        assert!(
            lines
                .iter()
                .all(|l| face.width(l, 12.0) <= 80.0 || !l.contains(' '))
        );
        assert_eq!(
            lines.join(" "),
            "uno dos tres cuatro cinco seis siete ocho nueve diez"
        );
    }

    fn sample() -> CertificatePdf {
        CertificatePdf {
            institution: "Centro de Formación Profesional N.º 12 «Juan B. Alberdi»".into(),
            logo: Some(include_bytes!("../../tests/fixtures/logo-ifp.png").to_vec()),
            holder: "María Pérez Núñez".into(),
            dni: "30.123.678".into(),
            course: "Herramientas digitales para el empleo".into(),
            competencies: vec![
                (
                    "NC-101".into(),
                    "Operar la computadora y gestionar archivos".into(),
                    Some(20),
                ),
                (
                    "NC-102".into(),
                    "Redactar documentos y planillas de cálculo".into(),
                    Some(24),
                ),
                (
                    "NC-103".into(),
                    "Buscar empleo y postularse en línea".into(),
                    None,
                ),
            ],
            hours: 60,
            issued_on: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
            code: CertCode::parse("AB3D-EF4H-JK8").unwrap(),
            verify_url: "https://aula.tucuman.gob.ar/verificar/AB3DEF4HJK8".into(),
        }
    }

    fn run(program: &str, args: &[&std::ffi::OsStr]) -> String {
        let out = std::process::Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "{program} is needed for this test ({e}): apt-get install -y poppler-utils zbar-tools"
                )
            });
        assert!(
            out.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The real thing: poppler reads the text back, and zbar decodes the QR code from a
    /// 150 dpi rendering, as a phone camera would from paper.
    #[test]
    #[ignore = "needs poppler-utils and zbar-tools; .ci/run installs them and runs it"]
    fn the_pdf_reads_back_with_accents_and_its_qr_decodes_to_the_url() {
        let cert = sample();
        let pdf = render(&cert).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            pdf.len() < 60_000,
            "a certificate weighs {} bytes",
            pdf.len()
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("certificado.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let text = run("pdftotext", &[file.as_os_str(), "-".as_ref()]);
        for expected in [
            "María Pérez Núñez",
            "DNI **.***.678",
            "Certificado de competencias",
            "Centro de Formación Profesional N.º 12 «Juan B. Alberdi»",
            "«Herramientas digitales para el empleo», de 60 horas",
            "NC-102 · Redactar documentos y planillas de cálculo (24 h)",
            "NC-103 · Buscar empleo y postularse en línea",
            "Tucumán, 2 de diciembre de 2026",
            &cert.code.to_string(),
            "Verificá este certificado en https://aula.tucuman.gob.ar/verificar/AB3DEF4HJK8",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
        assert!(!text.contains("30123678") && !text.contains("30.123.678"));

        let info = run("pdfinfo", &[file.as_os_str()]);
        assert!(info.contains("841.89 x 595.28 pts (A4)"), "{info}");
        let pages = info
            .lines()
            .find(|l| l.starts_with("Pages:"))
            .unwrap_or_default();
        assert_eq!(pages.split_whitespace().nth(1), Some("1"), "{info}");

        let png = dir.path().join("certificado");
        run(
            "pdftoppm",
            &[
                "-r".as_ref(),
                "150".as_ref(),
                "-png".as_ref(),
                "-singlefile".as_ref(),
                file.as_os_str(),
                png.as_os_str(),
            ],
        );
        let png = dir.path().join("certificado.png");
        let decoded = run(
            "zbarimg",
            &["--quiet".as_ref(), "--raw".as_ref(), png.as_os_str()],
        );
        assert_eq!(decoded.trim(), cert.verify_url);

        if let Some(out) = std::env::var_os("AULA_CERT_PDF_OUT") {
            let out = std::path::PathBuf::from(out);
            std::fs::write(out.join("certificado.pdf"), &pdf).unwrap();
            std::fs::copy(&png, out.join("certificado.png")).unwrap();
        }
    }

    #[test]
    #[ignore = "needs poppler-utils and zbar-tools; .ci/run installs them and runs it"]
    fn many_competencies_and_a_long_name_still_fit_on_one_page() {
        let mut cert = sample();
        cert.logo = None;
        cert.institution = "Escuela de Capacitación Laboral y Formación Profesional de la Municipalidad de San Miguel de Tucumán".into();
        cert.competencies = (1..=30)
            .map(|i| {
                (
                    format!("NC-{i:03}"),
                    format!("Competencia número {i} del perfil"),
                    Some(4),
                )
            })
            .collect();
        let pdf = render(&cert).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let text = run("pdftotext", &[file.as_os_str(), "-".as_ref()]);
        assert!(
            text.contains("NC-001 · Competencia número 1 del perfil"),
            "{text}"
        );
        assert!(
            text.contains("competencias más, detalladas en la verificación en línea"),
            "{text}"
        );
        assert!(text.contains("Verificá este certificado en"), "{text}");
        // A long institution name wraps onto two lines instead of being cut.
        assert!(
            text.contains("Municipalidad de San Miguel de Tucumán"),
            "{text}"
        );
        assert!(!text.contains('…'), "{text}");
    }
}
