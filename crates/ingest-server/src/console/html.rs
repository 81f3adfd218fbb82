//! Server-rendered HTML: escaping (every value a page shows goes through
//! [`esc`]), the page layout with its navigation and inline stylesheet, and
//! the two SVG charts. No JavaScript: every page reads without it.

use std::fmt::Write;

/// Text made safe for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A time in ms as `YYYY-MM-DD HH:MM UTC`.
pub fn when(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

/// A duration in ms as `1.2 s`, `3 min 4 s`.
pub fn took(ms: i64) -> String {
    if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

const STYLE: &str = "
*{box-sizing:border-box}body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header a:hover{text-decoration:underline}
header strong{margin-right:1rem}header form{margin-left:auto}
main{padding:1rem;max-width:72rem;margin:auto}
h1{font-size:1.35rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.92rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef1f5}.wrap{overflow-x:auto}
.bad{color:#b00020;font-weight:600}.ok{color:#0a7a35}.stale{background:#fff4d6}.muted{color:#66707d}
.flash{background:#e6f4ea;border:1px solid #9ad0ab;padding:.5rem .8rem}
.error{background:#fde8ea;border:1px solid #f1a5ae;padding:.5rem .8rem}
form.inline{display:inline}button{font:inherit;padding:.25rem .7rem;cursor:pointer}
input,select{font:inherit;padding:.25rem .4rem}
.chart{background:#fff;border:1px solid #e3e6ea;max-width:100%;height:auto}
@media (max-width:40rem){main{padding:.5rem}th,td{padding:.3rem}header form{margin-left:0}}
";

/// A whole page: `title`, the signed-in operator's navigation (with the
/// sign-out form carrying `csrf`), and `body` (already HTML).
pub fn page(title: &str, nav: Option<(&str, &str)>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · coursebridge</title><style>{STYLE}</style></head><body><header><strong>coursebridge</strong>",
        esc(title)
    );
    if let Some((user, csrf)) = nav {
        for (href, label) in [
            ("/console", "Overview"),
            ("/console/integrations", "Integrations"),
            ("/console/catalog", "Catalog"),
            ("/console/pending", "Pending"),
            ("/console/statistics", "Statistics"),
            ("/console/scorm", "SCORM"),
            ("/console/credentials", "Credentials"),
            ("/console/webhooks", "Webhooks"),
            ("/console/audit", "Audit"),
        ] {
            let _ = write!(out, "<a href=\"{href}\">{label}</a>");
        }
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/console/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <span class=\"muted\">{}</span> <button>Sign out</button></form>",
            esc(csrf),
            esc(user)
        );
    }
    let _ = write!(
        out,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// A table: header cells and rows of cells (already HTML), each row with a
/// class (or `""`).
pub fn table(head: &[&str], rows: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("<div class=\"wrap\"><table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"muted\">none</td></tr>",
            head.len()
        );
    }
    for (class, cells) in rows {
        if class.is_empty() {
            out.push_str("<tr>");
        } else {
            let _ = write!(out, "<tr class=\"{}\">", esc(class));
        }
        for c in cells {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// Statements accepted (and refused) per minute over 24 hours ending at
/// `now_ms`, as an SVG area of accepted and a line of refused.
pub fn minutes_chart(accepted: &[(i64, i64)], refused: &[(i64, i64)], now_ms: i64) -> String {
    const W: f64 = 720.0;
    const H: f64 = 160.0;
    let start = now_ms - 24 * 3_600_000;
    let max = accepted
        .iter()
        .chain(refused)
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |ms: i64| ((ms - start) as f64 / (24.0 * 3_600_000.0) * W).clamp(0.0, W);
    let y = |n: i64| H - (n as f64 / max) * (H - 10.0);
    let bars: String = accepted
        .iter()
        .filter(|(m, _)| *m >= start)
        .map(|(m, n)| {
            format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"1\" height=\"{:.1}\" fill=\"#3a7bd5\"/>",
                x(*m),
                y(*n),
                H - y(*n)
            )
        })
        .collect();
    let dots: String = refused
        .iter()
        .filter(|(m, _)| *m >= start)
        .map(|(m, n)| {
            format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.6\" fill=\"#b00020\"/>",
                x(*m),
                y(*n)
            )
        })
        .collect();
    let hours: String = (0..=24)
        .step_by(6)
        .map(|h| {
            let hx = W * f64::from(h) / 24.0;
            format!(
                "<line x1=\"{hx:.0}\" y1=\"0\" x2=\"{hx:.0}\" y2=\"{H}\" stroke=\"#e3e6ea\"/><text x=\"{:.0}\" y=\"{}\" font-size=\"10\" fill=\"#66707d\" text-anchor=\"{}\">{}</text>",
                hx,
                H + 12.0,
                match h {
                    0 => "start",
                    24 => "end",
                    _ => "middle",
                },
                if h == 24 { "now".to_owned() } else { format!("-{}h", 24 - h) }
            )
        })
        .collect();
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"Statements per minute, last 24 hours: accepted (bars), refused (red dots); peak {max:.0} per minute\" \
         viewBox=\"0 0 {W} {}\" width=\"{W}\" height=\"{}\">{hours}{bars}{dots}\
         <text x=\"4\" y=\"12\" font-size=\"10\" fill=\"#66707d\">peak {max:.0}/min</text></svg>",
        H + 16.0,
        H + 16.0
    )
}

/// Sync run durations, oldest first (label, duration ms, failed), as SVG bars.
pub fn runs_chart(runs: &[(String, i64, bool)]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 140.0;
    let max = runs.iter().map(|(_, d, _)| *d).max().unwrap_or(0).max(1) as f64;
    let step = W / runs.len().max(1) as f64;
    let bars: String = runs
        .iter()
        .enumerate()
        .map(|(i, (label, d, failed))| {
            let h = (*d as f64 / max) * (H - 12.0);
            format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {}</title></rect>",
                i as f64 * step + 1.0,
                H - h,
                (step - 2.0).clamp(1.0, 40.0),
                if *failed { "#b00020" } else { "#0a7a35" },
                esc(label),
                took(*d)
            )
        })
        .collect();
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"Durations of the last {} sync runs (red: failed); longest {}\" viewBox=\"0 0 {W} {}\" width=\"{W}\" height=\"{}\">{bars}\
         <text x=\"4\" y=\"12\" font-size=\"10\" fill=\"#66707d\">longest {}</text></svg>",
        runs.len(),
        took(max as i64),
        H + 4.0,
        H + 4.0,
        took(max as i64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        let p = page("<b>", None, "");
        assert!(p.contains("<title>&lt;b&gt; · coursebridge</title>"));
        assert!(!p.contains("<b>"));
    }

    #[test]
    fn charts_scale_to_their_peak() {
        let now = 1_000_000_000_000;
        let svg = minutes_chart(
            &[(now - 60_000, 10), (now - 120_000, 5)],
            &[(now - 60_000, 2)],
            now,
        );
        assert!(svg.contains("peak 10/min"));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 1);
        let runs = runs_chart(&[("a".into(), 1000, false), ("<b>".into(), 3000, true)]);
        assert!(
            runs.contains("longest 3.0 s")
                && runs.contains("&lt;b&gt;")
                && runs.contains("#b00020")
        );
    }
}
