//! Rebuilding statistics from 1,000,000 events (what `replay` does after a
//! policy change): 100,000 learner/course pairs with 10 events each, given in
//! arrival order (shuffled), grouped, sorted and folded, then viewed.
//!
//! Run: `cargo bench -p stats-rules --bench fold`

use std::hint::black_box;
use std::time::Instant;

use stats_rules::*;
use time::OffsetDateTime;
use uuid::Uuid;

const PAIRS: u32 = 100_000;
const PER_PAIR: u32 = 10;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn events() -> Vec<(u32, Event)> {
    let base = OffsetDateTime::from_unix_timestamp(1_714_000_000).expect("2024");
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity((PAIRS * PER_PAIR) as usize);
    for pair in 0..PAIRS {
        for i in 0..PER_PAIR {
            let r = xorshift(&mut rng);
            let at = base + time::Duration::seconds((r % 20_000_000) as i64);
            let kind = match i {
                0 => EventKind::Launch(Launch {
                    entry: EntryPoint::Catalog,
                }),
                9 => EventKind::Statement(StatementFacts {
                    completed: true,
                    success: Some(r % 3 != 0),
                    score: Some((r % 101) as f64),
                    progress: Some(100.0),
                    duration_ms: Some(r % 7_200_000),
                }),
                _ if r % 4 == 0 => EventKind::Launch(Launch {
                    entry: EntryPoint::Path("p".into()),
                }),
                _ => EventKind::Statement(StatementFacts {
                    completed: false,
                    success: None,
                    score: Some((r % 101) as f64),
                    progress: Some((r % 100) as f64),
                    duration_ms: Some(r % 600_000),
                }),
            };
            out.push((
                pair,
                Event {
                    id: Uuid::from_u128(u128::from(r)),
                    at,
                    stored: at,
                    kind,
                },
            ));
        }
    }
    // arrival order: shuffled
    for i in (1..out.len()).rev() {
        let j = (xorshift(&mut rng) % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

fn main() {
    let rules = Rules::new(ProviderRules::opensesame());
    let mut best = f64::MAX;
    for round in 0..5 {
        let input = events();
        let start = Instant::now();
        // group by learner/course pair, then fold each group
        let mut groups: Vec<Vec<Event>> = (0..PAIRS)
            .map(|_| Vec::with_capacity(PER_PAIR as usize))
            .collect();
        for (pair, e) in input {
            groups[pair as usize].push(e);
        }
        let mut completed = 0u32;
        for g in groups {
            let stats = fold(g, &rules).stats(&rules);
            completed += u32::from(stats.completed);
        }
        let secs = start.elapsed().as_secs_f64();
        black_box(completed);
        best = best.min(secs);
        println!(
            "round {round}: {} events in {secs:.3} s ({:.2} M events/s)",
            PAIRS * PER_PAIR,
            f64::from(PAIRS * PER_PAIR) / secs / 1e6
        );
    }
    println!("best: {best:.3} s for {} events", PAIRS * PER_PAIR);
}
