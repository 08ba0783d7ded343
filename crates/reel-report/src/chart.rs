//! Charts drawn with plotters: vertical bars (histograms), lines over years, horizontal
//! bars and grouped bars, as SVG text or PNG bytes.
//!
//! Text is laid out with DejaVu Sans, compiled in (plotters' `ab_glyph` backend), so PNGs
//! render the same on a machine without any system font, and SVG labels are measured with
//! the font the page asks for. Category labels are drawn by hand at the bar centres (the
//! numeric axis uses plotters' mesh), so every bar has its label and none overlap.
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

use crate::{Error, Result};

/// The font, registered once under the family name `sans-serif`.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // Cannot fail: the bytes are a valid TrueType font compiled into the binary.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, FONT);
    });
}

/// The palette (Tableau 10): series `k` always gets colour `k`, in every chart.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (0x4e, 0x79, 0xa7),
    (0xf2, 0x8e, 0x2b),
    (0xe1, 0x57, 0x59),
    (0x76, 0xb7, 0xb2),
    (0x59, 0xa1, 0x4f),
    (0xed, 0xc9, 0x48),
    (0xb0, 0x7a, 0xa1),
    (0xff, 0x9d, 0xa7),
    (0x9c, 0x75, 0x5f),
    (0xba, 0xb0, 0xac),
];

fn color(k: usize) -> RGBColor {
    let (r, g, b) = PALETTE[k % PALETTE.len()];
    RGBColor(r, g, b)
}

const INK: RGBColor = RGBColor(0x33, 0x33, 0x33);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// (year, value) points, in year order.
    pub points: Vec<(i32, f64)>,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Chart {
    /// Vertical bars, one per labelled bin (a histogram of a discrete value).
    Histogram {
        /// Chart title.
        title: String,
        /// Caption of the category axis.
        x_label: String,
        /// Caption of the value axis.
        y_label: String,
        /// (bin label, value).
        bins: Vec<(String, f64)>,
    },
    /// Lines over years.
    Line {
        /// Chart title.
        title: String,
        /// Caption of the year axis.
        x_label: String,
        /// Caption of the value axis.
        y_label: String,
        /// The lines.
        series: Vec<Series>,
    },
    /// Horizontal bars, first item on top, each with its value written at its end.
    HBar {
        /// Chart title.
        title: String,
        /// Caption of the value axis.
        x_label: String,
        /// (label, value).
        bars: Vec<(String, f64)>,
    },
    /// Groups of vertical bars, one bar per series in each group.
    Grouped {
        /// Chart title.
        title: String,
        /// Caption of the value axis.
        y_label: String,
        /// Group labels along the bottom.
        groups: Vec<String>,
        /// (series name, one value per group); `NaN` draws no bar.
        series: Vec<(String, Vec<f64>)>,
    },
}

impl Chart {
    /// The title.
    pub fn title(&self) -> &str {
        match self {
            Chart::Histogram { title, .. }
            | Chart::Line { title, .. }
            | Chart::HBar { title, .. }
            | Chart::Grouped { title, .. } => title,
        }
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Chart::HBar { bars, .. } => (900, (90 + 26 * bars.len().max(1)).min(2400) as u32),
            _ => (900, 440),
        }
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> Result<String> {
        register_font();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_err)?;
        }
        Ok(out)
    }

    /// The chart as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        register_font();
        let (w, h) = self.size();
        let mut rgb = vec![0u8; (w as usize) * (h as usize) * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_err)?;
        }
        encode_png(&rgb, w, h)
    }

    /// Writes the chart to `path`: SVG or PNG by its extension.
    pub fn write_file(&self, path: &std::path::Path) -> Result<()> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let bytes = match ext.as_deref() {
            Some("svg") => self.to_svg()?.into_bytes(),
            Some("png") => self.to_png()?,
            _ => {
                return Err(Error::BadChartPath { path: path.display().to_string() });
            }
        };
        // A chart path names a file; its folder is made, as for `--html DIR`.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io { path: dir.display().to_string(), source: e })?;
        }
        std::fs::write(path, bytes).map_err(|e| Error::Io { path: path.display().to_string(), source: e })
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(draw_err)?;
        match self {
            Chart::Histogram { title, x_label, y_label, bins } => {
                let groups: Vec<String> = bins.iter().map(|b| b.0.clone()).collect();
                let values: Vec<f64> = bins.iter().map(|b| b.1).collect();
                vertical_bars(root, title, Some(x_label.as_str()), y_label, &groups, &[(String::new(), values)], false)
            }
            Chart::Grouped { title, y_label, groups, series } => {
                vertical_bars(root, title, None, y_label, groups, series, true)
            }
            Chart::Line { title, x_label, y_label, series } => line(root, title, x_label, y_label, series),
            Chart::HBar { title, x_label, bars } => hbar(root, title, x_label, bars),
        }
    }
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Chart(e.to_string())
}

/// A PNG of 8-bit RGB pixels: signature, IHDR, one zlib IDAT (filter 0 per row), IEND.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    use std::io::Write as _;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let stride = w as usize * 3;
    let mut raw = Vec::with_capacity((stride + 1) * h as usize);
    for row in rgb.chunks(stride.max(1)).take(h as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).map_err(|e| Error::Chart(format!("compressing the PNG: {e}")))?;
    let idat = z.finish().map_err(|e| Error::Chart(format!("compressing the PNG: {e}")))?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, adaptive filters, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Numbers for people: `1.2B`, `35.4M`, `12.3K`, `950`, `4.49`.
pub fn human(v: f64) -> String {
    human_in(v, v)
}

/// Tick labels of an axis from `lo` to `hi`: every tick in the unit of the larger end, so
/// an axis reads `0, 5K, 10K, 15K`, never `5000` next to `10K`.
fn axis_label(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let scale = if lo.abs() > hi.abs() { lo } else { hi };
    move |v: &f64| if *v == 0.0 { "0".to_string() } else { human_in(*v, scale) }
}

/// `v` written in the unit (K, M, B, T) that suits `scale`.
fn human_in(v: f64, scale: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = if scale.is_finite() { scale.abs() } else { v.abs() };
    let (div, suffix) = if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "B")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e4 {
        (1e3, "K")
    } else {
        (1.0, "")
    };
    if suffix.is_empty() {
        if v.fract() == 0.0 || a >= 100.0 {
            return format!("{v:.0}");
        }
        let s = if a >= 1.0 { format!("{v:.2}") } else { format!("{v:.3}") };
        return trim_zeros(s);
    }
    let x = v / div;
    if x.abs() >= 100.0 { format!("{x:.0}{suffix}") } else { format!("{}{suffix}", trim_zeros(format!("{x:.1}"))) }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// Cuts a label to `max` characters with an ellipsis.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn text_width(s: &str, size: f64) -> u32 {
    // DejaVu Sans averages about 0.6 em per character.
    (s.chars().count() as f64 * size * 0.6).ceil() as u32
}

/// A value range that includes 0 and leaves headroom above the largest bar.
fn value_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    value_range_with(values, 0.08)
}

/// [`value_range`] with `top` (a fraction of the span) free above the data: room for a
/// legend in the upper corner, so it never covers a bar or a line.
fn value_range_with(values: impl Iterator<Item = f64>, top: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi == lo {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (if lo < 0.0 { lo - pad } else { 0.0 }, hi + (hi - lo) * top)
}

fn caption_style() -> TextStyle<'static> {
    ("sans-serif", 20).into_font().color(&INK)
}

fn label_style() -> TextStyle<'static> {
    ("sans-serif", 13).into_font().color(&INK)
}

fn axis_style() -> TextStyle<'static> {
    ("sans-serif", 14).into_font().color(&INK)
}

fn vertical_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: Option<&str>,
    y_label: &str,
    groups: &[String],
    series: &[(String, Vec<f64>)],
    legend: bool,
) -> Result<()> {
    let n = groups.len().max(1);
    // A legend row is about 17 px of the ~330 px plot: keep that much free above the bars.
    let top = if legend && series.len() > 1 { 0.12 + 0.06 * series.len() as f64 } else { 0.08 };
    let (lo, hi) = value_range_with(series.iter().flat_map(|s| s.1.iter().copied()), top);
    // Labels are rotated when they would not fit side by side.
    let (w, _) = root.dim_in_pixel();
    let slot = (w.saturating_sub(110)) as f64 / n as f64;
    let longest = groups.iter().map(|g| text_width(&shorten(g, 18), 13.0)).max().unwrap_or(0);
    let rotate = f64::from(longest) > slot * 0.95;
    let x_area = if rotate { longest.min(140) + 12 } else { 30 } + if x_label.is_some() { 24 } else { 0 };
    let mut chart = ChartBuilder::on(root)
        .caption(title, caption_style())
        .margin(14)
        .margin_right(24)
        .x_label_area_size(x_area)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)
        .map_err(draw_err)?;
    let fmt = axis_label(lo, hi);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&fmt)
        .y_desc(y_label)
        .label_style(label_style())
        .axis_desc_style(axis_style())
        .light_line_style(WHITE)
        .bold_line_style(GRID);
    if let Some(x) = x_label {
        mesh.x_desc(x);
    }
    mesh.draw().map_err(draw_err)?;
    let k = series.len().max(1) as f64;
    let band = 0.8 / k;
    for (s, (name, values)) in series.iter().enumerate() {
        let c = color(s);
        let bars = values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(g, &v)| {
            let x0 = g as f64 - 0.4 + band * s as f64;
            Rectangle::new([(x0 + band * 0.06, 0.0), (x0 + band * 0.94, v)], c.filled())
        });
        let drawn = chart.draw_series(bars).map_err(draw_err)?;
        if legend && !name.is_empty() {
            drawn.label(name.clone()).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
    }
    // Category labels, centred under each group (or rotated when crowded).
    let y_base = chart.backend_coord(&(0.0, lo)).1 + 6;
    for (g, label) in groups.iter().enumerate() {
        let (x, _) = chart.backend_coord(&(g as f64, lo));
        let label = shorten(label, 18);
        if rotate {
            let style = label_style().transform(FontTransform::Rotate270).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(label, (x, y_base), style)).map_err(draw_err)?;
        } else {
            let style = label_style().pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(label, (x, y_base), style)).map_err(draw_err)?;
        }
    }
    if legend && series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(label_style())
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

fn line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((i32::MAX, i32::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 > x1 { (0, 1) } else if x0 == x1 { (x0 - 1, x1 + 1) } else { (x0, x1) };
    let top = if series.len() > 1 { 0.12 + 0.06 * series.len() as f64 } else { 0.08 };
    let (lo, hi) = value_range_with(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), top);
    let mut chart = ChartBuilder::on(root)
        .caption(title, caption_style())
        .margin(14)
        .margin_right(24)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, lo..hi)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_labels(12)
        .y_labels(8)
        .x_label_formatter(&|x: &i32| x.to_string())
        .y_label_formatter(&axis_label(lo, hi))
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(label_style())
        .axis_desc_style(axis_style())
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .draw()
        .map_err(draw_err)?;
    for (k, s) in series.iter().enumerate() {
        let c = color(k);
        let drawn = chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(draw_err)?;
        drawn.label(s.name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
        if s.points.len() <= 40 {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(draw_err)?;
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(label_style())
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

fn hbar<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, x_label: &str, bars: &[(String, f64)]) -> Result<()> {
    let n = bars.len().max(1);
    let labels: Vec<String> = bars.iter().map(|b| shorten(&b.0, 40)).collect();
    let label_area = labels.iter().map(|l| text_width(l, 13.0)).max().unwrap_or(40).clamp(40, 340) + 14;
    let (lo, hi) = value_range(bars.iter().map(|b| b.1));
    // Room for the value written after the longest bar.
    let hi = hi + (hi - lo) * 0.08;
    let mut chart = ChartBuilder::on(root)
        .caption(title, caption_style())
        .margin(14)
        .margin_right(24)
        .x_label_area_size(50)
        .y_label_area_size(label_area)
        .build_cartesian_2d(lo..hi, -0.5f64..(n as f64 - 0.5))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(8)
        .x_label_formatter(&axis_label(lo, hi))
        .x_desc(x_label)
        .label_style(label_style())
        .axis_desc_style(axis_style())
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .draw()
        .map_err(draw_err)?;
    // Row 0 on top.
    let y_of = |k: usize| (n - 1 - k) as f64;
    let c = color(0);
    chart
        .draw_series(bars.iter().enumerate().map(|(k, b)| {
            Rectangle::new([(0.0, y_of(k) - 0.36), (b.1, y_of(k) + 0.36)], c.filled())
        }))
        .map_err(draw_err)?;
    let value_style = ("sans-serif", 12).into_font().color(&INK).pos(Pos::new(HPos::Left, VPos::Center));
    let label_at = label_style().pos(Pos::new(HPos::Right, VPos::Center));
    for (k, (b, label)) in bars.iter().zip(&labels).enumerate() {
        let (x_end, y) = chart.backend_coord(&(b.1.max(0.0), y_of(k)));
        root.draw(&Text::new(human(b.1), (x_end + 5, y), value_style.clone())).map_err(draw_err)?;
        let (x_axis, _) = chart.backend_coord(&(lo, y_of(k)));
        root.draw(&Text::new(label.clone(), (x_axis - 6, y), label_at.clone())).map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers() {
        assert_eq!(human(1_200_000_000.0), "1.2B");
        assert_eq!(human(35_400_000.0), "35.4M");
        assert_eq!(human(12_345.0), "12.3K");
        assert_eq!(human(250_000.0), "250K");
        assert_eq!(human(6110.0), "6110");
        assert_eq!(human(4.4911), "4.49");
        assert_eq!(human(0.0654), "0.065");
        assert_eq!(human(-2_500_000.0), "-2.5M");
        assert_eq!(human(3.0), "3");
        assert_eq!(human(2e12), "2T");
        assert_eq!(human(f64::NAN), "");
    }

    #[test]
    fn an_axis_uses_one_unit() {
        let f = axis_label(0.0, 14_000.0);
        assert_eq!([0.0, 5000.0, 10_000.0, 12_500.0].map(|v| f(&v)), ["0", "5K", "10K", "12.5K"]);
        let f = axis_label(-2e9, 1e9);
        assert_eq!([-2e9, -5e8, 1e9].map(|v| f(&v)), ["-2B", "-0.5B", "1B"]);
        let f = axis_label(0.0, 4.5);
        assert_eq!([0.5, 4.0].map(|v| f(&v)), ["0.5", "4"]);
    }

    #[test]
    fn labels_are_shortened() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 5), "abcd…");
    }

    fn charts() -> Vec<Chart> {
        vec![
            Chart::Histogram {
                title: "Ratings".into(),
                x_label: "stars".into(),
                y_label: "ratings".into(),
                bins: (1..=5).map(|k| (k.to_string(), (k * 1000) as f64)).collect(),
            },
            Chart::Line {
                title: "Films per year".into(),
                x_label: "year".into(),
                y_label: "films".into(),
                series: vec![Series { name: "films".into(), points: (1990..2000).map(|y| (y, f64::from(y - 1980))).collect() }],
            },
            Chart::HBar {
                title: "Genres".into(),
                x_label: "films".into(),
                bars: vec![("Drama".into(), 725.0), ("Comedy".into(), 505.0)],
            },
            Chart::Grouped {
                title: "Money".into(),
                y_label: "USD".into(),
                groups: vec!["Drama".into(), "Action".into()],
                series: vec![("budget".into(), vec![1.5e9, 2e9]), ("profit".into(), vec![-3e8, f64::NAN])],
            },
        ]
    }

    #[test]
    fn every_kind_renders_to_svg_with_its_labels() {
        for c in charts() {
            let svg = c.to_svg().unwrap();
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.contains(c.title()), "{}", c.title());
        }
        let svg = charts()[3].to_svg().unwrap();
        assert!(svg.contains("Drama") && svg.contains("Action"));
        // plotters writes each text on its own line: a tick reads `1.5B`, not 1500000000.
        assert!(svg.lines().any(|l| l.trim() == "1.5B" || l.trim() == "2B"), "human ticks");
        assert!(!svg.contains("2000000000"), "raw numbers leak into the axis");
    }

    #[test]
    fn png_is_a_png_and_draws_text() {
        use std::io::Read as _;
        let c = &charts()[0];
        let png_bytes = c.to_png().unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png_bytes[12..16], b"IHDR");
        let (w, h) = c.size();
        assert_eq!(u32::from_be_bytes(png_bytes[16..20].try_into().unwrap()), w);
        assert_eq!(u32::from_be_bytes(png_bytes[20..24].try_into().unwrap()), h);
        // IDAT follows IHDR (8 + 4 + 4 + 13 + 4 bytes in): inflate it back to the pixels.
        let len = u32::from_be_bytes(png_bytes[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png_bytes[37..41], b"IDAT");
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&png_bytes[41..41 + len]).read_to_end(&mut raw).unwrap();
        assert_eq!(raw.len(), (w as usize * 3 + 1) * h as usize);
        assert!(png_bytes.ends_with(b"IEND\xaeB`\x82"), "IEND with its CRC");
        // The title is drawn: dark pixels in the top band (no system font needed).
        let stride = w as usize * 3 + 1;
        let top = &raw[..stride * 40];
        let dark = top.chunks(stride).flat_map(|row| row[1..].chunks(3)).filter(|p| p[0] < 100 && p[1] < 100 && p[2] < 100).count();
        assert!(dark > 50, "no text in the title band ({dark} dark pixels)");
    }

    #[test]
    fn the_extension_picks_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let c = &charts()[1];
        c.write_file(&dir.path().join("a.svg")).unwrap();
        c.write_file(&dir.path().join("a.PNG")).unwrap();
        let e = c.write_file(&dir.path().join("a.jpg")).unwrap_err();
        assert!(e.to_string().contains(".svg or .png"), "{e}");
    }
}
