//! Parse + validate throughput on the valid fixture mix, beside the ceiling
//! `serde_json::from_slice::<serde_json::Value>` on the same bytes.
//!
//! Run: `cargo bench -p xapi-model --bench parse` (numbers go to docs/PERFORMANCE.md).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

fn load_mix() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/statements/valid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/statements/valid")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            // compact, as senders post them
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
            serde_json::to_vec(&v).expect("serialize")
        })
        .collect()
}

/// One timed window of `f` over the whole mix: (statements/s, MB/s).
fn window(mix: &[Vec<u8>], min: Duration, f: &mut dyn FnMut(&[u8])) -> (f64, f64) {
    let bytes_per_round: usize = mix.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut rounds = 0u64;
    while start.elapsed() < min {
        for s in mix {
            f(s);
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (
        (rounds as f64 * mix.len() as f64) / secs,
        (rounds as f64 * bytes_per_round as f64) / secs / 1e6,
    )
}

fn median(mut v: Vec<(f64, f64)>) -> (f64, f64) {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v[v.len() / 2]
}

fn main() {
    let mix = load_mix();
    let avg = mix.iter().map(Vec::len).sum::<usize>() / mix.len();
    println!(
        "fixture mix: {} statements, {} bytes on average",
        mix.len(),
        avg
    );
    let min = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
    );
    let mut ceiling = |s: &[u8]| {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(s)).expect("json"));
    };
    let mut parse = |s: &[u8]| {
        black_box(xapi_model::parse_statement(black_box(s)).expect("valid"));
    };
    let mut round_trip = |s: &[u8]| {
        let st = xapi_model::parse_statement(black_box(s)).expect("valid");
        black_box(serde_json::to_vec(&st).expect("serialize"));
    };
    // Interleaved windows so that all three see the same machine load.
    let (mut c, mut p, mut r, mut ratios) = (vec![], vec![], vec![], vec![]);
    for _ in 0..9 {
        let cw = window(&mix, min, &mut ceiling);
        let pw = window(&mix, min, &mut parse);
        r.push(window(&mix, min, &mut round_trip));
        ratios.push((cw.0 / pw.0, 0.0));
        c.push(cw);
        p.push(pw);
    }
    let (c_sps, c_mbps) = median(c);
    let (p_sps, p_mbps) = median(p);
    let (r_sps, r_mbps) = median(r);
    println!(
        "ceiling  serde_json::Value                {c_sps:>10.0} statements/s {c_mbps:>7.1} MB/s"
    );
    println!(
        "xapi-model parse + validate              {p_sps:>10.0} statements/s {p_mbps:>7.1} MB/s"
    );
    println!(
        "xapi-model parse + validate + serialize  {r_sps:>10.0} statements/s {r_mbps:>7.1} MB/s"
    );
    println!(
        "ratio ceiling / parse+validate (median of adjacent windows): {:.2}x",
        median(ratios).0
    );
}
